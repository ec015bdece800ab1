//! One error type for every language: a stable [`ErrorKind`], a message, the config path it
//! concerns ([`Error::field`], when there is one) and an optional source.
//!
//! The kinds are listed once, in the `error_kinds!` table below; the enum, [`ErrorKind::ALL`],
//! the stable codes, their docs and the retryable defaults all come from it, so the bindings
//! can derive their tables from [`ErrorKind::ALL`], [`ErrorKind::code`] and [`ErrorKind::doc`].

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// Defines [`ErrorKind`] and its tables from one list of
/// `/// doc` `Variant = "CODE", retryable: bool;` lines.
macro_rules! error_kinds {
    ($( #[doc = $doc:literal] $variant:ident = $code:literal, retryable: $retry:literal; )+) => {
        /// The stable kinds of failure. Bindings map each kind to one exception class / error
        /// code; tests compare kinds, never messages. New kinds may be added (the enum is
        /// non-exhaustive).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( #[doc = $doc] $variant, )+
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$( Self::$variant, )+];

            /// The stable string code, e.g. `SERVER_NOT_FOUND`.
            pub const fn code(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }

            /// The one-line description of the kind (its doc comment).
            pub fn doc(self) -> &'static str {
                match self {
                    $( Self::$variant => $doc.trim_start(), )+
                }
            }

            /// Whether retrying the same operation may succeed (the server restarts, the
            /// network recovers). A single error may override it ([`Error::set_retryable`]).
            pub const fn is_retryable(self) -> bool {
                match self {
                    $( Self::$variant => $retry, )+
                }
            }
        }
    };
}

/// The kind table itself, for the bindings that need one item per kind (UniFFI's error enum):
/// `corral_core::error_kind_table!(my_macro)` expands to `my_macro! { /// doc  Variant = "CODE",
/// retryable: bool; … }`, the same input `error_kinds!` gets here.
#[doc(hidden)]
#[macro_export]
macro_rules! error_kind_table {
    ($m:ident) => {
        $m! {
            /// A server configuration (or document of them) is malformed; `field` names the offending field.
            ConfigInvalid = "CONFIG_INVALID", retryable: false;
            /// An argument passed to the API is unusable (for example tool arguments that are not an object).
            InvalidArgument = "INVALID_ARGUMENT", retryable: false;
            /// No server of that name is configured.
            ServerNotFound = "SERVER_NOT_FOUND", retryable: false;
            /// The server does not offer a tool of that name.
            ToolNotFound = "TOOL_NOT_FOUND", retryable: false;
            /// The sandbox could not be created or used (bubblewrap missing, a mount failed, ...).
            SandboxFailed = "SANDBOX_FAILED", retryable: false;
            /// An install command exited non-zero; the message holds its exit code and output tail.
            InstallFailed = "INSTALL_FAILED", retryable: false;
            /// The server process could not be started or did not complete the MCP handshake.
            ServerStartFailed = "SERVER_START_FAILED", retryable: false;
            /// The server exited (or was killed) while calls were in flight.
            ServerCrashed = "SERVER_CRASHED", retryable: true;
            /// A call exceeded its timeout.
            Timeout = "TIMEOUT", retryable: true;
            /// The call was cancelled by the caller.
            Cancelled = "CANCELLED", retryable: false;
            /// The server broke the MCP protocol (for example wrote non-JSON to stdout).
            Protocol = "PROTOCOL", retryable: false;
            /// The server answered a request with a JSON-RPC error.
            McpError = "MCP_ERROR", retryable: false;
            /// A remote server refused our credentials (HTTP 401/403).
            Auth = "AUTH", retryable: false;
            /// A remote server could not be reached or the connection broke.
            Transport = "TRANSPORT", retryable: true;
            /// A file or I/O operation failed.
            Io = "IO", retryable: false;
            /// The E2B cloud API failed.
            E2bApi = "E2B_API", retryable: false;
            /// The object was closed; no further calls are accepted.
            Closed = "CLOSED", retryable: false;
        }
    };
}

