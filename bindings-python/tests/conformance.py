"""The Python runner of corral's shared conformance suite.

Mirrors the Rust reference runner (tests/conformance/src/{lib,expect,env}.rs): it loads
tests/conformance/scenarios/*.json, fills in ``${VAR}`` placeholders, runs each step against a
real ``corral.Corral`` and checks the expectations. Every scenario runs twice: in ``async``
mode (the awaitable methods, inside an asyncio loop) and in ``sync`` mode (the ``_sync``
twins). ``test_conformance.py`` turns each (scenario, mode) into one pytest case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import corral

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "conformance"
SCENARIOS = CONFORMANCE / "scenarios"
EXPECTED_FAILURES = CONFORMANCE / "expected-failures" / "python.txt"

CANARY_VAR = "CORRAL_CANARY_SECRET"
HTTP_TOKEN = "conformance-token"
SCENARIO_KEYS = {"name", "description", "requires", "servers", "steps"}


class StepFailed(Exception):
    """A step's expectation did not hold."""


# --------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Scenario:
    name: str
    description: str = ""
    requires: list[str] = field(default_factory=list)
    servers: dict[str, Any] = field(default_factory=dict)
    steps: list[Any] = field(default_factory=list)


def load_scenarios(directory: Path = SCENARIOS) -> list[Scenario]:
    """Every ``*.json`` scenario in ``directory``, sorted by name."""
    out = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        unknown = set(data) - SCENARIO_KEYS
        if unknown:
            raise ValueError(f"{path}: unknown fields {sorted(unknown)}")
        if "name" not in data or "steps" not in data:
            raise ValueError(f"{path}: needs `name` and `steps`")
        if data["name"] != path.stem:
            raise ValueError(f"{path}: name must equal the file name")
        out.append(Scenario(**data))
    return out


def load_expected_failures(path: Path = EXPECTED_FAILURES) -> list[str]:
    """One scenario name per line; `#` starts a comment."""
    if not path.exists():
        return []
    names = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [n for n in names if n]


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Replaces ``${VAR}`` in every string; a string that is exactly ``${VAR:int}`` becomes a
    number."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith(":int}"):
            name = value[2:-5]
            with contextlib.suppress(KeyError, ValueError):
                return int(variables[name])
        return _substitute_str(value, variables)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {_substitute_str(k, variables): substitute(v, variables) for k, v in value.items()}
    return value


def _substitute_str(s: str, variables: dict[str, str]) -> str:
    for k, v in variables.items():
        s = s.replace("${" + k + "}", v)
    return s


# --------------------------------------------------------------------------------------------
# The runner's environment (env.rs)


def cgroups_writable() -> bool:
    def probe(directory: str) -> bool:
        p = Path(directory) / f"corral-probe-{os.getpid()}"
        try:
            p.mkdir()
        except OSError:
            return False
        with contextlib.suppress(OSError):
            p.rmdir()
        return True

    return probe("/sys/fs/cgroup/pids") or probe("/sys/fs/cgroup")


