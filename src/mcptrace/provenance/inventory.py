"""``mcptrace inventory``: the software bill of what actually ran, read from a spool.

Usage::

    mcptrace inventory [SPOOL] [--json | --cyclonedx]

    inventory = read_inventory(Path("~/.local/state/mcptrace/spool").expanduser())
    print(render_text(inventory)); json.dumps(to_json(inventory)); to_cyclonedx(inventory)

Sources: ``mcptrace.module.import`` log records (start-up inventory and the sensor's) and
span events (imports inside tool calls).  One entry per (file, sha256): the same file with
two different hashes is two entries, which is exactly what a reader should see.
CycloneDX output is JSON 1.5: one ``library`` component per distribution with its module
files nested as ``file`` components carrying SHA-256 hashes; files no distribution owns are
top-level ``file`` components.  Verification results are ``mcptrace:*`` properties.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrace._version import __version__
from mcptrace.export.spool_reader import ReadStats, iter_logs, iter_spans
from mcptrace.record import vocabulary as names

_VERIFICATIONS = (names.VERIFIED, names.MISMATCH, names.UNRECORDED)


@dataclass
class ModuleEntry:
    path: str
    sha256: str
    module_names: set[str] = field(default_factory=set)
    distribution: str = ""
    version: str = ""
    verification: str = names.UNRECORDED
    bytecode_path: str = ""
    bytecode_sha256: str = ""
    services: set[str] = field(default_factory=set)
    seen: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "modules": sorted(self.module_names),
            "distribution": self.distribution or None,
            "version": self.version or None,
            "verification": self.verification,
            "bytecode_path": self.bytecode_path or None,
            "bytecode_sha256": self.bytecode_sha256 or None,
            "services": sorted(self.services),
            "seen": self.seen,
        }


@dataclass
class Inventory:
    modules: dict[tuple[str, str], ModuleEntry] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)

    def add(self, attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> None:
        path, sha256 = attributes.get(names.FILE_PATH), attributes.get(names.MODULE_SHA256)
        if not isinstance(path, str) or not isinstance(sha256, str) or not sha256:
            return  # an import event without provenance (provenance was off)
        entry = self.modules.get((path, sha256))
        if entry is None:
            entry = self.modules[(path, sha256)] = ModuleEntry(path, sha256)
        entry.seen += 1
        name = attributes.get(names.MODULE_NAME)
        if isinstance(name, str) and name:
            entry.module_names.add(name)
        entry.distribution = str(attributes.get(names.MODULE_DISTRIBUTION) or entry.distribution)
        entry.version = str(attributes.get(names.MODULE_VERSION) or entry.version)
        verification = attributes.get(names.MODULE_VERIFICATION)
        if verification in _VERIFICATIONS:
            entry.verification = str(verification)
        entry.bytecode_path = str(attributes.get(names.BYTECODE_PATH) or entry.bytecode_path)
        entry.bytecode_sha256 = str(attributes.get(names.BYTECODE_SHA256) or entry.bytecode_sha256)
        service = resource.get("service.name")
        if isinstance(service, str):
            entry.services.add(service)

    def distributions(self) -> dict[tuple[str, str], list[ModuleEntry]]:
        grouped: dict[tuple[str, str], list[ModuleEntry]] = {}
        for entry in sorted(self.modules.values(), key=lambda e: (e.path, e.sha256)):
            grouped.setdefault((entry.distribution, entry.version), []).append(entry)
        return dict(sorted(grouped.items()))

    def mismatches(self) -> list[ModuleEntry]:
        return [e for e in self.modules.values() if e.verification == names.MISMATCH]


def read_inventory(spool: Path) -> Inventory:
    inventory = Inventory()
    for record in iter_logs(spool, inventory.stats):
        if record.event_name == names.MODULE_IMPORT:
            inventory.add(record.attributes, record.resource)
    for span in iter_spans(spool, inventory.stats):
        for event in span.events:
            if event.name == names.MODULE_IMPORT:
                inventory.add(event.attributes, span.resource)
    return inventory


def _counts(entries: Iterable[ModuleEntry]) -> dict[str, int]:
    counts = dict.fromkeys(_VERIFICATIONS, 0)
    for entry in entries:
        counts[entry.verification] = counts.get(entry.verification, 0) + 1
    return counts


def render_text(inventory: Inventory) -> str:
    if not inventory.modules:
        return "no module provenance in this spool (is the sensor category 'import' on?)"
    lines = [
        f"{'DISTRIBUTION':<40} {'VERSION':<14} {'FILES':>5} {'VERIFIED':>8} "
        f"{'MISMATCH':>8} {'UNRECORDED':>10}"
    ]
    for (distribution, version), entries in inventory.distributions().items():
        counts = _counts(entries)
        lines.append(
            f"{distribution or '(no distribution)':<40} {version or '-':<14} {len(entries):>5} "
            f"{counts[names.VERIFIED]:>8} {counts[names.MISMATCH]:>8} "
            f"{counts[names.UNRECORDED]:>10}"
        )
    lines += ["", f"{'VERIFICATION':<12} {'SHA256':<16} {'MODULE':<40} FILE"]
    order = {names.MISMATCH: 0, names.VERIFIED: 1, names.UNRECORDED: 2}
    entries = sorted(inventory.modules.values(), key=lambda e: (order[e.verification], e.path))
    for entry in entries:
        module = ",".join(sorted(entry.module_names)) or "-"
        lines.append(f"{entry.verification:<12} {entry.sha256[:16]:<16} {module:<40} {entry.path}")
    mismatches = inventory.mismatches()
    lines += [
        "",
        f"{len(inventory.modules)} files, {len(inventory.distributions())} distributions, "
        f"{len(mismatches)} mismatching RECORD"
        + (" (changed after install: see the WARN records)" if mismatches else ""),
    ]
    return "\n".join(lines)


def to_json(inventory: Inventory) -> dict[str, Any]:
    return {
        "distributions": [
            {
                "name": distribution or None,
                "version": version or None,
                "files": len(entries),
                "verification": _counts(entries),
            }
            for (distribution, version), entries in inventory.distributions().items()
        ],
        "modules": [
            entry.as_dict()
            for entry in sorted(inventory.modules.values(), key=lambda e: (e.path, e.sha256))
        ],
        "mismatches": sorted(entry.path for entry in inventory.mismatches()),
    }


def _purl(distribution: str, version: str) -> str:
    name = distribution.lower().replace("_", "-").replace(".", "-")
    return f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"


def _file_component(entry: ModuleEntry) -> dict[str, Any]:
    properties = [{"name": "mcptrace:verification", "value": entry.verification}]
    properties += [
        {"name": "mcptrace:module", "value": name} for name in sorted(entry.module_names)
    ]
    if entry.bytecode_sha256:
        properties += [
            {"name": "mcptrace:bytecode.path", "value": entry.bytecode_path},
            {"name": "mcptrace:bytecode.sha256", "value": entry.bytecode_sha256},
        ]
    return {
        "type": "file",
        "bom-ref": f"file:{entry.path}#{entry.sha256}",
        "name": entry.path,
        "hashes": [{"alg": "SHA-256", "content": entry.sha256}],
        "properties": properties,
    }


def to_cyclonedx(inventory: Inventory) -> dict[str, Any]:
    """A CycloneDX 1.5 JSON BOM of the distributions and module files that ran."""
    components: list[dict[str, Any]] = []
    for (distribution, version), entries in inventory.distributions().items():
        files = [_file_component(entry) for entry in entries]
        if not distribution:
            components += files
            continue
        counts = _counts(entries)
        library: dict[str, Any] = {
            "type": "library",
            "bom-ref": _purl(distribution, version),
            "name": distribution,
            "purl": _purl(distribution, version),
            "properties": [
                {"name": f"mcptrace:files.{verification}", "value": str(count)}
                for verification, count in counts.items()
            ],
            "components": files,
        }
        if version:
            library["version"] = version
        components.append(library)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.datetime.now(datetime.timezone.utc)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z"),
            "tools": {
                "components": [{"type": "application", "name": "mcptrace", "version": __version__}]
            },
        },
        "components": components,
    }
