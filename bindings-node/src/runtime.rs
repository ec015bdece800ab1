//! The one tokio runtime of the addon, and the bridge from core futures to JS Promises.
//!
//! napi drives every `Promise` this addon returns on the multi-threaded runtime made here
//! (handed to it in `module_init`), sized like the other bindings' (one worker per core), so a
//! crashed, timed-out or idle-stopped server never stalls calls to others.
//! Nothing here keeps Node's event loop alive: a pending Promise does, an idle session does
//! not, so a script exits once its last Promise settles (see README, "Lifecycle").

use std::{future::Future, pin::Pin, sync::OnceLock};

use napi::{
    Env,
    bindgen_prelude::{PromiseRaw, ToNapiValue},
};
use tokio::runtime::Handle;

use crate::{errors, types::AbortHook};

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Builds the runtime and hands it to napi. Called once, when the addon is loaded.
/// `CORRAL_NODE_WORKER_THREADS` overrides its worker count (default: one per core).
#[napi_derive::module_init]
fn init() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let workers = std::env::var("CORRAL_NODE_WORKER_THREADS").ok();
    if let Some(n) = workers
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        builder.worker_threads(n);
    }
    match builder.thread_name("corral-node").enable_all().build() {
        Ok(rt) => {
            let _ = HANDLE.set(rt.handle().clone());
            napi::bindgen_prelude::create_custom_tokio_runtime(rt);
        }
        // napi then builds its default runtime on first use; we only lose the tuning.
        Err(e) => eprintln!("corral: cannot build the tokio runtime: {e}"),
    }
}

/// Runs `f` inside the runtime's context (a new `Corral` starts its tasks there).
pub fn enter<T>(f: impl FnOnce() -> T) -> T {
    let _guard = HANDLE.get().map(Handle::enter);
    f()
}

pub type Promise<'env, T> = napi::Result<PromiseRaw<'env, T>>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = corral_core::Result<T>> + Send>>;

/// The one promise helper: runs `fut` on the runtime; the Promise resolves with `map(value)` or
/// rejects with the core error as a JS error (`errors::to_js`). A call's abort listener
/// (`hook`) is removed once it settles.
pub fn run<'env, T, V, F>(
    env: &'env Env,
    hook: Option<AbortHook>,
    fut: F,
    map: impl FnOnce(T) -> V + 'static,
) -> Promise<'env, V>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = corral_core::Result<T>> + Send + 'static,
{
    // Core futures are large state machines: box them once so that napi and tokio move a
    // pointer, not kilobytes, on the JS thread.
    let fut: BoxFuture<T> = Box::pin(fut);
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, r| {
        if let Some(hook) = hook {
            hook.detach(env);
        }
        r.map(map).map_err(|e| errors::to_js(env, &e))
    })
}

/// A future that cannot fail, as one that may.
pub async fn ok<T>(fut: impl Future<Output = T>) -> corral_core::Result<T> {
    Ok(fut.await)
}

/// A `#[napi] impl $ty` of methods that return a Promise, one per entry:
/// `fn name(args) -> V as "TS type" ("TS args")? = future, map;` — `future` (which may use
/// `$h`, the object's core handle, `self.core()`) runs on the runtime and the Promise resolves
/// with `map` of its value ([`run`]). Docs are `#[doc = "…"]` attributes (see `types::class!`).
macro_rules! promises {
    ($ty:ident |$h:ident| { $(
        $(#[doc = $doc:literal])*
        fn $name:ident($($arg:ident: $t:ty),*) -> $v:ty as $ts:literal $(($ats:literal))? = $fut:expr, $map:expr;
    )* }) => {
        #[napi_derive::napi]
        impl $ty { $(
            $(#[doc = $doc])*
            #[napi(catch_unwind, ts_return_type = $ts $(, ts_args_type = $ats)?)]
            pub fn $name<'env>(&self, env: &'env napi::Env $(, $arg: $t)*) -> $crate::runtime::Promise<'env, $v> {
                let $h = self.core();
                $crate::runtime::run(env, None, $fut, $map)
            }
        )* }
    };
}
pub(crate) use promises;

/// `[Symbol.asyncDispose]()` of a class, as its `close()`: `dispose!(Class, "doc")`.
macro_rules! dispose {
    ($ty:ident, $doc:literal) => {
        #[napi_derive::napi]
        impl $ty {
            #[doc = $doc]
            #[napi(
                catch_unwind,
                well_known_symbol = "asyncDispose",
                ts_return_type = "Promise<void>"
            )]
            pub fn async_dispose<'env>(
                &self,
                env: &'env napi::Env,
            ) -> $crate::runtime::Promise<'env, ()> {
                self.close(env)
            }
        }
    };
}
pub(crate) use dispose;
