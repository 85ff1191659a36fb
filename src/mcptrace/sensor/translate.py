"""Audit event (name, args) → Observation (contract event name, category, attributes).

Usage::

    translator = TRANSLATORS["open"]
    translator.translate(("/etc/passwd", "r", os.O_RDONLY))
    # Observation("mcptrace.file.open", "file", {"file.path": "/etc/passwd", ...}, "open")

Each translator reads only the primitives it needs from the live arguments and keeps no
reference to them (sockets, code objects, large bytes).  A translator returns ``None`` for
an event that is not the tool's doing: the importer reading its own module files, the
second audit event of one spawn, the ``exec`` half of ``exec(source)``.

CPython differences handled here (3.10–3.13): ``subprocess.Popen`` is followed by
``os.posix_spawn`` for the same spawn (common on 3.13); ``sys.monitoring.register_callback``
exists from 3.12; ``nntplib``/``telnetlib`` events only up to 3.12.  Events a version does
not raise simply never arrive.
"""

from __future__ import annotations

import os
import sys
from _thread import get_ident as _get_ident

from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation

# Imported with the interpreter: no typing, and hashlib, socket, datetime and the redaction
# patterns load when the first event that needs them is translated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from opentelemetry.util.types import AttributeValue

    Args = tuple[Any, ...]
    Attrs = dict[str, AttributeValue]
    TranslateFunction = Callable[[str, Args], Observation | None]

_O_ACCMODE = getattr(os, "O_ACCMODE", 3)
_O_APPEND = os.O_APPEND
_O_EXCL_CREAT = os.O_EXCL | os.O_CREAT
_O_WRONLY, _O_RDWR = os.O_WRONLY, os.O_RDWR
_getframe = sys._getframe
_IMPORTER_FILES = ("<frozen importlib._bootstrap", "<frozen importlib._bootstrap_external>")
_OWN_FILES: frozenset[str] = frozenset()  # filled in by hook.py (our frames to skip)


_redaction: Any = None


def _redact() -> Any:
    """The redaction module (its patterns compile on first use, not at start-up)."""
    global _redaction
    if _redaction is None:
        from mcptrace.record import redact

        _redaction = redact
    return _redaction


def register_own_files(*paths: str) -> None:
    """Frames from these files are the sensor's; ``from_importer`` looks past them."""
    global _OWN_FILES
    _OWN_FILES = _OWN_FILES | {__file__, *paths}


def from_importer() -> bool:
    """True when the audited call came from importlib's own frozen code."""
    frame = _getframe(1)
    own = _OWN_FILES or {__file__}
    while frame is not None and frame.f_code.co_filename in own:
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and frame.f_code.co_filename.startswith(_IMPORTER_FILES)


# ---------------------------------------------------------------- small value helpers


