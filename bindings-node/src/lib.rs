//! corral for Node.js: an N-API addon (napi-rs) over `corral-core`.
//!
//! Every method is a thin shim over the core; every I/O method returns a Promise that runs on
//! the addon's tokio runtime. Errors carry the core's stable kind in `code`, plus `field`
//! and `retryable` (`errors.rs`); plain values are the core's canonical serde JSON (`types.rs`).
//! The generated `index.d.ts` next to this crate is the TypeScript API.

// Under `cargo test` napi does not register exports, so exported-only items look unused.
#![cfg_attr(test, allow(dead_code))]

mod errors;
mod gateway;
mod runner;
mod runtime;
mod sandbox;
mod session;
mod types;

/// Runs the `corral` command line with `argv` (program name first) and returns its exit code.
/// Used by the package's `bin` entry (`bindings-node/cli.js`); it blocks, as a CLI does.
#[napi_derive::napi]
pub fn cli_main(argv: Vec<String>) -> i32 {
    corral_cli::main_with_args(argv.into_iter().map(Into::into).collect())
}
