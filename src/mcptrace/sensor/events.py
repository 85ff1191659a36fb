"""The sensor's public vocabulary: event names, categories, attribute names, severities.

These names are a contract (see DESIGN.md, "Contracts"): span events and the ``event_name``
of log records use them, and users build queries and alerts on them.
"""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry._logs import SeverityNumber
from opentelemetry.util.types import AttributeValue

# categories (MCPTRACE_SENSOR selects among the first six; tamper is always on)
FILE = "file"
NETWORK = "network"
PROCESS = "process"
CODE = "code"
NATIVE = "native"
IMPORT = "import"
TAMPER = "tamper"
CATEGORIES = (FILE, NETWORK, PROCESS, CODE, NATIVE, IMPORT, TAMPER)

# event names
FILE_OPEN = "mcptrace.file.open"
FILE_DELETE = "mcptrace.file.delete"
FILE_RENAME = "mcptrace.file.rename"
FILE_COPY = "mcptrace.file.copy"
FILE_CHMOD = "mcptrace.file.chmod"
FILE_CHOWN = "mcptrace.file.chown"
FILE_MKDIR = "mcptrace.file.mkdir"
FILE_LINK = "mcptrace.file.link"
FILE_LISTDIR = "mcptrace.file.listdir"
FILE_TRUNCATE = "mcptrace.file.truncate"
FILE_UTIME = "mcptrace.file.utime"
NETWORK_CONNECT = "mcptrace.network.connect"
NETWORK_BIND = "mcptrace.network.bind"
NETWORK_SEND = "mcptrace.network.send"
NETWORK_RESOLVE = "mcptrace.network.resolve"
NETWORK_REQUEST = "mcptrace.network.request"
PROCESS_SPAWN = "mcptrace.process.spawn"
PROCESS_EXEC = "mcptrace.process.exec"
PROCESS_FORK = "mcptrace.process.fork"
PROCESS_KILL = "mcptrace.process.kill"
PROCESS_PUTENV = "mcptrace.process.putenv"
CODE_EXEC = "mcptrace.code.exec"
CODE_DESERIALIZE = "mcptrace.code.deserialize"
NATIVE_LOAD = "mcptrace.native.load"
NATIVE_SYMBOL = "mcptrace.native.symbol"
MODULE_IMPORT = "mcptrace.module.import"
SENSOR_TAMPER = "mcptrace.sensor.tamper"
SENSOR_SUMMARY = "mcptrace.sensor.summary"

# attributes: OTel semantic conventions where they exist
FILE_PATH = "file.path"
FILE_MODE = "file.mode"
FILE_OWNER_ID = "file.owner.id"
FILE_GROUP_ID = "file.group.id"
FILE_SYMLINK_TARGET = "file.symbolic_link.target_path"
FILE_SIZE = "file.size"
FILE_ACCESSED = "file.accessed"  # ISO 8601
FILE_MODIFIED = "file.modified"  # ISO 8601
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
NETWORK_TRANSPORT = "network.transport"
NETWORK_TYPE = "network.type"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
URL_FULL = "url.full"
HTTP_REQUEST_METHOD = "http.request.method"
PROCESS_EXECUTABLE_PATH = "process.executable.path"
PROCESS_COMMAND_ARGS = "process.command_args"
PROCESS_WORKING_DIRECTORY = "process.working_directory"
PROCESS_PID = "process.pid"
PROCESS_PARENT_PID = "process.parent_pid"
CODE_FUNCTION_NAME = "code.function.name"
THREAD_ID = "thread.id"
# ... and mcptrace's own
ATTRIBUTION = "mcptrace.attribution"
AUDIT_EVENT = "mcptrace.audit.event"
FILE_ACCESS = "mcptrace.file.access"
FILE_TARGET_PATH = "mcptrace.file.target_path"
FILE_RECURSIVE = "mcptrace.file.recursive"
FILE_LINK_TYPE = "mcptrace.file.link_type"
PROCESS_SHELL = "mcptrace.process.shell"
PROCESS_ENV_OVERRIDE = "mcptrace.process.env_override"
KILL_TARGET = "mcptrace.kill.target"
KILL_SIGNAL = "mcptrace.kill.signal"
KILL_GROUP = "mcptrace.kill.group"
ENV_KEY = "mcptrace.env.key"
CODE_OPERATION = "mcptrace.code.operation"
CODE_FILENAME = "mcptrace.code.filename"
CODE_SHA256 = "mcptrace.code.sha256"  # first 16 hex digits of the source's SHA-256
CODE_SIZE = "mcptrace.code.size"
CODE_SOURCE_TYPE = "mcptrace.code.source_type"
DESERIALIZE_FORMAT = "mcptrace.deserialize.format"
DESERIALIZE_GLOBAL = "mcptrace.deserialize.global"
DESERIALIZE_SIZE = "mcptrace.deserialize.size"
NATIVE_LOADER = "mcptrace.native.loader"
NATIVE_SYMBOL_NAME = "mcptrace.native.symbol.name"
MODULE_NAME = "mcptrace.module.name"
EVENTS_DROPPED = "mcptrace.events.dropped"
EVENT_REPEATS = "mcptrace.event.repeats"  # identical events coalesced into this one
SENSOR_PHASE = "mcptrace.sensor.phase"


def count_attribute(category: str) -> str:
    """Span attribute holding how many events of ``category`` the span saw."""
    return f"mcptrace.events.{category}.count"


# attribution values
CONTEXT = "context"
INFERRED = "inferred"
NONE = "none"

# file access values
READ, WRITE, READ_WRITE, CREATE, APPEND = "read", "write", "read_write", "create", "append"

_WARN_CATEGORIES = frozenset({PROCESS, CODE, NATIVE, TAMPER})


def severity_of(category: str) -> SeverityNumber:
    """WARN for what can change the process or run foreign code, INFO otherwise."""
    return SeverityNumber.WARN if category in _WARN_CATEGORIES else SeverityNumber.INFO


class Observation(NamedTuple):
    """One translated audit event: plain data only, never a reference to the audited objects."""

    name: str
    category: str
    attributes: dict[str, AttributeValue]
    audit_event: str
