//! The one error type: `CorralException` in Kotlin, `CorralError` in Swift.
//!
//! One variant per stable kind of the core (`ErrorKind`), each carrying the human-readable
//! `detail`. Match on the variant or on `kind()` / `code()`, never on the detail.

use corral_core::ErrorKind as CoreKind;

/// The stable kinds of failure, the same in every language (`code()` gives the string form,
/// e.g. `SERVER_NOT_FOUND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ErrorKind {
    /// A server configuration (or document of them) is malformed; the detail names the field.
    ConfigInvalid,
    /// An argument is unusable (for example tool arguments that are not a JSON object).
    InvalidArgument,
    /// No server of that name is configured.
    ServerNotFound,
    /// The server does not offer a tool of that name (or its filter hides it).
    ToolNotFound,
    /// The sandbox could not be created or used.
    SandboxFailed,
    /// An install command failed (exit code and output tail in the detail).
    InstallFailed,
    /// The server did not start or did not complete the MCP handshake.
    ServerStartFailed,
    /// The server exited or was killed during a call (retryable).
    ServerCrashed,
    /// A call exceeded its timeout (retryable).
    Timeout,
    /// The caller cancelled the call.
    Cancelled,
    /// The server broke MCP (for example wrote non-JSON to stdout).
    Protocol,
    /// The server answered with a JSON-RPC error.
    McpError,
    /// A remote server refused the credentials.
    Auth,
    /// A remote server could not be reached (retryable).
    Transport,
    /// A file or I/O operation failed.
    Io,
    /// The E2B cloud API failed.
    E2bApi,
    /// The `Corral` was closed.
    Closed,
    /// A bug in corral (a panic caught at the FFI boundary) or a kind this binding does not
    /// know yet. Code `INTERNAL`.
    Internal,
}

#[uniffi::export]
impl ErrorKind {
    /// The stable string code, e.g. `SERVER_NOT_FOUND`.
    pub fn code(&self) -> String {
        match core_kind(*self) {
            Some(k) => k.code().to_owned(),
            None => "INTERNAL".to_owned(),
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        core_kind(*self).is_some_and(CoreKind::is_retryable)
    }
}

/// Every kind of this binding, with the core's kind it mirrors.
const KINDS: &[(ErrorKind, CoreKind)] = &[
    (ErrorKind::ConfigInvalid, CoreKind::ConfigInvalid),
    (ErrorKind::InvalidArgument, CoreKind::InvalidArgument),
    (ErrorKind::ServerNotFound, CoreKind::ServerNotFound),
    (ErrorKind::ToolNotFound, CoreKind::ToolNotFound),
    (ErrorKind::SandboxFailed, CoreKind::SandboxFailed),
    (ErrorKind::InstallFailed, CoreKind::InstallFailed),
    (ErrorKind::ServerStartFailed, CoreKind::ServerStartFailed),
    (ErrorKind::ServerCrashed, CoreKind::ServerCrashed),
    (ErrorKind::Timeout, CoreKind::Timeout),
    (ErrorKind::Cancelled, CoreKind::Cancelled),
    (ErrorKind::Protocol, CoreKind::Protocol),
    (ErrorKind::McpError, CoreKind::McpError),
    (ErrorKind::Auth, CoreKind::Auth),
    (ErrorKind::Transport, CoreKind::Transport),
    (ErrorKind::Io, CoreKind::Io),
    (ErrorKind::E2bApi, CoreKind::E2bApi),
    (ErrorKind::Closed, CoreKind::Closed),
];

fn core_kind(kind: ErrorKind) -> Option<CoreKind> {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c)
}

fn ffi_kind(kind: CoreKind) -> ErrorKind {
    KINDS
        .iter()
        .find(|(_, c)| *c == kind)
        .map_or(ErrorKind::Internal, |(k, _)| *k)
}

/// The error of every corral operation. `kind()` (or the variant) is stable; `detail` is for
/// people and may change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum CorralError {
    /// `CONFIG_INVALID`: a config is malformed; the detail names the field.
    #[error("CONFIG_INVALID: {detail}")]
    ConfigInvalid { detail: String },
    /// `INVALID_ARGUMENT`: an API argument is unusable.
    #[error("INVALID_ARGUMENT: {detail}")]
    InvalidArgument { detail: String },
    /// `SERVER_NOT_FOUND`: no server of that name.
    #[error("SERVER_NOT_FOUND: {detail}")]
    ServerNotFound { detail: String },
    /// `TOOL_NOT_FOUND`: the server has no such tool.
    #[error("TOOL_NOT_FOUND: {detail}")]
    ToolNotFound { detail: String },
    /// `SANDBOX_FAILED`: the sandbox could not be created or used.
    #[error("SANDBOX_FAILED: {detail}")]
    SandboxFailed { detail: String },
    /// `INSTALL_FAILED`: an install command failed.
    #[error("INSTALL_FAILED: {detail}")]
    InstallFailed { detail: String },
    /// `SERVER_START_FAILED`: the server did not start or complete the handshake.
    #[error("SERVER_START_FAILED: {detail}")]
    ServerStartFailed { detail: String },
    /// `SERVER_CRASHED`: the server exited during a call (retryable).
    #[error("SERVER_CRASHED: {detail}")]
    ServerCrashed { detail: String },
    /// `TIMEOUT`: a call exceeded its timeout (retryable).
    #[error("TIMEOUT: {detail}")]
    Timeout { detail: String },
    /// `CANCELLED`: the caller cancelled the call.
    #[error("CANCELLED: {detail}")]
    Cancelled { detail: String },
    /// `PROTOCOL`: the server broke MCP.
    #[error("PROTOCOL: {detail}")]
    Protocol { detail: String },
    /// `MCP_ERROR`: the server answered with a JSON-RPC error.
    #[error("MCP_ERROR: {detail}")]
    McpError { detail: String },
    /// `AUTH`: a remote server refused the credentials.
    #[error("AUTH: {detail}")]
    Auth { detail: String },
    /// `TRANSPORT`: a remote server could not be reached (retryable).
    #[error("TRANSPORT: {detail}")]
    Transport { detail: String },
    /// `IO`: a file operation failed.
    #[error("IO: {detail}")]
    Io { detail: String },
    /// `E2B_API`: the E2B cloud API failed.
    #[error("E2B_API: {detail}")]
    E2bApi { detail: String },
    /// `CLOSED`: the `Corral` was closed.
    #[error("CLOSED: {detail}")]
    Closed { detail: String },
    /// `INTERNAL`: a bug in corral (a caught panic) or a kind this binding does not know yet.
    #[error("INTERNAL: {detail}")]
    Internal { detail: String },
}

