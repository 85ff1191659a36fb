#!/usr/bin/env bash
# Create the test environments under .venvs/ (idempotent; re-run after dependency changes).
#   main    Python 3.11, newest mcp 2.x  (lint, type check, every test)
#   mcp1    Python 3.11, newest mcp 1.x  (MCP and sensor tests; interop peer of main)
#   fastmcp Python 3.11, fastmcp 4.x     (fastmcp tests)
#   py310 py312 py313                    (sensor tests: audit events differ per version)
#   benign  Python 3.11, mcp 1.x and real servers from PyPI (benchmarks/corpus benign corpus)
#   phoenix Python 3.11, real OTLP receivers only (arize-phoenix, rotel); no mcptrace in it:
#           the receivers stage runs its tests in main and starts these as subprocesses
set -euo pipefail
cd "$(dirname "$0")/.."
VENVS=${MCPTRACE_VENVS:-.venvs}
# fastmcp 4.1.3+ needs a certifi newer than the package index offers here; 4.1.2 installs.
FASTMCP_PIN=${FASTMCP_PIN:-fastmcp==4.1.2}

find_python() {  # python3.X on PATH, or pyenv's copy when the shim refuses
    local v=$1 candidate
    for candidate in "python$v" /root/.pyenv/versions/"$v".*/bin/"python$v" /usr/bin/"python$v" /usr/local/bin/"python$v"; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

make_venv() {  # name python-version extra-requirements...
    local name=$1 version=$2; shift 2
    local dir="$VENVS/$name" stamp
    # rebuild only when dependencies change; entry points just need a quick re-register
    stamp=$({ sed -n '/^dependencies/,/^\[project.scripts\]/p' pyproject.toml; cat tests/setup_venvs.sh; } | sha256sum | cut -c1-16)-"$*"
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
        flock "$VENVS/.install.lock" "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
        return 0
    fi
    local python
    if ! python=$(find_python "$version"); then
        echo "setup_venvs: python$version not found; skipping $name" >&2; return 0
    fi
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    # dependencies in parallel lanes; the editable install itself writes src/*.egg-info and
    # build/ in this checkout, so one at a time
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" "$@" 2>&1 | grep -v '^WARNING: Location' || true
    flock "$VENVS/.install.lock" "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
    "$dir/bin/python" -c 'import mcptrace, mcp' >/dev/null
    echo "$stamp" > "$dir/.stamp"
    echo "setup_venvs: $name ready ($("$dir/bin/python" --version), mcp $("$dir/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))'))"
}

make_tool_venv() {  # name python-version requirements...  (tools only: no mcptrace, no test deps)
    local name=$1 version=$2; shift 2
    local dir="$VENVS/$name" stamp="tools-$*" python
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then return 0; fi
    if ! python=$(find_python "$version"); then
        echo "setup_venvs: python$version not found; skipping $name" >&2; return 0
    fi
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v '^WARNING: Location' || true
    if ! "$dir/bin/python" -c 'import phoenix, rotel' >/dev/null; then  # its tests then say so
        echo "setup_venvs: $name could not be installed" >&2; rm -rf "$dir"; return 0
    fi
    echo "$stamp" > "$dir/.stamp"
    echo "setup_venvs: $name ready ($*)"
}

# mcptrace's dependencies and test extras, read from pyproject.toml
mkdir -p "$VENVS"
# A full disk makes pip fail halfway, its "No space left on device" lost among build
# warnings: say it first, in one line.  All eight environments take about 3 GB (the
# receivers 0.9, the benign corpus 0.7, each other 0.22-0.28; measured 2026-12-07).
if [ ! -f "$VENVS/main/.stamp" ]; then
    free_mb=$(df -Pm "$VENVS" 2>/dev/null | awk 'NR == 2 {print $4}')
    if [ -n "$free_mb" ] && [ "$free_mb" -lt 3500 ]; then
        echo "setup_venvs: only $free_mb MB free where $VENVS is; the test environments need about 3,500 MB" >&2
    fi
fi
REQUIREMENTS="$VENVS/.requirements.txt"
"$(find_python 3.11)" - > "$REQUIREMENTS" <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
PY

only=${1:-all}
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }
# two lanes at once: pip spends much of its time waiting on downloads and disk
lane_one() {
    want main && make_venv main 3.11 "mcp>=2,<3"
    want mcp1 && make_venv mcp1 3.11 "mcp>=1.20,<2"
    want py310 && make_venv py310 3.10 "mcp>=2,<3"
    # receivers for tests/backends/test_receivers_*.py (~2 min, ~900 MB); rotel is a
    # prerelease, pinned
    want phoenix && make_tool_venv phoenix 3.11 "arize-phoenix==20.26.1" "rotel==0.0.1a15"
    return 0
}
lane_two() {
    want fastmcp && make_venv fastmcp 3.11 "$FASTMCP_PIN"
    # the benign corpus (benchmarks/corpus): real MCP servers from PyPI, on mcp 1.x
    want benign && make_venv benign 3.11 "mcp>=1.20,<2" mcp-server-git mcp-server-time \
        mcp-server-fetch mcp-server-sqlite markitdown-mcp
    want py312 && make_venv py312 3.12 "mcp>=2,<3"
    want py313 && make_venv py313 3.13 "mcp>=2,<3"
    return 0
}
# mcp-server-fetch's readabilipy runs `npm install` on first use (printing to the server's
# stdout); do it here, where the registry is reachable, not inside the corpus sandbox
warm_benign() {
    local js
    [ -x "$VENVS/benign/bin/python" ] && command -v npm >/dev/null 2>&1 || return 0
    js=$("$VENVS/benign/bin/python" -c 'import os, readabilipy; print(os.path.join(os.path.dirname(readabilipy.__file__), "javascript"))' 2>/dev/null) || return 0
    [ -d "$js/node_modules" ] || (cd "$js" && npm install --silent >/dev/null 2>&1) || true
}
lane_one &
one=$!
lane_two &
two=$!
failed=0
wait "$one" || failed=1
wait "$two" || failed=1
want benign && warm_benign
exit $failed
