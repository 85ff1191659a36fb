"""OpenTelemetry instrumentor for module provenance (entry point ``mcptrace_provenance``).

Usage::

    from mcptrace.provenance.instrumentor import ProvenanceInstrumentor
    ProvenanceInstrumentor().instrument()    # `mcptrace run` / opentelemetry-instrument do this
    ProvenanceInstrumentor().uninstrument()  # no more describing or inventory records

On when the sensor category ``import`` is selected (``MCPTRACE_SENSOR``, default all).  It
plugs the describer into the sensor (imports inside tool calls: span events with hash and
verification) and starts the start-up inventory (log records, one summary).  The hash cache
is ``MCPTRACE_HASH_CACHE`` (default ``~/.local/state/mcptrace/hash-cache.sqlite3``).

Nothing of it loads before OpenTelemetry is set up (activation.py).  A process that never
needed OpenTelemetry checks at exit, from stat keys alone (``known.py``), whether its set of
module files was reported before unchanged; only if not does it activate and report.
"""

from __future__ import annotations

import os

from mcptrace import activation
from mcptrace.instrumentor import Instrumentor

TYPE_CHECKING = False  # not typing's: this module is imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

    from mcptrace.provenance.startup import ModuleInventory

_inventory: ModuleInventory | None = None
_active = False
_hooked = False
_exit_digest: str | None = None  # the module set checked at exit, before activating


def _hash_cache_path() -> str:
    """MCPTRACE_HASH_CACHE as the settings resolve it, without loading them when unset."""
    raw = os.environ.get("MCPTRACE_HASH_CACHE", "").strip()
    if raw:
        path = os.path.expandvars(os.path.expanduser(raw))
        if not (path.startswith("~") or "$" in path):
            return path
        # an unset $VAR or unknown ~user: the settings report it and use the default
    elif not os.environ.get("MCPTRACE_CONFIG"):  # the default, without loading the settings
        from mcptrace._bootstrap import state_dir

        return os.path.join(state_dir(os.environ), "hash-cache.sqlite3")
    return str(activation.current_settings().hash_cache_path())


def _known_path() -> str:
    return _hash_cache_path() + ".known"


def _nothing_new() -> bool:
    """True when this process's module files were all reported before, unchanged."""
    global _exit_digest
    from mcptrace.provenance.known import KnownModuleSets, module_set_digest

    _exit_digest = module_set_digest()
    return KnownModuleSets(_known_path()).contains(_exit_digest)


def _needs_report() -> bool:
    return _active and _inventory is None and not _nothing_new()


def _start() -> None:
    """OpenTelemetry is set up: describe imports, start the inventory."""
    global _inventory
    if not _active or _inventory is not None:
        return
    from mcptrace.provenance.cache import HashCache
    from mcptrace.provenance.describe import ModuleProvenance
    from mcptrace.provenance.startup import ModuleInventory
    from mcptrace.record.modules import set_module_describer
    from mcptrace.record.recorder import active, when_active

    settings = activation.current_settings()
    # a bad MCPTRACE_HASH_CACHE was reported by the settings; hash without a cache then
    cache = HashCache(settings.hash_cache_path()) if settings.part_enabled("import") else None
    provenance = ModuleProvenance(cache)
    set_module_describer(provenance.describe)
    from mcptrace.provenance.known import KnownModuleSets

    known = KnownModuleSets(_known_path())
    inventory = _inventory = ModuleInventory(
        provenance, "ok" if cache is not None else "off", known
    )
    # the walks run on the record stage's one log pump, which the sensor owns; without the
    # sensor there is none: the inventory walks once, at exit (_at_exit)
    when_active(inventory.attach)
    if active() is None and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _reset_unattached(inventory))


def _reset_unattached(inventory: ModuleInventory) -> None:
    """A forked child's cache connection, when no pump resets it (its after_fork does)."""
    if inventory.pump is None:
        inventory.after_fork_in_child()


def _at_exit() -> None:
    inventory = _inventory
    if not _active or inventory is None:
        return
    if (
        not inventory.emitted
        and not inventory.summarized
        and _exit_digest is None
        and _nothing_new()
    ):
        # activated for something else (an import of mcp, say) and gone before the first
        # walk: every module file it loaded was reported before, unchanged
        inventory.stop()
        return
    inventory.at_exit()
    if inventory.summarized and not inventory.mismatches and not inventory.skipped:
        from mcptrace.provenance.known import KnownModuleSets, module_set_digest

        known = KnownModuleSets(_known_path())
        if _exit_digest is not None:  # the set this exit checked: reported, with more
            known.add(_exit_digest)
        known.add(module_set_digest())


class ProvenanceInstrumentor(Instrumentor):
    """SHA-256 and RECORD verification of every module file that runs."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        global _active, _hooked
        enabled = kwargs.get("enabled")
        if enabled is None:
            from mcptrace.record.vocabulary import IMPORT

            settings = activation.current_settings()
            enabled = settings.enabled and IMPORT in settings.sensor
        if not enabled:
            return
        _active = True
        if not _hooked:
            _hooked = True
            activation.on_exit(_at_exit, needs=_needs_report)
        activation.when_active(_start)

    def _uninstrument(self, **kwargs: Any) -> None:
        global _inventory, _active
        _active = False
        inventory, _inventory = _inventory, None
        if inventory is not None:
            from mcptrace.record.modules import set_module_describer

            set_module_describer(None)
            inventory.stop()
