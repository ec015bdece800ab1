//! `corral._corral`: the native module under the hand-written `corral` package.
//!
//! Every class is a thin shim over `corral-core`; the files follow the binding layout shared
//! by every language: `runner.rs` (`Corral`), `session.rs` (`ServerSession`), `sandbox.rs`
//! (`Sandbox`), `gateway.rs` (`Gateway`), `types.rs` (results and configs), `convert.rs` (JSON ⇄ Python objects),
//! `errors.rs` (one exception class per error kind) and `runtime.rs` (the one tokio runtime,
//! awaitables for asyncio, blocking calls without the GIL, the exit drain).

mod convert;
mod errors;
mod gateway;
mod runner;
mod runtime;
mod sandbox;
mod session;
mod types;

use pyo3::prelude::*;

#[pymodule]
fn _corral(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<runner::PyCorral>()?;
    m.add_class::<session::PyServerSession>()?;
    m.add_class::<sandbox::PySandbox>()?;
    m.add_class::<gateway::PyGateway>()?;
    m.add_class::<runtime::Call>()?;
    m.add_class::<runtime::Bridge>()?;
    m.add_class::<runtime::CancelToken>()?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::start_gateway, m)?)?;
    m.add_function(wrap_pyfunction!(gateway::start_gateway_sync, m)?)?;
    types::register(m)?;
    errors::register(m)?;
    runtime::register(m)?;
    Ok(())
}

/// Runs the `corral` command line with `argv` (program name first) without the GIL, and
/// returns its exit code. The package's `corral` console script calls it.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| corral_cli::main_with_args(argv.into_iter().map(Into::into).collect()))
}
