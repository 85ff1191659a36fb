"""Policy files: what loads, and every mistake named with its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcptrace.policy import model as m
from mcptrace.policy.loader import PolicyFileError, check_policy, parse_policy

GOOD = """\
[policy]
mode = "enforce"

[defaults]
network = "deny"

[[rule]]
id = "egress"
category = "network"
action = "allow"
hosts = ["api.github.com", "*.pypi.org"]
addresses = ["loopback", "private", "10.1.0.0/16"]
ports = [443, "8000-8100"]
tools = ["fetch_*"]
mode = "observe"

[[rule]]
id = "no-ssh"
category = "file_read"
paths = ["~/.ssh/**", "$HOME/.aws/**", "*.pem", "**/.env"]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, "p.toml")
    return caught.value.problems


def test_a_good_policy_loads_with_expansions() -> None:
    policy = parse_policy(GOOD, "p.toml")
    assert policy.mode == m.ENFORCE and policy.defaults["network"] == m.DENY
    egress, ssh = policy.rules
    assert egress.ports == ((443, 443), (8000, 8100))
    assert egress.mode == m.OBSERVE and policy.mode_of(egress) == m.OBSERVE
    assert policy.mode_of(ssh) == m.ENFORCE
    home = os.path.expanduser("~")
    assert ssh.paths[:2] == (f"{home}/.ssh/**", f"{os.environ['HOME']}/.aws/**")
    assert ssh.line == 17


def test_syntax_error_has_the_decoders_line_and_column() -> None:
    [problem] = problems('[policy]\nmode = "enforce"\n\n[[rule]]\nid = "x"\ncategory = = 3\n')
    assert problem.startswith("p.toml:6:")
    assert "TOML syntax error" in problem


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[policy]\nmode = "enforced"\n', 2, "use observe or enforce"),
        ('[defaults]\nnetwork = "allow"\nfile_rd = "deny"\n', 3, "did you mean 'file_read'"),
        ('[[rule]]\nid = "a"\ncategory = "files"\npaths = ["/x"]\n', 3, "category = 'files'"),
        ('[[rule]]\ncategory = "file_read"\npaths = ["/x"]\n', 1, "needs an id"),
        ('[[rule]]\nid = "a"\ncategory = "network"\nhost = ["x"]\n', 4, "did you mean 'hosts'"),
        ('[[rule]]\nid = "a"\ncategory = "network"\nports = [70000]\n', 4, "not a port"),
        (
            '[[rule]]\nid = "a"\ncategory = "network"\n'
            'addresses = [\n  "loopback",\n  "10.0.0.0/33",\n]\n',
            6,
            "'10.0.0.0/33' is not an IP address",
        ),
        (
            '[[rule]]\nid = "a"\ncategory = "file_read"\npaths = ["$MCPTRACE_TEST_UNSET/x"]\n',
            4,
            "MCPTRACE_TEST_UNSET is not set",
        ),
        ('[[rule]]\nid = "a"\ncategory = "file_write"\npaths = ["data/**"]\n', 4, "relative"),
        ('[[rule]]\nid = "a"\ncategory = "process"\narguments = ["("]\n', 4, "not a valid regex"),
        # re.compile raises OverflowError / RecursionError here, not re.error
        (
            '[[rule]]\nid = "a"\ncategory = "process"\narguments = ["x{99999999999}"]\n',
            4,
            "not a valid regex (the repetition number is too large)",
        ),
        (
            '[[rule]]\nid = "a"\ncategory = "process"\narguments = ["'
            + "(" * 3000
            + "a"
            + ")" * 3000
            + '"]\n',
            4,
            "not a valid regex",
        ),
        (
            '[[detection]]\nid = "x"\nseverity = "warning"\ncategory = "process"\n'
            'arguments = ["x{99999999999}"]\n',
            1,
            "not a valid regex (the repetition number is too large)",
        ),
        ('[[rule]]\nid = "a"\ncategory = "code"\noperations = ["evil"]\n', 4, "use compile"),
        ('[[rule]]\nid = "a"\ncategory = "process"\n', 1, "needs executables or arguments"),
        ('[rule]\nid = "a"\n', 1, "[[rule]]"),
        ('[polcy]\nmode = "enforce"\n', 1, "did you mean 'policy'"),
    ],
)
def test_semantic_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    found = problems("# a comment\n" + text)
    assert any(p.startswith(f"p.toml:{line + 1}:") and fragment in p for p in found), found


def test_every_problem_is_reported_in_line_order() -> None:
    text = (
        '[policy]\nmode = "enforcing"\n\n'
        '[[rule]]\nid = "one"\ncategory = "file_read"\npaths = ["/x"]\n\n'
        '[[rule]]\nid = "one"\ncategory = "file_read"\npaths = ["/y"]\n'
    )
    found = problems(text)
    assert [p.split(":")[1] for p in found] == ["2", "10"]
    assert "used twice (first at line 4)" in found[1]


def test_check_policy_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert check_policy(path) == []
    path.write_bytes(b"\xff\xfe")
    assert check_policy(path)[0].endswith("not UTF-8 text (invalid start byte)")
    assert "cannot read" in check_policy(tmp_path / "missing.toml")[0]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_policies_are_valid(path: Path) -> None:
    assert check_policy(path) == []
