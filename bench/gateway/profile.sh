#!/usr/bin/env bash
# Instructions per `tools/call` of the release `corral gateway` (valgrind --tool=callgrind),
# which, unlike seconds, do not depend on the machine's load. The gateway fronts our fixture
# (unsandboxed provider, so only the gateway process is counted); a minimal client makes N and
# N+1000 calls on one 2025-11-25 session; the difference / 1000 is printed, and the profile of
# the longer run is left in $OUT for callgrind_annotate.
#   bash bench/gateway/profile.sh            (after `cargo build --release -p corral-cli -p corral-test-server`)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$TARGET/bench/gateway-profile}"
N="${N:-100}"
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
TOKEN="profile-token-0123456789"
cat >"$OUT/servers.json" <<JSON
{"mcpServers": {"fx": {"command": "$TARGET/release/corral-test-server"}}}
JSON
run() { # $1 = calls
  local n=$1 pid port
  rm -f "$OUT/gw.json"
  CORRAL_HOME="$OUT/home" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$n" \
    "$TARGET/release/corral" gateway --provider unsandboxed --config "$OUT/servers.json" --json \
    --token "$TOKEN" >"$OUT/gw.json" 2>"$OUT/gw.$n.err" &
  pid=$!
  for _ in $(seq 120); do grep -q '"url"' "$OUT/gw.json" 2>/dev/null && break; sleep 1; done
  port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['url'].split(':')[2].split('/')[0])" "$OUT/gw.json")
  sleep 3
  python3 - "$port" "$TOKEN" "$n" <<'PY'
import http.client, json, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
     "Accept": "application/json, text/event-stream"}
def post(body, headers):
    c.request("POST", "/mcp", json.dumps(body), headers)
    r = c.getresponse()
    return r, r.read()
r, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "profile", "version": "1"}}}, h)
h = dict(h, **{"Mcp-Session-Id": r.getheader("mcp-session-id"), "MCP-Protocol-Version": "2025-11-25"})
post({"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
for i in range(n):
    _, d = post({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                 "params": {"name": "echo", "arguments": {"text": "x" * 32}}}, h)
    assert b"x" * 32 in d, d
PY
  kill -INT "$pid"; wait "$pid" || true
  grep '^totals:' "$OUT/callgrind.$n" | cut -d' ' -f2
}
a=$(run "$N"); b=$(run $((N + 1000)))
echo "corral gateway: $(( (b - a) / 1000 )) instructions per tools/call (callgrind; profile: $OUT/callgrind.$((N + 1000)))"
