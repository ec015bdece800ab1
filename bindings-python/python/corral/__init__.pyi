"""Type stubs of corral (hand-written; checked by mypy in `make lint`)."""

import builtins
import os
import pathlib
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, TypeAlias, TypeVar, final

from typing_extensions import Self

from corral._shapes import (
    ContentDict,
    ExecOutputDict,
    LogMessageDict,
    ProgressDict,
    PromptDict,
    PromptMessageDict,
    PromptResultDict,
    PruneReportDict,
    ResourceContentsDict,
    ResourceDict,
    ServerConfigDict,
    ServerHealthDict,
    StartEventDict,
    TemplateInfoDict,
    ToolDict,
    ToolResultDict,
)

__version__: Final[str]
__all__: list[str]

_T = TypeVar("_T")
JSON: TypeAlias = Any
"""A JSON value as Python objects: dict, list, str, int, float, bool or None."""

Provider: TypeAlias = Literal["local", "unsandboxed", "e2b"]
Network: TypeAlias = Literal["all", "none"]

# --------------------------------------------------------------------------------------------
# Errors

class CorralError(Exception):
    """Base class of every corral error. Match on the subclass or on `.kind`, never the message."""

    kind: str | None
    """The stable code, e.g. `SERVER_NOT_FOUND` (`None` for a failure of the binding itself)."""
    code: str | None
    """The same as `kind`."""
    message: str
    field: str | None
    """The config path the error concerns, e.g. `servers.fs.env.1BAD`, or `None`."""
    retryable: bool
    """Whether retrying may succeed (`SERVER_CRASHED`, `TIMEOUT`, `TRANSPORT`)."""

class ConfigInvalidError(CorralError, ValueError):
    kind: str

class InvalidArgumentError(CorralError, ValueError):
    kind: str

class ServerNotFoundError(CorralError, LookupError):
    kind: str

class ToolNotFoundError(CorralError, LookupError):
    kind: str

class SandboxFailedError(CorralError):
    kind: str

class InstallFailedError(CorralError):
    kind: str

class ServerStartFailedError(CorralError):
    kind: str

class ServerCrashedError(CorralError):
    kind: str

class TimeoutError(CorralError, builtins.TimeoutError):  # noqa: A001
    kind: str

class CancelledError(CorralError):
    kind: str

class ProtocolError(CorralError):
    kind: str

class McpError(CorralError):
    kind: str

class AuthError(CorralError):
    kind: str

class TransportError(CorralError, ConnectionError):
    kind: str

class IoError(CorralError, OSError):
    kind: str

class E2bApiError(CorralError):
    kind: str

class ClosedError(CorralError):
    kind: str

# --------------------------------------------------------------------------------------------
# Awaitables and cancellation

@final
class Call(Coroutine[Any, Any, _T]):
    """What every async method returns: a coroutine (usable with `await`, `asyncio.run`,
    `create_task`, `gather`). Nothing runs until it is first awaited; cancelling the task that
    awaits it cancels the call in corral."""

    def __await__(self) -> Generator[Any, Any, _T]: ...
    def send(self, value: Any, /) -> Any: ...
    def throw(self, typ: Any, val: Any = ..., tb: Any = ..., /) -> Any: ...
    def close(self) -> None: ...

@final
class CancelToken:
    """Cancels the calls it is given (`cancel=`) from any thread; they fail with
    `corral.CancelledError`."""

    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

# --------------------------------------------------------------------------------------------
# Data

