"""The Python runner of corral's shared conformance suite (tests/conformance/README.md).

The checker (``corral-conformance python``, a child process) owns the suite's meaning: it sets
up the environment, expands placeholders, sends each step as a JSON line, checks the answers
and applies the expected-failures baseline. This file only performs each op through corral's
Python API — the awaitable methods in ``async`` mode, their ``_sync`` twins in ``sync`` mode —
and answers with the observation, the canonical JSON of ``to_dict()``.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import corral

ROOT = Path(__file__).resolve().parents[2]


def checker_path() -> Path:
    """``CORRAL_CONFORMANCE``, else ``$CARGO_TARGET_DIR/debug/corral-conformance``."""
    if "CORRAL_CONFORMANCE" in os.environ:
        return Path(os.environ["CORRAL_CONFORMANCE"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "corral-conformance"


class Checker:
    """The checker process, one per test session; ``run`` plays one scenario through it."""

    def __init__(self) -> None:
        pipe = subprocess.PIPE
        self.proc = subprocess.Popen([checker_path(), "python"], stdin=pipe, stdout=pipe, text=True)
        self.scenarios: list[str] = self.receive()["scenarios"]

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the checker exited (its stderr says why)")
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def run(self, name: str, mode: str) -> dict[str, Any]:
        """The checker's verdict on scenario ``name`` in ``mode``: ``{"outcome", "message"}``."""
        self.send({"run": name, "variant": mode})
        return asyncio.run(Runner(mode).serve(self))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def error_of(e: BaseException) -> dict[str, Any]:
    """The error observation. Cancelling the awaiting task is how Python cancels a call."""
    if isinstance(e, corral.CorralError):
        return {"kind": e.kind, "message": str(e), "field": getattr(e, "field", None)}
    if isinstance(e, asyncio.CancelledError):
        return {"kind": "CANCELLED", "message": "the awaiting task was cancelled"}
    return {"kind": f"NOT_A_CORRAL_ERROR ({type(e).__name__})", "message": str(e)}


def ids(s: corral.ServerSession) -> dict[str, Any]:
    return {
        "sessionId": s.session_id,
        "sandboxId": s.sandbox_id,
        "protocolVersion": s.protocol_version,
    }


