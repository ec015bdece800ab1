"""A drop-in for users of the e2b-mcp package: change ``from e2b_mcp import ...`` to
``from corral.e2b_mcp import ...`` and the rest of the program stays as it is.

The names and signatures are e2b-mcp's documented ones — ``E2BMCPRunner`` (``add_server``,
``add_server_from_dict``, ``add_servers``, ``list_servers()`` → names, ``discover_tools``,
``execute_tool`` → the MCP result as a dict, ``execute_tool_sync``, ``create_session`` as an
async context manager), ``ServerConfig``, ``Tool``, ``Session`` and ``MCPError(message,
server_name, tool_name)`` — and every call goes through corral's own API: servers run in
corral's sandboxes (the local provider, or E2B when ``CORRAL_PROVIDER=e2b``), one warm session
per server rather than a fresh sandbox per call. Config errors raise ``ValueError`` (corral's
``ConfigInvalidError`` is one), failures of servers and tools raise ``MCPError``, whose
``__cause__`` is corral's error (with its stable ``kind``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import corral

__all__ = ["E2BMCPRunner", "MCPError", "ServerConfig", "Session", "Tool"]


class MCPError(Exception):
    """A server or tool operation failed. ``server_name`` and ``tool_name`` say where;
    ``kind`` is corral's stable error code (``None`` when the error is not corral's)."""

    def __init__(
        self, message: str, server_name: str | None = None, tool_name: str | None = None
    ) -> None:
        self.message = message
        self.server_name = server_name
        self.tool_name = tool_name
        self.kind: str | None = None
        where = ", ".join(
            f"{k}: {v}" for k, v in [("server", server_name), ("tool", tool_name)] if v
        )
        super().__init__(f"{message} ({where})" if where else message)


_UNUSED_KEYS = ("package", "initialization_timeout")


def _parse(name: str, data: Mapping[str, Any]) -> corral.ServerConfig:
    """e2b-mcp's dict form through corral's parser (which knows it), minus the keys corral
    has no use for."""
    return corral.ServerConfig.from_dict(
        name, {k: v for k, v in data.items() if k not in _UNUSED_KEYS}
    )


def _mcp_error(e: corral.CorralError, server: str | None, tool: str | None = None) -> MCPError:
    error = MCPError(e.message, server_name=server, tool_name=tool)
    error.kind = e.kind
    return error


@dataclass
class ServerConfig:
    """One MCP server, as e2b-mcp describes it. Validated by corral when added.
    ``package`` and ``initialization_timeout`` (e2b-mcp keys) are accepted and kept, but
    corral does not use them: install with ``install_commands``; start-up waits are corral's."""

    name: str
    command: str
    install_commands: list[str] = field(default_factory=list)
    description: str = ""
    timeout_minutes: int = 10
    env: dict[str, str] = field(default_factory=dict)
    package: str | None = None
    initialization_timeout: int | None = None

    @classmethod
    def from_dict(cls, name: str, config_data: Mapping[str, Any]) -> ServerConfig:
        """Reads e2b-mcp's dict form (corral's and ``mcpServers`` entries work too); a bad
        field raises ``ValueError`` (``corral.ConfigInvalidError``) naming it."""
        return cls._of(_parse(name, config_data), config_data)

    @classmethod
    def _of(
        cls, parsed: corral.ServerConfig, data: Mapping[str, Any] | None = None
    ) -> ServerConfig:
        data = data or {}
        return cls(
            name=parsed.name,
            command=" ".join(parsed.command or []),
            install_commands=parsed.install_commands,
            description=parsed.description or "",
            timeout_minutes=int(parsed.timeout_minutes),
            env=parsed.env,
            package=data.get("package"),
            initialization_timeout=data.get("initialization_timeout"),
        )

    def requires_installation(self) -> bool:
        return bool(self.install_commands)

    def get_display_name(self) -> str:
        return self.description or self.name

    def _to_corral(self) -> corral.ServerConfig:
        return corral.ServerConfig(
            self.name,
            command=self.command,
            install_commands=self.install_commands,
            description=self.description or None,
            timeout_minutes=self.timeout_minutes,
            env=self.env,
        )


@dataclass
class Tool:
    """A tool a server offers."""

    name: str
    description: str
    input_schema: dict[str, Any]
    server_name: str

    @classmethod
    def _of(cls, tool: corral.Tool, server_name: str) -> Tool:
        return cls(tool.name, tool.description or "", tool.input_schema, server_name)


