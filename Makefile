# corral's task runner. The same recipe names will exist in each binding.
#   make demo   – corral's main job: a real MCP server in a real sandbox answering a call
#   make test   – every test (installs what it needs first)
#   make lint   – rustfmt check + clippy -D warnings
#   make fmt    – format
#   make bench  – benchmarks (release build)

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Bindings whose own Makefile (setup/build/test/lint/fmt/bench) is wired into the root recipes.
BINDINGS := bindings-python bindings-node bindings-uniffi

.PHONY: setup build demo test test-rust test-gateway test-gateway-official conformance lint fmt bench

## setup: system packages corral needs (bubblewrap) — idempotent.
setup:
	@command -v bwrap >/dev/null 2>&1 || { \
	  echo "installing bubblewrap…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }
	@command -v cargo >/dev/null 2>&1 || { echo "Rust is missing: install it from https://rustup.rs" >&2; exit 1; }
	@command -v node >/dev/null 2>&1 || { echo "Node.js >= 20 is missing" >&2; exit 1; }
	@command -v python3 >/dev/null 2>&1 || { echo "Python >= 3.10 is missing" >&2; exit 1; }

build: setup
	$(CARGO) build --workspace

demo: setup
	$(CARGO) build -q -p corral-cli
	$(CARGO) run -q -p corral-cli -- quick \
	  "npx -y @modelcontextprotocol/server-everything@2026.8.31" \
	  echo --param message="hello from a sandbox"

## test: unit tests, the fixture server's tests and the shared conformance suite (Rust runner).
test: test-rust test-gateway
	@for b in $(BINDINGS); do $(MAKE) -C $$b test || exit 1; done

test-rust: setup
	$(CARGO) build -p corral-test-server
	$(CARGO) test --workspace

## test-gateway: real MCP clients (Python SDK, TypeScript SDK, MCP Inspector CLI, OpenAI Agents
## SDK) and the official conformance suite against `corral gateway` (pinned, cached in ~/.cache).
test-gateway: setup
	bash tests/gateway/setup.sh
	$(CARGO) build -p corral-cli -p corral-test-server
	bash tests/gateway/run.sh

## test-gateway-official: the official MCP conformance suite against the gateway (strict
## baselines in tests/gateway/conformance/). Not in `make test` yet: after the merge with main,
## tools-call-with-logging/-progress (2025-11-25) fail and are not diagnosed.
test-gateway-official: setup
	bash tests/gateway/setup.sh
	$(CARGO) build -p corral-cli -p corral-test-server
	bash tests/gateway/official-conformance.sh

conformance: setup
	$(CARGO) build -p corral-test-server
	$(CARGO) test -p corral-conformance --test conformance

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@for b in $(BINDINGS); do $(MAKE) -C $$b lint || exit 1; done

fmt:
	$(CARGO) fmt --all

bench: setup
	$(CARGO) build --release -p corral-test-server -p corral-bench -p corral-cli
	$(CARGO) run --release -q -p corral-bench
	bash bench/gateway/setup.sh
	python3 bench/gateway/bench.py
