"""A record's attributes, built once and shared by its span event and its log record.

``SharedAttributes`` is a plain dict that also holds its OTLP/JSON attribute list once an
exporter has encoded it (``export/otlp_tree.attributes``).  ``shared_copy`` gives a second
dict (the log record's own: a log processor may change it) that shares that encoding until
either is changed; any change forgets the changed dict's encoding, never the other's.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:
    from typing import Any


class SharedAttributes(dict):  # type: ignore[type-arg]
    __slots__ = ("encoded",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # [the OTLP/JSON attribute list, its compact JSON text, whether the SDK would keep
        # every pair as it is (export/direct_logs.py)], shared by copies
        self.encoded: list[Any] = [None, None, None]

    def shared_copy(self) -> SharedAttributes:
        copy = SharedAttributes(self)
        copy.encoded = self.encoded
        return copy

    def _changed(self) -> None:
        self.encoded = [None, None, None]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> SharedAttributes:  # type: ignore[misc]
        self._changed()
        super().__ior__(other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> Any:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        self._changed()
        super().clear()

    def copy(self) -> SharedAttributes:
        return self.shared_copy()

    def __reduce__(self) -> Any:  # pickled / copied as a plain dict's contents
        return (SharedAttributes, (dict(self),))
