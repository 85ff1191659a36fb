"""Every contract name mcptrace writes: event names, attribute names, values, scope names.

Usage::

    from mcptrace.record import vocabulary as v

    span.add_event(v.FILE_OPEN, {v.FILE_PATH: "/etc/hosts", v.FILE_ACCESS: v.READ})

These names are public interface (``docs/CONTRACTS.md``, checked against this module by
``tests/foundation/test_contracts.py``): span events and the ``event.name`` of log records
use them, and users build queries and alerts on them.  This module is their only
definition; it holds plain strings and imports nothing, so anything (the view, the policy
engine, a test) can use it without loading OpenTelemetry.  OTel semantic-convention names
are used where they exist; mcptrace's own live under ``mcptrace.*``.
"""

# --- sensor categories (MCPTRACE_SENSOR selects among the first six; tamper is always on)
FILE = "file"
NETWORK = "network"
PROCESS = "process"
CODE = "code"
NATIVE = "native"
IMPORT = "import"
TAMPER = "tamper"
CATEGORIES = (FILE, NETWORK, PROCESS, CODE, NATIVE, IMPORT, TAMPER)

# --- sensor event names
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
FILE_XATTR = "mcptrace.file.xattr"  # an extended attribute set or removed
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
PROCESS_ENVIRON = "mcptrace.process.environ"  # the whole environment read (names, count)
CODE_EXEC = "mcptrace.code.exec"
CODE_DESERIALIZE = "mcptrace.code.deserialize"
NATIVE_LOAD = "mcptrace.native.load"
NATIVE_SYMBOL = "mcptrace.native.symbol"
MODULE_IMPORT = "mcptrace.module.import"
SENSOR_TAMPER = "mcptrace.sensor.tamper"
SENSOR_SUMMARY = "mcptrace.sensor.summary"

# --- detections (policy/detect.py): a rule's verdict on a tool call's recorded actions
DETECTION = "mcptrace.detection"
DETECTION_CATEGORY = "detection"  # the category detections are listed under
DETECTION_RULE = "mcptrace.detection.rule"
DETECTION_SEVERITY = "mcptrace.detection.severity"  # info notice warning error critical
DETECTION_REASON = "mcptrace.detection.reason"
DETECTION_TECHNIQUE = "mcptrace.detection.technique"  # MITRE ATT&CK technique id
DETECTION_EVENT = "mcptrace.detection.event"  # the event name of the action judged
DETECTION_COUNT = "mcptrace.detection.count"  # matching actions, when more than one
# what detections see of the called tool's offer (record/offers.py), judged like an action
TOOL_OFFERED = "mcptrace.mcp.tool.offered"
PARENT_TOOL_VARIABLE = "MCPTRACE_PARENT_TOOL"  # the tool whose call started this process
TOOL_ANSWERED = "mcptrace.mcp.tool.answered"  # what a tool, resource or prompt returned
# a call in flight grew the server's use of a resource past a limit (policy/resources.py)
RESOURCE_EXHAUSTED = "mcptrace.resource.exhausted"
RESOURCE_KIND = "mcptrace.resource.kind"  # cpu memory threads processes descriptors written
RESOURCE_USAGE = "mcptrace.resource.usage"  # "41 s of CPU (limit 30 s)"

# --- OTel semantic-convention attributes (general)
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
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
NETWORK_TRANSPORT = "network.transport"
NETWORK_TYPE = "network.type"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
URL_FULL = "url.full"
HTTP_REQUEST_METHOD = "http.request.method"
PROCESS_EXECUTABLE_PATH = "process.executable.path"
PROCESS_COMMAND_ARGS = "process.command_args"
# the process resource detector's command lines (resource attributes; record/redact.py)
PROCESS_COMMAND_LINE = "process.command_line"
PROCESS_COMMAND = "process.command"
PROCESS_WORKING_DIRECTORY = "process.working_directory"
PROCESS_PID = "process.pid"
PROCESS_PARENT_PID = "process.parent_pid"
CODE_FUNCTION_NAME = "code.function.name"
THREAD_ID = "thread.id"
ERROR_TYPE = "error.type"
RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"

