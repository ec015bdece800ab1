//! The one error type: `CorralException` in Kotlin, `CorralError` in Swift.
//!
//! One variant per stable kind of the core, generated from the core's kind table
//! (`corral_core::error_kind_table!`), plus `Internal` for caught panics and kinds this build
//! does not know. Each carries the human-readable `detail` and the config path it concerns
//! (`field`, e.g. `servers.fs.env.1BAD`). Match on the variant or on `kind()` / `code()`,
//! never on the detail.

use corral_core::ErrorKind as CoreKind;

macro_rules! ffi_errors {
    ($( #[doc = $doc:literal] $variant:ident = $code:literal, retryable: $retry:literal; )+) => {
        /// The stable kinds of failure, the same in every language (`code()` gives the string
        /// form, e.g. `SERVER_NOT_FOUND`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum ErrorKind {
            $( #[doc = $doc] $variant, )+
            /// A bug in corral (a panic caught at the FFI boundary) or a kind this binding does
            /// not know yet. Code `INTERNAL`.
            Internal,
        }

        fn core_kind(kind: ErrorKind) -> Option<CoreKind> {
            match kind {
                $( ErrorKind::$variant => Some(CoreKind::$variant), )+
                ErrorKind::Internal => None,
            }
        }

        fn ffi_kind(kind: CoreKind) -> ErrorKind {
            match kind {
                $( CoreKind::$variant => ErrorKind::$variant, )+
                _ => ErrorKind::Internal,
            }
        }

        /// The error of every corral operation. `kind()` (or the variant) is stable; `detail`
        /// is for people and may change; `field` is the config path it concerns, if any.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
        #[uniffi::export(Display)]
        pub enum CorralError {
            $(
                #[doc = $doc]
                #[error("{detail}")]
                $variant { detail: String, field: Option<String> },
            )+
            /// `INTERNAL`: a bug in corral (a caught panic) or a kind this binding does not know.
            #[error("{detail}")]
            Internal { detail: String, field: Option<String> },
        }

        impl CorralError {
            fn parts(&self) -> (ErrorKind, &str, Option<&str>) {
                match self {
                    $( Self::$variant { detail, field } => (ErrorKind::$variant, detail, field.as_deref()), )+
                    Self::Internal { detail, field } => (ErrorKind::Internal, detail, field.as_deref()),
                }
            }

            /// An error of `kind` with a detail and an optional field.
            pub(crate) fn with_field(kind: ErrorKind, detail: impl Into<String>, field: Option<String>) -> Self {
                let detail = detail.into();
                match kind {
                    $( ErrorKind::$variant => Self::$variant { detail, field }, )+
                    ErrorKind::Internal => Self::Internal { detail, field },
                }
            }
        }
    };
}

corral_core::error_kind_table!(ffi_errors);

#[uniffi::export]
impl ErrorKind {
    /// The stable string code, e.g. `SERVER_NOT_FOUND`.
    pub fn code(&self) -> String {
        core_kind(*self)
            .map_or("INTERNAL", CoreKind::code)
            .to_owned()
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        core_kind(*self).is_some_and(CoreKind::is_retryable)
    }
}

#[uniffi::export]
impl CorralError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.parts().0
    }

    /// The stable string code of the kind, e.g. `SERVER_NOT_FOUND`.
    pub fn code(&self) -> String {
        self.kind().code()
    }

    /// The human-readable detail (not stable; do not match on it).
    pub fn detail(&self) -> String {
        self.parts().1.to_owned()
    }

    /// The config path the error concerns (e.g. `servers.fs.env.1BAD`), if any.
    pub fn field(&self) -> Option<String> {
        self.parts().2.map(str::to_owned)
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

impl CorralError {
    /// An error of `kind` with a detail.
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::with_field(kind, detail, None)
    }

    /// A JSON text argument that does not parse.
    pub(crate) fn bad_json(what: &str, e: &serde_json::Error) -> Self {
        Self::with_field(
            ErrorKind::InvalidArgument,
            format!("{what} is not valid JSON: {e}"),
            Some(what.to_owned()),
        )
    }
}

impl From<corral_core::Error> for CorralError {
    fn from(e: corral_core::Error) -> Self {
        Self::with_field(
            ffi_kind(e.kind()),
            e.message(),
            e.field().map(str::to_owned),
        )
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CorralError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::new(
            ErrorKind::Internal,
            format!("a callback failed: {}", e.reason),
        )
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
            assert_eq!(e.to_string(), "m");
            assert_eq!(e.field(), None);
            assert_eq!(e.is_retryable(), core.is_retryable());
            assert_eq!(CorralError::new(e.kind(), "m"), e);
        }
        assert_eq!(ErrorKind::Internal.code(), "INTERNAL");
    }

    #[test]
    fn the_field_crosses() {
        let e = CorralError::from(
            corral_core::Error::new(CoreKind::ConfigInvalid, "bad")
                .with_field("servers.fs.env.1BAD"),
        );
        assert_eq!(e.field().as_deref(), Some("servers.fs.env.1BAD"));
    }
}
