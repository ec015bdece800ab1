"""corral from Python vs the official `mcp` Python SDK client: one client, one server, one JSON line.

`make bench` runs this through `bench/run.py`, which alternates every client of every language
round by round, so drift on a shared machine hits every row. One process measures one client
(the same procedure as bench/src/main.rs and bench/node/bench.mjs):

* cold start: create the client, spawn the server, first successful `echo` result, close
  (3 times, median);
* over one warm session after 50 warm-up calls: sequential latency (p50, p99, mean) over
  CORRAL_BENCH_CALLS calls, calls/s with 1, 8 and 32 in flight (CORRAL_BENCH_PARALLEL_CALLS
  calls each), CPU time of this process per call (1 and 32 in flight), RSS of this process
  (idle; peak under load) and of its descendants (server + sandbox).

Clients: `corral-async` (corral's asyncio API, bubblewrap sandbox), `corral-sync` (the `_sync`
API, K threads for K in flight), `corral-async-unsandboxed` (the unsandboxed provider) and
`sdk` (the installed `mcp` SDK's ClientSession over stdio_client, no sandbox, as its users run
it; corral is not imported, so a venv holding another `mcp` line works too).

    python bench.py --client CLIENT --server fixture|everything [--round N]

Environment: CORRAL_TEST_SERVER, CORRAL_BENCH_HOME (the corral homes `local` and
`unsandboxed`), CORRAL_BENCH_EVERYTHING (server-everything's dist/index.js for the SDK),
CORRAL_BENCH_JSON (appended to).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

WARMUP = 50
COLD = 3
SEQUENTIAL = int(os.environ.get("CORRAL_BENCH_CALLS") or 2000)
PARALLEL = int(os.environ.get("CORRAL_BENCH_PARALLEL_CALLS") or 5000)
EVERYTHING_ENTRY = "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
EVERYTHING_INSTALL = (
    "npm install --no-audit --no-fund --loglevel=error "
    "@modelcontextprotocol/server-everything@2026.8.31"
)


def status_mib(pid: str, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants_mib() -> float:
    """Summed VmRSS of every descendant of this process (the server and its sandbox)."""
    me = os.getpid()
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue

    def descends(pid: int) -> bool:
        while pid in parent:
            pid = parent[pid]
            if pid == me:
                return True
            if pid <= 1:
                return False
        return False

    return sum(status_mib(str(p), "VmRSS:") for p in parent if descends(p))


def pct(xs: list[float], p: float) -> float:
    import math

    return xs[min(max(math.ceil(len(xs) * p), 1), len(xs)) - 1]


def idle_rss() -> tuple[float, float]:
    time.sleep(0.2)
    out = status_mib("self", "VmRSS:"), descendants_mib()
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM
    return out


def finish(out: dict[str, Any], lat: list[float], seq_wall: float, cpu_1: float) -> None:
    lat.sort()
    mean = seq_wall / len(lat)
    out.update(
        p50_us=pct(lat, 0.5) * 1e6,
        p99_us=pct(lat, 0.99) * 1e6,
        mean_us=mean * 1e6,
        per_s_1=1 / mean,
        cpu_us_1=cpu_1 * 1e6 / len(lat),
        rss_load_mib=status_mib("self", "VmHWM:"),
        tree_load_mib=descendants_mib(),
    )


async def measure_async(call: Callable[[], Awaitable[None]], out: dict[str, Any]) -> None:
    for _ in range(WARMUP):
        await call()
    out["rss_idle_mib"], out["tree_idle_mib"] = idle_rss()
    lat = []
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(SEQUENTIAL):
        t = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t)
    seq_wall, cpu_1 = time.perf_counter() - start, time.process_time() - cpu

    for k in (8, 32):
        remaining = PARALLEL

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call()

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(k)))
        out[f"per_s_{k}"] = PARALLEL / (time.perf_counter() - start)
        out[f"cpu_us_{k}"] = (time.process_time() - cpu) * 1e6 / PARALLEL
    finish(out, lat, seq_wall, cpu_1)


def measure_sync(call: Callable[[], None], out: dict[str, Any]) -> None:
    for _ in range(WARMUP):
        call()
    out["rss_idle_mib"], out["tree_idle_mib"] = idle_rss()
    lat = []
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(SEQUENTIAL):
        t = time.perf_counter()
        call()
        lat.append(time.perf_counter() - t)
    seq_wall, cpu_1 = time.perf_counter() - start, time.process_time() - cpu
    lock = threading.Lock()
    for k in (8, 32):
        remaining = PARALLEL

        def worker() -> None:
            nonlocal remaining
            while True:
                with lock:
                    if remaining <= 0:
                        return
                    remaining -= 1
                call()

        with ThreadPoolExecutor(k) as pool:
            cpu, start = time.process_time(), time.perf_counter()
            for f in [pool.submit(worker) for _ in range(k)]:
                f.result()
            out[f"per_s_{k}"] = PARALLEL / (time.perf_counter() - start)
            out[f"cpu_us_{k}"] = (time.process_time() - cpu) * 1e6 / PARALLEL
    finish(out, lat, seq_wall, cpu_1)


def home(provider: str) -> str:
    root = os.environ.get("CORRAL_BENCH_HOME") or str(Path.home() / ".local/share/corral/bench")
    return str(Path(root) / provider)


def server_config(corral: Any, server: str) -> Any:
    if server == "fixture":
        return corral.ServerConfig("fixture", command=[os.environ["CORRAL_TEST_SERVER"]])
    return corral.ServerConfig(
        "everything",
        command=f"node {EVERYTHING_ENTRY} stdio",
        install_commands=[EVERYTHING_INSTALL],
    )


def echo_args(server: str) -> dict[str, Any]:
    return {"text": "x" * 32} if server == "fixture" else {"message": "x" * 32}


async def corral_async(provider: str, server: str, out: dict[str, Any]) -> None:
    import corral

    args = echo_args(server)

    async def open_() -> corral.Corral:
        c = corral.Corral(provider, home=home(provider))
        await c.add_server(server_config(corral, server))
        return c

    cold = []
    for _ in range(COLD):
        t = time.perf_counter()
        c = await open_()
        r = await c.execute_tool(server, "echo", args)
        assert not r.is_error
        cold.append((time.perf_counter() - t) * 1e3)
        await c.close()
    out["cold_ms"] = statistics.median(cold)
    c = await open_()

    async def call() -> None:
        r = await c.execute_tool(server, "echo", args)
        assert not r.is_error

    await measure_async(call, out)
    await c.close()


def corral_sync(server: str, out: dict[str, Any]) -> None:
    import corral

    args = echo_args(server)

    def open_() -> corral.Corral:
        c = corral.Corral("local", home=home("local"))
        c.add_server_sync(server_config(corral, server))
        return c

    cold = []
    for _ in range(COLD):
        t = time.perf_counter()
        c = open_()
        assert not c.execute_tool_sync(server, "echo", args).is_error
        cold.append((time.perf_counter() - t) * 1e3)
        c.close_sync()
    out["cold_ms"] = statistics.median(cold)
    c = open_()

    def call() -> None:
        r = c.execute_tool_sync(server, "echo", args)
        assert not r.is_error

    measure_sync(call, out)
    c.close_sync()


def failed(result: Any) -> bool:
    """`is_error` (mcp 2.x) or `isError` (1.x)."""
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def sdk(server: str, out: dict[str, Any], devnull: TextIO) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    if server == "fixture":
        params = StdioServerParameters(command=os.environ["CORRAL_TEST_SERVER"], cwd="/tmp")
    else:
        entry = os.environ["CORRAL_BENCH_EVERYTHING"]
        params = StdioServerParameters(
            command="node", args=[entry, "stdio"], cwd=str(Path(entry).parent)
        )
    args = echo_args(server)

    async def open_(stack: contextlib.AsyncExitStack) -> ClientSession:
        read, write = await stack.enter_async_context(stdio_client(params, errlog=devnull))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        return session

    cold = []
    for _ in range(COLD):
        async with contextlib.AsyncExitStack() as stack:
            t = time.perf_counter()
            session = await open_(stack)
            assert not failed(await session.call_tool("echo", args))
            cold.append((time.perf_counter() - t) * 1e3)
    out["cold_ms"] = statistics.median(cold)
    async with contextlib.AsyncExitStack() as stack:
        session = await open_(stack)

        async def call() -> None:
            assert not failed(await session.call_tool("echo", args))

        await measure_async(call, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--client",
        required=True,
        choices=["corral-async", "corral-sync", "corral-async-unsandboxed", "sdk"],
    )
    parser.add_argument("--server", required=True, choices=["fixture", "everything"])
    parser.add_argument("--round", type=int, default=0)
    opts = parser.parse_args()
    from importlib.metadata import version

    name = f"mcp-{version('mcp')}" if opts.client == "sdk" else opts.client
    out: dict[str, Any] = {
        "lang": "python",
        "client": name,
        "server": opts.server,
        "sandbox": "none" if opts.client in ("sdk", "corral-async-unsandboxed") else "bwrap",
        "round": opts.round,
        "load": os.getloadavg()[0],
    }
    if opts.client == "corral-async":
        asyncio.run(corral_async("local", opts.server, out))
    elif opts.client == "corral-async-unsandboxed":
        asyncio.run(corral_async("unsandboxed", opts.server, out))
    elif opts.client == "corral-sync":
        corral_sync(opts.server, out)
    else:
        with open(os.devnull, "w") as devnull:
            asyncio.run(sdk(opts.server, out, devnull))
    line = json.dumps(out)
    print(line)
    path = os.environ.get("CORRAL_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
