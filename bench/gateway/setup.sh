#!/usr/bin/env bash
# Installs what the gateway benchmark compares against, pinned, into ~/.cache (idempotent):
# wrk (Debian), @modelcontextprotocol/server-everything and supergateway (npm), mcp-proxy (PyPI),
# and the Rust mcp-proxy crate (crates.io, `cargo install --locked`).
set -euo pipefail
B="${GATEWAY_BENCH_TOOLS:-$HOME/.cache/corral/bench-tools}"
EVERYTHING_VERSION=2026.8.31
SUPERGATEWAY_VERSION=4.0.0
MCP_PROXY_PY_VERSION=0.13.0
MCP_PROXY_RS_VERSION=0.6.0
PYTHON="${PYTHON:-python3}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
mkdir -p "$B"
stamp() { [ -f "$B/$1.ok" ] && [ "$(cat "$B/$1.ok")" = "$2" ]; }
done_() { echo "$2" >"$B/$1.ok"; }
command -v wrk >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk; }
want="$EVERYTHING_VERSION $SUPERGATEWAY_VERSION"
if ! stamp npm "$want"; then
  mkdir -p "$B/npm" && (cd "$B/npm" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --silent \
      "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" "supergateway@$SUPERGATEWAY_VERSION")
  done_ npm "$want"
fi
if ! stamp py "$MCP_PROXY_PY_VERSION"; then
  "$PYTHON" -m venv "$B/py"
  "$B/py/bin/pip" install -q "mcp-proxy==$MCP_PROXY_PY_VERSION"
  done_ py "$MCP_PROXY_PY_VERSION"
fi
if ! stamp cargo "$MCP_PROXY_RS_VERSION"; then
  CARGO_TARGET_DIR="$B/cargo-target" cargo install --locked --quiet --root "$B/cargo" \
    "mcp-proxy@$MCP_PROXY_RS_VERSION"
  rm -rf "$B/cargo-target"
  done_ cargo "$MCP_PROXY_RS_VERSION"
fi
echo "gateway bench tools ready in $B"
