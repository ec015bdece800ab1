#!/usr/bin/env bash
# Live E2B smoke test: runs only when E2B_API_KEY is set (it creates real sandboxes, which
# cost money); otherwise prints one skip line. It proves what the double cannot: real
# templates, real envd, TLS and the edge proxy. Flow: a third-party MCP server from npm in an
# E2B sandbox through `corral quick --provider e2b`, then `corral e2b ls` and `gc --all`.
#   usage: live.sh <corral CLI binary>
set -euo pipefail
cli=${1:?usage: live.sh <corral CLI binary>}
if [ -z "${E2B_API_KEY:-}" ]; then
  echo "live E2B tests: skipped (E2B_API_KEY is not set; they run against the real service only)"
  exit 0
fi
home=$(mktemp -d)
trap '"$cli" --home "$home" e2b gc --all >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
export CORRAL_E2B_HOME_ID="corral-live-$$-$RANDOM"
out=$("$cli" --home "$home" --provider e2b quick \
  "npx -y @modelcontextprotocol/server-everything@2026.8.31" echo --param message="hello from e2b")
grep -q "hello from e2b" <<<"$out" || { echo "live E2B: unexpected answer: $out" >&2; exit 1; }
echo "live E2B: quick call through a real sandbox ok"
"$cli" --home "$home" e2b ls
"$cli" --home "$home" e2b gc --all
echo "live E2B tests: ok"
