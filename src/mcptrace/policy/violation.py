"""The exception a blocked action raises inside the tool: ``mcptrace.PolicyViolation``."""

from __future__ import annotations

from mcptrace.record.decide import PolicyDenial


class PolicyViolation(PolicyDenial):
    """An action denied by an enforced policy rule; a PermissionError, so code that handles
    ``PermissionError``/``OSError`` for files and sockets handles it too.

    ``rule`` names the rule, ``category`` the policy category, ``subject`` what was judged
    (a path, ``host:port``, a command line, ...).
    """

    def __init__(self, message: str, rule: str = "", category: str = "", subject: str = "") -> None:
        super().__init__(message)
        self.rule = rule
        self.category = category
        self.subject = subject
