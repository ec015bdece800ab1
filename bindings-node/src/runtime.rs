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
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError},
};

use futures::FutureExt;
use napi::{
    Env, JsError,
    bindgen_prelude::{PromiseRaw, ToNapiValue},
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
/// (`hook`) is removed once it settles. Calls settle through this thread's [`Bridge`].
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
    let Some(handle) = HANDLE.get() else {
        // No runtime of ours (it could not be built): napi's own promise bridge.
        return env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, r| {
            settle(env, hook, r, map)
        });
    };
    let bridge = Bridge::of(env)?;
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: on the JS thread of `env` (napi calls this method there).
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    bridge.pending_inc(env);
    let (shared, deferred) = (bridge.shared.clone(), Deferred(deferred));
    handle.spawn(async move {
        let outcome = AssertUnwindSafe(fut).catch_unwind().await;
        let finish: Finish = Box::new(move |env| {
            let result = outcome.unwrap_or_else(|_| {
                Err(corral_core::Error::new(
                    corral_core::ErrorKind::Io,
                    "corral panicked (a bug, please report it)",
                ))
            });
            settle(env, hook, result, map)
                // SAFETY: on the JS thread of `env` (the bridge runs `finish` there).
                .and_then(|v| unsafe { ToNapiValue::to_napi_value(env.raw(), v) })
        });
        shared.push(Settle { deferred, finish });
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// On the JS thread, once a call finished: detaches its abort listener and maps its outcome.
fn settle<T, V>(
    env: &Env,
    hook: Option<AbortHook>,
    result: corral_core::Result<T>,
    map: impl FnOnce(T) -> V,
) -> napi::Result<V> {
    if let Some(hook) = hook {
        hook.detach(env);
    }
    result.map(map).map_err(|e| errors::to_js(env, &e))
}

// ---------------------------------------------------------------------------------------------
// The bridge: finished calls reach the JS thread through one threadsafe function per thread.
//
// napi's own `spawn_future_with_callback` makes a threadsafe function (a libuv handle, opened
// and closed) and an env cleanup hook for every Promise. Here each JS thread has one, made on
// first use: a finished call is queued and the JS thread is woken only when the queue was empty,
// so one wake-up settles every call that finished meanwhile (the Python binding's bridge, the
// same way). The function is referenced (keeps the event loop alive) exactly while a Promise of
// this thread is pending.

type Finish = Box<dyn FnOnce(&Env) -> napi::Result<sys::napi_value> + Send>;

/// A finished call: its promise's deferred and how to make its value on the JS thread.
struct Settle {
    deferred: Deferred,
    finish: Finish,
}

struct Deferred(sys::napi_deferred);
// SAFETY: the deferred is only moved through other threads; it is used on its JS thread only.
unsafe impl Send for Deferred {}

/// What the runtime threads share with one JS thread.
struct Shared {
    tsfn: Tsfn,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    items: Vec<Settle>,
    /// The env is gone (its cleanup hook ran): the threadsafe function must not be called.
    closed: bool,
}

struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: a threadsafe function is made to be called from any thread; it is only called while
// the queue says it is open (under the queue's lock, which the env's cleanup hook takes).
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // A panic cannot happen while the lock is held (pushes and takes only); recover anyway.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Queues a finished call, waking the JS thread when the queue was empty (the JS thread
    /// takes the whole queue under the same lock, so no wake-up is lost).
    fn push(&self, item: Settle) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            // Its env is gone: nothing may touch its values any more, not even to free them.
            std::mem::forget(item);
            return;
        }
        queue.items.push(item);
        if queue.items.len() == 1 {
            // SAFETY: open (checked under the lock that the cleanup hook takes).
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

/// One JS thread's side of the bridge.
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
        let raw = env.raw();
        let mut name = ptr::null_mut();
        let mut tsfn = ptr::null_mut();
        let shared = Arc::new(Shared {
            tsfn: Tsfn(ptr::null_mut()),
            queue: Mutex::new(Queue::default()),
        });
        let context = Arc::into_raw(shared.clone()).cast_mut().cast::<c_void>();
        // SAFETY: on the JS thread of `env`; `context` is an `Arc` released by `finalize`.
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
                context,
                Some(finalize),
                context,
                Some(drain),
                &mut tsfn,
            ))?;
            // Idle: the event loop may exit until a Promise is pending.
            sys::napi_unref_threadsafe_function(raw, tsfn);
        }
        // SAFETY: `shared` has not been shared with another thread yet (`context` only
        // reaches `drain` and `finalize`, which run later on this thread).
        let shared = unsafe {
            let ptr = Arc::into_raw(shared).cast_mut();
            (*ptr).tsfn = Tsfn(tsfn);
            Arc::from_raw(ptr)
        };
        // Registered after the threadsafe function: cleanup hooks run in reverse order, so this
        // one closes the queue before Node finalizes the function.
        let hook = Arc::into_raw(shared.clone()).cast_mut().cast::<c_void>();
        // SAFETY: on the JS thread; `hook` is an `Arc` released by `close`.
        check_status!(unsafe { sys::napi_add_env_cleanup_hook(raw, Some(close), hook) })?;
        let bridge = Rc::new(Self {
            shared,
            pending: Cell::new(0),
        });
        BRIDGE.set(Some(bridge.clone()));
        Ok(bridge)
    }

    fn pending_inc(&self, env: &Env) {
        let n = self.pending.get();
        self.pending.set(n + 1);
        if n == 0 {
            // SAFETY: on the JS thread of `env`, the thread of the function.
            unsafe { sys::napi_ref_threadsafe_function(env.raw(), self.shared.tsfn.0) };
        }
    }

    fn pending_sub(&self, env: sys::napi_env, settled: usize) {
        let n = self.pending.get().saturating_sub(settled);
        self.pending.set(n);
        if n == 0 {
            // SAFETY: as in `pending_inc`.
            unsafe { sys::napi_unref_threadsafe_function(env, self.shared.tsfn.0) };
        }
    }
}

