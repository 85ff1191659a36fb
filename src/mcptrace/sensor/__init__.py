"""Runtime sensor: what each MCP tool call actually did, from CPython audit hooks (PEP 578).

Usage (automatic under ``mcptrace run`` and ``opentelemetry-instrument``)::

    from mcptrace.sensor.instrumentor import SensorInstrumentor
    SensorInstrumentor().instrument()

Pipeline: hook.py (reject → guard → translate → attribute → decide → record), translate.py
(audit event → contract event), lifecycle.py (fork, exec, exit, child process span),
_fasthook.c (the optional C front of the hook).  The steps after translation live in
``record/``: state.py (which span), decide.py (policy seam), recorder.py (bounded buffers,
span events at span end, log records on a background thread), modules.py (provenance seam).
"""
