"""The record stage: capture packages hand it plain data; it feeds export.

Capture (``sensor/``, ``mcp/``, ``provenance/``, ``policy/``) → **record** → ``export/``.
This package owns the vocabulary (every contract name), per-span state, caps and
coalescing, the one log pump, span enrichment and the one redaction module.
"""
