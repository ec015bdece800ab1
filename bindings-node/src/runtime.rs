//! The one tokio runtime of the addon, and the bridge from core futures to JS Promises.
//!
//! napi drives every `Promise` this addon returns on the runtime made here (handed to it in
//! `module_init`): by default one worker thread owns all sessions, so a call costs one wake-up
//! per direction (JS thread → worker, worker → JS thread through napi's threadsafe function).
//! Nothing here keeps Node's event loop alive: a pending Promise does, an idle session does
//! not, so a script exits once its last Promise settles (see README, "Lifecycle").

use std::{future::Future, mem::ManuallyDrop, ops::Deref, sync::OnceLock};

use napi::{
    Env,
    bindgen_prelude::{PromiseRaw, ToNapiValue},
};
use tokio::runtime::Handle;

use crate::{convert::AbortHook, errors};

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Builds the runtime and hands it to napi. Called once, when the addon is loaded.
/// `CORRAL_NODE_WORKER_THREADS` (default 1) sets its worker count.
#[napi_derive::module_init]
fn init() {
    let workers = std::env::var("CORRAL_NODE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("corral-node")
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => {
            let _ = HANDLE.set(rt.handle().clone());
            napi::bindgen_prelude::create_custom_tokio_runtime(rt);
        }
        // napi then builds its default runtime on first use; we only lose the tuning.
        Err(e) => eprintln!("corral: cannot build the tokio runtime: {e}"),
    }
}

/// Runs `f` inside the runtime's context (dropping core objects may spawn cleanup tasks).
pub fn enter<T>(f: impl FnOnce() -> T) -> T {
    match HANDLE.get() {
        Some(h) => {
            let _guard = h.enter();
            f()
        }
        None => f(),
    }
}

/// Spawns a core future; the Promise resolves with `map(value)` (run on the JS thread) or
/// rejects with an `Error` whose `code` is the core error's kind.
pub fn promise<'env, T, V, F, M>(
    env: &'env Env,
    fut: F,
    map: M,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = corral_core::Result<T>> + Send + 'static,
    M: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    // Core futures are large state machines: box them once so that napi and tokio move a
    // pointer, not kilobytes, on the JS thread.
    let fut = Box::pin(fut);
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, r| match r {
        Ok(v) => map(env, v),
        Err(e) => Err(errors::rejection(env, errors::to_js(e))),
    })
}

/// Like [`promise`], removing the call's abort listener (on the JS thread) once it settles.
pub fn promise_with_hook<'env, T, V, F, M>(
    env: &'env Env,
    fut: F,
    hook: Option<AbortHook>,
    map: M,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = corral_core::Result<T>> + Send + 'static,
    M: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let fut = Box::pin(fut);
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, r| {
        if let Some(hook) = hook {
            hook.detach(env);
        }
        match r {
            Ok(v) => map(env, v),
            Err(e) => Err(errors::rejection(env, errors::to_js(e))),
        }
    })
}

/// A Promise already rejected with `error` (argument errors found before any I/O).
pub fn rejected<'env, V: ToNapiValue>(
    env: &'env Env,
    error: napi::Error<errors::Code>,
) -> napi::Result<PromiseRaw<'env, V>> {
    env.spawn_future_with_callback(async { Ok(()) }, move |env, ()| {
        Err::<V, _>(errors::rejection(env, error))
    })
}

/// A core object owned by a JS object: dropped inside the runtime's context when the JS object
/// is garbage-collected (core destructors kill processes and may spawn cleanup tasks).
pub struct Owned<T>(ManuallyDrop<T>);

impl<T> Owned<T> {
    pub fn new(value: T) -> Self {
        Self(ManuallyDrop::new(value))
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `self.0` is never used again: this is the end of `self`'s life.
        let value = unsafe { ManuallyDrop::take(&mut self.0) };
        // No panic may cross into Node (this runs in a GC finalizer).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            enter(move || drop(value));
        }));
    }
}
