"""Was an event library machinery working on the tool's behalf?  (A pipeline step.)

Usage::

    mark_library_origin(observation)   # in the hook, after translation, for recorded events
    observation.attributes.get("mcptrace.origin")          # "library", or absent
    observation.attributes.get("mcptrace.origin.module")   # e.g. "dataclasses", "tokenize"
    observation.attributes.get("mcptrace.origin.library")  # e.g. "httpx", "mcp"

A tool that fails makes the SDK format a traceback (``linecache`` reading source files,
``ast.parse`` compiling ``<unknown>``); its first ``httpx`` call makes ``dataclasses``,
``typing`` and ``collections.namedtuple`` generate code (``compile <string>``) and lazily
imports modules.  Those events are kept (nothing is hidden) but marked, so a reader, the
view and detection rules can tell them from the tool's own ``exec``.

The mark comes from the frame that made the audited call (the first frame outside mcptrace;
generated ``<string>`` frames are looked past, and for imports the importer's own frames):

* the tool's own code (anything neither the standard library nor the MCP machinery below) →
  no mark: ``exec(base64.b64decode(...))`` written in a tool is the tool's, wherever the
  tool's package is installed;
* the standard library → library, except modules whose job is to run code the caller hands
  them (``timeit``, ``code``, ``runpy``, ``pdb``, ``doctest``, ``profile``, ``trace``...): a
  tool laundering an ``exec`` through them is still the tool's;
* the MCP and OpenTelemetry machinery (``MACHINERY``: the mcp SDK, fastmcp and the
  packages they run on: anyio, httpx, pydantic, starlette, uvicorn, ...) → library;
* another installed package (attrs, jinja2 generating code for the tool) → library, unless
  it is the package of the tool being run: the frame the SDK (or the event loop, a thread or
  pool worker) called.  A server installed from PyPI lives in site-packages too, and its
  tools' own ``exec`` stays theirs.  What this cannot tell: a hostile server that ships its
  ``exec`` in a second package of its own gets it marked library (the event and everything
  the code does are still recorded).

Only file opens of Python source files (and of pseudo file names such as ``<unknown>``,
which linecache probes on 3.13), code events and imports are looked at: that is
where the machinery's noise is.  What generated code then does (opens, connects, spawns) is
judged on its own.  Cost: only events of those kinds that are kept (a record, a span event,
a record for the judges, or any event while a policy is in force) pay it, never the hook's
rejection step nor an event only counted; a frame walk and a cached classification per file.
"""

from __future__ import annotations

import os
import sys

from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation

TYPE_CHECKING = False  # not typing's: the hook imports this as the interpreter starts
if TYPE_CHECKING:
    from typing import Any

# top-level import names of the MCP SDKs, OpenTelemetry, and what they run on
MACHINERY = frozenset(
    {
        "mcp",
        "mcp_types",
        "fastmcp",
        "opentelemetry",
        "anyio",
        "sniffio",
        "httpx",
        "httpcore",
        "httpx_sse",
        "h11",
        "h2",
        "hpack",
        "hyperframe",
        "certifi",
        "idna",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "typing_extensions",
        "typing_inspection",
        "annotated_types",
        "starlette",
        "sse_starlette",
        "uvicorn",
        "websockets",
        "multipart",
        "python_multipart",
        "jsonschema",
        "jsonschema_specifications",
        "referencing",
        "rpds",
        "attr",
        "attrs",
        "dotenv",
        "click",
        "wrapt",
        "exceptiongroup",
        "importlib_metadata",
        "zipp",
        "google",  # protobuf, for the OTLP exporters
        "grpc",
    }
)

# standard-library modules that run code their caller hands them: not "library" for code
EXECUTORS = frozenset(
    {"timeit", "code", "codeop", "runpy", "pdb", "bdb", "doctest", "cProfile", "profile", "trace"}
)

_PACKAGE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTER_FROZEN = "<frozen importlib."
_IMPORT_MODULE = os.path.join(os.sep + "importlib", "__init__.py")  # import_module()
_MAX_FRAMES = 64
STDLIB, SITE, OWN = "stdlib", "site", "own"
ORIGIN_CATEGORIES = frozenset({ev.FILE, ev.CODE, ev.IMPORT})  # the hook calls in for these


def _directories(*paths: str | None) -> tuple[str, ...]:
    found = []
    for path in paths:
        if path:
            found.append(os.path.join(os.path.abspath(path), ""))
            real = os.path.join(os.path.realpath(path), "")
            if real != found[-1]:
                found.append(real)
    return tuple(dict.fromkeys(found))


# any installed package: every venv, pipx, uv or system layout keeps them under one of these
_SITE_MARKERS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


