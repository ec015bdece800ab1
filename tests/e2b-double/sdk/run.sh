#!/usr/bin/env bash
# Validates the E2B double with E2B's own SDKs: installs PyPI e2b==2.63.0 (a venv) and npm
# e2b@2.51.0 (a project dir) under ~/.cache/corral/e2b-sdk once, starts the double on
# 127.0.0.1 and runs the same flow through both (e2b-compat.md §2.2 mode B). Judged by the
# scripts' output (the async Python client's exit-abort flake is avoided by using the sync
# client; the output check stays authoritative). Both SDKs also run their MCP gateway flow
# (`Sandbox.create(mcp=…)`, check_mcp.py / check_mcp.mjs): the double's mcp-gateway template stands corral's own
# gateway in for E2B's, so it needs the corral CLI and the fixture server (by default next to the
# double; CORRAL_CLI, CORRAL_TEST_SERVER).
#   usage: run.sh <corral-e2b-double binary>
set -euo pipefail
double=${1:?usage: run.sh <corral-e2b-double binary>}
here=$(cd "$(dirname "$0")" && pwd)
bindir=$(cd "$(dirname "$double")" && pwd)
cli=${CORRAL_CLI:-$bindir/corral}
fixture=${CORRAL_TEST_SERVER:-$bindir/corral-test-server}
for f in "$cli" "$fixture"; do
  [ -x "$f" ] || { echo "$f is missing: cargo build -p corral-cli -p corral-test-server" >&2; exit 1; }
done
cache=${CORRAL_E2B_SDK_CACHE:-$HOME/.cache/corral/e2b-sdk}
py_version=2.63.0
js_version=2.51.0
mkdir -p "$cache/node"
if [ ! -x "$cache/py-venv/bin/python" ] || ! "$cache/py-venv/bin/python" -c "import importlib.metadata as m; assert m.version('e2b') == '$py_version'" 2>/dev/null; then
  python3 -m venv "$cache/py-venv"
  "$cache/py-venv/bin/pip" install -q "e2b==$py_version"
fi
if [ "$(node -p "try{require('$cache/node/node_modules/e2b/package.json').version}catch(e){''}")" != "$js_version" ]; then
  [ -f "$cache/node/package.json" ] || echo '{"name":"corral-e2b-sdk-check","private":true}' > "$cache/node/package.json"
  (cd "$cache/node" && npm install -q --no-audit --no-fund "e2b@$js_version" >/dev/null)
fi

key=e2b_sdkcheck0123456789abcdef
out=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$out"' EXIT
"$double" --api-key "$key" --expose "$fixture" --corral "$cli" > "$out/double.out" 2> "$out/double.err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening' "$out/double.out" 2>/dev/null && break; sleep 0.1; done
line=$(head -1 "$out/double.out")
api=$(sed -n 's/.*api=\([^ ]*\).*/\1/p' <<<"$line")
envd=$(sed -n 's/.*envd=\([^ ]*\).*/\1/p' <<<"$line")
[ -n "$api" ] && [ -n "$envd" ] || { echo "the double did not start: $line $(cat "$out/double.err")" >&2; exit 1; }
export E2B_API_URL=$api E2B_SANDBOX_URL=$envd E2B_API_KEY=$key E2B_SDK_NODE_DIR=$cache/node

status=0
"$cache/py-venv/bin/python" "$here/check.py" > "$out/py.txt" 2>&1 || true
if tail -1 "$out/py.txt" | grep -qx 'python-sdk: ok'; then echo "e2b (PyPI $py_version) against the double: ok"
else echo "e2b (PyPI $py_version) against the double: FAILED"; cat "$out/py.txt"; status=1; fi
CORRAL_TEST_SERVER=$fixture "$cache/py-venv/bin/python" "$here/check_mcp.py" > "$out/py-mcp.txt" 2>&1 || true
if tail -1 "$out/py-mcp.txt" | grep -qx 'python-sdk-mcp: ok'; then echo "e2b (PyPI $py_version) Sandbox.create(mcp=…) against the double: ok"
else echo "e2b (PyPI $py_version) Sandbox.create(mcp=…) against the double: FAILED"; cat "$out/py-mcp.txt"; status=1; fi
CORRAL_TEST_SERVER=$fixture node "$here/check_mcp.mjs" > "$out/js-mcp.txt" 2>&1 || true
if tail -1 "$out/js-mcp.txt" | grep -qx 'js-sdk-mcp: ok'; then echo "e2b (npm $js_version) Sandbox.create({mcp}) against the double: ok"
else echo "e2b (npm $js_version) Sandbox.create({mcp}) against the double: FAILED"; cat "$out/js-mcp.txt"; status=1; fi
node "$here/check.mjs" > "$out/js.txt" 2>&1 || true
if tail -1 "$out/js.txt" | grep -qx 'js-sdk: ok'; then echo "e2b (npm $js_version) against the double: ok"
else echo "e2b (npm $js_version) against the double: FAILED"; cat "$out/js.txt"; status=1; fi
# Both SDKs must have seen the same results (first column of each step line).
if [ $status = 0 ] && ! diff <(head -n -1 "$out/py.txt" | cut -d" " -f1) <(head -n -1 "$out/js.txt" | cut -d" " -f1 | sed 's/setTimeout/set_timeout/'); then
  echo "the two SDKs saw different results"; status=1
fi
exit $status
