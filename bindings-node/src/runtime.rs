//! The one tokio runtime of the addon, and the bridge from core futures to JS Promises.
//!
//! napi drives every `Promise` this addon returns on the multi-threaded runtime made here
//! (handed to it in `module_init`), sized like the other bindings' (one worker per core), so a
//! crashed, timed-out or idle-stopped server never stalls calls to others.
//! Nothing here keeps Node's event loop alive: a pending Promise does, an idle session does
//! not, so a script exits once its last Promise settles (see README, "Lifecycle").

use std::{
    cell::{Cell, RefCell},
    ffi::c_void,
    future::Future,
    panic::AssertUnwindSafe,
    ptr,
    rc::Rc,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};

use corral_core::{Error, ErrorKind, sync::lock};
use futures::FutureExt;
use napi::{
    Env, JsError,
    bindgen_prelude::{PromiseRaw, ToNapiValue, spawn},
    check_status, sys,
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

/// The one promise helper: runs `fut` on the runtime; the Promise resolves with `map(value)` or
/// rejects with the core error as a JS error (`errors::to_js`). A call's abort listener
/// (`hook`) is removed once it settles.
///
/// napi's own `spawn_future_with_callback` makes a threadsafe function (a libuv handle, opened
/// and closed) and an env cleanup hook for every Promise. Here each JS thread has one
/// threadsafe function, made on first use ([`Bridge`]): a finished call is queued, and the JS
/// thread is woken only when the queue was empty, so one wake-up settles every call that
/// finished meanwhile (as in the Python binding). It keeps the event loop alive exactly while
/// a Promise of its thread is pending.
pub fn run<'env, T, V, F>(
    env: &'env Env,
    hook: Option<AbortHook>,
    fut: F,
    map: impl FnOnce(T) -> V + Send + 'static,
) -> Promise<'env, V>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = corral_core::Result<T>> + Send + 'static,
{
    let bridge = Bridge::of(env)?;
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: on the JS thread of `env` (napi calls this method there).
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    bridge.pending(env, 1);
    let (shared, deferred) = (bridge.shared.clone(), Deferred(deferred));
    // Core futures are large state machines: boxed once, so that what tokio moves (and
    // `catch_unwind` wraps) is a pointer, not kilobytes (memcpy was 58k instructions per call).
    let fut = Box::pin(fut);
    spawn(async move {
        let outcome = AssertUnwindSafe(fut).catch_unwind().await;
        let finish: Finish = Box::new(move |env| {
            if let Some(hook) = hook {
                hook.detach(env);
            }
            match outcome.unwrap_or_else(|_| Err(panicked())) {
                // SAFETY: on the JS thread of `env` (the bridge runs `finish` there).
                Ok(value) => unsafe { ToNapiValue::to_napi_value(env.raw(), map(value)) },
                Err(e) => Err(errors::to_js(env, &e)),
            }
        });
        shared.push(Settle { deferred, finish });
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// The error of a call whose Rust side panicked (a bug), with its `code` like any other.
fn panicked() -> Error {
    Error::new(ErrorKind::Io, "corral panicked (a bug, please report it)")
}

/// Makes a settled call's value (or error) on the JS thread.
type Finish = Box<dyn FnOnce(&Env) -> napi::Result<sys::napi_value> + Send>;

/// A finished call: its promise's deferred and how to make its value.
struct Settle {
    deferred: Deferred,
    finish: Finish,
}

struct Deferred(sys::napi_deferred);
// SAFETY: only moved through the runtime's threads; used on its JS thread only.
unsafe impl Send for Deferred {}

/// What the runtime threads share with one JS thread: its threadsafe function and the queue.
struct Shared {
    tsfn: Tsfn,
    /// The finished calls, and whether the env is gone (its cleanup hook ran: the function
    /// must not be called, nothing of the env touched).
    queue: Mutex<(Vec<Settle>, bool)>,
}

struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: a threadsafe function is made to be called from any thread; it is only called while
// the queue is open, under the queue's lock, which the env's cleanup hook takes to close it.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, (Vec<Settle>, bool)> {
        lock(&self.queue)
    }

    /// Queues a finished call, waking the JS thread when the queue was empty (the JS thread
    /// takes the whole queue under the same lock, so no wake-up is lost).
    fn push(&self, item: Settle) {
        let mut queue = self.queue();
        let (items, closed) = &mut *queue;
        if *closed {
            return std::mem::forget(item);
        }
        items.push(item);
        if items.len() == 1 {
            // SAFETY: open (see `Tsfn`).
            unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// One JS thread's side: its [`Shared`] and how many of its Promises are pending.
struct Bridge {
    shared: Arc<Shared>,
    pending: Cell<usize>,
}

thread_local! {
    static BRIDGE: RefCell<Option<Rc<Bridge>>> = const { RefCell::new(None) };
}

impl Bridge {
    /// This JS thread's bridge, made on first use.
    fn of(env: &Env) -> napi::Result<Rc<Self>> {
        if let Some(bridge) = BRIDGE.with_borrow(Clone::clone) {
            return Ok(bridge);
        }
        let (raw, mut name, mut tsfn) = (env.raw(), ptr::null_mut(), ptr::null_mut());
        // SAFETY: on the JS thread of `env`. The cleanup hook is added after the function:
        // hooks run in reverse order, so it closes the queue before Node finalizes the function.
        unsafe {
            check_status!(sys::napi_create_string_utf8(
                raw,
                c"corral".as_ptr(),
                6,
                &mut name
            ))?;
            check_status!(sys::napi_create_threadsafe_function(
                raw,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                Some(drain),
                &mut tsfn,
            ))?;
            check_status!(sys::napi_unref_threadsafe_function(raw, tsfn))?;
            check_status!(sys::napi_add_env_cleanup_hook(
                raw,
                Some(close),
                ptr::null_mut()
            ))?;
        }
        let bridge = Rc::new(Self {
            shared: Arc::new(Shared {
                tsfn: Tsfn(tsfn),
                queue: Mutex::default(),
            }),
            pending: Cell::new(0),
        });
        BRIDGE.set(Some(bridge.clone()));
        Ok(bridge)
    }

    /// Counts Promises made (`+1`) or settled (`-n`); the function is referenced while any is
    /// pending.
    fn pending(&self, env: &Env, delta: isize) {
        let before = self.pending.get();
        let after = before.saturating_add_signed(delta);
        self.pending.set(after);
        // SAFETY: on the JS thread of `env`, the function's.
        unsafe {
            match (before, after) {
                (0, 1..) => sys::napi_ref_threadsafe_function(env.raw(), self.shared.tsfn.0),
                (1.., 0) => sys::napi_unref_threadsafe_function(env.raw(), self.shared.tsfn.0),
                _ => sys::Status::napi_ok,
            }
        };
    }
}

/// The threadsafe function's callback, on the JS thread: settles every queued call.
unsafe extern "C" fn drain(env: sys::napi_env, _: sys::napi_value, _: *mut c_void, _: *mut c_void) {
    let Some(bridge) = BRIDGE.with_borrow(Clone::clone).filter(|_| !env.is_null()) else {
        return; // torn down with its env
    };
    let items = std::mem::take(&mut bridge.shared.queue().0);
    let js = Env::from_raw(env);
    bridge.pending(&js, -(items.len() as isize));
    for Settle { deferred, finish } in items {
        let mut scope = ptr::null_mut();
        // SAFETY: on the JS thread, inside the callback scope Node opened for us.
        unsafe { sys::napi_open_handle_scope(env, &mut scope) };
        // A panic making one value rejects that Promise only; the others still settle.
        let settled = std::panic::catch_unwind(AssertUnwindSafe(|| finish(&js)))
            .unwrap_or_else(|_| Err(errors::to_js(&js, &panicked())));
        // SAFETY: as above; `deferred` is this thread's, settled once.
        unsafe {
            match settled {
                Ok(value) => sys::napi_resolve_deferred(env, deferred.0, value),
                Err(e) => {
                    sys::napi_reject_deferred(env, deferred.0, JsError::from(e).into_value(env))
                }
            };
            sys::napi_close_handle_scope(env, scope);
        }
    }
}

/// The env's cleanup hook (its thread's env goes away): no call may reach it any more.
unsafe extern "C" fn close(_: *mut c_void) {
    if let Some(bridge) = BRIDGE.try_with(RefCell::take).ok().flatten() {
        let mut queue = bridge.shared.queue();
        queue.1 = true;
        std::mem::forget(std::mem::take(&mut queue.0));
    }
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
