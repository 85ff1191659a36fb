"""fastmcp (the standalone package): placeholder, filled below."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FASTMCP_PATCHES: tuple[tuple[str, str, Callable[..., Any]], ...] = ()
