"""Module provenance: the SHA-256 of every module file that ran, checked against RECORD.

Usage (automatic under ``mcptrace run`` and ``opentelemetry-instrument`` when the sensor
category ``import`` is on)::

    from mcptrace.provenance.instrumentor import ProvenanceInstrumentor
    ProvenanceInstrumentor().instrument()

hashing.py (bytes on disk → sha256, stat key), cache.py (persistent SQLite hash cache),
record.py (file → owning distribution's RECORD entry, lazily), describe.py (one file's
provenance attributes), startup.py (log records for the modules loaded outside tool calls),
inventory.py (``mcptrace inventory``: what ran, from a spool).
"""