/// The threadsafe function's callback, on the JS thread: settles every queued call.
unsafe extern "C" fn drain(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the function is being torn down with its env
    }
    // SAFETY: `context` is the `Arc<Shared>` given at creation, alive until `finalize`.
    let shared = unsafe { &*context.cast::<Shared>() };
    let items = std::mem::take(&mut lock(&shared.queue).items);
    let settled = items.len();
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let js = Env::from_raw(env);
        for Settle { deferred, finish } in items {
            let mut scope = ptr::null_mut();
            // SAFETY: on the JS thread, inside the callback scope Node opened for us.
            unsafe {
                sys::napi_open_handle_scope(env, &mut scope);
                match finish(&js) {
                    Ok(value) => sys::napi_resolve_deferred(env, deferred.0, value),
                    Err(e) => {
                        sys::napi_reject_deferred(env, deferred.0, JsError::from(e).into_value(env))
                    }
                };
                sys::napi_close_handle_scope(env, scope);
            }
        }
    }));
    if let Some(bridge) = BRIDGE.with_borrow(Clone::clone) {
        bridge.pending_sub(env, settled);
    }
}

/// The threadsafe function's finalizer: releases its `Arc<Shared>`.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Arc` given at creation, released once, here.
    drop(unsafe { Arc::from_raw(data.cast::<Shared>().cast_const()) });
}

/// The env's cleanup hook (the thread's env goes away): no call may reach it any more.
unsafe extern "C" fn close(arg: *mut c_void) {
    // SAFETY: `arg` is the `Arc` given at registration, released once, here.
    let shared = unsafe { Arc::from_raw(arg.cast::<Shared>().cast_const()) };
    let mut queue = lock(&shared.queue);
    queue.closed = true;
    std::mem::forget(std::mem::take(&mut queue.items));
    drop(queue);
    let _ = BRIDGE.try_with(|b| std::mem::forget(b.take()));
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