error_kind_table!(error_kinds);

impl ErrorKind {
    /// Parses a stable code back into a kind.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind `{code}`")))
    }
}

/// The error of every corral operation.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    field: Option<String>,
    retryable: Option<bool>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
            retryable: None,
            source: None,
        }
    }

    /// A `CONFIG_INVALID` error about `field` (a config path such as `servers.fs.env.1BAD`).
    /// The message starts with the path, so it reads well on its own.
    pub fn config(field: impl fmt::Display, message: impl fmt::Display) -> Self {
        let field = field.to_string();
        Self::new(ErrorKind::ConfigInvalid, format!("{field}: {message}")).with_field(field)
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Sets the config path the error concerns.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Overrides the kind's retryable default for this one error.
    pub fn set_retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// The same kind and field with `context` added to the message; this error becomes the
    /// source of the new one, so the chain is kept.
    pub fn context(self, context: impl fmt::Display) -> Self {
        let message = format!("{} ({context})", self.message);
        Self {
            kind: self.kind,
            message,
            field: self.field.clone(),
            retryable: self.retryable,
            source: Some(Box::new(self)),
        }
    }

    /// The same error with a line added to its message: what to do about it.
    pub fn note(mut self, note: impl fmt::Display) -> Self {
        self.message = format!("{}\n{note}", self.message);
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

    /// The config path the error concerns, e.g. `servers.fs.env.1BAD`, when there is one.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Whether retrying may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable.unwrap_or(self.kind.is_retryable())
    }

    /// The error as data: `{"kind", "message", "field"?, "retryable"}` (its [`Serialize`] form).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.kind.code().into());
        m.insert("message".into(), self.message.clone().into());
        if let Some(f) = &self.field {
            m.insert("field".into(), f.clone().into());
        }
        m.insert("retryable".into(), self.is_retryable().into());
        Value::Object(m)
    }

    /// Prefixes the field (and the message) with `prefix`, for a parser nested in a larger
    /// document: `env.1BAD` under `servers.fs` becomes `servers.fs.env.1BAD`.
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        if let Some(f) = &self.field {
            let joined = if f.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{f}")
            };
            if let Some(rest) = self.message.strip_prefix(f.as_str()) {
                self.message = format!("{joined}{rest}");
            }
            self.field = Some(joined);
        }
        self
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

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
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
    use std::error::Error as _;

    use serde_json::json;

    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()));
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
            assert!(!kind.doc().is_empty() && !kind.doc().starts_with(' '));
            let v = serde_json::to_value(kind).expect("serializes");
            assert_eq!(v, json!(kind.code()));
            assert_eq!(
                serde_json::from_value::<ErrorKind>(v).expect("parses"),
                *kind
            );
        }
        assert_eq!(ErrorKind::from_code("NOPE"), None);
        assert!(ErrorKind::Timeout.is_retryable() && !ErrorKind::ConfigInvalid.is_retryable());
    }

    #[test]
    fn config_errors_carry_their_field() {
        let e = Error::config("env.1BAD", "not a valid variable name").under("servers.fs");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(e.field(), Some("servers.fs.env.1BAD"));
        assert_eq!(
            e.to_value(),
            json!({"kind": "CONFIG_INVALID", "message": e.message(),
                   "field": "servers.fs.env.1BAD", "retryable": false})
        );
        assert!(e.to_string().starts_with("CONFIG_INVALID: "));
    }

    #[test]
    fn context_keeps_kind_field_and_source() {
        let inner = Error::new(ErrorKind::ServerCrashed, "it died").with_field("servers.fx");
        let outer = inner.context("exit code 3");
        assert_eq!(outer.kind(), ErrorKind::ServerCrashed);
        assert_eq!(outer.field(), Some("servers.fx"));
        assert!(outer.is_retryable());
        let source = outer.source().expect("chained");
        assert!(source.downcast_ref::<Error>().is_some());
        assert!(!outer.set_retryable(false).is_retryable());
    }
}
