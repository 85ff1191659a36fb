"""``mcptrace policy check FILE``, ``policy test FILE [--spool DIR]``, ``policy suggest``.

Usage (from mcptrace/cli.py)::

    add_policy_commands(subparsers)        # the `policy` command group
    validate_policy_setting(settings)      # `mcptrace run` refuses a broken policy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mcptrace.config import ConfigError, Settings
from mcptrace.policy.loader import PolicyFileError, check_policy, load_policy

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def validate_policy_setting(settings: Settings) -> None:
    """Raise ConfigError (one line, with file:line:column) if the configured policy is bad."""
    if settings.policy is None or not settings.part_enabled("policy"):
        return
    problems = check_policy(settings.policy)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(
            "MCPTRACE_POLICY",
            f"{problems[0]}{more}",
            f"fix it; `mcptrace policy check {settings.policy}` lists every problem",
            "policy",
        )


def cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        policy = load_policy(path)
    except PolicyFileError as exc:
        sys.stderr.write("\n".join(exc.problems) + "\n")
        count = len(exc.problems)
        sys.stderr.write(f"{path}: {count} problem{'s' if count > 1 else ''}; not valid\n")
        return EXIT_INVALID
    enforced = sum(1 for rule in policy.rules if policy.mode_of(rule) == "enforce")
    denied = [category for category, action in policy.defaults.items() if action == "deny"]
    sys.stdout.write(
        f"{path}: valid; mode {policy.mode}, applies to {policy.applies_to}, "
        f"{len(policy.rules)} rules ({enforced} enforced), "
        f"default deny: {', '.join(denied) or 'none'}\n"
    )
    return EXIT_OK


def _spool(given: str | None) -> Path:
    """--spool, else the spool `mcptrace run` writes to (as `mcptrace view` finds it)."""
    if given:
        return Path(given)
    from mcptrace.config import load_settings_lenient

    # lenient: a bad value elsewhere in the settings must not hide the spool
    return load_settings_lenient()[0].spool_dir


def cmd_test(args: argparse.Namespace) -> int:
    from mcptrace.policy.replay import replay_spool

    path, spool = Path(args.file), _spool(args.spool)
    try:
        policy = load_policy(path)
    except PolicyFileError as exc:
        sys.stderr.write("\n".join(exc.problems) + "\n")
        return EXIT_INVALID
    if not spool.is_dir():
        sys.stderr.write(f"mcptrace policy test: spool {spool} is not a directory\n")
        return EXIT_USAGE
    report = replay_spool(policy, spool)
    if args.json:
        document: dict[str, Any] = report.as_json()
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    return EXIT_OK


def cmd_suggest(args: argparse.Namespace) -> int:
    from mcptrace.policy.suggest import SuggestionError, suggest_policy

    spool = _spool(args.spool)
    if not spool.is_dir():
        sys.stderr.write(f"mcptrace policy suggest: spool {spool} is not a directory\n")
        return EXIT_USAGE
    try:
        text = suggest_policy(spool, args.tool)
    except SuggestionError as exc:
        sys.stderr.write(f"mcptrace policy suggest: {exc}\n")
        return EXIT_INVALID
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"mcptrace policy suggest: cannot write {args.output} ({exc})\n")
            return EXIT_USAGE
        sys.stderr.write(f"mcptrace policy suggest: wrote {args.output}\n")
    else:
        sys.stdout.write(text)
    return EXIT_OK


_DEFAULT = "default: MCPTRACE_SPOOL_DIR, else ~/.local/state/mcptrace/spool"


def add_policy_commands(commands: Any) -> None:
    """The ``policy`` group on the top-level subparsers."""
    policy = commands.add_parser(
        "policy", help="check a policy, dry-run it over a spool, or suggest one from a run"
    )
    group = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    check = group.add_parser("check", help="validate a policy file (errors with line numbers)")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(handler=cmd_check)
    test = group.add_parser(
        "test", help="replay a spool's recorded actions against a policy (dry run)"
    )
    test.add_argument("file", metavar="FILE")
    test.add_argument("--spool", metavar="DIR", help=f"spool directory to replay ({_DEFAULT})")
    test.add_argument("--json", action="store_true", help="print the report as JSON")
    test.set_defaults(handler=cmd_test)
    suggest = group.add_parser(
        "suggest",
        help="write an enforce policy allowing exactly what each tool did in a spool",
    )
    suggest.add_argument(
        "--spool", metavar="DIR", help=f"spool directory to learn from ({_DEFAULT})"
    )
    suggest.add_argument("--tool", metavar="NAME", help="only tools matching NAME (a glob)")
    suggest.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    suggest.set_defaults(handler=cmd_suggest)
