"""Run a corpus of compile/exec cases at start-up, under ``mcptrace run``, and write what the
sensor did for each: the C hook's step 4 (library code counted in C) on or off decides
nothing else, so both runs must write the same (tests/sensor/test_native_code_path.py).

``python code_path_corpus.py WORKDIR OUT``: WORKDIR holds the helper modules the test wrote
(a package in a ``site-packages`` directory named like the MCP machinery, another installed
package, the program's own module, a zip archive); OUT receives JSON: one row per case.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import importlib.abc
import importlib.util
import json
import marshal
import sys
import threading
import timeit
import typing
from collections import deque
from typing import Any

import mcp  # noqa: F401  (the SDK's imports: thousands of library compiles, detections on)
from mcptrace.record import vocabulary as ev
from mcptrace.sensor import hook, translate

WORKDIR, OUT = sys.argv[1], sys.argv[2]


def load(name: str, path: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


machinery = load("caps_machinery", f"{WORKDIR}/lib/site-packages/anyio/_caps_gen.py")
other = load("caps_other", f"{WORKDIR}/lib/site-packages/othertool/gen.py")
own = load("caps_own", f"{WORKDIR}/own.py")
sys.path.insert(0, f"{WORKDIR}/zipped.zip")
sys.path.insert(0, f"{WORKDIR}/modules")
zipped = importlib.import_module("zipped_gen")

sensor = hook.installed()
assert sensor is not None
recorder = sensor.recorder
startup = sensor.registry.startup
judged: list[Any] = []


class Spy(deque):  # type: ignore[type-arg]
    def append(self, record: Any) -> None:
        observation = record[1]
        judged.append([observation[0], sorted((k, repr(v)) for k, v in observation[2].items())])
        super().append(record)


recorder.judge_only = Spy(maxlen=8192)
# past start-up's span cap for code, whatever the SDK's import did
for number in range(100):
    typing.ForwardRef(f"int if {number} else str")

SOURCES = [
    "int",
    "typing.List[int]",
    "x + 1",
    "def f(a, b=1):\n    return a + b\n",
    "class C:\n    pass\n",
    "lambda self: self.value",
    "__import__('os').getcwd()",
    "importlib.import_module('socket')",
    "import os\nvalue = os.getcwd()\n",
    "from os import path",
    "exec('1')",
    "eval('2')",
    "getattr(builtins, 'open')",
    "'\\x5f_import__'",
    "__builtins__['__imp' + 'ort__']('os')",
    "compile('1', '<x>', 'eval')",
    "marshal.loads(b'')",
    "pickle.loads(b'')",
    "base64.b64decode('aGk=')",
    "codecs.decode('x', 'rot13')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "vars()",
    "'é'",  # not ASCII
    "x" * 20000,  # longer than the scan
    "1\n" * 9000 + "__import__('os')",  # an import past the Python scan's 16,384 characters
    "a = 1\nb = 2\n",
]
NAMES = ["<string>", "<dataclass>", "<tool>", "<x.py", f"{WORKDIR}/named.py", "relative.py"]
MODES = {"exec", "eval"}


def expression(source: str) -> bool:
    try:
        ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return True


def state() -> tuple[int, int, int, int, int, int]:
    root = startup.root
    return (
        startup.kept.get(ev.CODE, 0),
        root.counts.get(ev.CODE, 0),
        root.dropped,
        len(judged),
        startup.kept.get(ev.IMPORT, 0),
        root.counts.get(ev.IMPORT, 0),
    )


rows: list[dict[str, Any]] = []


def case(label: str, action: Any) -> None:
    before = state()
    fast_before = hook.native_code_counted()
    outcome: str
    try:
        action()
        outcome = "ok"
    except BaseException as error:
        outcome = type(error).__name__
    after = state()
    ident = threading.get_ident()
    rows.append(
        {
            "case": label,
            "outcome": outcome,
            "kept": after[0] - before[0],
            "counts": after[1] - before[1],
            "dropped": after[2] - before[2],
            "judged": judged[before[3] : after[3]],
            "imports kept": after[4] - before[4],
            "imports counted": after[5] - before[5],
            "paired": translate._last_compile.get(ident),
            "native": hook.native_code_counted() - fast_before,
        }
    )


def cases() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for source in SOURCES:
        label = source[:40]
        mode = "eval" if expression(source) else "exec"
        for name in NAMES:
            found.append(
                (
                    f"machinery compile {name} {label!r}",
                    lambda s=source, n=name, m=mode: machinery.comp(s, n, m),
                )
            )
            found.append(
                (
                    f"other compile {name} {label!r}",
                    lambda s=source, n=name, m=mode: other.comp(s, n, m),
                )
            )
            found.append(
                (
                    f"own compile {name} {label!r}",
                    lambda s=source, n=name, m=mode: own.comp(s, n, m),
                )
            )
            found.append(
                (
                    f"zip compile {name} {label!r}",
                    lambda s=source, n=name, m=mode: zipped.comp(s, n, m),
                )
            )
            found.append(
                (
                    f"machinery compile bytes {name} {label!r}",
                    lambda s=source, n=name, m=mode: machinery.comp(s.encode(), n, m),
                )
            )
        # compiled by one, run by another (the code object's maker is not its runner)
        for maker_name, maker in (("machinery", machinery), ("own", own)):
            for runner_name, runner in (("machinery", machinery), ("own", own), ("other", other)):
                found.append(
                    (
                        f"{maker_name} made, {runner_name} ran {label!r}",
                        lambda s=source, a=maker, b=runner, m=mode: b.run(
                            a.comp(s, "<string>", m), {}
                        ),
                    )
                )
        found.append((f"machinery exec str {label!r}", lambda s=source: machinery.run_text(s, {})))
        found.append((f"own exec str {label!r}", lambda s=source: own.run_text(s, {})))
        found.append(
            (
                f"machinery calls back own {label!r}",
                lambda s=source, m=mode: machinery.call(own.comp, s, "<string>", m),
            )
        )
        found.append(
            (
                f"own calls machinery {label!r}",
                lambda s=source, m=mode: own.call(machinery.comp, s, "<string>", m),
            )
        )
        if mode == "eval":
            found.append(
                (f"typing forward ref {label!r}", lambda s=source: typing.get_type_hints(holder(s)))
            )
        found.append((f"timeit {label!r}", lambda s=source: timeit.Timer(s)))
        found.append(
            (
                f"ast source {label!r}",
                lambda s=source, m=mode: machinery.comp(ast.parse(s, mode=m), "<string>", m),
            )
        )
        found.append(
            (
                f"thread machinery {label!r}",
                lambda s=source, m=mode: in_thread(machinery.comp, s, "<string>", m),
            )
        )
    for number in range(20):
        fields = [(f"f{i}", int, dataclasses.field(default=i)) for i in range(number % 5)]
        found.append(
            (
                f"make_dataclass {number}",
                lambda n=number, f=fields: dataclasses.make_dataclass(f"D{n}", f),
            )
        )
        found.append(
            (
                f"namedtuple {number}",
                lambda n=number: collections.namedtuple(f"T{n}", ["a", "b"][: n % 3]),
            )
        )
    found.append(
        (
            "paired then other name",
            lambda: (
                machinery.comp("1", "<a>", "eval"),
                machinery.run(own.comp("1", "<b>", "eval"), {}),
            ),
        )
    )
    found.append(
        ("paired same name", lambda: machinery.run(machinery.comp("1", "<a>", "eval"), {}))
    )
    found.append(
        (
            "machinery exec module code",
            lambda: machinery.run(compile("y = 1", "<module-x>", "exec"), {}),
        )
    )
    for number in range(20):  # module bodies run: imports, only counted at start-up
        found.append(
            (f"import module {number}", lambda n=number: importlib.import_module(f"cm{n}"))
        )
    for number in range(20):  # the importer's marshal.loads of their bytecode (compiled before)
        found.append(
            (f"import compiled {number}", lambda n=number: importlib.import_module(f"pm{n}"))
        )
    for runner_name, runner in (("machinery", machinery), ("own", own)):  # not the importer's
        found.append(
            (
                f"{runner_name} unmarshals",
                lambda r=runner: r.call(marshal.loads, marshal.dumps(compile("1", "<m>", "eval"))),
            )
        )
    for name in (f"{WORKDIR}/loaded.py", "<loaded.py", "loaded.py", "<string>", "<module>"):
        found.append((f"a loader runs a module body named {name}", lambda n=name: loaded(n)))
    for name in (f"{WORKDIR}/named.py", "relative.py", f"{WORKDIR}/named.pyc"):
        for runner_name, runner in (("machinery", machinery), ("own", own)):
            found.append(
                (
                    f"{runner_name} runs a module body named {name}",
                    lambda n=name, r=runner: r.run(compile("y = 1", n, "exec"), {}),
                )
            )
    return found


class Loader(importlib.abc.InspectLoader):
    """Runs a module body named as it is told, from the importer's own frames (exec_module)."""

    def __init__(self, filename: str) -> None:
        self.code = compile("VALUE = 1\n", filename, "exec")
        compile("0", "<another>", "eval")  # the exec below is not this compile's other half

    def get_source(self, fullname: str) -> str:
        return "VALUE = 1\n"

    def get_code(self, fullname: str) -> Any:
        return self.code


def loaded(filename: str) -> None:
    spec = importlib.util.spec_from_loader(f"loaded_{len(rows)}", Loader(filename))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def holder(annotation: str) -> Any:
    def function() -> None:
        pass

    function.__annotations__ = {"x": annotation}
    return function


def in_thread(function: Any, *arguments: Any) -> None:
    worker = threading.Thread(target=function, args=arguments)
    worker.start()
    worker.join()


for label, action in cases():
    case(label, action)

with open(OUT, "w", encoding="utf-8") as handle:
    json.dump({"rows": rows, "late_detector": bool(recorder.late_detector)}, handle)
