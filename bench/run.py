#!/usr/bin/env python3
"""Runs corral's client benchmarks (`make bench`): every client of every language against the
same stdio servers, in rounds, each round in a different client order, so that drift on a
shared machine hits every row; then `bench/summary.py` prints the medians and the ratios.

One process per (client, server, round) (bench/src/main.rs, bench/python/bench.py,
bench/node/bench.mjs) appends one JSON line to CORRAL_BENCH_JSON; each stops by itself (and is
killed after 5 minutes if it does not). Every server is a child on stdio: no network listener.

    python3 bench/run.py [--rounds 3] [--lang rust,python,node] [--servers fixture,everything]

Needs the release builds (`make bench` makes them): CARGO_TARGET_DIR/release/{corral-bench,
corral-test-server}, the Node addon in CARGO_TARGET_DIR/corral-node-release, the Python venvs
bindings-python/.venv-bench (corral + mcp 2.x) and .venv-bench-mcp1 (mcp 1.x).
Environment: CORRAL_BENCH_JSON (default CARGO_TARGET_DIR/bench/figures.jsonl),
CORRAL_BENCH_CALLS / CORRAL_BENCH_PARALLEL_CALLS (calls per phase).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
EVERYTHING_VERSION = "2026.8.31"
TIMEOUT_S = 300


def cpu_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def children_cpu_s() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def clients(venv: Path, venv1: Path) -> dict[str, list[tuple[str, list[str]]]]:
    py = ROOT / "bench/python/bench.py"
    return {
        "rust": [
            (c, [str(TARGET / "release/corral-bench"), "--client", c])
            for c in ("corral", "corral-unsandboxed", "rmcp")
        ],
        "python": [
            *(
                (c, [str(venv / "bin/python"), str(py), "--client", c])
                for c in ("corral-async", "corral-sync", "corral-async-unsandboxed")
            ),
            ("mcp-2", [str(venv / "bin/python"), str(py), "--client", "sdk"]),
            ("mcp-1", [str(venv1 / "bin/python"), str(py), "--client", "sdk"]),
        ],
        "node": [
            (c, ["node", str(ROOT / "bench/node/bench.mjs"), "--client", c])
            for c in ("corral", "corral-unsandboxed", "ts-sdk")
        ],
    }


def install_everything(bench_dir: Path) -> Path:
    """server-everything for the SDK clients, which run it bare (corral installs its own copy
    inside each server's sandbox with its install command)."""
    npm = bench_dir / "npm"
    entry = npm / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    stamp = npm / ".installed"
    if not (stamp.is_file() and stamp.read_text() == EVERYTHING_VERSION and entry.is_file()):
        npm.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(npm), "--no-audit", "--no-fund",
             "--loglevel=error", f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}"],
            check=True,
            timeout=TIMEOUT_S,
        )
        stamp.write_text(EVERYTHING_VERSION)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("CORRAL_BENCH_ROUNDS") or 3))
    parser.add_argument("--lang", default="rust,python,node")
    parser.add_argument("--servers", default="fixture,everything")
    parser.add_argument(
        "--clients", default="", help="only these, e.g. rust:rmcp,python:mcp-2 (default: all)"
    )
    opts = parser.parse_args()
    langs = opts.lang.split(",")
    servers = opts.servers.split(",")
    bench_dir = TARGET / "bench"
    out = Path(os.environ.get("CORRAL_BENCH_JSON") or bench_dir / "figures.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CORRAL_BENCH_JSON=str(out),
        CORRAL_TEST_SERVER=str(TARGET / "release/corral-test-server"),
        CORRAL_BENCH_HOME=str(bench_dir / "home"),
        NAPI_RS_NATIVE_LIBRARY_PATH=str(TARGET / "corral-node-release/corral.linux-x64-gnu.node"),
    )
    venv = ROOT / "bindings-python/.venv-bench"
    table = clients(venv, ROOT / "bindings-python/.venv-bench-mcp1")
    order = [(lang, name, argv) for lang in langs for name, argv in table[lang]]
    if opts.clients:
        wanted = opts.clients.split(",")
        order = [o for o in order if f"{o[0]}:{o[1]}" in wanted or o[1] in wanted]
    if "everything" in servers:
        env["CORRAL_BENCH_EVERYTHING"] = str(install_everything(bench_dir))
        if any(name.startswith("corral") for _, name, _ in order):
            # Installs server-everything into both corral homes once, outside the measurement.
            subprocess.run(
                [str(TARGET / "release/corral-bench"), "--setup"],
                env=env,
                check=True,
                timeout=TIMEOUT_S,
            )
    started = time.time()
    load0, busy0 = os.getloadavg(), cpu_busy()
    ours0 = children_cpu_s()
    print(f"bench: {opts.rounds} rounds × {len(servers)} servers × {len(order)} clients → {out}")
    failures = 0
    for r in range(opts.rounds):
        # A different order each round: rotated, and reversed every other round.
        k = (r * 5) % len(order)
        this = order[k:] + order[:k]
        if r % 2:
            this.reverse()
        for server in servers:
            for lang, name, argv in this:
                t = time.time()
                cmd = [*argv, "--server", server, "--round", str(r)]
                try:
                    p = subprocess.run(
                        cmd, env=env, cwd=ROOT, timeout=TIMEOUT_S, capture_output=True, text=True
                    )
                    ok = p.returncode == 0
                    err = p.stderr.strip().splitlines()[-3:] if not ok else []
                except subprocess.TimeoutExpired:
                    ok, err = False, [f"killed after {TIMEOUT_S} s"]
                failures += not ok
                status = "ok" if ok else "FAILED: " + " | ".join(err)
                print(f"  round {r} {server:<10} {lang:<6} {name:<26} {time.time() - t:5.1f} s {status}")
                sys.stdout.flush()
    busy1 = cpu_busy()
    total, idle = busy1[0] - busy0[0], busy1[1] - busy0[1]
    # CPU the benchmark's own processes used (clients, servers, sandboxes), in clock ticks.
    ours = (children_cpu_s() - ours0) * os.sysconf("SC_CLK_TCK")
    meta = {
        "meta": "run",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started),
        "load_start": [round(x, 2) for x in load0],
        "load_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_busy_pct": round(100 * (1 - idle / total), 1) if total else None,
        "others_cpu_pct": round(100 * max(0.0, total - idle - ours) / total, 1) if total else None,
        "cpus": os.cpu_count(),
        "rounds": opts.rounds,
    }
    with open(out, "a") as f:
        f.write(json.dumps(meta) + "\n")
    print(json.dumps(meta))
    if failures:
        sys.exit(f"{failures} benchmark processes failed")


if __name__ == "__main__":
    main()