@dataclass
class Session:
    """A live session with a server (``create_session``)."""

    session_id: str
    server_name: str
    config: ServerConfig
    sandbox_id: str | None
    initialized: bool = True
    tools: list[Tool] = field(default_factory=list)

    def get_tool_count(self) -> int:
        return len(self.tools)


class E2BMCPRunner:
    """e2b-mcp's runner on corral. ``api_key`` is the E2B key for ``provider="e2b"`` (default
    ``$E2B_API_KEY``); ``provider`` and ``home`` are corral's (``$CORRAL_PROVIDER``, else the
    local bubblewrap sandboxes). ``close()`` (or ``with``) stops every server; so does dropping
    the runner."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        provider: str | None = None,
        home: str | os.PathLike[str] | None = None,
    ) -> None:
        self.api_key = api_key or os.environ.get("E2B_API_KEY")
        self._corral = corral.Corral(provider, home=home, api_key=self.api_key)
        self.server_configs: dict[str, ServerConfig] = {}

    @property
    def corral(self) -> corral.Corral:
        """The corral underneath, for everything e2b-mcp does not have."""
        return self._corral

    def add_server(self, config: ServerConfig) -> None:
        """Adds (or replaces) a server; a bad config raises ``ValueError``."""
        self._corral.add_server_sync(config._to_corral())
        self.server_configs[config.name] = config

    def add_server_from_dict(self, name: str, config_data: Mapping[str, Any]) -> None:
        parsed = _parse(name, config_data)
        self._corral.add_server_sync(parsed)
        self.server_configs[name] = ServerConfig._of(parsed, config_data)

    def add_servers(self, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Adds several servers; if one is invalid, none is added (``ValueError``)."""
        parsed = {}
        for name, data in configs.items():
            try:
                parsed[name] = _parse(name, data)
            except ValueError as e:
                raise ValueError(f"Invalid configuration for server '{name}': {e}") from e
        for name, config in parsed.items():
            self._corral.add_server_sync(config)
            self.server_configs[name] = ServerConfig._of(config, configs[name])

    def list_servers(self) -> list[str]:
        """The configured servers' names."""
        return [s.name for s in self._corral.list_servers()]

    def get_server_config(self, name: str) -> ServerConfig | None:
        return self.server_configs.get(name)

    async def discover_tools(self, server_name: str) -> list[Tool]:
        try:
            tools = await self._corral.discover_tools(server_name)
        except corral.CorralError as e:
            raise _mcp_error(e, server_name) from e
        return [Tool._of(t, server_name) for t in tools]

    async def execute_tool(
        self, server_name: str, tool_name: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Calls a tool; returns the MCP result (``{"content": [...], "isError": ...}``)."""
        try:
            result = await self._corral.execute_tool(server_name, tool_name, params)
        except corral.CorralError as e:
            raise _mcp_error(e, server_name, tool_name) from e
        return cast(dict[str, Any], result.to_dict())

    def execute_tool_sync(
        self, server_name: str, tool_name: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``execute_tool`` without asyncio (blocks this thread only)."""
        try:
            result = self._corral.execute_tool_sync(server_name, tool_name, params)
        except corral.CorralError as e:
            raise _mcp_error(e, server_name, tool_name) from e
        return cast(dict[str, Any], result.to_dict())

    @asynccontextmanager
    async def create_session(self, server_name: str) -> AsyncIterator[Session]:
        """The server's live session: ``async with runner.create_session(name) as s``. An
        unknown server raises ``ValueError``; a server that fails to start, ``MCPError``."""
        if server_name not in self.list_servers():
            raise ValueError(f"Server '{server_name}' not configured")
        config = self.server_configs.get(server_name) or ServerConfig._of(
            self._corral.get_server(server_name)
        )
        try:
            handle = await self._corral.session(server_name)
            tools = await handle.list_tools()
        except corral.CorralError as e:
            raise _mcp_error(e, server_name) from e
        try:
            yield Session(
                session_id=handle.session_id,
                server_name=server_name,
                config=config,
                sandbox_id=handle.sandbox_id,
                tools=[Tool._of(t, server_name) for t in tools],
            )
        finally:
            await handle.close()

    def close(self) -> None:
        """Stops every server. Idempotent."""
        self._corral.close_sync()

    def __enter__(self) -> E2BMCPRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
