//! One error type for every language: a stable [`ErrorKind`] plus a message and an optional source.

use std::fmt;

/// The stable kinds of failure. Bindings map each kind to one exception class / error code;
/// tests compare kinds, never messages. New kinds may be added (the enum is non-exhaustive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A server configuration (or document of them) is malformed; the message names the field.
    ConfigInvalid,
    /// An argument passed to the API is unusable (for example tool arguments that are not an object).
    InvalidArgument,
    /// No server of that name is configured.
    ServerNotFound,
    /// The server does not offer a tool of that name.
    ToolNotFound,
    /// The sandbox could not be created or used (bubblewrap missing, a mount failed, ...).
    SandboxFailed,
    /// An install command exited non-zero; the message holds its exit code and output tail.
    InstallFailed,
    /// The server process could not be started or did not complete the MCP handshake.
    ServerStartFailed,
    /// The server exited (or was killed) while calls were in flight.
    ServerCrashed,
    /// A call exceeded its timeout.
    Timeout,
    /// The call was cancelled by the caller.
    Cancelled,
    /// The server broke the MCP protocol (for example wrote non-JSON to stdout).
    Protocol,
    /// The server answered a request with a JSON-RPC error.
    McpError,
    /// A remote server refused our credentials (HTTP 401/403).
    Auth,
    /// A remote server could not be reached or the connection broke.
    Transport,
    /// A file or I/O operation failed.
    Io,
    /// The E2B cloud API failed.
    E2bApi,
    /// The object was closed; no further calls are accepted.
    Closed,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        Self::ConfigInvalid,
        Self::InvalidArgument,
        Self::ServerNotFound,
        Self::ToolNotFound,
        Self::SandboxFailed,
        Self::InstallFailed,
        Self::ServerStartFailed,
        Self::ServerCrashed,
        Self::Timeout,
        Self::Cancelled,
        Self::Protocol,
        Self::McpError,
        Self::Auth,
        Self::Transport,
        Self::Io,
        Self::E2bApi,
        Self::Closed,
    ];

    /// The stable string code, e.g. `SERVER_NOT_FOUND`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::ConfigInvalid => "CONFIG_INVALID",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::ServerNotFound => "SERVER_NOT_FOUND",
            Self::ToolNotFound => "TOOL_NOT_FOUND",
            Self::SandboxFailed => "SANDBOX_FAILED",
            Self::InstallFailed => "INSTALL_FAILED",
            Self::ServerStartFailed => "SERVER_START_FAILED",
            Self::ServerCrashed => "SERVER_CRASHED",
            Self::Timeout => "TIMEOUT",
            Self::Cancelled => "CANCELLED",
            Self::Protocol => "PROTOCOL",
            Self::McpError => "MCP_ERROR",
            Self::Auth => "AUTH",
            Self::Transport => "TRANSPORT",
            Self::Io => "IO",
            Self::E2bApi => "E2B_API",
            Self::Closed => "CLOSED",
        }
    }

    /// Parses a stable code back into a kind.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// Whether retrying the same operation may succeed (the server restarts, the network recovers).
    pub const fn is_retryable(self) -> bool {
        matches!(self, Self::ServerCrashed | Self::Timeout | Self::Transport)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The error of every corral operation.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (not stable; do not match on it).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    pub(crate) fn config(path: impl fmt::Display, message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::ConfigInvalid, format!("{path}: {message}"))
    }

    pub(crate) fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{context}: {err}")).with_source(err)
    }

    pub(crate) fn sandbox(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::SandboxFailed, message)
    }

    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::Closed, "corral is closed")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `Result` with corral's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()));
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(ErrorKind::from_code("NOPE"), None);
    }

    #[test]
    fn display_leads_with_the_code() {
        let e = Error::config("servers.fs.env.1BAD", "not a valid variable name");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(
            e.to_string(),
            "CONFIG_INVALID: servers.fs.env.1BAD: not a valid variable name"
        );
    }
}
