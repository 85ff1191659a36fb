"""OpenTelemetry instrumentor for module provenance (entry point ``mcptrace_provenance``).

Usage::

    from mcptrace.provenance.instrumentor import ProvenanceInstrumentor
    ProvenanceInstrumentor().instrument()    # `mcptrace run` / opentelemetry-instrument do this
    ProvenanceInstrumentor().uninstrument()  # no more describing or inventory records

On when the sensor category ``import`` is selected (``MCPTRACE_SENSOR``, default all).  It
plugs the describer into the sensor (imports inside tool calls: span events with hash and
verification) and starts the start-up inventory (log records, one summary).  The hash cache
is ``MCPTRACE_HASH_CACHE`` (default ``~/.local/state/mcptrace/hash-cache.sqlite3``).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Collection
from typing import Any

from mcptrace.activation import current_settings
from mcptrace.instrumentor import Instrumentor
from mcptrace.provenance.cache import HashCache
from mcptrace.provenance.describe import ModuleProvenance
from mcptrace.provenance.startup import ModuleInventory
from mcptrace.record.modules import set_module_describer
from mcptrace.record.vocabulary import IMPORT

_inventory: ModuleInventory | None = None


class ProvenanceInstrumentor(Instrumentor):
    """SHA-256 and RECORD verification of every module file that runs."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        global _inventory
        settings = current_settings()
        if not settings.enabled or IMPORT not in settings.sensor:
            return
        # a bad MCPTRACE_HASH_CACHE was reported by the settings; hash without a cache then
        cache = HashCache(settings.hash_cache_path()) if settings.part_enabled("import") else None
        provenance = ModuleProvenance(cache)
        set_module_describer(provenance.describe)
        _inventory = ModuleInventory(provenance, "ok" if cache is not None else "off")
        _inventory.start()
        atexit.register(_inventory.at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_inventory.after_fork_in_child)

    def _uninstrument(self, **kwargs: Any) -> None:
        global _inventory
        set_module_describer(None)
        if _inventory is not None:
            _inventory.stop()
            atexit.unregister(_inventory.at_exit)
            _inventory = None