def fd_path(fd: int) -> str | None:
    """Where an open descriptor leads (``/proc/self/fd/N``), or None (no /proc, not a path)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError, OverflowError):
        return None
    return target if target.startswith("/") else None


def plain_text(value: Any) -> str | None:
    """The exact ``str`` a path argument holds, or None when it is none of str/bytes/path-like.

    A ``str`` or ``bytes`` subclass is read by its characters, never through its methods
    (``startswith``, ``__str__``, ``__fspath__``), which the program may define to describe
    another path than the one the C code opens.
    """
    if isinstance(value, str):
        return str.__str__(value)  # an exact copy: the subclass's methods are not asked
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(memoryview(value)))
    fspath = getattr(type(value), "__fspath__", None)
    if fspath is None:
        return None
    answer = fspath(value)
    return plain_text(answer) if isinstance(answer, (str, bytes)) else None


def own_path_object(value: Any) -> bool:
    """A path-like object whose ``__fspath__`` (or ``__str__``) is the program's own.

    ``io.FileIO``, ``sqlite3.connect`` and ``os.exec*`` ask it for its path before they raise
    their audit event, ``subprocess`` after: the answer the check gets need not be the one the
    kernel got.  pathlib's paths and ``os.DirEntry`` answer the same every time.
    """
    kind = type(value)
    if kind is str or kind is bytes or isinstance(value, (str, bytes, bytearray, int)):
        return False
    fspath = getattr(kind, "__fspath__", None)
    if fspath is None:
        return False
    if fspath is _DIR_ENTRY_FSPATH:
        return False
    pathlib = sys.modules.get("pathlib")
    pure = getattr(pathlib, "PurePath", None)
    return not (
        pure is not None
        and fspath is getattr(pure, "__fspath__", None)
        and kind.__str__ is getattr(pure, "__str__", None)
    )


_DIR_ENTRY_FSPATH = os.DirEntry.__fspath__


def fs_path(value: Any, dir_fd: Any = None) -> str | None:
    """An absolute path string, or None for a file descriptor / something unreadable.

    A relative path with ``dir_fd`` is relative to that directory, not to the working one.
    """
    if type(value) is str:
        path = value
    elif isinstance(value, int):
        return None
    else:
        try:
            found = plain_text(value)
        except Exception:  # a path-like whose __fspath__ raises: the open fails the same way
            return None
        if found is None:
            return None
        path = found
    if path.startswith("/"):
        return path
    if type(dir_fd) is int:
        base = fd_path(dir_fd)
        if base is not None:
            return os.path.normpath(os.path.join(base, path)) if path else base
    return os.path.abspath(path)


def fd_or_path(value: Any, dir_fd: Any = None) -> str | None:
    """``fs_path``, or for a descriptor (``os.listdir(fd)``, ``os.fchmod``) where it leads."""
    if isinstance(value, int) and not isinstance(value, bool):
        return fd_path(value)
    return fs_path(value, dir_fd)


def arg(args: Args, index: int) -> Any:
    return args[index] if len(args) > index else None


def text(value: Any) -> str:
    if type(value) is str:
        return value
    try:
        found = plain_text(value)
    except Exception:  # a path-like whose __fspath__ raises: the call fails the same way
        found = None
    return found if found is not None else str(value)


def argv_of(args: Any) -> list[str]:
    if args is None:
        return []
    if isinstance(args, (str, bytes, os.PathLike)):
        return [text(args)]
    try:
        return [text(arg) for arg in args]
    except TypeError:
        return [str(args)]


def access_of(flags: int) -> str:
    """read / write / read_write / create / append, from open(2) flags.  An append that
    may also read (``a+``, ``O_RDWR | O_APPEND``) is a read_write: it reads the whole file."""
    mode = flags & _O_ACCMODE
    if mode == _O_RDWR and flags & _O_EXCL_CREAT != _O_EXCL_CREAT:
        return ev.READ_WRITE
    if flags & _O_APPEND:
        return ev.APPEND
    if flags & _O_EXCL_CREAT == _O_EXCL_CREAT:
        return ev.CREATE
    if mode == _O_WRONLY:
        return ev.WRITE
    return ev.READ


def endpoint(address: Any) -> Attrs:
    """server.address / server.port / network.type of a socket address."""
    if isinstance(address, tuple) and len(address) >= 2:
        host = address[0]
        return {
            ev.SERVER_ADDRESS: _redact().redact_host(text(host)) if host is not None else "",
            ev.SERVER_PORT: int(address[1]) if isinstance(address[1], int) else 0,
            ev.NETWORK_TYPE: "ipv6" if len(address) == 4 else "ipv4",
        }
    if isinstance(address, (str, bytes)):
        return {ev.SERVER_ADDRESS: _redact().redact_host(text(address))}
    return {}


_TRANSPORTS: dict[int, str] = {}
_SOCK_TYPE: list[Callable[[Any], int]] = []  # socket.socket.type's getter, not the object's


def transport(sock: Any, address: Any) -> str:
    if isinstance(address, (str, bytes)):
        return "unix"
    if not _SOCK_TYPE:  # a socket exists, so the socket module is loaded: no cost now
        import socket

        _TRANSPORTS.update({socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"})
        _SOCK_TYPE.append(socket.socket.type.__get__)
    try:
        return _TRANSPORTS.get(_SOCK_TYPE[0](sock) & 0xF, "unknown")
    except (TypeError, AttributeError):
        return "unknown"


_sha256: list[Any] = []  # hashlib.sha256, once loaded


def short_hash(source: Any) -> tuple[str, int] | None:
    if not _sha256:  # hashlib loads with the first compile to hash, not at start-up
        from hashlib import sha256

        _sha256.append(sha256)
    sha256 = _sha256[0]
    if isinstance(source, str):
        data = source.encode("utf-8", "surrogatepass")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        return None
    return sha256(data).hexdigest()[:16], len(data)


# ---------------------------------------------------------------- translators


class Translator:
    """How one audit event becomes an Observation; ``categories`` it can produce.

    ``translate(event, args)`` takes the audit event name too, so one function can serve
    several events without a wrapper call on the hot path.
    """

    __slots__ = ("audit_event", "categories", "translate")

    def __init__(
        self, audit_event: str, categories: frozenset[str], translate: TranslateFunction
    ) -> None:
        self.audit_event = audit_event
        self.categories = categories
        self.translate = translate

    def __repr__(self) -> str:
        return f"Translator({self.audit_event!r}, {sorted(self.categories)!r})"

    @property
    def only_category(self) -> str | None:
        """The category every observation of this event has, if there is exactly one."""
        return next(iter(self.categories)) if len(self.categories) == 1 else None


TRANSLATORS: dict[str, Translator] = {}


def translator(
    *audit_events: str, categories: Iterable[str]
) -> Callable[
    [Callable[[str, Args], Observation | None]], Callable[[str, Args], Observation | None]
]:
    def register(function: TranslateFunction) -> TranslateFunction:
        for name in audit_events:
            TRANSLATORS[name] = Translator(name, frozenset(categories), function)
        return function

    return register


# --- file


_ACCESS: dict[int, str] = {}
_new = tuple.__new__  # builds an Observation without NamedTuple's Python-level __new__


# ``os.open(path, flags, dir_fd=fd)`` raises "open" without its dir_fd: while a policy is in
# force ``os.open`` is wrapped (``track_open_dir_fd``) and leaves the descriptor here per
# thread.
OPEN_DIR_FD: dict[int, int] = {}
_DIR_FD_TRACKED: list[bool] = []


@translator("open", "sqlite3.connect", categories=[ev.FILE])
def _open(event: str, args: Args) -> Observation | None:
    # The hottest translator: the common case (an absolute str path) is inlined.
    path = args[0]
    if type(path) is not str or path[:1] != "/":
        if event == "sqlite3.connect":
            return _sqlite_connect(args)
        if own_path_object(path):
            return _path_object_open(path, args)
        path = fs_path(path, OPEN_DIR_FD.get(_get_ident()) if OPEN_DIR_FD else None)
        if path is None:  # os.fdopen(fd): no new file is reached
            return None
    flags = args[2] if len(args) > 2 and type(args[2]) is int else 0
    if ("__pycache__" in path or path[-3:] == ".py") and from_importer():
        # module source reads, bytecode cache writes: a policy judges them by where they
        # really lead; they are never recorded (the hook drops ``IMPORTER_OPEN``)
        event = ev.IMPORTER_OPEN
    elif event == "sqlite3.connect":
        return _sqlite_connect(args)
    access = _ACCESS.get(flags)
    if access is None:
        access = _ACCESS[flags] = access_of(flags)
    return _new(
        Observation, (ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: path, ev.FILE_ACCESS: access}, event)
    )


def _path_object_open(path_object: Any, args: Args) -> Observation | None:
    """``io.FileIO(obj)`` with the program's own path-like ``obj``: recorded with the path it
    answers now, and marked (``mcptrace.path_object``), since FileIO asked it first."""
    path = fs_path(path_object)
    if path is None:
        return None
    flags = args[2] if len(args) > 2 and type(args[2]) is int else 0
    attributes: Attrs = {
        ev.FILE_PATH: path,
        ev.FILE_ACCESS: access_of(flags),
        ev.PATH_OBJECT: type(path_object).__qualname__,
    }
    return Observation(ev.FILE_OPEN, ev.FILE, attributes, "open")


def track_open_dir_fd() -> None:
    """Replace ``os.open`` (and ``posix.open``) by a wrapper that tells ``_open`` the
    ``dir_fd`` a relative path is opened against, so that a policy judges the file really
    reached.  Only while a policy is in force: without one the builtin stays, because a
    Python wrapper needs a frame and so fails an ``os.open`` at the recursion limit that
    the builtin allows (the detections then judge such a path against the working
    directory: README "Limits")."""
    import posix

    if _DIR_FD_TRACKED:
        return
    _DIR_FD_TRACKED.append(True)
    real_open = posix.open
    pending = OPEN_DIR_FD

    def open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is None:
            return real_open(path, flags, mode)
        ident = _get_ident()
        pending[ident] = dir_fd
        try:
            return real_open(path, flags, mode, dir_fd=dir_fd)
        finally:
            pending.pop(ident, None)

    open.__doc__ = real_open.__doc__
    open.__wrapped__ = real_open  # type: ignore[attr-defined]
    os.open = posix.open = open


def untrack_open_dir_fd() -> None:
    """Give ``os.open`` back its builtin (tests that installed the wrapper without a
    policy)."""
    import posix

    if not _DIR_FD_TRACKED:
        return
    real_open = getattr(posix.open, "__wrapped__", None)
    if real_open is None:
        return
    _DIR_FD_TRACKED.clear()
    if os.open is posix.open:
        os.open = real_open
    posix.open = real_open


_SQLITE_NO_FILE = frozenset({"", ":memory:"})


def _sqlite_connect(args: Args) -> Observation | None:
    """``sqlite3.connect(database)``: a read-write open of the database file (a URI's path)."""
    given = args[0] if args else None
    own = own_path_object(given)
    try:
        database = plain_text(given) if given is not None else None
    except Exception:  # a path-like whose __fspath__ raises: connect fails the same way
        return None
    if database is None or database in _SQLITE_NO_FILE:
        return None  # in memory or a temporary database: no file of the user's
    access = ev.READ_WRITE
    if database.startswith("file:"):  # a URI (sqlite3.connect(..., uri=True)) or a file
        location, _, query = database[5:].partition("?")  # named like one: same path
        if location.startswith("//"):
            location = "/" + location[2:].partition("/")[2]
        if location in _SQLITE_NO_FILE or "mode=memory" in query:
            return None
        if "mode=ro" in query:
            access = ev.READ
        from urllib.parse import unquote

        database = unquote(location)
    path = fs_path(database)
    if path is None:
        return None
    attributes: Attrs = {ev.FILE_PATH: path, ev.FILE_ACCESS: access}
    if own:
        attributes[ev.PATH_OBJECT] = type(given).__qualname__
    return Observation(ev.FILE_OPEN, ev.FILE, attributes, "sqlite3.connect")


def is_bytecode_write(path: str) -> bool:
    """The importer caching bytecode (``__pycache__`` mkdir, temp .pyc write, rename)."""
    return "__pycache__" in path and from_importer()


@translator("os.remove", "os.rmdir", "shutil.rmtree", categories=[ev.FILE])
def _delete(event: str, args: Args) -> Observation | None:
    path = fs_path(args[0], arg(args, 1))  # shutil.rmtree removes entries under a dir_fd
    if path is None:
        return None
    attrs: Attrs = {ev.FILE_PATH: path}
    if event == "shutil.rmtree":
        attrs[ev.FILE_RECURSIVE] = True
    return Observation(ev.FILE_DELETE, ev.FILE, attrs, event)


def _two_paths(name: str, event: str, args: Args) -> Observation | None:
    source, target = fs_path(args[0], arg(args, 2)), fs_path(args[1], arg(args, 3))
    if source is None or target is None or is_bytecode_write(target):
        return None
    return Observation(name, ev.FILE, {ev.FILE_PATH: source, ev.FILE_TARGET_PATH: target}, event)


@translator("os.rename", categories=[ev.FILE])  # also os.replace
def _rename(event: str, args: Args) -> Observation | None:
    return _two_paths(ev.FILE_RENAME, event, args)


@translator("shutil.copyfile", "shutil.copytree", categories=[ev.FILE])
def _copy(event: str, args: Args) -> Observation | None:
    return _two_paths(ev.FILE_COPY, event, args)


@translator("os.chmod", categories=[ev.FILE])
def _chmod(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {ev.FILE_MODE: f"{int(args[1]) & 0o7777:04o}"}
    path = fd_or_path(args[0], arg(args, 2))
    if path is not None:
        attrs[ev.FILE_PATH] = path
    return Observation(ev.FILE_CHMOD, ev.FILE, attrs, event)


@translator("os.setxattr", "os.removexattr", categories=[ev.FILE])
def _xattr(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {}
    path = fd_or_path(args[0])
    if path is not None:
        attrs[ev.FILE_PATH] = path
    return Observation(ev.FILE_XATTR, ev.FILE, attrs, event)


@translator("os.chown", "shutil.chown", categories=[ev.FILE])
def _chown(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {}
    path = fd_or_path(args[0], arg(args, 3))
    if path is not None:
        attrs[ev.FILE_PATH] = path
    for key, value in ((ev.FILE_OWNER_ID, args[1]), (ev.FILE_GROUP_ID, args[2])):
        if value is not None and value != -1:
            attrs[key] = str(value)
    return Observation(ev.FILE_CHOWN, ev.FILE, attrs, event)


@translator("os.mkdir", categories=[ev.FILE])
def _mkdir(event: str, args: Args) -> Observation | None:
    path = fs_path(args[0], arg(args, 2))
    if path is None or is_bytecode_write(path):
        return None
    return Observation(
        ev.FILE_MKDIR, ev.FILE, {ev.FILE_PATH: path, ev.FILE_MODE: f"{int(args[1]):04o}"}, event
    )


@translator("os.link", "os.symlink", categories=[ev.FILE])
def _link(event: str, args: Args) -> Observation | None:
    symbolic = event == "os.symlink"
    if symbolic:  # os.symlink(src, dst, dir_fd): the target is stored as written
        target, link = fs_path(args[0]), fs_path(args[1], arg(args, 2))
    else:
        target, link = fs_path(args[0], arg(args, 2)), fs_path(args[1], arg(args, 3))
    if link is None:
        return None
    attrs: Attrs = {ev.FILE_PATH: link, ev.FILE_LINK_TYPE: "symbolic" if symbolic else "hard"}
    if symbolic:  # a symlink's target is stored as written, relative or not
        attrs[ev.FILE_SYMLINK_TARGET] = text(args[0])
    elif target is not None:
        attrs[ev.FILE_TARGET_PATH] = target
    return Observation(ev.FILE_LINK, ev.FILE, attrs, event)


@translator("os.listdir", "os.scandir", categories=[ev.FILE])
def _listdir(event: str, args: Args) -> Observation | None:
    raw = args[0] if args and args[0] is not None else "."
    path = fd_or_path(raw)
    if path is None or from_importer():  # the importer refreshing its path cache
        return None
    return Observation(ev.FILE_LISTDIR, ev.FILE, {ev.FILE_PATH: path}, event)


@translator("os.truncate", categories=[ev.FILE])  # also os.ftruncate (an fd: no file.path)
def _truncate(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {}
    path = fd_or_path(args[0])
    if path is not None:
        attrs[ev.FILE_PATH] = path
    if type(args[1]) is int:
        attrs[ev.FILE_SIZE] = args[1]  # the length the file is cut (or extended) to
    return Observation(ev.FILE_TRUNCATE, ev.FILE, attrs, event)


def iso_time(value: Any, nanoseconds: bool) -> str | None:
    """A utime timestamp (seconds, or integer nanoseconds) as ISO 8601 UTC."""
    from datetime import datetime, timezone

    try:
        if nanoseconds:
            seconds, rest = divmod(int(value), 1_000_000_000)
            stamp = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=rest // 1000)
        else:
            stamp = datetime.fromtimestamp(float(value), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return stamp.isoformat().replace("+00:00", "Z")


@translator("os.utime", categories=[ev.FILE])
def _utime(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {}
    path = fd_or_path(args[0], arg(args, 3))
    if path is not None:
        attrs[ev.FILE_PATH] = path
    # Explicit times are what matters (a back-dated mtime hides a change); none means "now".
    times, nanoseconds = (args[1], False) if args[1] is not None else (args[2], True)
    if isinstance(times, tuple) and len(times) == 2:
        for key, value in zip((ev.FILE_ACCESSED, ev.FILE_MODIFIED), times, strict=True):
            stamp = iso_time(value, nanoseconds)
            if stamp is not None:
                attrs[key] = stamp
    return Observation(ev.FILE_UTIME, ev.FILE, attrs, event)


# --- network


@translator("socket.connect", categories=[ev.NETWORK])
def _connect(event: str, args: Args) -> Observation | None:
    attrs = endpoint(args[1])
    attrs[ev.NETWORK_TRANSPORT] = transport(args[0], args[1])
    return Observation(ev.NETWORK_CONNECT, ev.NETWORK, attrs, event)


@translator("socket.bind", categories=[ev.NETWORK])
def _bind(event: str, args: Args) -> Observation | None:
    attrs = endpoint(args[1])
    attrs[ev.NETWORK_TRANSPORT] = transport(args[0], args[1])
    return Observation(ev.NETWORK_BIND, ev.NETWORK, attrs, event)


@translator("socket.sendto", "socket.sendmsg", categories=[ev.NETWORK])
def _send(event: str, args: Args) -> Observation | None:
    address = args[1]
    if address is None:  # a connected sendmsg: the peer is the connected address
        try:
            address = args[0].getpeername()
        except (OSError, AttributeError):
            address = None
    attrs = endpoint(address)
    attrs[ev.NETWORK_TRANSPORT] = transport(args[0], address)
    return Observation(ev.NETWORK_SEND, ev.NETWORK, attrs, event)


@translator(
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
    categories=[ev.NETWORK],
)
def _resolve(event: str, args: Args) -> Observation | None:
    first = args[0]
    attrs: Attrs = {}
    if event == "socket.getnameinfo" and isinstance(first, tuple):
        attrs = endpoint(first)
    elif first is not None:
        attrs[ev.SERVER_ADDRESS] = _redact().redact_host(text(first))  # a.secret.evil.example
    if event == "socket.getaddrinfo" and len(args) > 1 and args[1] is not None:
        try:
            attrs[ev.SERVER_PORT] = int(args[1])
        except (TypeError, ValueError):
            pass  # a service name such as "http"
    return Observation(ev.NETWORK_RESOLVE, ev.NETWORK, attrs, event)


_PROTOCOLS = {
    "http.client.connect": "http",
    "ftplib.connect": "ftp",
    "smtplib.connect": "smtp",
    "imaplib.open": "imap",
    "poplib.connect": "pop3",
    "nntplib.connect": "nntp",  # <= 3.12
    "telnetlib.Telnet.open": "telnet",  # <= 3.12
}


@translator(*_PROTOCOLS, categories=[ev.NETWORK])
def _protocol_connect(event: str, args: Args) -> Observation | None:
    attrs: Attrs = {
        ev.SERVER_ADDRESS: _redact().redact_host(text(args[1])),
        ev.NETWORK_TRANSPORT: "tcp",
        ev.NETWORK_PROTOCOL_NAME: _PROTOCOLS[event],
    }
    if isinstance(args[2], int):
        attrs[ev.SERVER_PORT] = args[2]
    return Observation(ev.NETWORK_CONNECT, ev.NETWORK, attrs, event)


@translator("urllib.Request", categories=[ev.NETWORK])
def _urllib(event: str, args: Args) -> Observation | None:
    url, data, _headers, method = args[0], args[1], args[2], args[3]
    attrs: Attrs = {
        ev.URL_FULL: _redact().redact_url(text(url)),
        ev.HTTP_REQUEST_METHOD: method or ("POST" if data is not None else "GET"),
    }
    return Observation(ev.NETWORK_REQUEST, ev.NETWORK, attrs, event)


# --- process

# One spawn may raise two audit events: subprocess.Popen then os.posix_spawn (Popen's
# posix_spawn path: 3.13 by default, 3.10-3.12 with close_fds=False), pty.spawn then
# os.forkpty.  The second is an echo only when it comes from the first one's own frame:
# ``_posix_spawn`` called by the very ``_execute_child`` that raised subprocess.Popen,
# ``pty.fork`` called by the very ``pty.spawn``.  A Popen that took the fork_exec path raises
# no second event, so what it remembered must never swallow a later, unrelated spawn.
_SUBPROCESS_FILE = os.path.join(os.path.dirname(os.__file__), "subprocess.py")
_PTY_FILE = os.path.join(os.path.dirname(os.__file__), "pty.py")
_spawn_echo: dict[int, int] = {}  # thread → id() of the frame that raised the first event


_PACKAGE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def caller_frame() -> Any:
    """The first frame outside mcptrace (the hook, our wrappers of os.posix_spawn and Popen):
    the code that raised the audit event."""
    frame = _getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRECTORY):
        frame = frame.f_back  # type: ignore[assignment]
    return frame


def _remember_spawn() -> None:
    frame = caller_frame()
    if frame is None:
        return
    if len(_spawn_echo) > 1024:
        _spawn_echo.clear()
    _spawn_echo[_get_ident()] = id(frame)


def _is_echo(helper_file: str, helper: str, first: str) -> bool:
    """True when the audited call is ``helper`` (in ``helper_file``) called by the frame that
    raised the first event of the same spawn (a function named ``first``)."""
    expected = _spawn_echo.get(_get_ident())
    if expected is None:
        return False
    frame = caller_frame()
    if frame is None or frame.f_code.co_name != helper or frame.f_code.co_filename != helper_file:
        return False
    parent = frame.f_back
    if parent is None or id(parent) != expected or parent.f_code.co_name != first:
        return False
    del _spawn_echo[_get_ident()]
    return True


def _spawn(event: str, executable: Any, argv: Any, extra: Attrs | None = None) -> Observation:
    arguments = argv_of(argv)
    path = text(executable) if executable is not None else (arguments[0] if arguments else "")
    attrs: Attrs = {
        ev.PROCESS_EXECUTABLE_PATH: path,
        ev.PROCESS_COMMAND_ARGS: _redact().redact_argv(arguments),
    }
    if extra:
        attrs.update(extra)
    own = _own_path_object_in(executable, argv)
    if own is not None:
        attrs[ev.PATH_OBJECT] = own
    return Observation(ev.PROCESS_SPAWN, ev.PROCESS, attrs, event)


def _own_path_object_in(executable: Any, argv: Any) -> str | None:
    """The type name of the first of the program's own path-like objects among the
    executable and the arguments (``own_path_object``), if any."""
    items = [executable, *argv] if isinstance(argv, (list, tuple)) else [executable, argv]
    for item in items:
        if own_path_object(item):
            return type(item).__qualname__
    return None


@translator("subprocess.Popen", categories=[ev.PROCESS])
def _popen(event: str, args: Args) -> Observation | None:
    executable, argv, cwd, env = args[0], args[1], args[2], args[3]
    extra: Attrs = {ev.PROCESS_ENV_OVERRIDE: env is not None}
    if cwd is not None:
        extra[ev.PROCESS_WORKING_DIRECTORY] = text(cwd)
        if own_path_object(cwd):
            extra[ev.PATH_OBJECT] = type(cwd).__qualname__
    _remember_spawn()
    return _spawn(event, executable, argv, extra)


@translator("os.posix_spawn", categories=[ev.PROCESS])  # also posix_spawnp
def _posix_spawn(event: str, args: Args) -> Observation | None:
    if _is_echo(_SUBPROCESS_FILE, "_posix_spawn", "_execute_child"):
        return None
    return _spawn(event, args[0], args[1], {ev.PROCESS_ENV_OVERRIDE: args[2] is not None})


@translator("os.system", categories=[ev.PROCESS])
def _system(event: str, args: Args) -> Observation | None:
    command = _redact().redact_command_line(text(args[0]))
    return Observation(
        ev.PROCESS_SPAWN,
        ev.PROCESS,
        {
            ev.PROCESS_EXECUTABLE_PATH: "/bin/sh",
            ev.PROCESS_COMMAND_ARGS: ["/bin/sh", "-c", command],
            ev.PROCESS_SHELL: True,
        },
        event,
    )


@translator("pty.spawn", categories=[ev.PROCESS])
def _pty_spawn(event: str, args: Args) -> Observation | None:
    arguments = argv_of(args[0])
    _remember_spawn()
    return _spawn(event, None, arguments)


@translator("os.exec", categories=[ev.PROCESS])
def _exec(event: str, args: Args) -> Observation | None:
    observation = _spawn(event, args[0], args[1], {ev.PROCESS_ENV_OVERRIDE: args[2] is not None})
    return observation._replace(name=ev.PROCESS_EXEC)


@translator("os.fork", "os.forkpty", categories=[ev.PROCESS])
def _fork(event: str, args: Args) -> Observation | None:
    if _is_echo(_PTY_FILE, "fork", "spawn"):
        return None
    return Observation(ev.PROCESS_FORK, ev.PROCESS, {ev.PROCESS_PID: os.getpid()}, event)


@translator("os.kill", "os.killpg", categories=[ev.PROCESS])
def _kill(event: str, args: Args) -> Observation | None:
    return Observation(
        ev.PROCESS_KILL,
        ev.PROCESS,
        {
            ev.KILL_TARGET: int(args[0]),
            ev.KILL_SIGNAL: int(args[1]),
            ev.KILL_GROUP: event == "os.killpg",
        },
        event,
    )


@translator("mcptrace.environ", categories=[ev.PROCESS])  # sensor/environ.py raises it
def _environ(event: str, args: Args) -> Observation | None:
    from mcptrace.sensor.origin import environ_asker

    asker = environ_asker()
    if asker is None:
        return None  # mcptrace's own reading (a child's environment, the settings)
    attributes: Attrs = {ev.ENV_COUNT: args[0] if type(args[0]) is int else 0}
    if asker:
        attributes[ev.ORIGIN] = asker
    return Observation(ev.PROCESS_ENVIRON, ev.PROCESS, attributes, event)


@translator("os.putenv", "os.unsetenv", categories=[ev.PROCESS])
def _putenv(event: str, args: Args) -> Observation | None:
    return Observation(ev.PROCESS_PUTENV, ev.PROCESS, {ev.ENV_KEY: text(args[0])}, event)


# --- code

# exec("src") raises compile(src) then exec(code): the compile carries the source, so the
# exec that follows on the same thread for the same filename is the same action.
_last_compile: dict[int, str] = {}


def _is_file(name: str) -> bool:
    try:
        return os.path.isfile(name)
    except (OSError, ValueError):
        return False


def _compiled_name(args: Args) -> str | None:
    """The file name a compile is the tool's under, or None (a script file being run, the
    importer compiling a module's source); the exec that follows it pairs with it."""
    source, filename = args[0], args[1]
    if source is None:  # the interpreter running a script file
        return None
    name = text(filename) if filename is not None else "<unknown>"
    # a module's own source is the importer's; a loader's made-up file name is not one
    if name.endswith(".py") and isinstance(source, bytes) and from_importer() and _is_file(name):
        return None
    if len(_last_compile) > 1024:
        _last_compile.clear()
    _last_compile[_get_ident()] = name
    return name


@translator("compile", categories=[ev.CODE])
def _compile(event: str, args: Args) -> Observation | None:
    name = _compiled_name(args)
    if name is None:
        return None
    source = args[0]
    attrs: Attrs = {ev.CODE_OPERATION: "compile", ev.CODE_FILENAME: name}
    digest = short_hash(source)
    if digest is None:
        attrs[ev.CODE_SOURCE_TYPE] = type(source).__name__
    else:
        attrs[ev.CODE_SHA256], attrs[ev.CODE_SIZE] = digest
    if _imports_module(source):
        attrs[ev.CODE_IMPORTS_MODULE] = True
    return _new(Observation, (ev.CODE_EXEC, ev.CODE, attrs, event))


def compile_counted(event: str, args: Args) -> Observation | None:
    """``_compile`` for a compile the recorder will only count (``Recorder.only_counts``):
    the same answer (an observation or None) and the same pairing with the exec that
    follows, without hashing and scanning the source, which only a kept record reads."""
    if _compiled_name(args) is None:
        return None
    return _new(Observation, (ev.CODE_EXEC, ev.CODE, {}, event))


# translations for an event the recorder will only count: the same answer, less work
COUNTED_TRANSLATORS: dict[str, TranslateFunction] = {"compile": compile_counted}


def compile_unhashed(event: str, args: Args) -> Observation | None:
    """``_compile`` for a compile the recorder keeps only if it is suspect
    (``Recorder.judged_only``): the same observation but for the source's hash, which the
    hook adds (``add_source_hash``) once the origin mark says the record will be kept."""
    name = _compiled_name(args)
    if name is None:
        return None
    attrs: Attrs = {ev.CODE_OPERATION: "compile", ev.CODE_FILENAME: name}
    if _imports_module(args[0]):
        attrs[ev.CODE_IMPORTS_MODULE] = True
    return _new(Observation, (ev.CODE_EXEC, ev.CODE, attrs, event))


def add_source_hash(attrs: Attrs, source: Any) -> None:
    """What ``_compile`` says of the source, for an observation ``compile_unhashed`` made."""
    digest = short_hash(source)
    if digest is None:
        attrs[ev.CODE_SOURCE_TYPE] = type(source).__name__
    else:
        attrs[ev.CODE_SHA256], attrs[ev.CODE_SIZE] = digest


_IMPORT_CALLS = ("__import__", "import_module(")
_IMPORT_CALLS_BYTES = tuple(call.encode() for call in _IMPORT_CALLS)
_SOURCE_SCANNED = 16384  # characters of a compiled string looked at


def _imports_module(source: object) -> bool:
    if isinstance(source, str):
        head = source[:_SOURCE_SCANNED]
        return any(call in head for call in _IMPORT_CALLS)
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source[:_SOURCE_SCANNED])
        return any(call in raw for call in _IMPORT_CALLS_BYTES)
    return False


@translator("exec", categories=[ev.CODE, ev.IMPORT])
def _exec_code(event: str, args: Args) -> Observation | None:
    code = args[0]
    filename = getattr(code, "co_filename", "")
    if _last_compile.pop(_get_ident(), None) == filename:
        return None  # the exec half of exec(source): the compile event was recorded
    if getattr(code, "co_name", "") == "<module>" and (
        from_importer() or (filename.startswith("/") and filename.endswith(".py"))
    ):  # a module body: imported, or run as __main__ (python FILE / -m)
        if filename.startswith("<"):  # frozen modules: no file
            return None
        return Observation(ev.MODULE_IMPORT, ev.IMPORT, {ev.FILE_PATH: filename}, event)
    attrs: Attrs = {
        ev.CODE_OPERATION: "exec",
        ev.CODE_FILENAME: filename,
        ev.CODE_FUNCTION_NAME: getattr(code, "co_qualname", getattr(code, "co_name", "")),
    }
    co_code = getattr(code, "co_code", None)
    if isinstance(co_code, bytes):
        attrs[ev.CODE_SIZE] = len(co_code)
    return Observation(ev.CODE_EXEC, ev.CODE, attrs, event)


@translator("import", categories=[ev.IMPORT])
def _import(event: str, args: Args) -> Observation | None:
    if len(args) < 2 or args[1] is None:  # only C extensions carry their file
        return None
    return Observation(
        ev.MODULE_IMPORT,
        ev.IMPORT,
        {ev.MODULE_NAME: text(args[0]), ev.FILE_PATH: text(args[1])},
        event,
    )


@translator("marshal.loads", "marshal.load", categories=[ev.CODE])
def _marshal(event: str, args: Args) -> Observation | None:
    if from_importer():
        return None
    attrs: Attrs = {ev.DESERIALIZE_FORMAT: "marshal"}
    if args and isinstance(args[0], (bytes, bytearray)):
        attrs[ev.DESERIALIZE_SIZE] = len(args[0])
    return Observation(ev.CODE_DESERIALIZE, ev.CODE, attrs, event)


@translator("pickle.find_class", categories=[ev.CODE])
def _pickle(event: str, args: Args) -> Observation | None:
    return Observation(
        ev.CODE_DESERIALIZE,
        ev.CODE,
        {
            ev.DESERIALIZE_FORMAT: "pickle",
            ev.DESERIALIZE_GLOBAL: f"{text(args[0])}.{text(args[1])}",
        },
        event,
    )


# --- native


@translator("ctypes.dlopen", categories=[ev.NATIVE])
def _dlopen(event: str, args: Args) -> Observation | None:
    if not args or args[0] is None:  # the process itself, opened by `import ctypes`
        return None
    return Observation(
        ev.NATIVE_LOAD, ev.NATIVE, {ev.FILE_PATH: text(args[0]), ev.NATIVE_LOADER: "ctypes"}, event
    )


def library_name(library: Any) -> str | None:
    """The name a ctypes library was loaded by (``CDLL._name``); None for the process itself.

    Read from the instance ``__dict__``: ``getattr`` on a CDLL falls back to ``__getattr__``,
    which looks a symbol up (another ``ctypes.dlsym``).
    """
    try:
        name = vars(library).get("_name")
    except TypeError:
        return None
    return text(name) if name is not None else None


@translator("ctypes.dlsym", "ctypes.dlsym/handle", categories=[ev.NATIVE])
def _dlsym(event: str, args: Args) -> Observation | None:
    # The only trace a libc call through ctypes leaves (the call itself raises nothing).
    # ``lib.name`` raises it once per library object (ctypes caches the attribute), but
    # ``lib["name"]``, ``in_dll`` and prototypes raise it on every lookup: the hook keeps
    # one event per span, library and symbol (``Recorder.first_lookup``).
    library, symbol = args[0], args[1]
    attrs: Attrs = {
        ev.NATIVE_SYMBOL_NAME: f"#{symbol}" if type(symbol) is int else text(symbol),
    }
    if event == "ctypes.dlsym":  # ctypes.dlsym/handle: a bare handle, no name to report
        path = library_name(library)
        if path is not None:  # None: CDLL(None), ctypes.pythonapi (the process's namespace)
            attrs[ev.FILE_PATH] = path
    return Observation(ev.NATIVE_SYMBOL, ev.NATIVE, attrs, event)


@translator("sqlite3.load_extension", categories=[ev.NATIVE])
def _sqlite_extension(event: str, args: Args) -> Observation | None:
    return Observation(
        ev.NATIVE_LOAD, ev.NATIVE, {ev.FILE_PATH: text(args[1]), ev.NATIVE_LOADER: "sqlite3"}, event
    )


# --- tamper: someone else watching or steering the interpreter


@translator(
    "sys.addaudithook",
    "sys.settrace",
    "sys.setprofile",
    "sys.monitoring.register_callback",  # 3.12+
    "sys._current_frames",
    "sys._current_exceptions",
    "setopencodehook",
    categories=[ev.TAMPER],
)
def _tamper(event: str, args: Args) -> Observation | None:
    return Observation(ev.SENSOR_TAMPER, ev.TAMPER, {}, event)


# Raised when __main__ starts running, after site/sitecustomize (where mcptrace starts).
MAIN_STARTS = frozenset(
    {"cpython.run_command", "cpython.run_file", "cpython.run_module", "cpython.run_stdin"}
)


def interesting_events(categories: Iterable[str]) -> frozenset[str]:
    """The audit events the hook must look at for these categories (tamper always)."""
    wanted = {*categories, ev.TAMPER}
    return MAIN_STARTS | frozenset(
        name for name, entry in TRANSLATORS.items() if entry.categories & wanted
    )


def reset_after_fork() -> None:
    _spawn_echo.clear()
    _last_compile.clear()