#[uniffi::export]
impl CorralError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ConfigInvalid { .. } => ErrorKind::ConfigInvalid,
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Self::ServerNotFound { .. } => ErrorKind::ServerNotFound,
            Self::ToolNotFound { .. } => ErrorKind::ToolNotFound,
            Self::SandboxFailed { .. } => ErrorKind::SandboxFailed,
            Self::InstallFailed { .. } => ErrorKind::InstallFailed,
            Self::ServerStartFailed { .. } => ErrorKind::ServerStartFailed,
            Self::ServerCrashed { .. } => ErrorKind::ServerCrashed,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
            Self::Protocol { .. } => ErrorKind::Protocol,
            Self::McpError { .. } => ErrorKind::McpError,
            Self::Auth { .. } => ErrorKind::Auth,
            Self::Transport { .. } => ErrorKind::Transport,
            Self::Io { .. } => ErrorKind::Io,
            Self::E2bApi { .. } => ErrorKind::E2bApi,
            Self::Closed { .. } => ErrorKind::Closed,
            Self::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The stable string code of the kind, e.g. `SERVER_NOT_FOUND`.
    pub fn code(&self) -> String {
        self.kind().code()
    }

    /// The human-readable detail (not stable; do not match on it).
    pub fn detail(&self) -> String {
        match self {
            Self::ConfigInvalid { detail }
            | Self::InvalidArgument { detail }
            | Self::ServerNotFound { detail }
            | Self::ToolNotFound { detail }
            | Self::SandboxFailed { detail }
            | Self::InstallFailed { detail }
            | Self::ServerStartFailed { detail }
            | Self::ServerCrashed { detail }
            | Self::Timeout { detail }
            | Self::Cancelled { detail }
            | Self::Protocol { detail }
            | Self::McpError { detail }
            | Self::Auth { detail }
            | Self::Transport { detail }
            | Self::Io { detail }
            | Self::E2bApi { detail }
            | Self::Closed { detail }
            | Self::Internal { detail } => detail.clone(),
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

impl CorralError {
    /// An error of `kind` with a detail.
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        match kind {
            ErrorKind::ConfigInvalid => Self::ConfigInvalid { detail },
            ErrorKind::InvalidArgument => Self::InvalidArgument { detail },
            ErrorKind::ServerNotFound => Self::ServerNotFound { detail },
            ErrorKind::ToolNotFound => Self::ToolNotFound { detail },
            ErrorKind::SandboxFailed => Self::SandboxFailed { detail },
            ErrorKind::InstallFailed => Self::InstallFailed { detail },
            ErrorKind::ServerStartFailed => Self::ServerStartFailed { detail },
            ErrorKind::ServerCrashed => Self::ServerCrashed { detail },
            ErrorKind::Timeout => Self::Timeout { detail },
            ErrorKind::Cancelled => Self::Cancelled { detail },
            ErrorKind::Protocol => Self::Protocol { detail },
            ErrorKind::McpError => Self::McpError { detail },
            ErrorKind::Auth => Self::Auth { detail },
            ErrorKind::Transport => Self::Transport { detail },
            ErrorKind::Io => Self::Io { detail },
            ErrorKind::E2bApi => Self::E2bApi { detail },
            ErrorKind::Closed => Self::Closed { detail },
            ErrorKind::Internal => Self::Internal { detail },
        }
    }

    /// A JSON text argument that does not parse.
    pub(crate) fn bad_json(what: &str, e: &serde_json::Error) -> Self {
        Self::InvalidArgument {
            detail: format!("{what} is not valid JSON: {e}"),
        }
    }
}

impl From<corral_core::Error> for CorralError {
    fn from(e: corral_core::Error) -> Self {
        Self::new(ffi_kind(e.kind()), e.message())
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CorralError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal {
            detail: format!("a callback failed: {}", e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_a_variant_with_the_same_code() {
        for core in CoreKind::ALL {
            let e = CorralError::from(corral_core::Error::new(*core, "m"));
            assert_eq!(e.code(), core.code());
            assert_eq!(e.kind().code(), core.code());
            assert_eq!(e.detail(), "m");
            assert_eq!(e.is_retryable(), core.is_retryable());
            assert_eq!(CorralError::new(e.kind(), "m"), e);
        }
        assert_eq!(ErrorKind::Internal.code(), "INTERNAL");
        assert_eq!(KINDS.len(), CoreKind::ALL.len());
    }
}
