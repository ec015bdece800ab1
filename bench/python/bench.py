"""corral from Python vs the official `mcp` Python SDK client, same servers, same run.

For each server — our fixture (`corral-test-server`) and the official
`@modelcontextprotocol/server-everything` — and each client, over one warm session:
sequential per-call latency (p50 and mean over 2000 `echo` calls after 50 warm-up calls) and
throughput with 32 calls in flight (5000 calls). Clients: corral's async API, corral's sync API
(32 threads for the in-flight phase) and the `mcp` SDK's `ClientSession` over `stdio_client`.
corral runs each server inside its bubblewrap sandbox; the SDK runs the same server binary (for
server-everything: the copy corral installed in the server's sandbox home) without one. Rounds
alternate the clients; the table shows the median of the rounds. Ratios: SDK time ÷ corral
time for latency, corral ÷ SDK for throughput (above 1 means corral is faster).

    python bench.py [--rounds N] [--skip-npm] [--sdk-only]

`--sdk-only` measures the SDK client alone, without importing corral (for a venv holding another
`mcp` line, e.g. 1.x beside 2.x; it reuses the server-everything copy a full run installed).

Environment: CORRAL_TEST_SERVER (the fixture binary, release build recommended),
CORRAL_HOME (state; default ~/.local/share/corral), CORRAL_BENCH_SKIP_NPM=1, CORRAL_BENCH_JSON
(a file each figure is appended to as one JSON line, for `bench/summary.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mcp import ClientSession, StdioServerParameters, stdio_client

if TYPE_CHECKING:
    import corral

WARMUP = 50
SEQUENTIAL = 2000
IN_FLIGHT = 32
PARALLEL_CALLS = 5000
EVERYTHING_ENTRY = "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
EVERYTHING_INSTALL = (
    "npm install --no-audit --no-fund --loglevel=error "
    "@modelcontextprotocol/server-everything@2026.8.31"
)


@dataclass
class Figures:
    p50_us: float
    mean_us: float
    seq_per_s: float
    par_per_s: float


def summarize(latencies: list[float], total: float, par_per_s: float) -> Figures:
    latencies.sort()
    mean = total / len(latencies)
    return Figures(latencies[len(latencies) // 2] * 1e6, mean * 1e6, 1 / mean, par_per_s)


async def bench_async(call: Callable[[], Awaitable[None]]) -> Figures:
    for _ in range(WARMUP):
        await call()
    lat = []
    start = time.perf_counter()
    for _ in range(SEQUENTIAL):
        t = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t)
    seq_total = time.perf_counter() - start
    remaining = PARALLEL_CALLS

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    par = PARALLEL_CALLS / (time.perf_counter() - start)
    return summarize(lat, seq_total, par)


def bench_sync(call: Callable[[], None]) -> Figures:
    for _ in range(WARMUP):
        call()
    lat = []
    start = time.perf_counter()
    for _ in range(SEQUENTIAL):
        t = time.perf_counter()
        call()
        lat.append(time.perf_counter() - t)
    seq_total = time.perf_counter() - start
    lock = threading.Lock()
    remaining = PARALLEL_CALLS

    def worker() -> None:
        nonlocal remaining
        while True:
            with lock:
                if remaining <= 0:
                    return
                remaining -= 1
            call()

    start = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        for f in [pool.submit(worker) for _ in range(IN_FLIGHT)]:
            f.result()
    par = PARALLEL_CALLS / (time.perf_counter() - start)
    return summarize(lat, seq_total, par)


async def corral_async(c: corral.Corral, server: str, args: dict[str, Any]) -> Figures:
    await c.discover_tools(server)  # started and cached before measuring

    async def call() -> None:
        r = await c.execute_tool(server, "echo", args)
        assert not r.is_error

    return await bench_async(call)


def corral_sync(c: corral.Corral, server: str, args: dict[str, Any]) -> Figures:
    c.discover_tools_sync(server)

    def call() -> None:
        r = c.execute_tool_sync(server, "echo", args)
        assert not r.is_error

    return bench_sync(call)


async def sdk(argv: list[str], cwd: Path, args: dict[str, Any], devnull: TextIO) -> Figures:
    params = StdioServerParameters(command=argv[0], args=argv[1:], cwd=cwd)
    async with (
        stdio_client(params, errlog=devnull) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()

        async def call() -> None:
            r = await session.call_tool("echo", args)
            assert not r.is_error

        return await bench_async(call)


def row(label: str, f: Figures) -> str:
    return (
        f"| {label:<52} | {f.p50_us:>8.1f} | {f.mean_us:>8.1f} | {f.seq_per_s:>9.0f} | "
        f"{f.par_per_s:>11.0f} |"
    )


def ratio(label: str, corral_f: Figures, sdk_f: Figures) -> str:
    return (
        f"| {label:<52} | {sdk_f.p50_us / corral_f.p50_us:>7.2f}× | "
        f"{sdk_f.mean_us / corral_f.mean_us:>7.2f}× | {corral_f.seq_per_s / sdk_f.seq_per_s:>8.2f}× | "
        f"{corral_f.par_per_s / sdk_f.par_per_s:>10.2f}× |"
    )


def emit(client: str, server: str, f: Figures) -> None:
    """One JSON line per figure into CORRAL_BENCH_JSON (if set), for bench/summary.py."""
    path = os.environ.get("CORRAL_BENCH_JSON")
    if not path:
        return
    with open(path, "a") as out:
        line = {"lang": "python", "client": client, "server": server, **f.__dict__}
        out.write(json.dumps(line) + "\n")


def median(figures: list[Figures]) -> Figures:
    return Figures(
        statistics.median(f.p50_us for f in figures),
        statistics.median(f.mean_us for f in figures),
        statistics.median(f.seq_per_s for f in figures),
        statistics.median(f.par_per_s for f in figures),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-npm", action="store_true")
    parser.add_argument("--sdk-only", action="store_true")
    opts = parser.parse_args()
    fixture = os.environ.get("CORRAL_TEST_SERVER")
    if not fixture or not Path(fixture).is_file():
        sys.exit(
            "set CORRAL_TEST_SERVER to the fixture binary (cargo build --release -p corral-test-server)"
        )
    home = (
        Path(os.environ.get("CORRAL_HOME") or Path.home() / ".local/share/corral") / "bench-python"
    )
    skip_npm = opts.skip_npm or bool(os.environ.get("CORRAL_BENCH_SKIP_NPM"))
    everything_home = home / "servers" / "everything" / "home"

    c = None
    if not opts.sdk_only:
        import corral

        c = corral.Corral(home=str(home))
        c.add_server_sync(corral.ServerConfig("fixture", command=[fixture]))
    servers: list[tuple[str, str, dict[str, Any], list[str], Path]] = [
        ("fixture", "fixture", {"text": "x" * 32}, [fixture], Path("/tmp"))
    ]
    if opts.sdk_only and not (everything_home / EVERYTHING_ENTRY).is_file():
        skip_npm = True  # no full run installed it
    if not skip_npm:
        if c is not None:
            c.add_server_sync(
                corral.ServerConfig(
                    "everything",
                    command=f"node {EVERYTHING_ENTRY} stdio",
                    install_commands=[EVERYTHING_INSTALL],
                )
            )
            c.discover_tools_sync("everything")  # installs it into the sandbox home once
        # The SDK runs the copy corral installed, from the server's sandbox home.
        servers.append(
            (
                "server-everything",
                "everything",
                {"message": "x" * 32},
                ["node", EVERYTHING_ENTRY, "stdio"],
                everything_home,
            )
        )

    sdk_name = f"mcp-{_version('mcp')}"
    print(
        f"corral (Python) vs the mcp {_version('mcp')} Python SDK client — {SEQUENTIAL} sequential "
        f"calls, then {PARALLEL_CALLS} with {IN_FLIGHT} in flight; median of {opts.rounds} rounds\n"
    )
    print(f"| {'client → server':<52} | p50 µs   | mean µs  | seq /s    | 32-flight/s |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 13}|")
    for label, name, args, argv, cwd in servers:
        runs: dict[str, list[Figures]] = {"async": [], "sync": [], "sdk": []}
        for _ in range(opts.rounds):
            if c is not None:
                runs["async"].append(asyncio.run(corral_async(c, name, args)))
                runs["sync"].append(corral_sync(c, name, args))
            with open(os.devnull, "w") as devnull:
                runs["sdk"].append(asyncio.run(sdk(argv, cwd, args, devnull)))
        p = median(runs["sdk"])
        emit(sdk_name, label, p)
        if c is None:
            print(row(f"mcp SDK (no sandbox) → {label}", p))
            continue
        a, s = median(runs["async"]), median(runs["sync"])
        emit("corral-async", label, a)
        emit("corral-sync-32-threads", label, s)
        print(row(f"corral async (bwrap) → {label}", a))
        print(row(f"corral sync, 32 threads (bwrap) → {label}", s))
        print(row(f"mcp SDK (no sandbox) → {label}", p))
        print(ratio("corral async vs SDK (>1: corral faster)", a, p))
        print(ratio("corral sync vs SDK (>1: corral faster)", s, p))
    if c is not None:
        c.close_sync()


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