# values of network.transport / network.protocol.name
TRANSPORT_PIPE = "pipe"
TRANSPORT_TCP = "tcp"
PROTOCOL_HTTP = "http"  # every MCP transport over TCP (streamable HTTP, SSE) is HTTP

# --- sensor event attributes of mcptrace's own
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
ENV_COUNT = "mcptrace.env.count"  # how many variables a whole-environment read saw
CODE_OPERATION = "mcptrace.code.operation"
CODE_FILENAME = "mcptrace.code.filename"
CODE_SHA256 = "mcptrace.code.sha256"  # first 16 hex digits of the source's SHA-256
CODE_SIZE = "mcptrace.code.size"
CODE_SOURCE_TYPE = "mcptrace.code.source_type"
# compiled source that imports a module by name (__import__, import_module): how an
# expression eval'd by a library (typing, logging.config) reaches os or socket
CODE_IMPORTS_MODULE = "mcptrace.code.imports_module"
DESERIALIZE_FORMAT = "mcptrace.deserialize.format"
DESERIALIZE_GLOBAL = "mcptrace.deserialize.global"
DESERIALIZE_SIZE = "mcptrace.deserialize.size"
NATIVE_LOADER = "mcptrace.native.loader"
NATIVE_SYMBOL_NAME = "mcptrace.native.symbol.name"
MODULE_NAME = "mcptrace.module.name"
TAMPER_TARGET = "mcptrace.tamper.target"
EVENTS_DROPPED = "mcptrace.events.dropped"
EVENT_REPEATS = "mcptrace.event.repeats"  # identical events coalesced into this one
SENSOR_PHASE = "mcptrace.sensor.phase"
# on the log records of events made after their span ended (a thread outliving its tool call)
SPAN_ENDED = "mcptrace.span.ended"
# library machinery working on the tool's behalf (sensor/origin.py): traceback formatting,
# code generation, lazy imports.  Kept, but told apart from the tool's own actions.
ORIGIN = "mcptrace.origin"  # "library", or absent: the tool's own code
ORIGIN_MODULE = "mcptrace.origin.module"  # the module that made the call ("dataclasses")
ORIGIN_LIBRARY = "mcptrace.origin.library"  # the package responsible ("httpx", "mcp")
LIBRARY = "library"
# every ORIGIN value the sensor writes (sensor/origin.py): library machinery, not the tool
LIBRARY_ORIGINS = frozenset({LIBRARY, "machinery", "import", "traceback"})


def count_attribute(category: str) -> str:
    """Span attribute holding how many events of ``category`` the span saw."""
    return f"mcptrace.events.{category}.count"


# mcptrace.attribution values
CONTEXT = "context"
INFERRED = "inferred"
NONE = "none"

# the type of a path-like object of the program's own that named the file or program: its
# __fspath__ may have answered the opener otherwise than the check (a policy refuses it)
PATH_OBJECT = "mcptrace.path_object"
# mcptrace.file.access values
READ, WRITE, READ_WRITE, CREATE, APPEND = "read", "write", "read_write", "create", "append"
# Observation.audit_event of the importer reading or caching a module file: judged by a
# policy (by where the path really leads), never recorded (sensor/hook.py)
IMPORTER_OPEN = "open/importer"

