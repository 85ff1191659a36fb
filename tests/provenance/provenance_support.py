"""Real distributions for the provenance tests: a wheel installed by pip, an editable project.

``build_wheel`` writes a wheel by hand (no build backend needed); ``pip install --target``
installs it and writes the RECORD with the hashes the tests verify against.  The editable
project uses a twenty-line in-tree PEP 660 backend, so ``pip install -e`` works offline on
every Python version, with or without setuptools.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import LogRecordEntry
from mcptrace.record import vocabulary as names
from support import PYTHON, clean_env, logs, run_under_mcptrace

DIST = "provtest"
VERSION = "1.0"
PACKAGE_FILES = {
    "provtest/__init__.py": '"""A tiny distribution for the provenance tests."""\n',
    "provtest/core.py": "ANSWER = 42\n",
    "provtest/lazy.py": "LOADED = True  # imported by a tool at call time\n",
}
WARN = 13  # SeverityNumber.WARN


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(directory: Path, name: str = DIST, version: str = VERSION) -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        **PACKAGE_FILES,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: mcptrace-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        record = []
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            record.append(f"{path},{_record_hash(data)},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def pip(*args: str) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def install_wheel(work: Path) -> Path:
    """The test distribution, installed by pip into ``work/site`` (RECORD and .pyc written)."""
    work.mkdir(parents=True, exist_ok=True)
    target = work / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(build_wheel(work)))
    assert (target / f"{DIST}-{VERSION}.dist-info" / "RECORD").is_file()
    return target


_BACKEND = '''
"""A minimal PEP 517/660 backend: the editable wheel is a .pth pointing at src/."""
import base64, hashlib, os, zipfile

NAME, VERSION = "edpkg", "0.1"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _wheel(directory, files):
    path = os.path.join(directory, f"{NAME}-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as archive:
        record = []
        for name, data in files.items():
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{DIST_INFO}/RECORD,,")
        archive.writestr(f"{DIST_INFO}/RECORD", "\\n".join(record) + "\\n")
    return os.path.basename(path)


def _metadata():
    metadata = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n\\n"
    wheel = "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    return {f"{DIST_INFO}/METADATA": metadata.encode(), f"{DIST_INFO}/WHEEL": wheel.encode()}


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")
    pth = {f"__editable__.{NAME}-{VERSION}.pth": (src + "\\n").encode()}
    return _wheel(wheel_directory, {**pth, **_metadata()})


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise NotImplementedError("editable only")
'''


def install_editable(work: Path) -> tuple[Path, Path]:
    """``pip install -e`` of a tiny project into a prefix; returns (its site dir, module file)."""
    project = work / "edproject"
    (project / "src" / "edpkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]

            [project]
            name = "edpkg"
            version = "0.1"
            """
        )
    )
    (project / "backend.py").write_text(_BACKEND)
    module = project / "src" / "edpkg" / "__init__.py"
    module.write_text("EDITABLE = True\n")
    prefix = work / "prefix"
    pip(
        "install",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--prefix",
        str(prefix),
        "-e",
        str(project),
    )
    site_dirs = list(prefix.glob("lib/python*/site-packages"))
    assert len(site_dirs) == 1 and list(site_dirs[0].glob("__editable__*.pth")), site_dirs
    return site_dirs[0], module


def run_python(
    code: str, spool: Path, cache: Path, python_path: Path | None = None, **env: str
) -> None:
    extra = {"MCPTRACE_HASH_CACHE": str(cache), **env}
    if python_path is not None:
        extra["PYTHONPATH"] = str(python_path)
    run_under_mcptrace([PYTHON, "-c", code], spool, env=clean_env(**extra))


def module_records(spool: Path) -> list[LogRecordEntry]:
    return [r for r in logs(spool) if r.event_name == names.MODULE_IMPORT and r.scope == LOGGER]


def record_for(spool: Path, path: Path) -> LogRecordEntry:
    found = [r for r in module_records(spool) if r.attributes[names.FILE_PATH] == str(path)]
    assert len(found) == 1, f"{len(found)} records for {path}"
    return found[0]


def summary(spool: Path) -> dict[str, Any]:
    found = [r for r in logs(spool) if r.event_name == names.MODULE_SUMMARY]
    assert len(found) == 1, f"{len(found)} summaries"
    return found[0].attributes


def sha256_of(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


LOGGER = "mcptrace.provenance"
__all__ = ["PYTHON", "sys"]