class Runner:
    """Performs one scenario's ops in one mode."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.c: corral.Corral | None = None
        self.sandboxes: dict[str, corral.Sandbox] = {}
        self.sessions: dict[str, corral.ServerSession] = {}
        self.gateway: corral.Gateway | None = None
        self.start_events: list[Mapping[str, Any]] = []

    async def serve(self, checker: Checker) -> dict[str, Any]:
        while "done" not in (request := checker.receive()):
            try:
                checker.send({"seq": request["seq"], "ok": await self.perform(request)})
            except (Exception, asyncio.CancelledError) as e:  # every failure is an answer
                checker.send({"seq": request["seq"], "error": error_of(e)})
        return request

    async def call(self, obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """``obj.method(...)`` in this mode: awaited, or its ``_sync`` twin (a method without
        one is called as it is; a context manager is entered)."""
        if self.mode == "sync":
            twin = getattr(obj, method + "_sync", None)
            if twin is not None:
                return twin(*args, **kwargs)
            r = getattr(obj, method)(*args, **kwargs)
            return r.__enter__() if hasattr(r, "__enter__") else r
        r = getattr(obj, method)(*args, **kwargs)
        return await r if inspect.isawaitable(r) else r

    async def on_session(self, server: str, method: str, *args: Any) -> Any:
        """``method`` on the server's session (``""``: its ids), in ``with`` / ``async with``."""
        assert self.c is not None
        if self.mode == "sync":
            with self.c.session(server) as s:
                return await self.call(s, method, *args) if method else ids(s)
        async with self.c.session(server) as s:
            return await self.call(s, method, *args) if method else ids(s)

    async def execute(self, r: dict[str, Any]) -> dict[str, Any]:
        seen: list[corral.Progress] = []
        options: dict[str, Any] = {"on_progress": seen.append}
        for key, option in [("timeout_ms", "timeout"), ("max_total_ms", "max_total")]:
            if key in r:
                options[option] = r[key] / 1000
        call = (self.c, "execute_tool", r["server"], r["tool"], r.get("args", {}))
        after = r.get("cancel_after_ms")
        if after is None:
            result = await self.call(*call, **options)
        elif self.mode == "sync":
            token = corral.CancelToken()
            timer = threading.Timer(after / 1000, token.cancel)
            timer.start()
            try:
                result = await self.call(*call, cancel=token, **options)
            finally:
                timer.cancel()
        else:
            task = asyncio.ensure_future(self.call(*call, **options))
            await asyncio.sleep(after / 1000)
            task.cancel()
            result = await task
        # TEMP until canonical serde lands: Progress has no to_dict() today.
        progress = [{"progress": p.progress, "total": p.total, "message": p.message} for p in seen]
        return {"result": result.to_dict(), "progress": progress}

    async def concurrent(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async def one(r: dict[str, Any]) -> dict[str, Any]:
            try:
                return {"ok": await self.execute(r)}
            except (Exception, asyncio.CancelledError) as e:
                return {"error": error_of(e)}

        if self.mode == "async":
            return list(await asyncio.gather(*(one(r) for r in calls)))
        # One thread per call: each blocks its own thread, as a sync caller's would.
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            return list(pool.map(lambda r: asyncio.run(one(r)), calls))

    async def perform(self, r: dict[str, Any]) -> Any:
        op = r["op"]
        if op == "setenv":
            os.environ[r["name"]] = r["value"]
            return None
        if op == "open":
            self.c = corral.Corral(r["provider"], home=r["home"])
            self.start_events = []
            self.c.set_start_callback(lambda e: self.start_events.append(e.to_dict()))
            return None
        if op == "drop":  # every reference let go without close(), then collected
            self.c, self.gateway = None, None
            self.sandboxes.clear()
            self.sessions.clear()
            gc.collect()
            return None
        if op == "close" and self.c is None:  # after `drop`: nothing left to close
            return None
        c, sb = self.c, self.sandboxes.get(r.get("id", ""))
        assert c is not None
        match op:
            case "close":  # closing the corral closes its gateway too
                self.gateway = None
                return await self.call(c, "close")
            case "start_gateway":
                gateway = await self.call(c, "start_gateway", **r.get("options", {}))
                if self.gateway is not None:
                    await self.call(self.gateway, "close")
                self.gateway = gateway
                return {"url": gateway.url, "token": gateway.token}
            case "gateway_close":
                if self.gateway is not None:
                    await self.call(self.gateway, "close")
                self.gateway = None
                return None
            case "build_template":
                args = (r["name"], r["install_commands"])
                template = await self.call(c, "build_template", *args, base=r.get("base"))
                return template.to_dict()
            case "list_templates":
                return [t.to_dict() for t in await self.call(c, "list_templates")]
            case "remove_template":
                return await self.call(c, "remove_template", r["name"])
            case "add_server":
                return await self.call(c, "add_server_from_dict", r["name"], r.get("config"))
            case "remove_server":
                return await self.call(c, "remove_server", r["server"])
            case "restart_server":
                return await self.call(c, "add_server", c.get_server(r["server"]))
            case "list_servers":
                return [s.name for s in c.list_servers()]
            case "load_mcp_servers":
                doc = r.get("document")
                method = "load_mcp_servers_text" if isinstance(doc, str) else "load_mcp_servers"
                flags = {k: r.get(k, False) for k in ("mount_args", "expand_env")}
                return await self.call(c, method, doc, **flags)
            case "discover_tools":
                tools = await self.call(c, "discover_tools", r["server"])
                return [t.to_dict() for t in tools]
            case "tool_schema":
                tools = await self.call(c, "discover_tools", r["server"])
                t = next(t for t in tools if t.name == r["tool"])
                exports = {"openai": t.to_openai(), "anthropic": t.to_anthropic()}
                return {**t.to_dict(), **exports}
            case "execute_tool":
                return await self.execute(r)
            case "concurrent":
                return await self.concurrent(r["calls"])
            case "quick":
                command = r.get("command")
                if command is None:
                    command = corral.ServerConfig.from_dict("quick", r["config"])
                result = await self.call(c, "quick", command, r["tool"], r.get("args", {}))
                return result.to_dict()
            case "start_events":
                return list(self.start_events)
            case "session_open":
                self.sessions[r["id"]] = await self.call(c, "session", r["server"])
                return None
            case "session_execute":
                s = self.sessions[r["id"]]
                return (await self.call(s, "call_tool", r["tool"], r.get("args", {}))).to_dict()
            case "session_close":
                return await self.call(self.sessions[r["id"]], "close")
            case "session_info":
                return await self.on_session(r["server"], "")
            case "list_resources" | "list_prompts":
                return [x.to_dict() for x in await self.on_session(r["server"], op)]
            case "read_resource":
                return [x.to_dict() for x in await self.on_session(r["server"], op, r["uri"])]
            case "get_prompt":
                return (await self.on_session(r["server"], op, r["name"], r.get("args"))).to_dict()
            case "sandbox_open":
                config = {"name": "scenario", **r.get("config", {})}
                self.sandboxes[r["id"]] = await self.call(c, "sandbox", **config)
                return None
            case "sandbox_exec":
                return (await self.call(sb, "exec", r["script"])).to_dict()
            case "sandbox_write":
                return await self.call(sb, "write_file", r["path"], r["data"].encode())
            case "sandbox_read":
                data = await self.call(sb, "read_file", r["path"])
                return data.decode(errors="replace")
            case "sandbox_close":
                return await self.call(sb, "close")
        raise ValueError(f"unknown op {op}")