# the stdlib directories: found on the first event to classify, not at start-up (sysconfig
# costs every process that never records such an event)
_STDLIB: list[tuple[str, ...]] = []


def _stdlib() -> tuple[str, ...]:
    if not _STDLIB:
        import sysconfig

        paths = sysconfig.get_paths()
        _STDLIB[:] = [_directories(paths.get("stdlib"), paths.get("platstdlib"))]
    return _STDLIB[0]


_kinds: dict[str, tuple[str, str]] = {}  # filename → (kind, top-level package for SITE)


def classify(filename: str) -> tuple[str, str]:
    """(STDLIB | SITE | OWN, top-level package) of a code object's filename (cached)."""
    known = _kinds.get(filename)
    if known is not None:
        return known
    kind = (OWN, "")
    if filename.startswith("<frozen "):
        kind = (STDLIB, "")
    else:
        for marker in _SITE_MARKERS:  # first: a site-packages may sit inside the stdlib
            at = filename.rfind(marker)
            if at >= 0:
                top = filename[at + len(marker) :].split(os.sep, 1)[0]
                kind = (SITE, top[:-3] if top.endswith(".py") else top.split(".", 1)[0])
                break
        else:
            if filename.startswith(_stdlib()):
                kind = (STDLIB, "")
    if len(_kinds) > 4096:
        _kinds.clear()
    _kinds[filename] = kind
    return kind


# where a tool's own code is called from: the SDKs, the event loop, thread and pool workers
_DISPATCH_STDLIB = frozenset({"asyncio", "threading", "concurrent", "contextvars", "runpy"})


def _tool_package(frame: Any) -> str | None:
    """The installed package the running tool's code belongs to, if it is one.

    Walking out from ``frame``, the tool's entry is the last frame before the code that
    dispatched it (the mcp SDK and the rest of ``MACHINERY``, the event loop, a thread or
    pool worker).  None when that frame is not in site-packages (a script, a checkout).
    """
    entry = None
    for _ in range(_MAX_FRAMES):
        if frame is None:
            break
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRECTORY) and filename[:1] != "<":
            kind, top = classify(filename)
            if kind == SITE and top in MACHINERY:
                break
            if kind == STDLIB:
                module = str(frame.f_globals.get("__name__", ""))
                if module.split(".", 1)[0] in _DISPATCH_STDLIB:
                    break
            else:
                entry = (kind, top)
        frame = frame.f_back
    if entry is None or entry[0] != SITE:
        return None
    return entry[1]


def is_library(kind: str, top: str, frame: Any) -> bool:
    """Library machinery (the standard library, the MCP machinery, another installed
    package than the running tool's) for a frame of ``classify``'s ``kind`` and ``top``."""
    return _is_library(kind, top, frame)


def _is_library(kind: str, top: str, frame: Any) -> bool:
    if kind == STDLIB or (kind == SITE and top in MACHINERY):
        return True
    # another installed package working for the tool (attrs, jinja2 generating code), but
    # never the tool's own package: a server installed from PyPI is in site-packages too
    return kind == SITE and top != _tool_package(frame)


def mark_library_origin(observation: Observation, responsible: bool = True) -> None:
    """Add ``mcptrace.origin`` = library (and the modules) when machinery made the call.

    ``responsible=False`` for an observation only the judges will read
    (``Recorder.judged_only``): the responsible library (``mcptrace.origin.library``, a
    second walk out through the callers) is left out; the judges read the mark and the
    module, never the library."""
    category = observation[1]
    attributes = observation[2]
    if category == ev.FILE:
        path = attributes.get(ev.FILE_PATH)
        if not isinstance(path, str):
            return
        if path.endswith(_CREDENTIAL_FILES_LIBRARIES_READ):
            _mark_credential_read(attributes)
            return
        # Python sources, or a code object's pseudo file name ("<unknown>") linecache probes
        if not path.endswith((".py", ".pyw")) and not path.endswith(">"):
            return
    elif category != ev.CODE and category != ev.IMPORT:
        return
    # an import's events and a compile the importer made (a loader handing it source from a
    # string, ``spec_from_loader``): the frame that asked the importer, past its own frames
    importing = category == ev.IMPORT or category == ev.CODE
    frame: Any = sys._getframe(1)
    depth = 0
    while frame is not None and depth < _MAX_FRAMES:  # the frame that made the call
        filename = frame.f_code.co_filename
        if not (
            filename.startswith(_PACKAGE_DIRECTORY)
            or (filename[:1] == "<" and not filename.startswith("<frozen "))
            or (
                importing
                and (filename.startswith(_IMPORTER_FROZEN) or filename.endswith(_IMPORT_MODULE))
            )
        ):
            break
        frame, depth = frame.f_back, depth + 1
    if frame is None or depth >= _MAX_FRAMES:
        return
    kind, top = classify(frame.f_code.co_filename)
    if not _is_library(kind, top, frame):
        return  # the tool's own code
    module = str(frame.f_globals.get("__name__", "") or top)
    if category == ev.CODE and kind == STDLIB and module.split(".", 1)[0] in EXECUTORS:
        if not _spawn_reruns_main(frame):
            return  # code the tool handed to timeit, runpy, code, ...: the tool's
        module = _SPAWN  # a spawned worker re-running its parent's main module: machinery
    attributes[ev.ORIGIN] = ev.LIBRARY
    attributes[ev.ORIGIN_MODULE] = module
    if responsible:
        attributes[ev.ORIGIN_LIBRARY] = _responsible_library(frame, kind, top, module)


