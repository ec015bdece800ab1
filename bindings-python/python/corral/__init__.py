"""corral: run any MCP server inside a sandbox, and talk MCP to it.

The native core is ``corral._corral`` (Rust); this package re-exports it. Every I/O method of
``Corral``, ``ServerSession``, ``Sandbox`` and ``Gateway`` is async and has a ``_sync`` twin
that blocks (with the GIL released). Errors are subclasses of ``CorralError`` with a stable ``.kind``.
"""

from corral import _corral
from corral._corral import (
    AudioContent,
    Call,
    CancelToken,
    Content,
    Corral,
    EmbeddedResource,
    ExecOutput,
    Gateway,
    ImageContent,
    LogMessage,
    Progress,
    Prompt,
    PromptMessage,
    PromptResult,
    PruneReport,
    Resource,
    ResourceContents,
    ResourceLink,
    Sandbox,
    ServerConfig,
    ServerHealth,
    ServerSession,
    StartEvent,
    TemplateInfo,
    TextContent,
    Tool,
    ToolResult,
    __version__,
    start_gateway,
    start_gateway_sync,
)

# The error classes: `CorralError` and one subclass per kind of the core's table
# (`ErrorKind::ALL`), made by the native module; `__init__.pyi` declares them for type checkers
# (tests/test_stubs.py checks it class by class, bases included).
_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in vars(_corral).values() if isinstance(c, type) and issubclass(c, _corral.CorralError)
)
globals().update({c.__name__: c for c in _ERRORS})

CommandResult = ExecOutput
"""The old name of `ExecOutput`."""

__all__ = [
    "AudioContent",
    "Call",
    "CancelToken",
    "CommandResult",
    "Content",
    "Corral",
    "EmbeddedResource",
    "ExecOutput",
    "Gateway",
    "ImageContent",
    "LogMessage",
    "Progress",
    "Prompt",
    "PromptMessage",
    "PromptResult",
    "PruneReport",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "Sandbox",
    "ServerConfig",
    "ServerHealth",
    "ServerSession",
    "StartEvent",
    "TemplateInfo",
    "TextContent",
    "Tool",
    "ToolResult",
    "__version__",
    "start_gateway",
    "start_gateway_sync",
]
__all__ += sorted(c.__name__ for c in _ERRORS)
