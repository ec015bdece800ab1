# corral's task runner. The same recipe names will exist in each binding.
#   make demo   – corral's main job: a real MCP server in a real sandbox answering a call
#   make test   – every test (installs what it needs first)
#   make lint   – rustfmt check (+ import grouping with a nightly rustfmt) + clippy -D warnings,
#                 then each binding's lint
#   make fmt    – format (Rust and every binding)
#   make setup / make build – system packages and every binding's tools / every package
#   make bench  – benchmarks (release build)

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Bindings whose own Makefile (setup/build/test/lint/fmt/bench) is wired into the root recipes.
BINDINGS := bindings-python bindings-node bindings-uniffi

.PHONY: setup setup-system build demo test test-rust test-nonroot test-e2b test-gateway test-gateway-official conformance lint fmt bench

TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

## setup: the system packages (setup-system), then each binding's own setup (the Python venv,
## npm ci, a JDK and Maven) — idempotent. The other recipes need only setup-system.
setup: setup-system
	@for b in $(BINDINGS); do $(MAKE) -C $$b setup || exit 1; done

## setup-system: system packages corral needs (bubblewrap, e2fsprogs) — idempotent.
setup-system:
	@command -v bwrap >/dev/null 2>&1 || { \
	  echo "installing bubblewrap…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }
	@command -v mkfs.ext4 >/dev/null 2>&1 || { \
	  echo "installing e2fsprogs (limits.disk_mb)…"; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=300 update -qq && \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y -qq e2fsprogs; }
	@command -v cargo >/dev/null 2>&1 || { echo "Rust is missing: install it from https://rustup.rs" >&2; exit 1; }
	@command -v node >/dev/null 2>&1 || { echo "Node.js >= 20 is missing" >&2; exit 1; }
	@command -v python3 >/dev/null 2>&1 || { echo "Python >= 3.10 is missing" >&2; exit 1; }

## build: the workspace, then each binding's package (the Python module, the Node addon and
## its declarations, the Kotlin jar).
build: setup-system
	$(CARGO) build --workspace
	@for b in $(BINDINGS); do $(MAKE) -C $$b build || exit 1; done

demo: setup-system
	$(CARGO) build -q -p corral-cli
	$(CARGO) run -q -p corral-cli -- quick \
	  "npx -y @modelcontextprotocol/server-everything@2026.8.31" \
	  echo --param message="hello from a sandbox"

## test: unit tests, the fixture server's tests and the shared conformance suite (Rust runner).
test: test-rust test-nonroot test-e2b test-gateway
	@for b in $(BINDINGS); do $(MAKE) -C $$b test || exit 1; done

test-rust: setup-system
	$(CARGO) build -p corral-test-server -p corral-e2b-double -p corral-cli
	$(CARGO) test --workspace

## test-nonroot: as root, also run the sandbox-machine tests as an unprivileged user (created
## by tests/nonroot/run.sh, with uidmap); a no-op for non-root callers (make test-rust is that).
test-nonroot: setup-system
	@if [ "$$(id -u)" = 0 ]; then bash tests/nonroot/run.sh; fi

## test-e2b: the E2B provider against the E2B double on 127.0.0.1 (never the real service:
## the E2B_* variables are cleared): the conformance suite with CORRAL_TEST_PROVIDER=e2b (the
## fault and scale-out tests run in test-rust, package corral-e2b-double), then E2B's own
## SDKs (PyPI e2b 2.63.0, npm e2b 2.51.0, cached under ~/.cache/corral/e2b-sdk) against the
## double, then the live smoke test, which runs only when E2B_API_KEY is set.
## Scenarios that need `local-sandbox` (host isolation) are skipped by capability here.
E2B_CLEAN_ENV := env -u E2B_API_URL -u E2B_SANDBOX_URL -u E2B_API_KEY -u E2B_DOMAIN -u CORRAL_TEST_REQUIRE_ALL
test-e2b: setup-system
	$(CARGO) build -p corral-test-server -p corral-e2b-double -p corral-cli
	$(E2B_CLEAN_ENV) CORRAL_TEST_PROVIDER=e2b $(CARGO) test -p corral-conformance --test conformance
	$(E2B_CLEAN_ENV) bash tests/e2b-double/sdk/run.sh $(TARGET_DIR)/debug/corral-e2b-double
	bash tests/e2b-double/live.sh $(TARGET_DIR)/debug/corral

## test-gateway: real MCP clients (Python SDK, TypeScript SDK, MCP Inspector CLI, OpenAI Agents
## SDK) and the official conformance suite against `corral gateway` (pinned, cached in ~/.cache).
test-gateway: setup-system
	bash tests/gateway/setup.sh
	$(CARGO) build -p corral-cli -p corral-test-server
	bash tests/gateway/run.sh
	bash tests/gateway/official-conformance.sh

## test-gateway-official: only the official MCP conformance suite against the gateway (strict
## baselines in tests/gateway/conformance/, each entry with its reason); part of test-gateway.
## (Its tools-call-with-logging/-with-progress once lost the last notification about one run in
## eight: rmcp dispatched it after the call's answer. core/src/mcp/notes.rs delivers a server's
## notifications in order before the answer that followed them; core/tests/gateway.rs checks.)
test-gateway-official: setup-system
	bash tests/gateway/setup.sh
	$(CARGO) build -p corral-cli -p corral-test-server
	bash tests/gateway/official-conformance.sh

conformance: setup-system
	$(CARGO) build -p corral-test-server
	$(CARGO) test -p corral-conformance --test conformance

# Imports: std, external crates, then this crate, one `use` per crate. These rustfmt options are
# nightly-only, so they are not in rustfmt.toml (stable rustfmt would warn on every run); lint
# checks them when a nightly rustfmt is installed and says so when it is not.
RUSTFMT_IMPORTS := group_imports=StdExternalCrate,imports_granularity=Crate
NIGHTLY_FMT := rustup run nightly rustfmt

lint:
	$(CARGO) fmt --all --check
	@if $(NIGHTLY_FMT) --version >/dev/null 2>&1; then \
	  echo '$(CARGO) +nightly fmt --all --check -- --config $(RUSTFMT_IMPORTS)'; \
	  $(CARGO) +nightly fmt --all --check -- --config $(RUSTFMT_IMPORTS); \
	else echo "import grouping not checked: no nightly rustfmt (rustup toolchain install nightly)"; fi
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@for b in $(BINDINGS); do $(MAKE) -C $$b lint || exit 1; done

## fmt: rustfmt (and, with a nightly rustfmt, the import grouping of RUSTFMT_IMPORTS), then each
## binding's formatters (ruff, prettier, spotless).
fmt:
	$(CARGO) fmt --all
	@if $(NIGHTLY_FMT) --version >/dev/null 2>&1; then $(CARGO) +nightly fmt --all -- --config $(RUSTFMT_IMPORTS); fi
	@for b in $(BINDINGS); do $(MAKE) -C $$b fmt || exit 1; done

## bench: release builds, then bench/run.py: corral from Rust, Python and Node (sandboxed, and
## one row unsandboxed per language) against bare rmcp, the official Python SDK (2.x and 1.x)
## and the TypeScript SDK on the same stdio servers, one process per client × server × round,
## rounds in alternating orders; then sandbox start-up, the E2B and gateway figures; last the
## table (bench/summary.py, also in $(TARGET_DIR)/bench/summary.md) from $(BENCH_JSON).
BENCH_JSON := $(TARGET_DIR)/bench/figures.jsonl
bench: setup-system
	mkdir -p $(dir $(BENCH_JSON)) && rm -f $(BENCH_JSON)
	$(CARGO) build --release -p corral-test-server -p corral-bench -p corral-e2b-double -p corral-cli
	$(MAKE) -C bindings-python bench-build
	$(MAKE) -C bindings-node bench-build
	CARGO_TARGET_DIR=$(TARGET_DIR) CORRAL_BENCH_JSON=$(BENCH_JSON) python3 bench/run.py
	$(TARGET_DIR)/release/corral-bench --sandbox-start
	$(CARGO) run --release -q -p corral-bench --bin e2b
	bash bench/gateway/setup.sh
	python3 bench/gateway/bench.py
	python3 bench/summary.py $(BENCH_JSON) | tee $(TARGET_DIR)/bench/summary.md