@final
class ServerConfig:
    """One MCP server: a `command` run in a sandbox, or a remote `url`."""

    def __init__(
        self,
        name: str,
        *,
        command: str | Sequence[str] | None = None,
        args: Sequence[str] | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        install_commands: Sequence[str] | None = None,
        cwd: str | None = None,
        description: str | None = None,
        timeout_minutes: float | None = None,
        call_timeout_seconds: float | None = None,
        network: Network | None = None,
        mounts: Sequence[str] | None = None,
        limits: Mapping[str, int] | None = None,
        allow_tools: Sequence[str] | None = None,
        deny_tools: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        template: str | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None: ...
    @staticmethod
    def from_dict(name: str, config: Mapping[str, Any]) -> ServerConfig: ...
    def to_dict(self) -> ServerConfigDict: ...
    @property
    def name(self) -> str: ...
    @property
    def command(self) -> list[str] | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def env(self) -> dict[str, str]: ...
    @property
    def install_commands(self) -> list[str]: ...
    @property
    def cwd(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def timeout_minutes(self) -> float: ...
    @property
    def call_timeout_seconds(self) -> float: ...
    @property
    def network(self) -> Network: ...
    @property
    def mounts(self) -> list[str]: ...
    @property
    def limits(self) -> dict[str, int]: ...
    @property
    def allow_tools(self) -> list[str] | None: ...
    @property
    def deny_tools(self) -> list[str]: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def is_remote(self) -> bool: ...
    @property
    def template(self) -> str | None: ...
    @property
    def files(self) -> dict[str, str]: ...

@final
class Tool:
    """A tool a server offers."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...
    @property
    def output_schema(self) -> dict[str, Any] | None: ...
    @property
    def annotations(self) -> dict[str, Any] | None: ...
    def to_openai(self) -> dict[str, Any]: ...
    def to_anthropic(self) -> dict[str, Any]: ...
    def to_dict(self) -> ToolDict: ...

class Content:
    """A content item; see the subclasses."""

    @property
    def type(self) -> Literal["text", "image", "audio", "resource", "resource_link"]: ...
    @property
    def text(self) -> str | None: ...
    def to_dict(self) -> ContentDict: ...

@final
class TextContent(Content):
    @property
    def type(self) -> Literal["text"]: ...
    @property
    def text(self) -> str: ...

@final
class ImageContent(Content):
    @property
    def type(self) -> Literal["image"]: ...
    @property
    def data(self) -> str: ...
    @property
    def mime_type(self) -> str: ...

@final
class AudioContent(Content):
    @property
    def type(self) -> Literal["audio"]: ...
    @property
    def data(self) -> str: ...
    @property
    def mime_type(self) -> str: ...

@final
class EmbeddedResource(Content):
    @property
    def type(self) -> Literal["resource"]: ...
    @property
    def resource(self) -> dict[str, Any]: ...

@final
class ResourceLink(Content):
    @property
    def type(self) -> Literal["resource_link"]: ...
    @property
    def uri(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def mime_type(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...

@final
class ToolResult:
    """A tool call's result; a tool that reports failure gives `is_error=True`, not an exception."""

    @property
    def content(self) -> list[Content]: ...
    @property
    def structured_content(self) -> JSON | None: ...
    @property
    def is_error(self) -> bool: ...
    @property
    def text(self) -> str:
        """All text items joined with newlines."""
    def to_dict(self) -> ToolResultDict:
        """The MCP JSON form: `{"content", "structuredContent"?, "isError"}`."""

@final
class Resource:
    @property
    def uri(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def mime_type(self) -> str | None: ...
    def to_dict(self) -> ResourceDict: ...

@final
class ResourceContents:
    @property
    def uri(self) -> str: ...
    @property
    def mime_type(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def blob(self) -> str | None: ...
    def to_dict(self) -> ResourceContentsDict: ...

@final
class Prompt:
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def arguments(self) -> list[dict[str, Any]]: ...
    def to_dict(self) -> PromptDict: ...

@final
class PromptMessage:
    @property
    def role(self) -> str: ...
    @property
    def content(self) -> Content: ...
    def to_dict(self) -> PromptMessageDict: ...

@final
class PromptResult:
    @property
    def description(self) -> str | None: ...
    @property
    def messages(self) -> list[PromptMessage]: ...
    def to_dict(self) -> PromptResultDict: ...

@final
class Progress:
    @property
    def progress(self) -> float: ...
    @property
    def total(self) -> float | None: ...
    @property
    def message(self) -> str | None: ...
    def to_dict(self) -> ProgressDict: ...

@final
class LogMessage:
    @property
    def server(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def logger(self) -> str | None: ...
    @property
    def data(self) -> JSON: ...
    def to_dict(self) -> LogMessageDict: ...

@final
class ExecOutput:
    """How a command in a sandbox ended, and what it wrote."""

    @property
    def exit_code(self) -> int | None: ...
    @property
    def signal(self) -> int | None: ...
    @property
    def ok(self) -> bool: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def stdout_bytes(self) -> bytes: ...
    @property
    def stderr_bytes(self) -> bytes: ...
    def to_dict(self) -> ExecOutputDict:
        """`{"exitCode", "signal"?, "stdout", "stderr"}`."""

CommandResult = ExecOutput

# --------------------------------------------------------------------------------------------
# The runner, sessions and sandboxes

@final
class StartEvent:
    """What happens while a server starts (`Corral.set_start_callback`). Fields that do not
    apply to the event's `type` are `None`."""

    @property
    def type(
        self,
    ) -> Literal["installStarted", "installFinished", "serverStarting", "serverReady"]: ...
    @property
    def server(self) -> str: ...
    @property
    def index(self) -> int | None: ...
    @property
    def total(self) -> int | None: ...
    @property
    def command(self) -> str | None: ...
    @property
    def status(self) -> dict[str, int | None] | None: ...
    @property
    def output(self) -> str | None: ...
    @property
    def protocol_version(self) -> str | None: ...
    def to_dict(self) -> StartEventDict: ...

@final
class TemplateInfo:
    """A built template (`Corral.build_template`, `Corral.list_templates`)."""

    @property
    def name(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def base(self) -> str | None: ...
    @property
    def install_commands(self) -> list[str]: ...
    @property
    def size_bytes(self) -> int: ...
    def to_dict(self) -> TemplateInfoDict: ...

@final
class PruneReport:
    """What `Corral.prune` removed."""

    @property
    def removed(self) -> list[pathlib.Path]: ...
    @property
    def freed_bytes(self) -> int: ...
    def to_dict(self) -> PruneReportDict: ...

@final
class ServerHealth:
    """One gateway server's health (`Gateway.servers()`)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> Literal["starting", "ready", "failed", "restarting"]: ...
    @property
    def tool_count(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def restart_in_ms(self) -> int | None: ...
    @property
    def restarts(self) -> int: ...
    def to_dict(self) -> ServerHealthDict: ...

@final
class Gateway:
    """The corral's servers behind one authenticated Streamable-HTTP MCP endpoint
    (`Corral.start_gateway`). `async with` / `with` close it on exit; so does closing its corral."""

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def url(self) -> str: ...
    @property
    def token(self) -> str:
        """The bearer token (`""` when auth is off). A secret."""
    @property
    def local_addr(self) -> tuple[str, int]: ...
    def get_mcp_url(self) -> str: ...
    def get_mcp_token(self) -> str: ...
    def servers(self) -> list[ServerHealth]: ...
    def wait_settled(self, timeout: float = 30.0) -> Call[bool]: ...
    def wait_settled_sync(self, timeout: float = 30.0) -> bool: ...
    def close(self) -> Call[None]: ...
    def close_sync(self) -> None: ...

ProgressCallback: TypeAlias = Callable[[Progress], object]
LogCallback: TypeAlias = Callable[[LogMessage], object]
StartCallback: TypeAlias = Callable[[StartEvent], object]

@final
class ServerSession:
    """A handle on a server's warm session. Open it with `async with corral.session(name) as s`,
    `with corral.session(name) as s`, or `s = await corral.session(name)`."""

    def __await__(self) -> Generator[Any, Any, ServerSession]: ...
    async def __aenter__(self) -> ServerSession: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __enter__(self) -> ServerSession: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def server(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def sandbox_id(self) -> str | None: ...
    @property
    def protocol_version(self) -> str: ...
    @property
    def closed(self) -> bool:
        """Whether this handle was closed (the server itself stays warm)."""
    def close(self) -> Call[None]:
        """Ends this handle; calls on it then fail with `ClosedError`. Idempotent."""
    def close_sync(self) -> None: ...
    def stderr_tail(self) -> str: ...
    def list_tools(self) -> Call[list[Tool]]: ...
    def list_tools_sync(self) -> list[Tool]: ...
    def call_tool(
        self,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        max_total: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Call[ToolResult]: ...
    def call_tool_sync(
        self,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        max_total: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ToolResult: ...
    def list_resources(self) -> Call[list[Resource]]: ...
    def list_resources_sync(self) -> list[Resource]: ...
    def read_resource(self, uri: str) -> Call[list[ResourceContents]]: ...
    def read_resource_sync(self, uri: str) -> list[ResourceContents]: ...
    def list_prompts(self) -> Call[list[Prompt]]: ...
    def list_prompts_sync(self) -> list[Prompt]: ...
    def get_prompt(
        self, name: str, args: Mapping[str, str] | None = None
    ) -> Call[PromptResult]: ...
    def get_prompt_sync(self, name: str, args: Mapping[str, str] | None = None) -> PromptResult: ...

@final
class Sandbox:
    """A sandbox of your own. Open it with `async with corral.sandbox() as sb`, `with ...`, or
    `sb = await corral.sandbox()`; it is killed on exit, on `close()` or when the corral closes."""

    def __await__(self) -> Generator[Any, Any, Sandbox]: ...
    async def __aenter__(self) -> Sandbox: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __enter__(self) -> Sandbox: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def id(self) -> str: ...
    def exec(
        self,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> Call[ExecOutput]: ...
    def exec_sync(
        self,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> ExecOutput: ...
    def read_file(self, path: str) -> Call[bytes]: ...
    def read_file_sync(self, path: str) -> bytes: ...
    def write_file(self, path: str, data: bytes | str) -> Call[None]: ...
    def write_file_sync(self, path: str, data: bytes | str) -> None: ...
    def close(self) -> Call[None]: ...
    def close_sync(self) -> None: ...

@final
class Corral:
    """Runs MCP servers in sandboxes and calls their tools.

    `async with Corral() as c` / `with Corral() as c` close it on exit."""

    def __init__(
        self,
        provider: Provider | str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        on_log: LogCallback | None = None,
    ) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def provider(self) -> str: ...
    @property
    def home(self) -> pathlib.Path: ...
    @property
    def closed(self) -> bool: ...
    def set_log_callback(self, on_log: LogCallback | None) -> None: ...
    def set_start_callback(self, on_start: StartCallback | None) -> None: ...
    def add_server(self, config: ServerConfig) -> Call[None]: ...
    def add_server_sync(self, config: ServerConfig) -> None: ...
    def add_server_from_dict(self, name: str, config: Mapping[str, Any]) -> Call[None]: ...
    def add_server_from_dict_sync(self, name: str, config: Mapping[str, Any]) -> None: ...
    def load_mcp_servers(
        self,
        path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
        *,
        mount_args: bool = False,
        expand_env: bool = False,
    ) -> Call[list[str]]: ...
    def load_mcp_servers_sync(
        self,
        path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
        *,
        mount_args: bool = False,
        expand_env: bool = False,
    ) -> list[str]: ...
    def load_mcp_servers_file(
        self, path: str | os.PathLike[str], *, mount_args: bool = False, expand_env: bool = False
    ) -> Call[list[str]]: ...
    def load_mcp_servers_file_sync(
        self, path: str | os.PathLike[str], *, mount_args: bool = False, expand_env: bool = False
    ) -> list[str]: ...
    def load_mcp_servers_text(
        self, text: str, *, mount_args: bool = False, expand_env: bool = False
    ) -> Call[list[str]]: ...
    def load_mcp_servers_text_sync(
        self, text: str, *, mount_args: bool = False, expand_env: bool = False
    ) -> list[str]: ...
    def remove_server(self, name: str) -> Call[None]: ...
    def remove_server_sync(self, name: str) -> None: ...
    def list_servers(self) -> list[ServerConfig]: ...
    def get_server(self, name: str) -> ServerConfig: ...
    def discover_tools(self, server: str) -> Call[list[Tool]]: ...
    def discover_tools_sync(self, server: str) -> list[Tool]: ...
    def execute_tool(
        self,
        server: str,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        max_total: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Call[ToolResult]: ...
    def execute_tool_sync(
        self,
        server: str,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        max_total: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ToolResult: ...
    def session(self, server: str) -> ServerSession: ...
    def quick(
        self,
        command: str | ServerConfig,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Call[ToolResult]: ...
    def quick_sync(
        self,
        command: str | ServerConfig,
        tool: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> ToolResult: ...
    def sandbox(
        self,
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        network: Network | None = None,
        mounts: Sequence[str] | None = None,
        limits: Mapping[str, int] | None = None,
        template: str | None = None,
        files: Mapping[str, bytes | str] | None = None,
    ) -> Sandbox: ...
    def start_gateway(
        self, servers: Sequence[str] | None = None, **options: Any
    ) -> Call[Gateway]: ...
    def start_gateway_sync(
        self, servers: Sequence[str] | None = None, **options: Any
    ) -> Gateway: ...
    def build_template(
        self, name: str, install_commands: Sequence[str], *, base: str | None = None
    ) -> Call[TemplateInfo]: ...
    def build_template_sync(
        self, name: str, install_commands: Sequence[str], *, base: str | None = None
    ) -> TemplateInfo: ...
    def list_templates(self) -> Call[list[TemplateInfo]]: ...
    def list_templates_sync(self) -> list[TemplateInfo]: ...
    def remove_template(self, name: str) -> Call[None]: ...
    def remove_template_sync(self, name: str) -> None: ...
    def prune(self) -> Call[PruneReport]: ...
    def prune_sync(self) -> PruneReport: ...
    def close(self) -> Call[None]: ...
    def close_sync(self) -> None: ...

def start_gateway(
    mcp: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    provider: Provider | None = None,
    api_key: str | None = None,
    home: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Call[Gateway]:
    """A gateway on a corral of its own: the `mcp` servers (`{name: config}`, any accepted
    config form) behind one endpoint, as E2B's `Sandbox.create(mcp={...})`. Closing the
    gateway closes that corral and its servers. `provider`, `api_key`, `home` are `Corral`'s;
    `options` those of `Corral.start_gateway`."""

def start_gateway_sync(
    mcp: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    provider: Provider | None = None,
    api_key: str | None = None,
    home: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Gateway:
    """Like `start_gateway`, blocking."""
