"""corral.e2b_mcp, the drop-in for e2b-mcp users: the calls of that package's README examples
(quick start, configuration, sessions, sync use, error handling), written here against the
drop-in, plus the idioms its users rely on (`name in runner.list_servers()`, results as dicts).
Real servers in real sandboxes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from corral.e2b_mcp import E2BMCPRunner, MCPError, ServerConfig, Session, Tool


@pytest.fixture
def runner(home: str) -> Iterator[E2BMCPRunner]:
    with E2BMCPRunner(home=home) as r:
        yield r


def needs_registry() -> None:
    if "CORRAL_TEST_OFFLINE" in os.environ:
        if os.environ.get("CORRAL_TEST_REQUIRE_ALL"):
            pytest.fail("this test installs a server from npm (CORRAL_TEST_OFFLINE is set)")
        pytest.skip("this test installs a server from npm")


async def test_quick_start_filesystem_server_from_npm(runner: E2BMCPRunner) -> None:
    """The README's quick start: an npx filesystem server on /tmp, discover, write a file."""
    needs_registry()
    runner.add_server(
        ServerConfig(
            name="filesystem",
            command="npx -y @modelcontextprotocol/server-filesystem@2026.8.31 /tmp",
            description="File system operations",
        )
    )
    tools = await runner.discover_tools("filesystem")
    assert {"write_file", "read_text_file"} <= {t.name for t in tools}
    assert all(isinstance(t, Tool) and t.server_name == "filesystem" for t in tools)
    wrote = await runner.execute_tool(
        "filesystem", "write_file", {"path": "/tmp/example.txt", "content": "Hello World!"}
    )
    assert wrote["isError"] is False
    assert isinstance(wrote["content"], list)
    read = runner.execute_tool_sync("filesystem", "read_text_file", {"path": "/tmp/example.txt"})
    assert read["content"][0]["text"] == "Hello World!"


def test_configuration_by_class_and_by_dict(runner: E2BMCPRunner) -> None:
    """The README's configuration section: configs with install commands, env, timeouts;
    adding does not start anything."""
    config = ServerConfig(
        name="my_server",
        command="python -m my_mcp_server --stdio",
        install_commands=["apt-get update", "pip install additional-package"],
        description="My custom MCP server",
        timeout_minutes=10,
        env={"DEBUG": "1"},
    )
    runner.add_server(config)
    runner.add_server_from_dict(
        "nodejs_server",
        {
            "command": "node mcp-server.js",
            "install_commands": ["npm install @modelcontextprotocol/server-filesystem"],
            "description": "Node.js MCP server",
            "timeout_minutes": 5,
            "env": {"DEBUG": "1"},
        },
    )
    assert runner.list_servers() == ["my_server", "nodejs_server"]
    assert "nodejs_server" in runner.list_servers()  # names, not configs
    stored = runner.get_server_config("nodejs_server")
    assert stored is not None
    assert stored.command == "node mcp-server.js"
    assert stored.timeout_minutes == 5
    assert stored.env == {"DEBUG": "1"}
    assert stored.requires_installation()
    assert runner.get_server_config("my_server") == config
    assert ServerConfig.from_dict("x", {"command": "srv --stdio"}).install_commands == []
    legacy = ServerConfig.from_dict(
        "fs", {"command": "srv", "package": "p", "initialization_timeout": 9}
    )
    assert (legacy.package, legacy.initialization_timeout) == ("p", 9)


def test_a_bad_config_is_a_value_error_and_add_servers_is_all_or_nothing(
    runner: E2BMCPRunner,
) -> None:
    with pytest.raises(ValueError, match="1BAD"):
        runner.add_server_from_dict("bad", {"command": "x", "env": {"1BAD": "v"}})
    with pytest.raises(ValueError, match="'broken'"):
        runner.add_servers({"good": {"command": "x"}, "broken": {"command": ""}})
    assert runner.list_servers() == []
    runner.add_servers({"a": {"command": "x"}, "b": {"command": "y"}})
    assert runner.list_servers() == ["a", "b"]


async def test_tools_results_sessions_and_sync_use(
    runner: E2BMCPRunner, fixture_server: Path
) -> None:
    """The README's basic, synchronous and session examples, on the fixture server."""
    runner.add_server_from_dict("test", {"command": str(fixture_server), "description": "Test"})
    echo = await runner.execute_tool("test", "echo", {"text": "Hello!"})
    assert echo == {"content": [{"type": "text", "text": "Hello!"}], "isError": False}
    assert (
        runner.execute_tool_sync("test", "echo", {"text": "sync"})["content"][0]["text"] == "sync"
    )
    async with runner.create_session("test") as session:
        assert isinstance(session, Session)
        assert session.session_id
        assert session.sandbox_id
        assert session.server_name == "test"
        assert session.get_tool_count() > 0
        assert session.config.description == "Test"
    tools = await runner.discover_tools("test")
    echo_tool = next(t for t in tools if t.name == "echo")
    assert echo_tool.input_schema["type"] == "object"


async def test_errors_are_mcp_errors_with_their_context(
    runner: E2BMCPRunner, fixture_server: Path
) -> None:
    """The README's error handling: MCPError for operations, ValueError for configuration."""
    with pytest.raises(MCPError) as unknown:
        await runner.execute_tool("nonexistent", "tool", {})
    assert unknown.value.server_name == "nonexistent"
    assert unknown.value.tool_name == "tool"
    assert unknown.value.kind == "SERVER_NOT_FOUND"
    runner.add_server_from_dict("test", {"command": str(fixture_server)})
    with pytest.raises(MCPError) as no_tool:
        runner.execute_tool_sync("test", "no_such_tool", {})
    assert no_tool.value.kind == "TOOL_NOT_FOUND"
    assert "no_such_tool" in str(no_tool.value)
    with pytest.raises(ValueError, match="not configured"):
        async with runner.create_session("nonexistent"):
            pass
    runner.add_server_from_dict("broken", {"command": "/nonexistent/server"})
    with pytest.raises(MCPError) as failed:
        await runner.discover_tools("broken")
    assert failed.value.server_name == "broken"
    assert failed.value.kind is not None
    e = MCPError("plain")
    assert (str(e), e.server_name, e.tool_name) == ("plain", None, None)
