"""The Python API beyond the shared suite: types, errors, the async/sync bridge, threads,
cancellation, callbacks, sessions, sandboxes, fork and lifecycle. Real fixture servers in
real sandboxes throughout."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import corral
import pytest
import pytest_asyncio

KINDS = [
    "CONFIG_INVALID",
    "INVALID_ARGUMENT",
    "SERVER_NOT_FOUND",
    "TOOL_NOT_FOUND",
    "SANDBOX_FAILED",
    "INSTALL_FAILED",
    "SERVER_START_FAILED",
    "SERVER_CRASHED",
    "TIMEOUT",
    "CANCELLED",
    "PROTOCOL",
    "MCP_ERROR",
    "AUTH",
    "TRANSPORT",
    "IO",
    "E2B_API",
    "CLOSED",
]


@pytest.fixture
def c(home: str, fixture_server: Path) -> Iterator[corral.Corral]:
    with corral.Corral(home=home) as runner:
        runner.add_server_sync(
            corral.ServerConfig("fx", command=str(fixture_server), network="none")
        )
        yield runner


@pytest_asyncio.fixture
async def ac(home: str, fixture_server: Path) -> AsyncIterator[corral.Corral]:
    async with corral.Corral(home=home) as runner:
        await runner.add_server_from_dict("fx", {"command": str(fixture_server), "network": "none"})
        yield runner


# --------------------------------------------------------------------------------------------
# Errors


def test_every_kind_has_its_own_class() -> None:
    classes = {
        getattr(corral, n).kind: getattr(corral, n)
        for n in corral.__all__
        if isinstance(getattr(corral, n), type)
        and issubclass(getattr(corral, n), corral.CorralError)
        and getattr(corral, n) is not corral.CorralError
    }
    assert sorted(classes) == sorted(KINDS)
    assert corral.CorralError.kind is None
    assert issubclass(corral.TimeoutError, TimeoutError)
    assert issubclass(corral.ConfigInvalidError, ValueError)
    assert issubclass(corral.InvalidArgumentError, ValueError)
    assert issubclass(corral.ServerNotFoundError, LookupError)
    assert issubclass(corral.TransportError, ConnectionError)
    assert corral.TimeoutError.retryable
    assert not corral.ToolNotFoundError.retryable
    for cls in classes.values():
        assert issubclass(cls, corral.CorralError)
        assert cls.__module__ == "corral"


def test_config_errors_are_value_errors_with_a_kind() -> None:
    with pytest.raises(corral.ConfigInvalidError) as info:
        corral.ServerConfig("fs", command="x", env={"1BAD": "v"})
    assert isinstance(info.value, ValueError)
    assert info.value.kind == "CONFIG_INVALID"
    assert info.value.field == "servers.fs.env.1BAD"
    with pytest.raises(corral.ConfigInvalidError) as info:
        corral.ServerConfig("fs", command="x", timeout_minutes=1e300)
    assert info.value.field == "servers.fs.timeoutMinutes"
    with pytest.raises(corral.ConfigInvalidError):
        corral.ServerConfig("fs")  # neither command nor url
    with pytest.raises(corral.ConfigInvalidError):
        corral.ServerConfig.from_dict("fs", {"command": "x", "netwrk": "none"})


async def test_errors_raise_their_class(ac: corral.Corral) -> None:
    with pytest.raises(corral.ServerNotFoundError) as info:
        await ac.execute_tool("nope", "echo", {"text": "a"})
    assert info.value.kind == "SERVER_NOT_FOUND"
    assert info.value.message
    assert str(info.value) == info.value.message
    with pytest.raises(corral.ToolNotFoundError):
        await ac.execute_tool("fx", "no_such_tool", {})
    with pytest.raises(corral.InvalidArgumentError):
        await ac.execute_tool("fx", "echo", [1, 2])  # type: ignore[arg-type]


def test_non_json_arguments_are_invalid_arguments(c: corral.Corral) -> None:
    for bad in [{"x": {1, 2}}, {"x": float("nan")}, {1: "int key"}, {"x": object()}]:
        with pytest.raises(corral.InvalidArgumentError):
            c.execute_tool_sync("fx", "echo", bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Configs and results


def test_server_config_fields_and_round_trip(fixture_server: Path) -> None:
    cfg = corral.ServerConfig(
        "fx",
        command=[str(fixture_server), "--tools", "2"],
        env={"API_KEY": "secret-value"},
        network="none",
        call_timeout_seconds=2.5,
        timeout_minutes=3,
        limits={"memory_mb": 256},
        mounts=["/srv:/data:ro"],
        deny_tools=["crash"],
        tags=["prod", "fs"],
    )
    assert cfg.name == "fx"
    assert cfg.command == [str(fixture_server), "--tools", "2"]
    assert cfg.network == "none"
    assert cfg.call_timeout_seconds == 2.5
    assert cfg.timeout_minutes == 3
    assert cfg.limits == {"memoryMb": 256}
    assert cfg.tags == ["prod", "fs"]
    assert cfg.mounts == ["/srv:/data:ro"]
    assert cfg.deny_tools == ["crash"]
    assert cfg.allow_tools is None
    assert cfg.env == {"API_KEY": "secret-value"}
    assert not cfg.is_remote
    assert corral.ServerConfig.from_dict("fx", cfg.to_dict()) == cfg
    # The canonical camelCase form, the same as Node's toJSON() and the CLI's --json.
    d = cfg.to_dict()
    assert d["name"] == "fx"
    assert d["callTimeoutSeconds"] == 2.5
    assert d["timeoutMinutes"] == 3
    assert d["denyTools"] == ["crash"]
    assert d["tags"] == ["prod", "fs"]
    assert d["limits"] == {"memoryMb": 256}
    assert "secret-value" not in repr(cfg)
    remote = corral.ServerConfig(
        "r", url="https://example.com/mcp", headers={"Authorization": "Bearer t"}
    )
    assert remote.is_remote
    assert remote.url == "https://example.com/mcp"
    assert remote.command is None
    assert "Bearer" not in repr(remote)


def test_to_dict_is_the_canonical_form() -> None:
    # The same object and the same dict as Node's toJSON() test (api.test.mjs).
    cfg = corral.ServerConfig(
        "fx",
        command="srv --x",
        install_commands=["true"],
        timeout_minutes=2,
        limits={"memory_mb": 64},
        tags=["prod"],
    )
    assert cfg.to_dict() == {
        "name": "fx",
        "command": ["srv", "--x"],
        "installCommands": ["true"],
        "timeoutMinutes": 2,
        "callTimeoutSeconds": 60,
        "network": "all",
        "limits": {"memoryMb": 64},
        "tags": ["prod"],
    }
    assert corral.ServerConfig.from_dict("fx", cfg.to_dict()) == cfg


async def test_tools_and_results_are_python_objects(ac: corral.Corral) -> None:
    tools = await ac.discover_tools("fx")
    add = next(t for t in tools if t.name == "add")
    assert isinstance(add.input_schema, dict)
    assert add.input_schema["type"] == "object"
    assert isinstance(add.output_schema, dict)
    assert add.to_openai()["type"] == "function"
    assert add.to_openai()["function"]["name"] == "add"
    assert add.to_anthropic()["input_schema"]["properties"]["a"]["type"] == "number"
    assert add.to_dict()["name"] == "add"
    assert add.to_dict()["inputSchema"] == add.input_schema
    assert "input_schema" not in add.to_dict()

    r = await ac.execute_tool("fx", "structured", {})
    assert r.structured_content == {"greeting": "hello", "count": 3, "tags": ["a", "b"]}
    assert isinstance(r.structured_content["count"], int)
    assert r.is_error is False
    r = await ac.execute_tool("fx", "echo", {"text": "hi"})
    assert r.text == "hi"
    assert len(r.content) == 1
    item = r.content[0]
    assert isinstance(item, corral.TextContent)
    assert isinstance(item, corral.Content)
    assert item.type == "text"
    assert item.text == "hi"
    assert r.to_dict() == {"content": [{"type": "text", "text": "hi"}], "isError": False}
    assert r.content is r.content  # one list per result
    r = await ac.execute_tool("fx", "fail", {"message": "boom"})
    assert r.is_error
    assert r.text == "failed: boom"
    r = await ac.execute_tool("fx", "add", {"a": 0.5, "b": 0.25})
    assert r.structured_content == {"sum": 0.75}


# --------------------------------------------------------------------------------------------
# The async bridge


def test_async_methods_return_coroutines(c: corral.Corral) -> None:
    call = c.execute_tool("fx", "echo", {"text": "run"})
    assert asyncio.iscoroutine(call)
    assert asyncio.run(call).text == "run"  # asyncio.run takes it directly

    async def tasks() -> list[str]:
        task = asyncio.create_task(c.execute_tool("fx", "echo", {"text": "task"}))
        gathered = await asyncio.gather(
            *(c.execute_tool("fx", "echo", {"text": str(i)}) for i in range(3))
        )
        return [(await task).text] + [r.text for r in gathered]

    assert asyncio.run(tasks()) == ["task", "0", "1", "2"]


def test_a_call_never_awaited_does_nothing(c: corral.Corral) -> None:
    c.quick("/nonexistent/server", "echo", {})  # lazy: nothing starts, nothing raises
    call = c.execute_tool("fx", "echo", {"text": "x"})
    call.close()
    with pytest.raises(corral.ClosedError):
        asyncio.run(_await(call))


async def _await(call: Any) -> Any:
    return await call


def test_async_needs_a_running_loop(c: corral.Corral) -> None:
    with pytest.raises(RuntimeError):
        c.execute_tool("fx", "echo", {"text": "x"}).send(None)


async def test_cancelling_the_task_cancels_the_call(ac: corral.Corral) -> None:
    async with ac.session("fx") as s:
        before = s.session_id
    progress: list[corral.Progress] = []
    two_reports = asyncio.Event()

    def on_progress(p: corral.Progress) -> None:
        progress.append(p)
        if len(progress) >= 2:
            two_reports.set()

    task = asyncio.create_task(
        ac.execute_tool("fx", "sleep", {"ms": 20000}, on_progress=on_progress)
    )
    await two_reports.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    seen = len(progress)
    # The call is gone in Rust: its progress route was removed, so the server's further
    # reports (every 100 ms) reach nobody.
    await asyncio.sleep(0.5)
    assert len(progress) == seen
    assert (await ac.execute_tool("fx", "echo", {"text": "same"})).text == "same"
    async with ac.session("fx") as s:
        assert s.session_id == before


async def test_wait_for_timeout_cancels_the_call(ac: corral.Corral) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ac.execute_tool("fx", "sleep", {"ms": 20000}), 0.3)
    assert (await ac.execute_tool("fx", "echo", {"text": "ok"})).text == "ok"


async def test_cancel_token(ac: corral.Corral) -> None:
    token = corral.CancelToken()
    call = asyncio.create_task(ac.execute_tool("fx", "sleep", {"ms": 20000}, cancel=token))
    await asyncio.sleep(0.2)
    token.cancel()
    with pytest.raises(corral.CancelledError) as info:
        await call
    assert info.value.kind == "CANCELLED"
    assert token.cancelled


async def test_timeout_is_a_builtin_timeout_error(ac: corral.Corral) -> None:
    with pytest.raises(TimeoutError) as info:
        await ac.execute_tool("fx", "sleep", {"ms": 30000, "progress": False}, timeout=0.3)
    assert isinstance(info.value, corral.TimeoutError)
    assert info.value.kind == "TIMEOUT"
    assert info.value.retryable


async def test_progress_runs_on_the_event_loop_thread(ac: corral.Corral) -> None:
    threads: set[int] = set()
    reports: list[corral.Progress] = []

    def on_progress(p: corral.Progress) -> None:
        threads.add(threading.get_ident())
        reports.append(p)

    r = await ac.execute_tool("fx", "sleep", {"ms": 350}, on_progress=on_progress)
    assert r.text == "slept 350"
    assert len(reports) >= 3
    assert reports[0].total == 350
    assert threads == {threading.get_ident()}


def test_sync_progress_runs_on_the_calling_thread(c: corral.Corral) -> None:
    seen: dict[str, Any] = {}

    def worker() -> None:
        me = threading.get_ident()
        idents: set[int] = set()
        c.execute_tool_sync(
            "fx", "sleep", {"ms": 250}, on_progress=lambda p: idents.add(threading.get_ident())
        )
        seen["ok"] = idents == {me}

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["ok"]


def test_a_failing_callback_does_not_break_the_call(c: corral.Corral) -> None:
    def boom(p: corral.Progress) -> None:
        raise ValueError("callback bug")

    hooked: list[Any] = []
    old, sys.unraisablehook = sys.unraisablehook, hooked.append
    try:
        assert c.execute_tool_sync("fx", "sleep", {"ms": 250}, on_progress=boom).text == "slept 250"
    finally:
        sys.unraisablehook = old
    assert hooked
    assert isinstance(hooked[0].exc_value, ValueError)


def test_on_log_receives_server_logs(home: str, fixture_server: Path) -> None:
    got = threading.Event()
    logs: list[corral.LogMessage] = []
    nested: list[BaseException] = []

    def on_log(m: corral.LogMessage) -> None:
        logs.append(m)
        try:
            runner.execute_tool_sync("fx", "echo", {"text": "nested"})
        except corral.InvalidArgumentError as e:  # corral threads must not block on corral
            nested.append(e)
        got.set()

    with corral.Corral(home=home, on_log=on_log) as runner:
        runner.add_server_from_dict_sync("fx", {"command": str(fixture_server)})
        r = runner.execute_tool_sync("fx", "log", {"message": "hello log", "level": "warning"})
        assert r.text == "logged"
        assert got.wait(10)
    assert logs[0].server == "fx"
    assert logs[0].level == "warning"
    assert logs[0].data == "hello log"
    assert logs[0].logger == "fixture"
    assert nested
    assert isinstance(nested[0], corral.InvalidArgumentError)


# --------------------------------------------------------------------------------------------
# Threads: the sync path releases the GIL


def test_a_sync_call_does_not_block_other_threads(c: corral.Corral) -> None:
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.monotonic()
        assert c.execute_tool_sync("fx", "sleep", {"ms": 500}).text == "slept 500"
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    assert len(during) >= 20, f"the other thread ticked {len(during)} times during the call"


def test_sync_calls_from_many_threads(c: corral.Corral) -> None:
    results: dict[int, str] = {}

    def call(i: int) -> None:
        results[i] = c.execute_tool_sync("fx", "echo", {"text": f"t{i}"}).text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"t{i}" for i in range(16)}


async def test_the_loop_keeps_running_during_an_async_call(ac: corral.Corral) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.create_task(ticker())
    await ac.execute_tool("fx", "sleep", {"ms": 300})
    t.cancel()
    assert ticks >= 10


# --------------------------------------------------------------------------------------------
# Sessions, sandboxes, quick, documents


async def test_session_async(ac: corral.Corral) -> None:
    async with ac.session("fx") as s:
        assert s.server == "fx"
        first_id = s.session_id
        assert first_id
        assert s.sandbox_id
        assert s.protocol_version in ("2025-11-25", "2026-07-28")
        assert "echo" in [t.name for t in await s.list_tools()]
        assert (await s.call_tool("echo", {"text": "s"})).text == "s"
        assert [r.uri for r in await s.list_resources()] == ["fixture://hello"]
        contents = await s.read_resource("fixture://hello")
        assert contents[0].text == "Hello from the fixture"
        assert "greet" in [p.name for p in await s.list_prompts()]
        prompt = await s.get_prompt("greet", {"name": "Ada"})
        assert prompt.messages[0].role == "user"
        assert prompt.messages[0].content.text == "Hello, Ada!"
        assert isinstance(s.stderr_tail(), str)
    again = await ac.session("fx")
    assert again.session_id == first_id
    with pytest.raises(corral.ClosedError):
        _ = ac.session("fx").session_id  # not opened
    with pytest.raises(corral.ServerNotFoundError):
        await ac.session("nope")


def test_session_sync(c: corral.Corral) -> None:
    with c.session("fx") as s:
        assert s.call_tool_sync("echo", {"text": "sync"}).text == "sync"
        assert s.read_resource_sync("fixture://hello")[0].text == "Hello from the fixture"
        assert s.get_prompt_sync("greet", {"name": "Bo"}).messages[0].content.text == "Hello, Bo!"
        assert len(s.list_tools_sync()) >= 10
        assert s.list_prompts_sync()[0].name == "greet"
        assert s.list_resources_sync()[0].name == "hello"


async def test_sandbox_async(ac: corral.Corral) -> None:
    async with ac.sandbox(env={"GREETING": "hi"}, network="none") as sb:
        assert sb.id
        out = await sb.exec("echo $GREETING; echo err >&2; exit 4")
        assert (out.exit_code, out.stdout, out.stderr, out.ok) == (4, "hi\n", "err\n", False)
        out = await sb.exec(["cat"], stdin=b"from stdin")
        assert out.stdout_bytes == b"from stdin"
        assert out.ok
        await sb.write_file("/home/corral/bin.dat", bytes(range(256)))
        assert await sb.read_file("/home/corral/bin.dat") == bytes(range(256))
        with pytest.raises(corral.IoError) as info:
            await sb.read_file("/nonexistent/file")
        assert isinstance(info.value, OSError)
    with pytest.raises(corral.CorralError):
        await sb.exec("true")  # killed on exit


def test_sandbox_sync(c: corral.Corral) -> None:
    with c.sandbox() as sb:
        sb.write_file_sync("/tmp/t.txt", "text")
        assert sb.read_file_sync("/tmp/t.txt") == b"text"
        assert sb.exec_sync("cat /tmp/t.txt").stdout == "text"
    with pytest.raises(corral.ConfigInvalidError):
        c.sandbox(network="sometimes")  # type: ignore[arg-type]


def test_quick_with_a_command_or_a_config(c: corral.Corral, fixture_server: Path) -> None:
    assert c.quick_sync(str(fixture_server), "echo", {"text": "q"}).text == "q"
    cfg = corral.ServerConfig("q", command=[str(fixture_server), "--tools", "1"], network="none")
    assert asyncio.run(_await(c.quick(cfg, "tool_000", {"text": "q2"}))).text == "q2"


def test_load_mcp_servers_from_a_dict_a_file_and_text(
    c: corral.Corral, tmp_path: Path, fixture_server: Path
) -> None:
    doc = {
        "mcpServers": {
            "a": {"command": str(fixture_server)},
            "off": {"command": "x", "disabled": True},
        }
    }
    assert c.load_mcp_servers_sync(doc) == ["a"]
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {"mcpServers": {"b": {"command": str(fixture_server), "args": ["--tools", "1"]}}}
        )
    )
    assert c.load_mcp_servers_sync(path) == ["b"]
    assert c.load_mcp_servers_sync(str(path)) == ["b"]
    assert c.load_mcp_servers_file_sync(path) == ["b"]
    assert asyncio.run(_await(c.load_mcp_servers_file(str(path)))) == ["b"]
    assert c.load_mcp_servers_text_sync(f'[servers.t]\ncommand = "{fixture_server}"\n') == ["t"]
    assert sorted(s.name for s in c.list_servers()) == ["a", "b", "fx", "t"]
    assert c.execute_tool_sync("b", "tool_000", {"text": "file"}).text == "file"
    with pytest.raises(corral.ConfigInvalidError):
        c.load_mcp_servers_sync(tmp_path / "missing.json")
    c.remove_server_sync("a")
    with pytest.raises(corral.ServerNotFoundError):
        c.remove_server_sync("a")
    assert c.get_server("b").command == [str(fixture_server), "--tools", "1"]


# --------------------------------------------------------------------------------------------
# Timeouts: checked by the core, the same in every binding


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), -float("inf"), 1e12])
def test_every_timeout_argument_is_checked(c: corral.Corral, bad: float) -> None:
    calls: list[Callable[[], object]] = [
        lambda: c.execute_tool_sync("fx", "echo", {"text": "x"}, timeout=bad),
        lambda: c.execute_tool_sync("fx", "echo", {"text": "x"}, max_total=bad),
        lambda: c.quick_sync(c.get_server("fx"), "echo", {"text": "x"}, timeout=bad),
    ]
    with c.session("fx") as s:
        calls.append(lambda: s.call_tool_sync("echo", {"text": "x"}, timeout=bad))
        with c.sandbox(network="none") as sb:
            calls.append(lambda: sb.exec_sync("true", timeout=bad))
            for i, call in enumerate(calls):
                with pytest.raises(corral.InvalidArgumentError) as info:
                    call()
                want = "max_total" if i == 1 else "timeout"
                assert (info.value.kind, info.value.code, info.value.field) == (
                    "INVALID_ARGUMENT",
                    "INVALID_ARGUMENT",
                    want,
                ), i
    assert c.execute_tool_sync("fx", "echo", {"text": "ok"}, timeout=0.001 + 30).text == "ok"


# --------------------------------------------------------------------------------------------
# Lifecycle


async def test_closing_a_session_handle_ends_the_handle_not_the_server(
    ac: corral.Corral,
) -> None:
    async with ac.session("fx") as s:
        first = s.session_id
    assert s.closed
    with pytest.raises(corral.ClosedError) as info:
        await s.call_tool("echo", {"text": "x"})
    assert (info.value.kind, info.value.retryable) == ("CLOSED", False)
    with pytest.raises(corral.ClosedError):
        _ = s.session_id
    other = await ac.session("fx")
    assert other.session_id == first  # still warm: the same instance
    await other.close()
    await other.close()  # idempotent
    with pytest.raises(corral.ClosedError):
        other.list_tools_sync()
    assert (await ac.execute_tool("fx", "echo", {"text": "warm"})).text == "warm"


async def test_mutators_are_awaitable_with_sync_twins(
    ac: corral.Corral, fixture_server: Path
) -> None:
    config = corral.ServerConfig("m", command=str(fixture_server), network="none")
    await ac.add_server(config)
    assert await ac.remove_server("fx") is None  # type: ignore[func-returns-value]
    assert ac.get_server("m") == config
    await ac.remove_server("m")
    assert await ac.load_mcp_servers({"mcpServers": {"m": {"command": str(fixture_server)}}}) == [
        "m"
    ]
    assert await ac.load_mcp_servers_text(f'[servers.n]\ncommand = "{fixture_server}"\n') == ["n"]
    await ac.add_server_from_dict("o", {"command": str(fixture_server)})
    assert sorted(s.name for s in ac.list_servers()) == ["m", "n", "o"]
    with pytest.raises(corral.ServerNotFoundError) as info:
        await ac.remove_server("nope")
    assert info.value.kind == "SERVER_NOT_FOUND"


def test_errors_are_corral_errors_never_bare_runtime_errors(c: corral.Corral) -> None:
    call = c.execute_tool("fx", "echo", {"text": "x"})
    asyncio.run(_await(call))
    with pytest.raises(corral.ClosedError):
        asyncio.run(_await(call))  # reused
    for e in corral.__all__:
        cls = getattr(corral, e)
        if isinstance(cls, type) and issubclass(cls, corral.CorralError) and cls.kind:
            assert cls.code == cls.kind
            assert cls.__doc__


def test_dropping_an_unclosed_corral_stops_its_servers(home: str, fixture_server: Path) -> None:
    """Garbage-collecting the last handle of an unclosed Corral kills its servers: this
    process has no children left (each server's bwrap was one)."""
    script = textwrap.dedent(
        f"""
        import gc, glob, os, time, corral

        def children():
            return [c for f in glob.glob(f"/proc/{{os.getpid()}}/task/*/children")
                    for c in open(f).read().split()]

        c = corral.Corral(home={home!r})
        c.add_server_from_dict_sync("fx", {{"command": {str(fixture_server)!r}}})
        c.execute_tool_sync("fx", "echo", {{"text": "x"}})
        assert children()
        del c
        gc.collect()
        while children():  # killed at once; reaped by the runtime soon after
            time.sleep(0.05)
        print("dropped")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "dropped"


async def test_close_is_idempotent_and_final(home: str, fixture_server: Path) -> None:
    runner = corral.Corral(home=home)
    await runner.add_server_from_dict("fx", {"command": str(fixture_server)})
    await runner.execute_tool("fx", "echo", {"text": "x"})
    await runner.close()
    await runner.close()
    runner.close_sync()
    assert runner.closed
    with pytest.raises(corral.ClosedError) as info:
        await runner.execute_tool("fx", "echo", {"text": "x"})
    assert info.value.kind == "CLOSED"


def test_context_managers_close(home: str, fixture_server: Path) -> None:
    with corral.Corral(home=home) as runner:
        assert runner.provider == "local"
        assert str(runner.home) == home
    assert runner.closed

    async def main() -> corral.Corral:
        async with corral.Corral(home=home) as r:
            await r.add_server_from_dict("fx", {"command": str(fixture_server)})
            await r.execute_tool("fx", "echo", {"text": "x"})
        return r

    assert asyncio.run(main()).closed


def test_unknown_provider_is_a_config_error(home: str) -> None:
    with pytest.raises(corral.CorralError):
        corral.Corral("no-such-provider", home=home)


def test_ctrl_c_cancels_a_sync_call(home: str, fixture_server: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, threading, corral
        # As in an interactive program (a shell's background job starts with SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        c = corral.Corral(home={home!r})
        c.add_server_from_dict_sync("fx", {{"command": {str(fixture_server)!r}}})
        c.execute_tool_sync("fx", "echo", {{"text": "warm"}})
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            c.execute_tool_sync("fx", "sleep", {{"ms": 30000}})
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted", c.execute_tool_sync("fx", "echo", {{"text": "after"}}).text)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "interrupted after"


def test_fork_gives_the_child_a_fresh_runtime(home: str, fixture_server: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys, asyncio, corral
        parent = corral.Corral(home={home!r} + "/parent")
        parent.add_server_from_dict_sync("fx", {{"command": {str(fixture_server)!r}}})
        assert parent.execute_tool_sync("fx", "echo", {{"text": "before"}}).text == "before"
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                parent.execute_tool_sync("fx", "echo", {{"text": "x"}})
                code = 3
            except corral.ClosedError:
                pass
            child = corral.Corral(home={home!r} + "/child")
            child.add_server_from_dict_sync("fx", {{"command": {str(fixture_server)!r}}})
            async def main():
                return (await child.execute_tool("fx", "echo", {{"text": "child"}})).text
            if asyncio.run(main()) != "child":
                code = 4
            child.close_sync()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", parent.execute_tool_sync("fx", "echo", {{"text": "after"}}).text)
        """
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["child", "0", "parent", "after"]


def test_repr_never_shows_secrets(fixture_server: Path) -> None:
    cfg = corral.ServerConfig("fx", command=str(fixture_server), env={"TOKEN": "s3cret"})
    assert "s3cret" not in repr(cfg)
    assert "fx" in repr(cfg)


def test_environment_of_the_runner_does_not_leak(c: corral.Corral) -> None:
    os.environ["CORRAL_TEST_LEAK_CHECK"] = "leaked"
    try:
        c.add_server_from_dict_sync("fresh", {"command": c.get_server("fx").command})
        r = c.execute_tool_sync("fresh", "env", {"name": "CORRAL_TEST_LEAK_CHECK"})
        assert r.text == "(unset)"
    finally:
        del os.environ["CORRAL_TEST_LEAK_CHECK"]