_SPAWN = "multiprocessing.spawn"


def _spawn_reruns_main(frame: Any) -> bool:
    """``runpy`` called by multiprocessing's spawn start-up (``_fixup_main_from_path``): a
    worker process loading its parent's ``__main__`` as ``__mp_main__``, before any task."""
    for _ in range(4):
        frame = frame.f_back
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == _SPAWN:
            return True
    return False


# read by HTTP libraries before each request (requests' get_netrc_auth, httpx's trust_env)
_CREDENTIAL_FILES_LIBRARIES_READ = (
    os.sep + ".netrc",
    os.sep + "_netrc",
    os.path.join(os.sep + "huggingface", "token"),  # huggingface_hub's get_token()
    os.path.join(os.sep + "huggingface", "stored_tokens"),
)


def _mark_credential_read(attributes: dict[str, Any]) -> None:
    """A credentials file HTTP libraries read on their own: library if the first frame
    outside the standard library (and mcptrace) is an installed library's, not the tool's.

    ``netrc.netrc()`` called from a tool is the tool's read (its first frame outside the
    standard library is the tool's code); ``requests.get`` reading ``~/.netrc`` is requests'.
    """
    frame: Any = sys._getframe(2)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRECTORY) and filename[:1] != "<":
            kind, top = classify(filename)
            if kind != STDLIB:
                break
        frame = frame.f_back
    else:
        return
    kind, top = classify(frame.f_code.co_filename)
    if not _is_library(kind, top, frame):
        return  # the tool's own code
    attributes[ev.ORIGIN] = ev.LIBRARY
    attributes[ev.ORIGIN_MODULE] = str(frame.f_globals.get("__name__", "") or top)
    attributes[ev.ORIGIN_LIBRARY] = top


_ENVIRON_MACHINERY = (os.sep + "os.py", os.sep + "_collections_abc.py")
_ENVIRON_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "environ.py")


def environ_asker() -> str | None:
    """Who asked for the whole environment (``sensor/environ.py``), seen from inside the
    hook: None for mcptrace itself, ``library`` for library machinery, else the tool ("")."""
    frame: Any = sys._getframe(1)
    for _ in range(_MAX_FRAMES):  # up through the hook to the watched mapping
        if frame is None or frame.f_code.co_filename == _ENVIRON_FILE:
            break
        frame = frame.f_back
    for _ in range(_MAX_FRAMES):  # past it, os.py and collections.abc: the one who asked
        if frame is None:
            return None
        filename = frame.f_code.co_filename
        if not (
            filename == _ENVIRON_FILE
            or filename.endswith(_ENVIRON_MACHINERY)
            or filename in ("<frozen os>", "<frozen _collections_abc>")
        ):
            break
        frame = frame.f_back
    else:
        return None
    if filename.startswith(_PACKAGE_DIRECTORY):
        return None  # mcptrace's own reading (a child's environment, the settings)
    if filename[:1] == "<" and not filename.startswith("<frozen "):
        return ""  # code the tool generated (an exec'd string)
    kind, top = classify(filename)
    return ev.LIBRARY if _is_library(kind, top, frame) else ""


def _responsible_library(frame: Any, kind: str, top: str, module: str) -> str:
    """The third-party package whose call led here (``httpx`` for dataclasses generating its
    models), or the standard-library module itself if the tool called it directly."""
    if kind == SITE:
        return top
    caller = frame.f_back
    for _ in range(_MAX_FRAMES):
        if caller is None:
            break
        filename = caller.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRECTORY):
            caller_kind, caller_top = classify(filename)
            if caller_kind == SITE and caller_top in MACHINERY:
                return caller_top
            if caller_kind == OWN and filename[:1] != "<":
                break  # the tool's code called the standard library itself
        caller = caller.f_back
    return module.split(".", 1)[0]
