//! # corral-ffi
//!
//! corral for Kotlin (JVM) and Swift, through [UniFFI](https://mozilla.github.io/uniffi-rs/)
//! proc-macros. Every export is a thin shim over `corral-core`: it converts types and hands
//! async work to one shared tokio runtime (see `runtime`). The generated Kotlin lives in the
//! package set in `uniffi.toml`; the Swift module is `Corral`.
//!
//! JSON values (tool arguments, schemas, structured content) cross as JSON text: UniFFI has no
//! JSON type. Everything else is typed.

mod errors;
mod gateway;
mod runner;
mod runtime;
mod sandbox;
mod session;
mod types;

pub use self::{
    errors::{CorralError, ErrorKind},
    gateway::{Gateway, GatewayOptions, ServerHealth, ServerState, gateway_options_from_json},
    runner::{Corral, LogListener, ProgressListener, StartListener, ToolCall},
    sandbox::Sandbox,
    session::ServerSession,
    types::*,
};

uniffi::setup_scaffolding!("corral");
