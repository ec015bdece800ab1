#!/usr/bin/env python3
"""Gateway benchmark (`make bench`): corral gateway beside mcp-proxy (PyPI), supergateway
(npm, --stateful) and the Rust mcp-proxy crate, all fronting @modelcontextprotocol/server-everything
over stdio, driven by one load generator (wrk with a Lua script) on 127.0.0.1.

For each gateway: p50 latency and calls/s of `tools/call echo` at 1 and 32 connections (one MCP
session, unique JSON-RPC ids), the gateway process's idle and loaded RSS. Also: the direct-stdio
p50 (a minimal client on the server's stdio, no gateway), and the time from `corral gateway`
start to the first successful tools/list with 3 servers. No timed assertions: figures only.

Environment: GATEWAY_BENCH_TOOLS (bench/gateway/setup.sh's cache), CORRAL_BIN (the corral
binary), CORRAL_TEST_SERVER (the fixture), BENCH_SECONDS (wrk duration, default 5).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME = Path.home()
TOOLS = Path(os.environ.get("GATEWAY_BENCH_TOOLS", HOME / ".cache/corral/bench-tools"))
ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CORRAL = Path(os.environ.get("CORRAL_BIN", TARGET / "release/corral"))
FIXTURE = Path(os.environ.get("CORRAL_TEST_SERVER", TARGET / "release/corral-test-server"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
EVERY = TOOLS / "npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
NODE = shutil.which("node") or "node"
TOKEN = "bench-token-" + "x" * 24

LUA = r"""
local counter = 0
local tid = 0
local threads = {}
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  table.insert(threads, thread)
end
function init(args)
  tid = tonumber(wrk.thread:get("tid"))
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"jsonrpc":"2.0","id":"%d-%d","method":"tools/call","params":{"name":"TOOL","arguments":{"message":"hello from the benchmark"}}}',
    tid, counter)
  return wrk.format("POST", nil, nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never opened")


def post(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict, str]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    h.update(headers)
    c.request("POST", path, json.dumps(body), h)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, text


def rpc_result(text: str) -> dict | None:
    for line in text.splitlines():
        line = line.removeprefix("data:").strip()
        if line.startswith("{"):
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if "result" in m or "error" in m:
                return m
    try:
        return json.loads(text)
    except ValueError:
        return None


def session(port: int, path: str, auth: dict, tool: str = "echo") -> dict:
    """Initializes a 2025-11-25 session; returns the headers every later request needs."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "corral-bench", "version": "0"}}}
    for _ in range(300):
        try:
            status, hdrs, text = post(port, path, init, auth)
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError(f"initialize failed: {status} {text[:200]}")
    res = rpc_result(text) or {}
    version = res.get("result", {}).get("protocolVersion", "2025-11-25")
    h = dict(auth)
    if "mcp-session-id" in hdrs:
        h["Mcp-Session-Id"] = hdrs["mcp-session-id"]
    h["MCP-Protocol-Version"] = version
    post(port, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
    call = {"jsonrpc": "2.0", "id": "check", "method": "tools/call",
            "params": {"name": tool, "arguments": {"message": "hi"}}}
    status, _, text = post(port, path, call, h)
    if status != 200 or "hi" not in text:
        raise RuntimeError(f"tools/call check failed: {status} {text[:300]}")
    return h


def wrk(port: int, path: str, headers: dict, conns: int, script: Path) -> dict:
    cmd = ["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{SECONDS}s", "--latency", "-s", str(script)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd += ["-H", "Content-Type: application/json", "-H", "Accept: application/json, text/event-stream"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 60).stdout
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    unit = {"us": 1.0, "ms": 1000.0, "s": 1e6}
    return {
        "p50_us": float(p50.group(1)) * unit[p50.group(2)] if p50 else None,
        "calls_per_s": float(rps.group(1)) if rps else None,
        "non_2xx": int(errs.group(1)) if errs else 0,
        "socket_errors": sock.group(1) if sock else "",
    }


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def direct_stdio_p50(n: int = 2000) -> float:
    """Sequential echo calls straight over server-everything's stdio (minimal client)."""
    p = subprocess.Popen([NODE, str(EVERY), "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, bufsize=0)
    assert p.stdin and p.stdout
    rd = p.stdout

    def send(m: dict) -> None:
        p.stdin.write((json.dumps(m) + "\n").encode())

    def recv_id(i) -> None:
        while True:
            line = rd.readline()
            if not line:
                raise RuntimeError("server exited")
            m = json.loads(line)
            if m.get("id") == i:
                return

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                     "clientInfo": {"name": "b", "version": "0"}}})
    recv_id(0)
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    lat = []
    for i in range(1, n + 51):
        t = time.perf_counter()
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
              "params": {"name": "echo", "arguments": {"message": "hello from the benchmark"}}})
        recv_id(i)
        if i > 50:
            lat.append(time.perf_counter() - t)
    p.kill()
    p.wait()
    lat.sort()
    return lat[len(lat) // 2] * 1e6


def start(kind: str, work: Path) -> tuple[subprocess.Popen, int, str, dict, str]:
    """Starts one gateway; returns it, its port, MCP path, auth headers and the echo tool's name."""
    port = free_port()
    server = f"{NODE} {EVERY} stdio"
    auth: dict = {}
    path, tool = "/mcp", "echo"
    if kind == "corral gateway":
        cfg = work / "everything.json"
        cfg.write_text(json.dumps({"mcpServers": {"everything": {
            "command": NODE, "args": [str(EVERY), "stdio"],
            "mounts": [str(TOOLS / "npm")]}}}))
        cmd = [str(CORRAL), "gateway", "--config", str(cfg), "--port", str(port), "--token", TOKEN]
        env = dict(os.environ, CORRAL_HOME=str(work / "home"))
        auth = {"Authorization": f"Bearer {TOKEN}"}
    elif kind == "mcp-proxy (PyPI)":
        cmd = [str(TOOLS / "py/bin/mcp-proxy"), "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "WARNING", "--", NODE, str(EVERY), "stdio"]
        env = dict(os.environ)
    elif kind == "supergateway --stateful":
        cmd = [NODE, str(TOOLS / "npm/node_modules/supergateway/dist/index.js"), "--stdio", server,
               "--outputTransport", "streamableHttp", "--port", str(port), "--stateful",
               "--logLevel", "none"]
        env = dict(os.environ)
    elif kind == "mcp-proxy (Rust crate)":
        # 0.6.0 takes a TOML config (no `-- command`), serves MCP at `/` and namespaces every
        # tool as `<backend>/<tool>`; no middleware configured, logs at warn like the others.
        cfg = work / "proxy.toml"
        cfg.write_text(
            "[proxy]\nname = \"bench\"\n\n[proxy.listen]\nhost = \"127.0.0.1\"\n"
            f"port = {port}\n\n[observability]\nlog_level = \"warn\"\n\n"
            "[[backends]]\nname = \"everything\"\ntransport = \"stdio\"\n"
            f"command = {json.dumps(NODE)}\nargs = {json.dumps([str(EVERY), 'stdio'])}\n")
        cmd = [str(TOOLS / "cargo/bin/mcp-proxy"), "--config", str(cfg)]
        env = dict(os.environ)
        path, tool = "/", "everything/echo"
    else:
        raise ValueError(kind)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    wait_port(port)
    return p, port, path, auth, tool


def stop(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, 15)
    except OSError:
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.wait()


def startup_ms(work: Path) -> float:
    cfg = work / "three.json"
    cfg.write_text(json.dumps({"mcpServers": {n: {"command": str(FIXTURE)} for n in "abc"}}))
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([str(CORRAL), "gateway", "--config", str(cfg), "--port", str(port),
                          "--token", TOKEN], env=dict(os.environ, CORRAL_HOME=str(work / "home3")),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        while True:
            try:
                h = session(port, "/mcp", auth)
                _, _, text = post(port, "/mcp", {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, h)
                names = [t["name"] for t in (rpc_result(text) or {}).get("result", {}).get("tools", [])]
                if all(any(n.startswith(f"{s}__") for n in names) for s in "abc"):
                    return (time.perf_counter() - t0) * 1000
            except (OSError, RuntimeError):
                pass
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("no tools/list with 3 servers within 60 s")
            time.sleep(0.005)
    finally:
        stop(p)


def main() -> int:
    if not EVERY.is_file() or not shutil.which("wrk"):
        print("run bench/gateway/setup.sh first", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="corral-gw-bench-"))
    rows = []
    try:
        stdio = direct_stdio_p50()
        print(f"direct stdio (minimal client, no gateway): p50 {stdio:.0f} µs", flush=True)
        kinds = ["corral gateway", "mcp-proxy (Rust crate)", "mcp-proxy (PyPI)", "supergateway --stateful"]
        for kind in kinds:
            if kind == "mcp-proxy (Rust crate)" and not (TOOLS / "cargo/bin/mcp-proxy").exists():
                print(f"{kind}: not installed, skipped", flush=True)
                continue
            try:
                p, port, path, auth, tool = start(kind, work)
            except (OSError, RuntimeError) as e:
                print(f"{kind}: did not start: {e}", flush=True)
                continue
            try:
                h = session(port, path, auth, tool)
                script = work / "call.lua"
                script.write_text(LUA.replace("TOOL", tool))
                wrk(port, path, h, 1, script)  # warm-up
                idle = rss_kib(p.pid)
                reset_hwm(p.pid)
                one = wrk(port, path, h, 1, script)
                many = wrk(port, path, h, 32, script)
                peak = rss_kib(p.pid, "VmHWM")
                row = {"gateway": kind, "p50_1_us": one["p50_us"], "cps_1": one["calls_per_s"],
                       "p50_32_us": many["p50_us"], "cps_32": many["calls_per_s"],
                       "added_p50_us": (one["p50_us"] or 0) - stdio,
                       "idle_rss_mib": idle / 1024, "loaded_rss_mib": peak / 1024,
                       "errors": one["non_2xx"] + many["non_2xx"],
                       "socket_errors": (one["socket_errors"] + " " + many["socket_errors"]).strip()}
                rows.append(row)
                print(json.dumps(row), flush=True)
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"{kind}: failed: {e}", flush=True)
            finally:
                stop(p)
        start3 = startup_ms(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"server-everything over stdio, tools/call echo, wrk {SECONDS} s per cell, one session")
    print(f"direct stdio p50: {stdio:.0f} µs")
    print("| gateway | p50 @1 (µs) | added p50 @1 (µs) | calls/s @1 | p50 @32 (µs) | calls/s @32 | idle RSS (MiB) | loaded RSS (MiB) | non-2xx |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['gateway']} | {r['p50_1_us']:.0f} | {r['added_p50_us']:.0f} | {r['cps_1']:.0f} | "
              f"{r['p50_32_us']:.0f} | {r['cps_32']:.0f} | {r['idle_rss_mib']:.1f} | "
              f"{r['loaded_rss_mib']:.1f} | {r['errors']} |")
    print(f"corral gateway start → first tools/list with 3 servers: {start3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
