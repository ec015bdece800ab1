//! The one tokio runtime every export runs on.
//!
//! UniFFI polls an exported `async fn` from the foreign side (a Kotlin coroutine, a Swift task),
//! outside any tokio context, and corral's core needs tokio (processes, sockets, timers). So
//! every async export hands its body to this shared multi-thread runtime with [`run`] (or
//! [`run_detached`]) and awaits the result: the foreign side only ever waits on a join handle.
//!
//! Panics never cross the FFI boundary: a panicking task is caught by tokio and becomes a
//! `CorralError::Internal`; synchronous exports are wrapped by UniFFI's own `catch_unwind`.

use std::{future::Future, sync::LazyLock};

use tokio::{
    runtime::{EnterGuard, Runtime},
    task::{AbortHandle, JoinError},
};

use crate::errors::{CorralError, ErrorKind};

static RUNTIME: LazyLock<Result<Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("corral-ffi")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start corral's tokio runtime: {e}"))
});

fn runtime() -> Result<&'static Runtime, CorralError> {
    RUNTIME
        .as_ref()
        .map_err(|e| CorralError::new(ErrorKind::Io, e.clone()))
}

/// Enters the runtime's context on this thread (for code that must construct or drop core
/// objects outside an async export). `None` only if the runtime could not be built.
pub(crate) fn enter() -> Option<EnterGuard<'static>> {
    runtime().ok().map(Runtime::enter)
}

/// Runs `fut` on the runtime and waits for it. If the caller stops waiting (the coroutine or
/// task is cancelled, so UniFFI drops this future), the work is aborted.
pub(crate) async fn run<T, F>(fut: F) -> Result<T, CorralError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, CorralError>> + Send + 'static,
{
    let handle = runtime()?.spawn(fut);
    let _abort = AbortOnDrop(handle.abort_handle());
    handle.await.map_err(joined)?
}

/// Like [`run`], but the work runs to its end even if the caller stops waiting (for `close`,
/// which must not stop halfway).
pub(crate) async fn run_detached<T, F>(fut: F) -> Result<T, CorralError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, CorralError>> + Send + 'static,
{
    runtime()?.spawn(fut).await.map_err(joined)?
}

/// Starts `fut` on the runtime without waiting for it.
pub(crate) fn spawn<F>(fut: F) -> Result<(), CorralError>
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime()?.spawn(fut);
    Ok(())
}

/// Aborts a spawned task when dropped (a no-op once it finished).
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn joined(e: JoinError) -> CorralError {
    if e.is_cancelled() {
        CorralError::new(ErrorKind::Cancelled, "the operation was cancelled")
    } else {
        CorralError::new(
            ErrorKind::Internal,
            format!("corral panicked (a bug, please report it): {e}"),
        )
    }
}