# --- module provenance
# one log record per process: the modules loaded outside tool calls, summarized
MODULE_SUMMARY = "mcptrace.module.summary"
# on every mcptrace.module.import event
MODULE_SHA256 = "mcptrace.module.sha256"
MODULE_DISTRIBUTION = "mcptrace.module.distribution"
MODULE_VERSION = "mcptrace.module.version"
MODULE_VERIFICATION = "mcptrace.module.verification"
# the .pyc the importer actually ran instead of file.path, when there is one
BYTECODE_PATH = "mcptrace.module.bytecode.path"
BYTECODE_SHA256 = "mcptrace.module.bytecode.sha256"
# (no verification for it: RECORD lists .pyc files without a hash, so it would always be
# "unrecorded"; every attribute costs on each of the hundreds of start-up records)
# on mcptrace.module.summary
SUMMARY_COUNT = "mcptrace.module.count"
SUMMARY_DISTRIBUTIONS = "mcptrace.module.distributions"  # ["name==version", ...]
SUMMARY_VERIFIED = "mcptrace.module.verified.count"
SUMMARY_MISMATCH = "mcptrace.module.mismatch.count"
SUMMARY_UNRECORDED = "mcptrace.module.unrecorded.count"
SUMMARY_MISMATCHES = "mcptrace.module.mismatches"  # file paths
SUMMARY_HASHED = "mcptrace.module.hashed.count"  # files read and hashed by this process
SUMMARY_CACHE_HITS = "mcptrace.module.cache.hits"
SUMMARY_SKIPPED = "mcptrace.module.skipped.count"  # not described (exit budget, limit)
SUMMARY_CACHE_STATE = "mcptrace.module.cache.state"  # ok | rebuilt | unavailable | off
# files of a module set reported before, unchanged and without a mismatch: no record each
SUMMARY_KNOWN = "mcptrace.module.known.count"
SUMMARY_SET_DIGEST = "mcptrace.module.set.digest"  # that set's digest (provenance/known.py)
# mcptrace.module.verification values
VERIFIED = "verified"
MISMATCH = "mismatch"
UNRECORDED = "unrecorded"

# --- policy violations
POLICY_VIOLATION = "mcptrace.policy.violation"
POLICY_RULE = "mcptrace.policy.rule"
POLICY_ACTION = "mcptrace.policy.action"
POLICY_MODE = "mcptrace.policy.mode"
POLICY_CATEGORY = "mcptrace.policy.category"
POLICY_EVENT = "mcptrace.policy.event"
POLICY_SUBJECT = "mcptrace.policy.subject"
# mcptrace.policy.action values
OBSERVED, BLOCKED = "observed", "blocked"
POLICY_CATEGORY_NAME = "policy"  # the category violations are counted under on a span

# --- MCP semantic conventions (development status)
MCP_METHOD_NAME = "mcp.method.name"
MCP_SESSION_ID = "mcp.session.id"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
MCP_RESOURCE_URI = "mcp.resource.uri"
JSONRPC_REQUEST_ID = "jsonrpc.request.id"
JSONRPC_PROTOCOL_VERSION = "jsonrpc.protocol.version"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
EXECUTE_TOOL = "execute_tool"  # gen_ai.operation.name of tools/call
TOOL_ERROR = "tool_error"  # error.type of a tool result with isError
# metrics (histograms, seconds)
MCP_CLIENT_OPERATION_DURATION = "mcp.client.operation.duration"
MCP_SERVER_OPERATION_DURATION = "mcp.server.operation.duration"
MCP_CLIENT_SESSION_DURATION = "mcp.client.session.duration"
MCP_SERVER_SESSION_DURATION = "mcp.server.session.duration"
# MCP method names that carry a target or need special attributes
TOOLS_CALL = "tools/call"
TOOLS_LIST = "tools/list"
RESOURCES_READ = "resources/read"
PROMPTS_GET = "prompts/get"
INITIALIZE = "initialize"
SERVER_DISCOVER = "server/discover"  # 2026-07-28: replaces initialize
SUBSCRIPTIONS_LISTEN = "subscriptions/listen"  # 2026-07-28: replaces resources/subscribe
RESOURCE_METHODS = frozenset(
    {
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "notifications/resources/updated",
    }
)

