"""Extra attributes for ``mcptrace.module.import`` events, resolved off the hot path.

The hook only learns a module's file (``exec`` of its ``<module>`` code object).  The
module's name is looked up here when the record is converted, and ``describe_module`` is
the seam where module provenance (sha256, distribution, verification; provenance/) plugs
in::

    from mcptrace.record.modules import set_module_describer
    set_module_describer(lambda path: {"mcptrace.module.sha256": ..., ...})

Describers run at span end or on the sensor's log thread, with the sensor paused, so the
files they read are never recorded as the tool's.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from opentelemetry.util.types import AttributeValue

    ModuleDescriber = Callable[[str], Mapping[str, AttributeValue]]

_describer: ModuleDescriber | None = None
_names: dict[str, str] = {}


def set_module_describer(describer: ModuleDescriber | None) -> None:
    global _describer
    _describer = describer


def describe_module(path: str) -> dict[str, AttributeValue]:
    """Provenance attributes of the module file at ``path`` (none until provenance exists)."""
    if _describer is None:
        return {}
    try:
        return dict(_describer(path))
    except Exception:  # provenance trouble must not cost the event
        return {}


def module_name_for(path: str) -> str | None:
    """The name under which the module loaded from ``path`` sits in ``sys.modules``."""
    name = _names.get(path)
    if name is not None:
        return name
    for module_name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None)
        if isinstance(module_file, str) and module_file not in _names:
            _names[module_file] = module_name
    return _names.get(path)
