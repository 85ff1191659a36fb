"""PathGlobs' index says exactly what one regex per glob says, for every path.

The detector's gate dismisses most paths with an index (segments, last-segment alternation)
instead of a test per pattern; an index that is not exact would hide a secret read or flag a
harmless one.  Reference: each glob's own regex, as ``glob_to_regex`` reads it, anchored the
way PathGlobs documents (relative globs at a segment start and at the end).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from mcptrace.policy.detect import Action, Detector, PathGlobs, builtin_rules, normal_path
from mcptrace.policy.matchers import glob_to_regex, path_pattern_variants


class Reference:
    def __init__(self, patterns: list[str]) -> None:
        self.searched: list[re.Pattern[str]] = []
        self.matched: list[re.Pattern[str]] = []
        for pattern in patterns:
            if pattern.startswith("**/") or "/" not in pattern:
                rest = pattern[3:] if pattern.startswith("**/") else pattern
                regex = re.compile("(?:^|/)" + glob_to_regex(rest) + "\\Z", re.DOTALL)
                self.searched.append(regex)
            else:
                for variant in path_pattern_variants(pattern):
                    regex = re.compile("(?:" + glob_to_regex(variant) + ")\\Z", re.DOTALL)
                    self.matched.append(regex)

    def search(self, path: str) -> bool:
        return any(r.search(path) for r in self.searched) or any(
            r.match(path) for r in self.matched
        )


DETECTOR = Detector(builtin_rules().values())
BUILTIN = sorted({p for rule in builtin_rules().values() for p in rule.paths})
TRICKY = [
    "**/.ssh/**",
    "**/*.pem",
    "*.key",
    "id_*",
    "**/a[!x]b/c",  # a negated class may match "/"
    "**/x[ab]y",
    "**/[!.]*rc",
    "**/dir/**/deep/*.txt",
    "**/**",
    "**/",
    "**",
    "?",
    "**/?.cfg",
    "**/weird (copy) +$^.json",
    "**/a**b",
    "**/lib/python3.*/**",
    "**/.env.*",
    "/srv/data/**",
    "/etc/*.conf",
    "credentials*",
    "**/*DECRYPT*README*",
]

SEGMENTS = [
    "",
    ".",
    "..",
    "home",
    "user",
    ".ssh",
    "id_rsa",
    "id_ed25519.pub",
    "key.pem",
    "a.key",
    "x.pem.bak",
    ".env",
    ".env.local",
    "env",
    "site-packages",
    "lib",
    "python3.11",
    "python3",
    "dir",
    "deep",
    "f.txt",
    "axb",
    "ayb",
    "a",
    "b",
    "c",
    "xay",
    "xby",
    "zrc",
    ".bashrc",
    "DECRYPT_README.txt",
    "weird (copy) +$^.json",
    "credentials",
    "credentials.json",
    "aXYZb",
    "q.cfg",
    "qq.cfg",
    "config",
    ".aws",
    "srv",
    "data",
    "etc",
    "x.conf",
    "wallet.dat",
    "ü",
    "new\nline",
    "a/b",
]


def random_paths(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        parts = [rng.choice(SEGMENTS) for _ in range(rng.randint(1, 7))]
        path = "/".join(parts)
        out.append(("/" + path) if rng.random() < 0.8 else path)
        if rng.random() < 0.1:
            out.append(out[-1] + "/")
    return out


def instances(patterns: list[str], seed: int) -> list[str]:
    """Paths made from the globs themselves, so the positive side is exercised too."""
    rng = random.Random(seed)
    out: list[str] = []
    for pattern in patterns:
        for _ in range(3):
            text = pattern.replace("**", rng.choice(["", "x", "a/b", "deep/er"]))
            text = text.replace("*", rng.choice(["", "k", "long-name"]))
            text = text.replace("?", rng.choice(["q", "/"]))
            text = re.sub(r"\[!?([^\]]*)\]", lambda m: m.group(1)[:1] or "z", text)
            prefix = rng.choice(["", "/home/u/", "/", "/opt/project/"])
            out.append(prefix + text.lstrip("/") if not text.startswith("/") else text)
    return out


@pytest.mark.parametrize(
    "patterns", [BUILTIN, TRICKY, BUILTIN + TRICKY], ids=["builtin", "tricky", "both"]
)
def test_index_agrees_with_one_regex_per_glob(patterns: list[str]) -> None:
    globs, expected = PathGlobs(patterns), Reference(patterns)
    paths = random_paths(2000, seed=len(patterns)) + instances(patterns, seed=7)
    wrong = [path for path in paths if globs.search(path) != expected.search(path)]
    assert not wrong, wrong[:10]
    found = sum(globs.search(path) for path in paths)
    assert found > 100  # the corpus reaches the positive side


def test_the_builtin_globs_pass_ordinary_paths() -> None:
    globs = PathGlobs(BUILTIN)
    paths = random_paths(500, seed=11)
    assert 0 < sum(globs.search(path) for path in paths) < len(paths)


@pytest.mark.slow  # every event, access and origin against every rule: 4 s
def test_every_gate_of_the_builtin_detector_agrees() -> None:
    paths = random_paths(800, seed=3) + instances(BUILTIN, seed=5)
    for (event, kind, library), gate in DETECTOR.gates.items():
        if gate.globs is None:
            continue
        patterns = [p for c in gate.rules if c.paths is not None for p in c.rule.paths]
        expected = Reference(patterns)
        wrong = [path for path in paths if gate.globs.search(path) != expected.search(path)]
        assert not wrong, (event, kind, library, wrong[:10])


ABSOLUTE_TRICKY = [
    "/home/u/.ssh/**",
    "/home/u/.ssh",
    "/home/*/.aws/credentials",
    "/etc/passwd",
    "/etc/*.conf",
    "/*/secret",
    "/**/deep/*.txt",
    "/**",
    "/srv/data/**",
    "/opt/project/x[ab]y/**",
    "/opt/pro?ect/**",
    "//double/**",
    "rel/dir/*.key",
    "/proc/*/fd/*",
]
ABSOLUTE_PATHS = [
    "/home/u/.ssh",
    "/home/u/.ssh/id_rsa",
    "/home/u/.sshx/id_rsa",
    "/home/u",
    "/home/v/.aws/credentials",
    "/etc/passwd",
    "/etc/passwd/x",
    "/etc/ssl.conf",
    "/x/secret",
    "/a/b/deep/f.txt",
    "/srv/data",
    "/srv/datax",
    "/opt/project/xay/z",
    "/opt/project/xzy/z",
    "/opt/proXect/z",
    "//double/z",
    "/double/z",
    "rel/dir/a.key",
    "x/rel/dir/a.key",
    "/proc/12/fd/3",
    "/",
    "",
    "/home/u/.ssh/\nid",
]


@pytest.mark.parametrize("pattern", ABSOLUTE_TRICKY)
def test_absolute_globs_grouped_by_directory_match_as_one_regex_each(pattern: str) -> None:
    """Absolute globs are grouped by their literal leading directories: each alone, and all
    together, says what its own regex says."""
    paths = ABSOLUTE_PATHS + random_paths(300, seed=13) + instances(ABSOLUTE_TRICKY, seed=17)
    for patterns in ([pattern], ABSOLUTE_TRICKY):
        globs, expected = PathGlobs(patterns), Reference(patterns)
        wrong = [path for path in paths if globs.search(path) != expected.search(path)]
        assert not wrong, (pattern, wrong[:10])


def test_globs_compile_only_what_a_path_can_reach() -> None:
    """An ordinary file compiles none of the built-in rules' absolute globs
    about $HOME, /etc or /proc; compile() builds every regex for a server warming up."""
    globs = PathGlobs(BUILTIN)
    assert not globs.search("/srv/app/static/logo.png")
    index = globs._index
    assert index is not None
    assert 0 < len(index.compiled) < len(index.sources) / 2
    assert not any(key[0] == "absolute" and len(key) > 1 for key in index.compiled)  # type: ignore[index]
    globs.compile()
    assert len(index.compiled) == len(index.sources)


ACCESSES = [None, "read", "write", "read_write", "create", "append", "exec", ["read"]]
ORIGINS = [None, "library", "machinery", "import", "traceback", "tool", "", 0]


COMPILED = [
    {"mcptrace.code.operation": "compile", "mcptrace.code.filename": "<string>"},
    {"mcptrace.code.operation": "compile", "mcptrace.code.imports_module": "true"},
    {"mcptrace.code.operation": "compile", "mcptrace.code.filename": "/tmp/p.zip/m.py"},
    {"mcptrace.code.operation": "exec", "mcptrace.code.filename": "<pydantic x>"},
]


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_the_gates_never_leave_out_a_rule_that_matches(lazy: bool) -> None:
    """Every rule that selects an action is among the gate's candidates for it, whatever
    the access of a file.open (a write-only rule's paths never open the gate for a read) and
    whatever the origin the sensor marked (library machinery meets no user-code rule)."""
    detector = Detector(builtin_rules().values(), lazy=lazy)
    detector.compile_all()
    rng = random.Random(23)
    paths = random_paths(400, seed=29) + instances(BUILTIN, seed=31)
    selected = 0
    fired: set[str] = set()
    for event in sorted(detector.by_event):
        for path in rng.sample(paths, 250):
            attributes: dict[str, object] = {"file.path": path}
            access = rng.choice(ACCESSES)
            if access is not None:
                attributes["mcptrace.file.access"] = access
            if rng.random() < 0.2:
                attributes["mcptrace.file.target_path"] = rng.choice(paths)
            origin = rng.choice(ORIGINS)
            if origin is not None:
                attributes["mcptrace.origin"] = origin
            if event == "mcptrace.code.exec":  # compiled code: its file, maybe an import
                attributes.update(rng.choice(COMPILED))
                if rng.random() < 0.5:
                    del attributes["file.path"]
            action = Action(0, event, attributes)
            try:
                matching = {
                    c.rule.id
                    for c in detector.by_event[event]
                    if c.matches(action, detector.resolve) is not None
                }
            except TypeError:  # an unhashable access: matches() cannot say
                continue
            candidates = {c.rule.id for c in detector._candidates(action) or []}
            assert matching <= candidates, (event, attributes, matching - candidates)
            selected += len(matching)
            fired |= matching
    assert selected > 200  # the corpus reaches rules of several events
    assert {  # and the rules about code, library machinery's included
        "execution.dynamic-code",
        "execution.string-import",
        "defense-evasion.zip-module-from-writable",
    } <= fired


def test_a_payload_compiled_by_a_library_is_still_judged() -> None:
    """A tool cannot hide a compile by having typing, logging.config or zipimport make it:
    the library gate leaves out only the rules that judge the tool's own code, so an import
    by name in a forward reference and a module run from a zip in /tmp still fire, among
    thousands of harmless library compiles, and the same compile from the tool's own code
    still fires dynamic-code."""
    harmless = {
        "mcptrace.code.operation": "compile",
        "mcptrace.code.filename": "<string>",
        "mcptrace.origin": "library",
        "mcptrace.origin.module": "typing",
    }
    payloads = [
        harmless | {"mcptrace.code.imports_module": "true"},
        harmless | {"mcptrace.code.filename": "/tmp/drop.zip/evil.py", "mcptrace.origin": "import"},
    ]
    own = {k: v for k, v in harmless.items() if not k.startswith("mcptrace.origin")}
    for detector in (Detector(builtin_rules().values(), lazy=True), DETECTOR):
        actions = [Action(i, "mcptrace.code.exec", dict(harmless)) for i in range(3000)]
        actions += [Action(3000 + i, "mcptrace.code.exec", p) for i, p in enumerate(payloads)]
        found = {f.rule.id for f in detector.evaluate(actions, None)}
        assert found == {"execution.string-import", "defense-evasion.zip-module-from-writable"}
        found = {f.rule.id for f in detector.evaluate([Action(0, "mcptrace.code.exec", own)], None)}
        assert found == {"execution.dynamic-code"}


def test_the_gate_opens_for_every_form_of_a_path(tmp_path: Path) -> None:
    """The gate searches a path as written, normalized, and (a symlink) resolved: each form
    alone opens it, so a secret reached through ``..``, ``//`` or a link is still judged."""
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("key")
    link = tmp_path / "innocent.txt"
    link.symlink_to(secret)
    chained = tmp_path / "chained.txt"
    chained.symlink_to(link)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    detector = Detector(builtin_rules().values())

    def opens(path: str) -> bool:
        action = Action(0, "mcptrace.file.open", {"file.path": path})
        candidates = {c.rule.id for c in detector._candidates(action) or []}
        return "credential-access.ssh-private-key" in candidates

    for path in (
        str(secret),
        str(link),
        str(chained),
        f"{tmp_path}/home/x/../.ssh/id_ed25519",
        f"{tmp_path}//home/./.ssh/id_ed25519",
    ):
        assert opens(path), path
        assert opens(path), path  # and again, from the gate's memo
    assert not opens(str(plain))
    assert not opens(f"{tmp_path}/home/.ssh/../plain.txt")


def test_normal_path_is_normpath() -> None:
    rng = random.Random(37)
    tokens = ["/", "a", ".", "b", "..", "//", "...", ".a", "a.", "ü", "\n"]
    paths = ["", ".", "..", "/", "//", "///", "a/", "./a", "a/.", "/a/..", ".."]
    paths += ["".join(rng.choice(tokens) for _ in range(rng.randint(1, 9))) for _ in range(20000)]
    for path in paths:
        assert normal_path(path) == os.path.normpath(path), path
