"""What a policy says, as plain frozen data (the loader builds it, the engine compiles it).

Usage::

    policy = load_policy(Path("policy.toml"))        # mcptrace.policy.loader
    policy.mode, policy.defaults["network"], policy.rules[0].id

A rule applies to one category, allows or denies what its matchers select, optionally only
inside tools whose name matches ``tools``; the first rule that matches an action decides,
otherwise the category's default does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# categories a rule can name (finer than the sensor's: file is split by direction)
FILE_READ = "file_read"
FILE_WRITE = "file_write"
NETWORK = "network"
PROCESS = "process"
CODE = "code"
NATIVE = "native"
CATEGORIES = (FILE_READ, FILE_WRITE, NETWORK, PROCESS, CODE, NATIVE)

ALLOW, DENY = "allow", "deny"
ACTIONS = (ALLOW, DENY)
OBSERVE, ENFORCE = "observe", "enforce"
MODES = (OBSERVE, ENFORCE)

# where the policy applies: inside MCP server requests (tool calls, resource reads, ...),
# or to everything the sensor attributes after start-up as well
TOOL_CALLS, EVERYTHING = "tool_calls", "everything"
SCOPES = (TOOL_CALLS, EVERYTHING)

# network operations (the sensor's event names without the prefix); bind is opt-in
NETWORK_OPERATIONS = ("connect", "send", "resolve", "request", "bind")
DEFAULT_NETWORK_OPERATIONS = ("connect", "send", "resolve", "request")
# code operations: compile = exec/eval/compile of source text; exec = exec of a code object
CODE_OPERATIONS = ("compile", "exec", "pickle", "marshal")
# address keywords usable in network rules besides IPs and CIDRs
ADDRESS_KEYWORDS = ("loopback", "private", "link_local", "multicast", "any", "unix")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    action: str = DENY
    mode: str | None = None  # None: the policy's mode
    tools: tuple[str, ...] = ()  # tool-name globs; empty: every tool (and non-tool requests)
    description: str = ""
    # file_read / file_write / native: path globs, already expanded (~, $VAR)
    paths: tuple[str, ...] = ()
    # network
    hosts: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    ports: tuple[tuple[int, int], ...] = ()  # inclusive ranges
    operations: tuple[str, ...] = ()  # network or code operations; empty: the defaults
    # process
    executables: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()  # regular expressions searched in the command line
    # code: pickle globals ("module.name" globs)
    globals: tuple[str, ...] = ()
    line: int = 0  # where the rule starts in its file (for messages)


@dataclass(frozen=True)
class Policy:
    mode: str = OBSERVE
    applies_to: str = TOOL_CALLS
    defaults: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, ALLOW))
    rules: tuple[Rule, ...] = ()
    source: str = ""  # the file it came from

    def mode_of(self, rule: Rule | None) -> str:
        return (rule.mode if rule is not None else None) or self.mode
