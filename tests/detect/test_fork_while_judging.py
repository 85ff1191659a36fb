"""A forked child never waits on a lock another thread of its parent held at the fork."""

from __future__ import annotations

import json
from pathlib import Path

from detect_support import HERE, RULE, fake_home

from support import PYTHON, clean_env, logs, run_under_mcptrace


def test_child_forked_while_rules_load_execs_and_is_judged(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    spool = tmp_path / "spool"
    result = run_under_mcptrace(
        [PYTHON, str(HERE / "fork_while_judging.py"), str(home)],
        spool,
        env=clean_env(HOME=str(home)),
        timeout=90,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # the parent's helper thread held the detector's locks at the fork: a child that kept
    # them waited forever in its exec (e25 of the evasive corpus: a forked reverse shell)
    assert report == {"child_exited": True, "status": 0}, result.stderr
    rules = {record.attributes.get(RULE) for record in logs(spool)}
    assert "credential-access.ssh-private-key" in rules  # the child's read, judged at its exec
