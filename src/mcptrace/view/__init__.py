"""``mcptrace view``: what every tool call did, from the spool.

Usage::

    mcptrace view                       # terminal tree: session → request → what it did
    mcptrace view --tool 'read_*' --category file,network --since 10m
    mcptrace view --json                # schema mcptrace.view/1 (see view/jsonout.py)
    mcptrace view --html report.html    # one self-contained file: timeline, details, search
    mcptrace view --follow              # tail a running server

``model`` folds spans into requests (client and server span joined) and sessions,
streaming and bounded; ``terminal``, ``jsonout`` and ``html`` render the model; ``follow``
tails the spool.
"""
