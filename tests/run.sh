#!/usr/bin/env bash
# The whole test suite, as CI runs it: environments, lint, type check, tests per environment.
#   bash tests/run.sh            everything
# Each pytest run writes JUnit XML to .ci-artifacts/; the last line totals all runs.
set -uo pipefail
cd "$(dirname "$0")/.."
V=${MCPTRACE_VENVS:-.venvs}
ART=.ci-artifacts
mkdir -p "$ART"
rm -f "$ART"/junit-*.xml
status=0

bash tests/setup_venvs.sh || exit 1

# headless Chromium renders the HTML report in tests/view (Debian's package, as root)
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing chromium for the HTML report test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
        || echo "could not install chromium; the HTML rendering test will be skipped" >&2
fi

# openssl makes the throwaway certificates of the TLS replay test (tests/foundation/test_replay.py)
if ! command -v openssl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; } >/dev/null 2>&1 \
        || echo "could not install openssl; the TLS replay test will be skipped" >&2
fi

# bubblewrap sandboxes the malicious-server corpus (tests/detect/test_corpus.py)
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } >/dev/null 2>&1 \
        || echo "could not install bubblewrap; the corpus test will be skipped" >&2
fi

step() { echo; echo "=== $*"; }
run() { "$@" || status=1; }
have() { [ -x "$V/$1/bin/python" ]; }
WRAP=()  # a command prefix for the next suite (the receivers stage's network namespace)

step "lint and types"
run "$V/main/bin/ruff" check .
run "$V/main/bin/ruff" format --check .
run "$V/main/bin/mypy" src
run "$V/main/bin/lint-imports" --no-cache  # the layering in ARCHITECTURE.md (.importlinter)

suite() {  # name venv peer-venv pytest-args...
    local name=$1 venv=$2 peer=$3; shift 3
    if ! have "$venv"; then echo "no $venv environment: cannot run $name" >&2; status=1; return; fi
    step "$name ($("$V/$venv/bin/python" --version 2>&1), mcp $("$V/$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))'))"
    local peer_python=""
    have "$peer" && peer_python=$(cd "$V/$peer/bin" && pwd)/python
    MCPTRACE_TEST_PEER_PYTHON=$peer_python \
        run ${WRAP[@]+"${WRAP[@]}"} "$V/$venv/bin/python" -m pytest -q -p no:cacheprovider \
        --junitxml="$ART/junit-$name.xml" --reruns 2 --reruns-delay 1 ${XDIST[@]+"${XDIST[@]}"} "$@"
}
# Two pytest workers per stage (pytest-xdist), each test file on one worker so a module's
# server fixture starts once: most tests wait on subprocesses and sockets, so two workers
# halve a stage's wall time on 2 CPUs.  MCPTRACE_CI_WORKERS=0 runs the stages serially.
WORKERS=${MCPTRACE_CI_WORKERS:-2}
XDIST=()
[ "$WORKERS" != 0 ] && XDIST=(-n "$WORKERS" --dist loadfile)

suite main main mcp1 tests --ignore-glob='tests/backends/test_receivers_*'
# the policy's bypass corpus and path judgement, where audit events differ: each hook, each Python
ENFORCEMENT=(tests/policy/test_policy_bypass.py tests/policy/test_policy_paths.py
    tests/policy/test_policy_repeats.py)
# mcp 1.x; its sensor tests run on the pure-Python audit hook (the C hook everywhere else)
MCPTRACE_NATIVE_HOOK=false suite mcp1 mcp1 main tests/mcp tests/sensor "${ENFORCEMENT[@]}" \
    tests/backends/test_examples.py
suite fastmcp fastmcp mcp1 tests/mcp -k fastmcp
for v in py310 py312 py313; do
    suite "sensor-$v" "$v" mcp1 tests/sensor "${ENFORCEMENT[@]}"
done

# Live export to real receivers from PyPI: oteltap (main venv), Arize Phoenix and rotel
# (.venvs/phoenix).  Phoenix's gRPC server binds every interface, so the stage runs in a
# private network namespace with only loopback up; without unshare the Phoenix tests skip.
if unshare -n sh -c 'ip link set lo up' 2>/dev/null; then
    WRAP=(unshare -n sh -c 'ip link set lo up && exec "$@"' netns)
else
    echo "unshare -n (or ip link) is not possible here: the Phoenix and rotel tests will skip" >&2
fi
# six tests, each with its own receiver: serial
XDIST=()
MCPTRACE_TEST_RECEIVERS_STAGE=1 suite receivers main mcp1 tests/backends/test_receivers_*.py
WRAP=()

step "benchmark harness (smoke)"
run "$V/main/bin/python" -m benchmarks --smoke --json "$ART/benchmarks-smoke.json"

"$V/main/bin/python" - "$ART" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
totals = dict(tests=0, failures=0, errors=0, skipped=0)
for path in glob.glob(f"{sys.argv[1]}/junit-*.xml"):
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print()
print(f"{passed} passed, {failed} failed, {totals['skipped']} skipped")
PY
exit $status
