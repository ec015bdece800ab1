#!/usr/bin/env bash
# Live E2B tests: run only when E2B_API_KEY is set (they create real sandboxes, which cost
# money); otherwise print one skip line. They prove what the double cannot: real templates,
# real envd, TLS and the edge proxy. Flow:
#   1. a third-party MCP server from npm in an E2B sandbox through `corral quick --provider e2b`;
#   2. corral's gateway in front of E2B sandboxes (`corral --provider e2b gateway --mcp …`), a
#      tool called through it by an MCP client over Streamable HTTP (sdk/mcp_call.py), and the
#      gateway's sandbox gone once the gateway stopped;
#   3. `corral e2b ls`, then `gc --all`.
#   usage: live.sh <corral CLI binary>
set -euo pipefail
cli=${1:?usage: live.sh <corral CLI binary>}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${E2B_API_KEY:-}" ]; then
  echo "live E2B tests: skipped (E2B_API_KEY is not set; they run against the real service only)"
  exit 0
fi
home=$(mktemp -d)
gw=
trap '[ -n "$gw" ] && kill "$gw" 2>/dev/null; "$cli" --home "$home" e2b gc --all >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
export CORRAL_E2B_HOME_ID="corral-live-$$-$RANDOM"
server="npx -y @modelcontextprotocol/server-everything@2026.8.31"

out=$("$cli" --home "$home" --provider e2b quick "$server" echo --param message="hello from e2b")
grep -q "hello from e2b" <<<"$out" || { echo "live E2B: unexpected answer: $out" >&2; exit 1; }
echo "live E2B: quick call through a real sandbox ok"

mcp=$(python3 -c 'import json, sys; print(json.dumps({"everything": {"command": sys.argv[1]}}))' "$server")
"$cli" --home "$home" --provider e2b --json gateway --mcp "$mcp" > "$home/gw.json" 2> "$home/gw.err" &
gw=$!
for _ in $(seq 600); do
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$home/gw.json" 2>/dev/null && break
  kill -0 "$gw" 2>/dev/null || { echo "live E2B: the gateway stopped: $(cat "$home/gw.err")" >&2; exit 1; }
  sleep 0.2
done
read -r url token < <(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["url"], d["token"])' "$home/gw.json")
out=$(python3 "$here/sdk/mcp_call.py" "$url" "$token" echo '{"message": "hello through the gateway"}')
grep -q "hello through the gateway" <<<"$out" || { echo "live E2B: unexpected gateway answer: $out" >&2; exit 1; }
echo "live E2B: a tool called through corral's gateway in front of an E2B sandbox ok"
kill -TERM "$gw"; wait "$gw" || true; gw=
for _ in $(seq 20); do
  left=$("$cli" --home "$home" --json e2b ls | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["sandboxes"]))')
  [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$left" = 0 ] || { echo "live E2B: $left sandbox(es) left after the gateway stopped" >&2; exit 1; }
echo "live E2B: the gateway's sandbox is gone once it stopped"

"$cli" --home "$home" e2b ls
"$cli" --home "$home" e2b gc --all
echo "live E2B tests: ok"