# --- mcptrace's own attributes on MCP spans and log records
MCPTRACE_SESSION_SIDE = "mcptrace.mcp.side"  # client | server
MCPTRACE_SERVER_NAME = "mcptrace.mcp.server.name"
MCPTRACE_SERVER_VERSION = "mcptrace.mcp.server.version"
MCPTRACE_INSTRUCTIONS_LENGTH = "mcptrace.mcp.server.instructions_length"
MCPTRACE_SERVER_COMPONENTS = "mcptrace.mcp.server.components"
MCPTRACE_COMPONENT_KIND = "mcptrace.mcp.component.kind"  # tool | resource | ... | prompt
MCPTRACE_COMPONENT_NAME = "mcptrace.mcp.component.name"
MCPTRACE_COMPONENT_DESCRIPTION = "mcptrace.mcp.component.description"
MCPTRACE_COMPONENT_SCHEMA_TEXT = "mcptrace.mcp.component.schema_text"  # judged, never emitted
MCPTRACE_COMPONENT_URI = "mcptrace.mcp.component.uri"
MCPTRACE_COMPONENT_SCHEMA_SHA256 = "mcptrace.mcp.component.input_schema.sha256"
# tool pinning: description | schema | annotations | added | removed
MCPTRACE_COMPONENT_CHANGE = "mcptrace.mcp.component.change"
MCPTRACE_PIN_SIDE = "mcptrace.mcp.pin.side"  # server | client: who saw the offer
MCPTRACE_PIN_IDENTITY = "mcptrace.mcp.pin.identity"  # the server the pins are kept for
MCPTRACE_PIN_SHA256 = "mcptrace.mcp.pin.sha256"  # the changed field's SHA-256 now
MCPTRACE_PIN_PREVIOUS_SHA256 = "mcptrace.mcp.pin.previous_sha256"  # ... and before
MCPTRACE_CONNECT_COMMAND = "mcptrace.mcp.connect.command"
MCPTRACE_CONNECT_URL = "mcptrace.mcp.connect.url"
MCPTRACE_SESSION_DURATION = "mcptrace.mcp.session.duration_s"
# who called (no upstream attribute names the MCP client implementation)
MCPTRACE_CLIENT_NAME = "mcptrace.mcp.client.name"  # clientInfo.name
MCPTRACE_CLIENT_VERSION = "mcptrace.mcp.client.version"  # clientInfo.version
ENDUSER_PSEUDO_ID = "enduser.pseudo.id"  # OTel: the keyed hash of the HTTP principal
USER_ID = "user.id"  # OTel: the HTTP principal in clear (opt-in)
# MCP log record event names (OTel `event.name`)
EVENT_SERVER_START = "mcptrace.mcp.server.start"
EVENT_COMPONENT_REGISTERED = "mcptrace.mcp.component.registered"
# a server's offer differs from the one seen last for the same server (mcp/pinning.py)
EVENT_COMPONENT_CHANGED = "mcptrace.mcp.component.changed"
EVENT_SESSION_START = "mcptrace.mcp.session.start"
EVENT_SESSION_END = "mcptrace.mcp.session.end"
EVENT_CLIENT_CONNECT = "mcptrace.mcp.client.connect"

# --- instrumentation scopes (tracer and logger names)
SDK_SCOPE = "mcp-python-sdk"  # mcp 2.x's own tracer
MCPTRACE_SCOPE = "mcptrace.mcp"  # ours (mcp 1.x spans, mcp 2.x server spans, MCP log records)
FASTMCP_SCOPE = "fastmcp"  # the standalone fastmcp package's tracer
MCP_SPAN_SCOPES = frozenset({SDK_SCOPE, MCPTRACE_SCOPE, FASTMCP_SCOPE})
SENSOR_SCOPE = "mcptrace.sensor"
POLICY_SCOPE = "mcptrace.policy"
PROVENANCE_SCOPE = "mcptrace.provenance"
