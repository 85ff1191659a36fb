"""Runtime sensor: what each MCP tool call actually did, from CPython audit hooks (PEP 578).

Usage (automatic under ``mcptrace run`` and ``opentelemetry-instrument``)::

    from mcptrace.sensor.instrumentor import SensorInstrumentor
    SensorInstrumentor().instrument()

Pipeline: hook.py (reject → guard → translate → attribute → decide → record), translate.py
(audit event → contract event), attribution.py (which span), recorder.py (bounded buffers,
span events at span end, log records on a background thread), lifecycle.py (fork, exec,
exit, child process span), decide.py (policy seam), modules.py (provenance seam).
"""
