"""The gateway, templates and start-up events from Python: real fixture servers in real
sandboxes, and the official `mcp` Python SDK client talking to the gateway over HTTP on
127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import corral
import pytest
import pytest_asyncio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import TextContent


@pytest_asyncio.fixture
async def two(home: str, fixture_server: Path) -> AsyncIterator[corral.Corral]:
    async with corral.Corral(home=home) as runner:
        for name in ["alpha", "beta"]:
            await runner.add_server_from_dict(
                name, {"command": str(fixture_server), "network": "none"}
            )
        yield runner


async def sdk_list_and_call(gw: corral.Gateway, tool: str) -> tuple[list[str], list[str]]:
    """Lists the gateway's tools and calls `tool` with the official SDK client."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {gw.get_mcp_token()}"})
    async with (
        http,
        streamable_http_client(gw.get_mcp_url(), http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        names = [t.name for t in (await session.list_tools()).tools]
        result = await session.call_tool(tool, {"text": "via the gateway"})
        assert not result.is_error
        texts = [c.text for c in result.content if isinstance(c, TextContent)]
        return names, texts


def refused(url: str) -> bool:
    """Whether nothing listens on the gateway's port any more."""
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def eventually_refused(url: str) -> bool:
    for _ in range(100):
        if refused(url):
            return True
        time.sleep(0.05)
    return False


async def test_the_official_sdk_client_lists_and_calls_through_a_gateway(
    two: corral.Corral,
) -> None:
    async with await two.start_gateway() as gw:
        assert gw.url.startswith("http://127.0.0.1:")
        assert gw.url.endswith("/mcp")
        assert gw.get_mcp_url() == gw.url
        assert gw.get_mcp_token() == gw.token
        assert len(gw.token) >= 16
        assert gw.local_addr[0] == "127.0.0.1"
        assert gw.token not in repr(gw)
        assert "alpha" in repr(gw)
        assert await gw.wait_settled(60)
        health = gw.servers()
        assert [h.name for h in health] == ["alpha", "beta"]
        assert all(h.state == "ready" and h.tool_count > 0 for h in health)
        assert health[0].to_dict()["state"] == "ready"
        names, texts = await sdk_list_and_call(gw, "alpha__echo")
        assert {"alpha__echo", "beta__echo"} <= set(names)
        assert texts == ["via the gateway"]
    assert eventually_refused(gw.url)


def test_sync_gateway_one_server_and_options(home: str, fixture_server: Path) -> None:
    with corral.Corral(home=home) as c:
        c.add_server_from_dict_sync("fx", {"command": str(fixture_server), "network": "none"})
        c.add_server_from_dict_sync("other", {"command": str(fixture_server), "network": "none"})
        # snake_case and camelCase keys both reach the core's options.
        with c.start_gateway_sync(["fx"], tool_budget=500, discoveryDeadlineMs=5000) as gw:
            assert gw.wait_settled_sync(60)
            assert [h.name for h in gw.servers()] == ["fx"]
            names, texts = asyncio.run(sdk_list_and_call(gw, "echo"))  # one server: no prefix
            assert "echo" in names
            assert texts == ["via the gateway"]
            request = urllib.request.Request(gw.url, data=b"{}", method="POST")
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(request, timeout=10)
            assert denied.value.code == 401
            with urllib.request.urlopen(gw.url.removesuffix("/mcp") + "/health") as r:
                assert r.status == 200
                assert isinstance(json.loads(r.read()), dict)
        assert eventually_refused(gw.url)


def test_gateway_options_are_checked_by_the_core(home: str, fixture_server: Path) -> None:
    with corral.Corral(home=home) as c:
        c.add_server_from_dict_sync("fx", {"command": str(fixture_server), "network": "none"})
        with pytest.raises(corral.ConfigInvalidError) as unknown:
            c.start_gateway_sync(nope=1)
        assert unknown.value.kind == "CONFIG_INVALID"
        assert unknown.value.field == "gateway.nope"
        with pytest.raises(corral.ConfigInvalidError) as bad:
            c.start_gateway_sync(tool_budget="many")
        assert bad.value.field == "gateway.tool_budget"
        with pytest.raises(corral.ConfigInvalidError):
            c.start_gateway_sync(token="short")
        with pytest.raises(corral.ServerNotFoundError):
            c.start_gateway_sync(["missing"])


def test_closing_the_corral_closes_its_gateways(home: str, fixture_server: Path) -> None:
    c = corral.Corral(home=home)
    c.add_server_from_dict_sync("fx", {"command": str(fixture_server), "network": "none"})
    gateways = [c.start_gateway_sync(eager=False) for _ in range(2)]
    assert not any(refused(g.url) for g in gateways)
    c.close_sync()
    assert all(eventually_refused(g.url) for g in gateways)
    gateways[0].close_sync()  # idempotent after the corral closed it


async def test_module_level_gateway_owns_its_corral(home: str, fixture_server: Path) -> None:
    """`corral.start_gateway(mcp=...)`: E2B's `Sandbox.create(mcp={...})` in one call; closing
    the gateway closes that corral."""
    mcp = {"fx": {"command": str(fixture_server), "network": "none"}}
    gw = await corral.start_gateway(mcp, home=home, eager=True)
    assert await gw.wait_settled(60)
    assert [h.name for h in gw.servers()] == ["fx"]
    names, texts = await sdk_list_and_call(gw, "echo")  # one server: its own tool names
    assert "echo" in names
    assert texts == ["via the gateway"]
    await gw.close()
    assert eventually_refused(gw.url)
    with pytest.raises(corral.ConfigInvalidError):
        corral.start_gateway_sync(mcp, home=home, tool_budget="many")
    gw = corral.start_gateway_sync(mcp, home=home)
    assert gw.wait_settled_sync(60)
    gw.close_sync()
    assert eventually_refused(gw.url)


def test_dropping_the_gateway_stops_serving(home: str, fixture_server: Path) -> None:
    with corral.Corral(home=home) as c:
        c.add_server_from_dict_sync("fx", {"command": str(fixture_server), "network": "none"})
        gw = c.start_gateway_sync()
        url = gw.url
        assert not refused(url)
        del gw
        gc.collect()
        assert eventually_refused(url)


def test_dropping_an_unclosed_corral_and_its_gateway_leaves_no_process(
    home: str, fixture_server: Path
) -> None:
    """The gateway keeps its corral alive; once both are garbage-collected, every server's
    sandbox is gone (this process has no children left)."""
    script = textwrap.dedent(
        f"""
        import gc, glob, os, time, corral

        def children():
            return [c for f in glob.glob(f"/proc/{{os.getpid()}}/task/*/children")
                    for c in open(f).read().split()]

        c = corral.Corral(home={home!r})
        c.add_server_from_dict_sync("fx", {{"command": {str(fixture_server)!r}}})
        gw = c.start_gateway_sync()
        assert gw.wait_settled_sync(60) and gw.servers()[0].state == "ready"
        assert children()
        del c
        gc.collect()
        assert gw.servers()[0].state == "ready"  # still serving: the gateway holds the corral
        del gw
        gc.collect()
        while children():
            time.sleep(0.05)
        print("dropped")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "dropped"


# --------------------------------------------------------------------------------------------
# Start-up events


def test_start_callback_receives_install_and_start_events(home: str, fixture_server: Path) -> None:
    events: list[corral.StartEvent] = []
    with corral.Corral(home=home) as c:
        c.set_start_callback(events.append)
        c.add_server_sync(
            corral.ServerConfig(
                "fx", command=str(fixture_server), install_commands=["echo installed"]
            )
        )
        assert c.execute_tool_sync("fx", "echo", {"text": "x"}).text == "x"
        c.set_start_callback(None)
    types = [e.type for e in events]
    assert types == ["installStarted", "installFinished", "serverStarting", "serverReady"]
    assert {e.server for e in events} == {"fx"}
    started, finished, _, ready = events
    assert (started.index, started.total, started.command) == (1, 1, "echo installed")
    assert finished.status == {"code": 0, "signal": None}
    assert "installed" in (finished.output or "")
    assert ready.protocol_version
    assert ready.to_dict()["type"] == "serverReady"
    assert started.protocol_version is None


# --------------------------------------------------------------------------------------------
# Templates and machine options


async def test_templates_servers_and_sandboxes(home: str, fixture_server: Path) -> None:
    async with corral.Corral(home=home) as c:
        built = await c.build_template("tools", ["mkdir -p /opt && echo tpl > /opt/tpl.txt"])
        assert built.name == "tools"
        assert built.id
        assert built.base is None
        assert built.install_commands == ["mkdir -p /opt && echo tpl > /opt/tpl.txt"]
        again = c.build_template_sync("tools", ["mkdir -p /opt && echo tpl > /opt/tpl.txt"])
        assert again.id == built.id
        listed = await c.list_templates()
        assert [t.name for t in listed] == ["tools"]
        assert listed[0].size_bytes > 0
        assert listed[0].to_dict()["installCommands"] == built.install_commands

        config = corral.ServerConfig(
            "fx",
            command=str(fixture_server),
            template="tools",
            files={"/app/note.txt": "from files"},
            limits={"disk_mb": 64},
        )
        assert config.template == "tools"
        assert config.files == {"/app/note.txt": "from files"}
        assert corral.ServerConfig.from_dict("fx", config.to_dict()) == config
        await c.add_server(config)
        for path, text in [("/opt/tpl.txt", "tpl\n"), ("/app/note.txt", "from files")]:
            result = await c.execute_tool("fx", "read_file", {"path": path})
            assert result.text == text

        files: dict[str, bytes | str] = {"/work/a.txt": "text", "/work/b.bin": b"\x00\x01"}
        async with c.sandbox(template="tools", files=files) as sb:
            out = await sb.exec("cat /opt/tpl.txt /work/a.txt && wc -c < /work/b.bin")
            assert out.ok
            assert out.stdout == "tpl\ntext2\n"
        with pytest.raises(corral.SandboxFailedError):
            await c.sandbox(template="not-built")

        with pytest.raises(corral.InstallFailedError):
            await c.build_template("bad", ["exit 3"])
        await c.remove_template("tools")
        assert c.list_templates_sync() == []
        await c.remove_server("fx")
        report = await c.prune()
        assert isinstance(report, corral.PruneReport)
        assert report.freed_bytes >= 0
        assert all(isinstance(p, Path) for p in report.removed)
        assert isinstance(c.prune_sync(), corral.PruneReport)
