//! The one place where core errors become JavaScript errors: every throw and every rejection is
//! an `Error` whose `code` is the core's stable kind (`SERVER_NOT_FOUND`, `TIMEOUT`, ...).

use corral_core::{Error, ErrorKind};
use napi::{Env, JsError};
use napi_derive::napi;

/// The `code` of a thrown error: a stable kind of `corral_core::ErrorKind`.
#[derive(Debug, Clone, Copy)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// What synchronous methods return: their errors are thrown with `code` set.
pub type JsResult<T> = napi::Result<T, Code>;

/// A core error as a napi error carrying its kind as `code`.
pub fn to_js(e: Error) -> napi::Error<Code> {
    napi::Error::new(Code(e.kind().code()), e.to_string())
}

/// An `INVALID_ARGUMENT` error.
pub fn invalid(message: impl std::fmt::Display) -> napi::Error<Code> {
    to_js(Error::new(ErrorKind::InvalidArgument, message.to_string()))
}

/// On the JS thread: the JS `Error` object (with `code`) that a promise is rejected with.
/// napi rejects with this very object, so `code` survives.
pub fn rejection(env: &Env, e: napi::Error<Code>) -> napi::Error {
    let value = JsError::from(e).into_unknown(*env);
    napi::Error::from(value)
}

/// For constructors (which napi lets throw only plain errors): the same `Error` with `code`.
pub fn thrown(env: &Env, e: napi::Error<Code>) -> napi::Error {
    rejection(env, e)
}

/// The stable error codes: `err.code` of every error corral throws or rejects with.
#[napi(string_enum)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum ErrorCode {
    CONFIG_INVALID,
    INVALID_ARGUMENT,
    SERVER_NOT_FOUND,
    TOOL_NOT_FOUND,
    SANDBOX_FAILED,
    INSTALL_FAILED,
    SERVER_START_FAILED,
    SERVER_CRASHED,
    TIMEOUT,
    CANCELLED,
    PROTOCOL,
    MCP_ERROR,
    AUTH,
    TRANSPORT,
    IO,
    E2B_API,
    CLOSED,
}

/// Every stable error code, in the core's order.
#[napi(catch_unwind, ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| k.code()).collect()
}

/// Whether retrying an operation that failed with `code` may succeed (`SERVER_CRASHED`,
/// `TIMEOUT`, `TRANSPORT`).
#[napi(catch_unwind)]
pub fn is_retryable(code: String) -> bool {
    ErrorKind::from_code(&code).is_some_and(ErrorKind::is_retryable)
}