def processes_with_env(needle: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment contains ``KEY=VALUE``."""
    me = os.getpid()
    wanted = needle.encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if stat.rsplit(")", 1)[-1].lstrip().startswith("Z"):
                continue
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            pids.append(int(entry))
    return pids


class Env:
    """Runner-side fixtures shared by all scenarios: the canary variable and file, a TCP
    listener on 127.0.0.1, the fixture over Streamable HTTP, and this machine's capabilities."""

    def __init__(self, server: Path) -> None:
        os.environ[CANARY_VAR] = "the-runner-secret-must-not-leak"
        self.server = server
        home = Path(os.environ.get("HOME", "/tmp"))
        self.canary_file = home / f".corral-canary-{os.getpid()}"
        self.canary_file.write_text("canary")
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.listener_port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        self.provider = os.environ.get("CORRAL_TEST_PROVIDER", "local")
        present = ["fixture"]
        # `sandbox`: stdio servers run in the provider's sandboxes (local bwrap, or E2B: the
        # E2B double on 127.0.0.1 unless E2B_API_URL points at the live service).
        if self.provider in ("local", "e2b"):
            present.append("sandbox")
        self._double: subprocess.Popen[bytes] | None = None
        if self.provider == "e2b" and "E2B_API_URL" not in os.environ:
            self._double = self._start_e2b_double()
        if self.provider == "local":
            present.append("local-sandbox")
            if cgroups_writable():
                present.append("limits")
        if "CORRAL_TEST_OFFLINE" not in os.environ:
            present.append("registry")
        self._http: subprocess.Popen[bytes] | None = None
        self.http_url = self._start_http_fixture()
        if self.http_url is not None:
            present.append("http-fixture")
        self.capabilities = present
        self._work_dir = tempfile.TemporaryDirectory(prefix="corral-conformance-")
        self.work_dir = self._work_dir.name

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.close()

    def _start_http_fixture(self) -> str | None:
        """The fixture over Streamable HTTP with a bearer token; its URL, or None."""
        try:
            child = subprocess.Popen(
                [str(self.server), "--http", "127.0.0.1:0", "--bearer", HTTP_TOKEN],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        assert child.stdout is not None
        line = child.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            child.kill()
            child.wait()
            return None
        self._http = child
        return line.removeprefix("listening ")

    def _start_e2b_double(self) -> subprocess.Popen[bytes]:
        """Starts the E2B double (`CORRAL_E2B_DOUBLE`, default next to the fixture) and points
        the e2b provider at it."""
        binary = os.environ.get("CORRAL_E2B_DOUBLE") or str(self.server.with_name("corral-e2b-double"))
        key = "e2b_conformance_0123456789"
        child = subprocess.Popen(
            [binary, "--api-key", key, "--expose", str(self.server)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert child.stdout is not None
        words = dict(
            w.split("=", 1) for w in child.stdout.readline().decode().split() if "=" in w
        )
        if "api" not in words or "envd" not in words:
            child.kill()
            child.wait()
            raise RuntimeError(f"the E2B double did not start: {words}")
        os.environ["E2B_API_URL"] = words["api"]
        os.environ["E2B_SANDBOX_URL"] = words["envd"]
        os.environ["E2B_API_KEY"] = key
        return child

    def missing(self, required: list[str]) -> list[str]:
        return [r for r in required if r not in self.capabilities]

    def vars(self, tag: str) -> dict[str, str]:
        v = {
            "CORRAL_TEST_SERVER": str(self.server),
            "SCENARIO_TAG": tag,
            "CANARY_FILE": str(self.canary_file),
            "CANARY_NAME": self.canary_file.name,
            "HOST_HOME": str(self.canary_file.parent),
            "CANARY_VAR": CANARY_VAR,
            "LISTENER_PORT": str(self.listener_port),
            "WORK_DIR": self.work_dir,
            "HTTP_FIXTURE_TOKEN": HTTP_TOKEN,
        }
        if self.http_url is not None:
            v["HTTP_FIXTURE_URL"] = self.http_url
        return v

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.canary_file.unlink()
        self._listener.close()
        if self._http is not None:
            self._http.kill()
            self._http.wait()
        if self._double is not None:
            self._double.kill()
            self._double.wait()
        self._work_dir.cleanup()


# --------------------------------------------------------------------------------------------
# Expectations (expect.rs)

Outcome = tuple[bool, Any]  # (ok, value) or (False, the error kind)


def error_kind(exc: BaseException) -> str:
    """The stable kind of what a step raised. Cancelling the awaiting asyncio task is how a
    Python caller cancels a call, so `asyncio.CancelledError` counts as `CANCELLED`."""
    if isinstance(exc, corral.CorralError):
        assert exc.kind is not None
        return exc.kind
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    raise exc


def _clip(s: str) -> str:
    return s if len(s) <= 300 else f"{s[:300]}… ({len(s.encode())} bytes)"


def _check_error(expect: dict[str, Any], kind: str, exc: BaseException) -> None:
    want = expect.get("error")
    if want == kind:
        return
    if want is not None:
        raise StepFailed(f"expected error {want}, got {kind}: {exc}")
    raise StepFailed(f"unexpected error {kind}: {exc}")


def _expects_error(expect: dict[str, Any]) -> None:
    if isinstance(expect.get("error"), str):
        raise StepFailed(f"expected error {expect['error']}, but the step succeeded")


def check_text(expect: dict[str, Any], text: str) -> None:
    want = expect.get("text")
    if isinstance(want, str) and text != want:
        raise StepFailed(f"text is {_clip(text)!r}, expected {want!r}")
    want = expect.get("text_contains")
    if isinstance(want, str) and want not in text:
        raise StepFailed(f"text {_clip(text)!r} does not contain {want!r}")
    bad = expect.get("text_not_contains")
    if isinstance(bad, str) and bad in text:
        raise StepFailed(f"text {_clip(text)!r} contains {bad!r}")
    length = expect.get("text_length")
    if isinstance(length, int) and len(text.encode()) != length:
        raise StepFailed(f"text has {len(text.encode())} bytes, expected {length}")


def check_tool_result(
    expect: dict[str, Any], result: corral.ToolResult | BaseException, progress: list[Any]
) -> None:
    if isinstance(result, BaseException):
        _check_error(expect, error_kind(result), result)
        return
    _expects_error(expect)
    text = result.text
    check_text(expect, text)
    want = expect.get("is_error")
    if isinstance(want, bool) and result.is_error != want:
        raise StepFailed(f"is_error is {result.is_error}, expected {want} (text: {_clip(text)})")
    if "is_error" not in expect and result.is_error and "allow_is_error" not in expect:
        raise StepFailed(f"the tool reported an error: {_clip(text)}")
    if "structured" in expect and result.structured_content != expect["structured"]:
        raise StepFailed(
            f"structured_content is {result.structured_content!r}, expected {expect['structured']!r}"
        )
    limits = expect.get("structured_max")
    if isinstance(limits, dict):
        got = result.structured_content or {}
        for k, limit in limits.items():
            v = got.get(k)
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise StepFailed(f"no number at {k}")
            if v > limit:
                raise StepFailed(f"{k} is {v}, more than {limit}")
    minimum = expect.get("progress_min")
    if isinstance(minimum, int) and len(progress) < minimum:
        raise StepFailed(f"saw {len(progress)} progress notifications, expected at least {minimum}")


def check_value(expect: dict[str, Any], result: Any, kind: str) -> None:
    """``kind`` is ``names``, ``text`` or ``json`` (what a plain value is)."""
    if isinstance(result, BaseException):
        _check_error(expect, error_kind(result), result)
        return
    _expects_error(expect)
    value = result
    if kind == "text":
        check_text(expect, value if isinstance(value, str) else "")
    elif kind == "names":
        names = [n for n in value if isinstance(n, str)] if isinstance(value, list) else []
        for n in expect.get("names_include") or []:
            if n not in names:
                raise StepFailed(f"{n!r} missing from {names!r}")
        for n in expect.get("names_exclude") or []:
            if n in names:
                raise StepFailed(f"{n!r} should not be in {names!r}")
        count = expect.get("count")
        if isinstance(count, int) and len(names) != count:
            raise StepFailed(f"{len(names)} names, expected {count}: {names!r}")
        count_min = expect.get("count_min")
        if isinstance(count_min, int) and len(names) < count_min:
            raise StepFailed(f"{len(names)} names, expected at least {count_min}")
    if "json" in expect and value != expect["json"]:
        raise StepFailed(f"got {value!r}, expected {expect['json']!r}")
    contains = expect.get("json_contains")
    if isinstance(contains, dict):
        for k, w in contains.items():
            got = value.get(k) if isinstance(value, dict) else None
            if got != w:
                raise StepFailed(f"{k} is {got!r}, expected {w!r}")
    want = expect.get("stdout_contains")
    if isinstance(want, str):
        out = value.get("stdout", "") if isinstance(value, dict) else ""
        if want not in out:
            raise StepFailed(f"stdout {out!r} does not contain {want!r}")
    if "exit_code" in expect:
        got = value.get("exit_code") if isinstance(value, dict) else None
        if got != expect["exit_code"]:
            raise StepFailed(f"exit code {got!r}, expected {expect['exit_code']} ({value!r})")


# --------------------------------------------------------------------------------------------
# One API, two modes


class Api:
    """The calls a scenario makes, in one mode. Every method is a coroutine so the runner is
    written once; in sync mode each one calls a ``_sync`` method (blocking)."""

    mode = ""

    def __init__(self, c: corral.Corral) -> None:
        self.c = c

    async def execute(self, server: str, tool: str, args: Any, **options: Any) -> Any:
        raise NotImplementedError

    async def discover(self, server: str) -> list[corral.Tool]:
        raise NotImplementedError

    async def session(self, server: str) -> corral.ServerSession:
        raise NotImplementedError

    async def on_session(self, server: str, op: str, *args: Any) -> Any:
        raise NotImplementedError

    async def quick(self, command: str, tool: str, args: Any) -> corral.ToolResult:
        raise NotImplementedError

    async def sandbox(self, **config: Any) -> corral.Sandbox:
        raise NotImplementedError

    async def on_sandbox(self, sb: corral.Sandbox, op: str, *args: Any) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def concurrent(
        self, calls: list[Callable[[], Awaitable[None]]]
    ) -> list[BaseException | None]:
        raise NotImplementedError


class AsyncApi(Api):
    mode = "async"

    async def execute(self, server: str, tool: str, args: Any, **options: Any) -> Any:
        cancel_after = options.pop("cancel_after", None)
        call = self.c.execute_tool(server, tool, args, **options)
        if cancel_after is None:
            return await call
        # A Python caller cancels an async call by cancelling the task that awaits it.
        task = asyncio.ensure_future(call)
        await asyncio.sleep(cancel_after)
        task.cancel()
        return await task

    async def discover(self, server: str) -> list[corral.Tool]:
        return await self.c.discover_tools(server)

    async def session(self, server: str) -> corral.ServerSession:
        async with self.c.session(server) as s:
            return s

    async def on_session(self, server: str, op: str, *args: Any) -> Any:
        s = await self.c.session(server)
        return await getattr(s, op)(*args)

    async def quick(self, command: str, tool: str, args: Any) -> corral.ToolResult:
        return await self.c.quick(command, tool, args)

    async def sandbox(self, **config: Any) -> corral.Sandbox:
        return await self.c.sandbox(**config)

    async def on_sandbox(self, sb: corral.Sandbox, op: str, *args: Any) -> Any:
        return await getattr(sb, op)(*args)

    async def close(self) -> None:
        await self.c.close()

    async def concurrent(
        self, calls: list[Callable[[], Awaitable[None]]]
    ) -> list[BaseException | None]:
        results = await asyncio.gather(*(c() for c in calls), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]


class SyncApi(Api):
    mode = "sync"

    async def execute(self, server: str, tool: str, args: Any, **options: Any) -> Any:
        cancel_after = options.pop("cancel_after", None)
        if cancel_after is not None:
            token = corral.CancelToken()
            timer = threading.Timer(cancel_after, token.cancel)
            timer.start()
            try:
                return self.c.execute_tool_sync(server, tool, args, cancel=token, **options)
            finally:
                timer.cancel()
        return self.c.execute_tool_sync(server, tool, args, **options)

    async def discover(self, server: str) -> list[corral.Tool]:
        return self.c.discover_tools_sync(server)

    async def session(self, server: str) -> corral.ServerSession:
        with self.c.session(server) as s:
            return s

    async def on_session(self, server: str, op: str, *args: Any) -> Any:
        with self.c.session(server) as s:
            return getattr(s, op + "_sync")(*args)

    async def quick(self, command: str, tool: str, args: Any) -> corral.ToolResult:
        return self.c.quick_sync(command, tool, args)

    async def sandbox(self, **config: Any) -> corral.Sandbox:
        return self.c.sandbox(**config).__enter__()

    async def on_sandbox(self, sb: corral.Sandbox, op: str, *args: Any) -> Any:
        return getattr(sb, op + "_sync")(*args)

    async def close(self) -> None:
        self.c.close_sync()

    async def concurrent(
        self, calls: list[Callable[[], Awaitable[None]]]
    ) -> list[BaseException | None]:
        def run(call: Callable[[], Awaitable[None]]) -> BaseException | None:
            try:
                asyncio.run(_as_coroutine(call()))
            except BaseException as e:  # reported per call
                return e
            return None

        # One thread per call: every call blocks its own thread, as a sync caller would.
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            return list(pool.map(run, calls))


async def _as_coroutine(a: Awaitable[None]) -> None:
    await a


# --------------------------------------------------------------------------------------------
# Running a scenario (lib.rs)


@dataclass
class State:
    api: Api
    tag: str
    variables: dict[str, str]
    sandboxes: dict[str, corral.Sandbox] = field(default_factory=dict)
    saved: dict[str, str] = field(default_factory=dict)


def _str_field(step: dict[str, Any], key: str) -> str:
    v = step.get(key)
    if not isinstance(v, str):
        raise StepFailed(f"missing string field `{key}`")
    return v


def _expect_of(step: dict[str, Any]) -> dict[str, Any]:
    e = step.get("expect")
    return e if isinstance(e, dict) else {}


async def _outcome(call: Awaitable[Any]) -> Any:
    """The value of ``call``, or the exception it raised."""
    try:
        return await call
    except (corral.CorralError, asyncio.CancelledError) as e:
        return e


async def _execute(api: Api, step: dict[str, Any]) -> tuple[Any, list[corral.Progress]]:
    progress: list[corral.Progress] = []
    options: dict[str, Any] = {"on_progress": progress.append}
    if isinstance(step.get("timeout_ms"), int):
        options["timeout"] = step["timeout_ms"] / 1000
    if isinstance(step.get("max_total_ms"), int):
        options["max_total"] = step["max_total_ms"] / 1000
    if isinstance(step.get("cancel_after_ms"), int):
        options["cancel_after"] = step["cancel_after_ms"] / 1000
    server = step["server"] if isinstance(step.get("server"), str) else ""
    tool = step["tool"] if isinstance(step.get("tool"), str) else ""
    args = step.get("args", {})
    result = await _outcome(api.execute(server, tool, args, **options))
    return result, list(progress)


def _sandbox_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """What lib.rs's ``sandbox_config`` builds: the name `scenario`, env, network none, mounts."""
    out: dict[str, Any] = {"name": "scenario"}
    env = cfg.get("env")
    if isinstance(env, dict):
        out["env"] = {k: v if isinstance(v, str) else "" for k, v in env.items()}
    if cfg.get("network") == "none":
        out["network"] = "none"
    mounts = cfg.get("mounts")
    if isinstance(mounts, list):
        out["mounts"] = [m if isinstance(m, str) else "" for m in mounts]
    return out


async def run_step(state: State, step: dict[str, Any]) -> None:
    api, c = state.api, state.api.c
    expect = _expect_of(step)
    op = step.get("op")
    if op == "execute_tool":
        result, progress = await _execute(api, step)
        check_tool_result(expect, result, progress)
    elif op == "concurrent":
        count = step.get("count", 1)
        inner = step.get("step")
        if not isinstance(inner, dict):
            raise StepFailed("missing `step`")

        def make(i: int) -> Callable[[], Awaitable[None]]:
            one = substitute(inner, {"i": str(i)})

            async def call() -> None:
                result, progress = await _execute(api, one)
                try:
                    check_tool_result(_expect_of(one), result, progress)
                except StepFailed as e:
                    raise StepFailed(f"call {i}: {e}") from None

            return call

        for failure in await api.concurrent([make(i) for i in range(count)]):
            if failure is not None:
                raise failure
    elif op == "discover_tools":
        r = await _outcome(api.discover(_str_field(step, "server")))
        names = r if isinstance(r, BaseException) else [t.name for t in r]
        check_value(expect, names, "names")
    elif op == "tool_schema":
        tools = await api.discover(_str_field(step, "server"))
        name = _str_field(step, "tool")
        tool = next((t for t in tools if t.name == name), None)
        if tool is None:
            raise StepFailed(f"no tool {name}")
        exported = {
            "openai": tool.to_openai(),
            "anthropic": tool.to_anthropic(),
            "input_schema": tool.input_schema,
            "output_schema": tool.output_schema,
        }
        check_value(expect, exported, "json")
    elif op == "add_server":
        name = _str_field(step, "name")
        config: Any = step.get("config")  # whatever the scenario holds, null included
        r = _sync_outcome(lambda: c.add_server_from_dict(name, config))
        check_value(expect, r, "json")
    elif op == "remove_server":
        server = _str_field(step, "server")
        r = _sync_outcome(lambda: c.remove_server(server))
        check_value(expect, r, "json")
    elif op == "list_servers":
        check_value(expect, [s.name for s in c.list_servers()], "names")
    elif op == "load_mcp_servers":
        doc: Any = step.get("document")
        if isinstance(doc, str):
            r = _sync_outcome(lambda: c.load_mcp_servers_text(doc))
        else:
            r = _sync_outcome(lambda: c.load_mcp_servers(doc))
        check_value(expect, r, "names")
    elif op == "restart_server":
        c.add_server(c.get_server(_str_field(step, "server")))
    elif op == "session_info":
        r = await _outcome(api.session(_str_field(step, "server")))
        info: Any = r
        if not isinstance(r, BaseException):
            info = {
                "session_id": r.session_id,
                "sandbox_id": r.sandbox_id,
                "protocol_version": r.protocol_version,
            }
            save = step.get("save_as")
            if isinstance(save, str):
                state.saved[save] = info["session_id"]
            other = expect.get("session_differs_from")
            if isinstance(other, str):
                before = state.saved.get(other)
                if before is None:
                    raise StepFailed(f"nothing saved as {other}")
                if info["session_id"] == before:
                    raise StepFailed(f"session id is still {before}")
            other = expect.get("session_same_as")
            if isinstance(other, str):
                before = state.saved.get(other)
                if before is None:
                    raise StepFailed(f"nothing saved as {other}")
                if info["session_id"] != before:
                    raise StepFailed(f"session id changed from {before}")
        check_value(expect, info, "json")
    elif op == "list_resources":
        r = await _outcome(api.on_session(_str_field(step, "server"), "list_resources"))
        check_value(expect, r if isinstance(r, BaseException) else [x.uri for x in r], "names")
    elif op == "read_resource":
        r = await _outcome(
            api.on_session(_str_field(step, "server"), "read_resource", _str_field(step, "uri"))
        )
        text = (
            r
            if isinstance(r, BaseException)
            else "\n".join(x.text for x in r if x.text is not None)
        )
        check_value(expect, text, "text")
    elif op == "list_prompts":
        r = await _outcome(api.on_session(_str_field(step, "server"), "list_prompts"))
        check_value(expect, r if isinstance(r, BaseException) else [p.name for p in r], "names")
    elif op == "get_prompt":
        r = await _outcome(
            api.on_session(
                _str_field(step, "server"), "get_prompt", _str_field(step, "name"), step.get("args")
            )
        )
        text = (
            r
            if isinstance(r, BaseException)
            else "\n".join(m.content.text for m in r.messages if m.content.text is not None)
        )
        check_value(expect, text, "text")
    elif op == "quick":
        r = await _outcome(
            api.quick(_str_field(step, "command"), _str_field(step, "tool"), step.get("args", {}))
        )
        check_tool_result(expect, r, [])
    elif op == "sandbox_open":
        sandbox_id = _str_field(step, "id")
        cfg = step.get("config", {})
        r = await _outcome(api.sandbox(**_sandbox_config(cfg if isinstance(cfg, dict) else {})))
        if not isinstance(r, BaseException):
            state.sandboxes[sandbox_id] = r
            r = None
        check_value(expect, r, "json")
    elif op == "sandbox_exec":
        sb = _sandbox_of(state, step)
        r = await _outcome(api.on_sandbox(sb, "exec", _str_field(step, "script")))
        if not isinstance(r, BaseException):
            r = {"exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr}
        check_value(expect, r, "json")
    elif op == "sandbox_write":
        sb = _sandbox_of(state, step)
        r = await _outcome(
            api.on_sandbox(
                sb, "write_file", _str_field(step, "path"), _str_field(step, "data").encode()
            )
        )
        check_value(expect, r, "json")
    elif op == "sandbox_read":
        sb = _sandbox_of(state, step)
        r = await _outcome(api.on_sandbox(sb, "read_file", _str_field(step, "path")))
        if not isinstance(r, BaseException):
            r = r.decode(errors="replace")
        check_value(expect, r, "text")
    elif op == "sandbox_close":
        await api.on_sandbox(_sandbox_of(state, step), "close")
    elif op == "sleep":
        ms = step.get("ms", 0)
        await asyncio.sleep(ms / 1000) if api.mode == "async" else _sleep(ms / 1000)
    elif op == "close":
        await api.close()
        await api.close()  # idempotent
    elif op == "expect_no_processes":
        needle = f"CORRAL_SCENARIO_TAG={state.tag}"
        for _ in range(100):
            if not processes_with_env(needle):
                return
            await asyncio.sleep(0.05)
        raise StepFailed(f"processes of the scenario survived: {processes_with_env(needle)}")
    else:
        raise StepFailed(f"unknown op `{op}`")


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def _sync_outcome(f: Callable[[], Any]) -> Any:
    try:
        return f()
    except corral.CorralError as e:
        return e


def _sandbox_of(state: State, step: dict[str, Any]) -> corral.Sandbox:
    sandbox_id = _str_field(step, "id")
    sb = state.sandboxes.get(sandbox_id)
    if sb is None:
        raise StepFailed(f"no sandbox `{sandbox_id}` opened")
    return sb


async def run_scenario(scenario: Scenario, env: Env, mode: str) -> None:
    """Runs one scenario to the end in ``mode`` (`async` or `sync`); raises ``StepFailed``
    naming the first failed step."""
    tag = f"{scenario.name}-{mode}-{os.getpid()}"
    variables = env.vars(tag)
    with tempfile.TemporaryDirectory(prefix="corral-home-") as home:
        c = corral.Corral(env.provider, home=home)
        api: Api = AsyncApi(c) if mode == "async" else SyncApi(c)
        state = State(api=api, tag=tag, variables=variables)
        try:
            for name, server in scenario.servers.items():
                try:
                    c.add_server_from_dict(name, substitute(server, variables))
                except corral.CorralError as e:
                    raise StepFailed(f"server {name}: {e.kind}: {e}") from None
            for i, raw in enumerate(scenario.steps):
                step = substitute(raw, variables)
                try:
                    await run_step(state, step)
                except StepFailed as e:
                    raise StepFailed(f"step {i + 1} ({step.get('op', '?')}): {e}") from None
                except corral.CorralError as e:
                    raise StepFailed(
                        f"step {i + 1} ({step.get('op', '?')}): unexpected error {e.kind}: {e}"
                    ) from None
        finally:
            await api.close()
