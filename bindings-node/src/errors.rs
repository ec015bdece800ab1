//! The one place where core errors become JavaScript errors: every throw and every rejection is
//! an `Error` whose `message` is the core's message (no code prefix), with `code` (the stable
//! kind, `SERVER_NOT_FOUND`, `TIMEOUT`, ...), `field` (a config path, when there is one) and
//! `retryable` — the core's `{kind, message, field?, retryable}`.

use corral_core::{Error, ErrorKind};
use napi::{Env, JsError, JsValue};
use napi_derive::napi;

/// What the binding's fallible helpers return: a core error, turned into a JS one by [`to_js`].
pub type JsResult<T> = Result<T, Error>;

/// On the JS thread: the JS `Error` for `e`, to throw or to reject a promise with (napi keeps
/// the very object, so `code`, `field` and `retryable` survive).
pub fn to_js(env: &Env, e: &Error) -> napi::Error {
    let error = napi::Error::new(e.kind().code(), e.message().to_owned());
    let value = JsError::from(error).into_unknown(*env);
    if let Ok(mut object) = value.coerce_to_object() {
        let _ = object.set("retryable", e.is_retryable());
        if let Some(field) = e.field() {
            let _ = object.set("field", field);
        }
    }
    napi::Error::from(value)
}

/// `r`, its error thrown as a JS error (for the synchronous methods).
pub fn throw<T>(env: &Env, r: JsResult<T>) -> napi::Result<T> {
    r.map_err(|e| to_js(env, &e))
}

/// An `INVALID_ARGUMENT` error.
pub fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, message.to_string())
}

/// `ErrorCode`, generated from the core's one kind table (`corral_core::error_kind_table!`).
macro_rules! error_code {
    ($( #[doc = $doc:literal] $variant:ident = $code:literal, retryable: $retry:literal; )+) => {
        #[doc = "The stable error codes: `err.code` of every error corral throws or rejects with"]
        #[doc = "(the codes of `corral_core::ErrorKind::ALL`, in its order)."]
        #[napi(string_enum)]
        #[allow(dead_code)] // only its TypeScript declaration is used
        pub enum ErrorCode {
            $( #[doc = $doc] #[napi(value = $code)] $variant, )+
        }
    };
}
corral_core::error_kind_table!(error_code);

/// Every stable error code, in the core's order (`corral_core::ErrorKind::ALL`).
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
