"""mcptrace's benchmark suite: ``python -m benchmarks [--json] [--smoke] [SCENARIO ...]``."""
