"""Policy over the sensor's observations: allow/deny rules, observe or enforce (issue 6).

    mcptrace run --policy policy.toml -- python server.py
    mcptrace policy check policy.toml
    mcptrace policy test policy.toml --spool ~/.local/state/mcptrace/spool

``model`` (the rules), ``loader`` (TOML → Policy, line-numbered errors), ``matchers``
(compiled globs, networks), ``engine`` (the decider), ``record`` (violations as span events
and log records), ``instrumentor`` (the ``mcptrace_policy`` entry point), ``replay`` (dry run
over a spool), ``cli`` (``mcptrace policy``).
"""
