//! The one tokio runtime of the binding and the two ways Python waits on it.
//!
//! * Async: every `async` method returns a [`Call`], a lazy coroutine. When asyncio first
//!   steps it, it creates an asyncio future on the running loop, spawns the Rust work on the
//!   runtime and yields that future. The runtime threads never take the GIL: a finished call
//!   is queued on the loop's [`Bridge`] and one byte written to a socket the loop watches
//!   (`add_reader`); the loop thread then converts the result and resolves the future. Progress
//!   callbacks travel the same queue, so they run on the loop thread too. Cancelling the
//!   awaiting task cancels a [`CancellationToken`] that the Rust work (and the core's
//!   `CallOptions::cancel`) selects on.
//! * Sync: `*_sync` methods run the same work with [`block_on`] on the calling thread with
//!   the GIL released. Progress callbacks run on the calling thread; Ctrl-C (a pending
//!   `KeyboardInterrupt`) cancels the call.
//!
//! The runtime is rebuilt in the child after `fork()` (the parent's worker threads do not
//! exist there). At interpreter exit an `atexit` hook stops runtime threads from entering
//! Python and waits for those inside (see toolchain.md, gotcha 1).

use std::{
    future::Future,
    io::{Read, Write},
    os::{fd::AsRawFd, unix::net::UnixStream},
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc, Mutex, Once, OnceLock,
        atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
    },
    thread::ThreadId,
    time::{Duration, Instant},
};

use corral_core::sync::lock;
use futures::FutureExt;
use pyo3::{IntoPyObjectExt, PyTraverseError, PyVisit, intern, prelude::*, sync::PyOnceLock};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::errors;

/// Converts a finished call's outcome into a Python object; runs on the waiting thread.
pub type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;
/// Work to run on the waiting Python thread (progress callbacks).
pub type Callback = Box<dyn FnOnce(Python<'_>) + Send>;
/// The Rust side of one call, ready to be spawned or blocked on.
pub type Job = Box<dyn FnOnce(Ctx) -> Pin<Box<dyn Future<Output = Deliver> + Send>> + Send>;

/// What the Rust side of a call gets: its cancellation and a way to reach the waiting thread.
#[derive(Clone)]
pub struct Ctx {
    /// Cancelled when the awaiting asyncio task is cancelled (or Ctrl-C hits a sync call).
    pub cancel: CancellationToken,
    post: Post,
}

#[derive(Clone)]
enum Post {
    Loop(Arc<BridgeInner>),
    Caller(tokio::sync::mpsc::UnboundedSender<Callback>),
}

impl Ctx {
    /// Runs `callback` on the thread waiting for this call (the event loop, or the caller of a
    /// `_sync` method), with the GIL.
    pub fn post(&self, callback: Callback) {
        match &self.post {
            Post::Loop(bridge) => bridge.push(Item::Run(callback)),
            Post::Caller(tx) => {
                let _ = tx.send(callback);
            }
        }
    }
}

/// Builds a [`Job`] from an async closure returning a core result.
pub fn job<F, Fut, T>(f: F) -> Job
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = corral_core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    Box::new(move |ctx| Box::pin(f(ctx).map(deliver)))
}

/// A [`job`] over `handle` (a core object, or the error of getting it) and the call's context.
pub fn with<H, F, Fut, T>(handle: PyResult<H>, f: F) -> PyResult<Job>
where
    H: Send + 'static,
    F: FnOnce(H, Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = corral_core::Result<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let handle = handle?;
    Ok(job(move |ctx| f(handle, ctx)))
}

/// Turns a core result into a [`Deliver`].
pub fn deliver<T>(result: corral_core::Result<T>) -> Deliver
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    Box::new(move |py| match result {
        // A call with no result (`()`, which pyo3 makes an empty tuple) returns `None`.
        Ok(value) if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() => {
            drop(value);
            Ok(py.None())
        }
        Ok(value) => value.into_py_any(py),
        Err(e) => Err(errors::to_py(py, e)),
    })
}

// ---------------------------------------------------------------------------------------------
// The runtime

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// This process's id without a system call per use (glibc does not cache `getpid`, and a call
/// asked for it several times: 15 % of the loop thread's busy time in a py-spy profile): read
/// once, and again in the child of every `fork()` (a `pthread_atfork` child handler).
fn pid() -> u32 {
    static PID: AtomicU32 = AtomicU32::new(0);
    static HOOK: Once = Once::new();
    extern "C" fn in_child() {
        PID.store(std::process::id(), Ordering::Relaxed);
    }
    HOOK.call_once(|| {
        // SAFETY: registers a handler that only stores an integer (async-signal-safe).
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// The shared multi-thread runtime of this process, built on first use and again in the child
/// of a `fork()`.
pub fn runtime() -> PyResult<&'static Runtime> {
    let pid = pid();
    let mut slot = lock(&RUNTIME);
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    // A new process. The parent's runtime (if any) is leaked on purpose: its worker threads
    // do not exist here, so dropping it could only hang.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("corral-runtime")
        .build()
        .map_err(|e| errors::internal(format!("cannot start corral's runtime: {e}")))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// A core handle that belongs to the process that made it. In the child of a `fork()` it
/// refuses use (its sessions and tasks lived in the parent) and is never dropped there
/// (dropping would kill the parent's servers).
pub struct Owned<T> {
    value: Option<T>,
    pid: u32,
}

impl<T> Owned<T> {
    pub fn new(value: T) -> Self {
        Self {
            value: Some(value),
            pid: pid(),
        }
    }

    pub fn get(&self) -> PyResult<&T> {
        match &self.value {
            Some(v) if self.pid == pid() => Ok(v),
            _ => Err(errors::closed(
                "this object was created in another process (before fork()); create a new Corral in this process",
            )),
        }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        let Some(value) = self.value.take() else {
            return;
        };
        if self.pid != pid() {
            std::mem::forget(value);
            return;
        }
        // Drops may kill processes and touch tokio primitives: give them the runtime context
        // (if this process has one; never build one just to drop).
        let rt = *lock(&RUNTIME);
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| match rt {
            Some((owner, rt)) if owner == pid() => {
                let _guard = rt.enter();
                drop(value);
            }
            _ => drop(value),
        }));
    }
}

// ---------------------------------------------------------------------------------------------
// Runtime threads and the interpreter's exit

static FINALIZING: AtomicBool = AtomicBool::new(false);
static ATTACHED: AtomicUsize = AtomicUsize::new(0);
/// The thread that runs the `atexit` hooks (and then finalizes the interpreter).
static EXIT_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Whether this thread may still enter Python: always, until the interpreter starts exiting;
/// then only the exiting thread itself (other `atexit` hooks may still call corral).
fn may_enter_python() -> bool {
    !FINALIZING.load(Ordering::SeqCst) || EXIT_THREAD.get() == Some(&std::thread::current().id())
}

/// Runs `f` with the GIL from a thread that is not waiting in Python for it (a runtime
/// thread, or a `_sync` caller with the GIL released), unless the interpreter is exiting. The
/// `atexit` hook waits for every such `f` to return.
pub fn with_python(f: impl FnOnce(Python<'_>)) {
    ATTACHED.fetch_add(1, Ordering::SeqCst);
    if may_enter_python() {
        let _ = Python::try_attach(f);
    }
    ATTACHED.fetch_sub(1, Ordering::SeqCst);
}

/// `atexit` hook: from now on no other thread enters Python through corral; wait (without the
/// GIL) for those inside to leave, so none is cut off mid-call when the interpreter finalizes.
#[pyfunction]
fn _drain_at_exit(py: Python<'_>) {
    let _ = EXIT_THREAD.set(std::thread::current().id());
    FINALIZING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_secs(2);
        while ATTACHED.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_drain_at_exit, m)?;
    m.add_function(hook.clone())?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// Wraps the work: a panic becomes a `RuntimeError`, a cancelled token a `CANCELLED` error.
async fn guarded(
    work: Pin<Box<dyn Future<Output = Deliver> + Send>>,
    cancel: CancellationToken,
) -> Deliver {
    tokio::select! {
        biased;
        outcome = AssertUnwindSafe(work).catch_unwind() => outcome.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Box::new(move |_py| Err(errors::internal(format!("corral internal error: {what}"))))
        }),
        () = cancel.cancelled() => deliver::<()>(Err(corral_core::Error::new(
            corral_core::ErrorKind::Cancelled,
            "the call was cancelled",
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Sync: block the calling thread without the GIL

/// How often a blocked `_sync` call looks for a pending `KeyboardInterrupt`.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `job` to completion on the calling thread with the GIL released.
pub fn block_on(py: Python<'_>, job: Job) -> PyResult<Py<PyAny>> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(errors::invalid_argument(
            "a corral `_sync` method cannot run inside a corral callback; use the async method",
        ));
    }
    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Callback>();
    let work = job(Ctx {
        cancel: cancel.clone(),
        post: Post::Caller(tx),
    });
    // The work runs on a runtime thread, not on this one: the core spawns sandboxed processes
    // from the thread that polls it, and bubblewrap's --die-with-parent (PR_SET_PDEATHSIG)
    // kills them when that *thread* exits, which a short-lived Python thread soon does.
    let mut handle = rt.spawn(guarded(work, cancel.clone()));
    let (outcome, interrupt) = py.detach(|| {
        let result = rt.block_on(async {
            let mut interrupt: Option<PyErr> = None;
            loop {
                tokio::select! {
                    outcome = &mut handle => {
                        // Progress reported before the result still reaches the callback.
                        while let Ok(callback) = rx.try_recv() {
                            with_python(callback);
                        }
                        let outcome = outcome.unwrap_or_else(|e| {
                            let message = format!("corral's runtime dropped the call: {e}");
                            Box::new(move |_py| Err(errors::internal(message)))
                        });
                        return (outcome, interrupt);
                    }
                    Some(callback) = rx.recv() => with_python(callback),
                    () = tokio::time::sleep(SIGNAL_POLL), if interrupt.is_none() => {
                        with_python(|py| {
                            if let Err(e) = py.check_signals() {
                                interrupt = Some(e);
                            }
                        });
                        if interrupt.is_some() {
                            cancel.cancel();
                        }
                    }
                }
            }
        });
        if !may_enter_python() {
            // The interpreter is going away under this (daemon) thread: taking the GIL back
            // now would end the thread mid-Rust-frame. Stay here until the process exits.
            loop {
                std::thread::park();
            }
        }
        result
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    outcome(py)
}

// ---------------------------------------------------------------------------------------------
// Async: a lazy coroutine resolved through the loop's bridge

enum CallState {
    Ready(Job),
    Running {
        iter: Py<PyAny>,
        cancel: CancellationToken,
    },
    Finished,
}

/// The awaitable every async method returns: a coroutine (it has `send`, `throw` and
/// `close`), so `await`, `asyncio.run`, `create_task` and `gather` all accept it. Nothing runs
/// until it is first awaited.
#[pyclass(frozen, module = "corral._corral", name = "Call")]
pub struct Call {
    state: Mutex<CallState>,
}

impl Call {
    pub fn new(job: Job) -> Self {
        Self {
            state: Mutex::new(CallState::Ready(job)),
        }
    }

    /// Starts the work on the first step; afterwards forwards to the asyncio future's iterator.
    fn iter(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, CallState::Finished) {
            CallState::Ready(job) => {
                let (iter, cancel) = start(py, job)?;
                *state = CallState::Running {
                    iter: iter.clone_ref(py),
                    cancel,
                };
                Ok(iter)
            }
            CallState::Running { iter, cancel } => {
                let out = iter.clone_ref(py);
                *state = CallState::Running { iter, cancel };
                Ok(out)
            }
            CallState::Finished => Err(errors::closed(
                "cannot reuse an already awaited corral call",
            )),
        }
    }

    fn finish(&self) {
        let old = std::mem::replace(&mut *lock(&self.state), CallState::Finished);
        if let CallState::Running { cancel, .. } = old {
            cancel.cancel();
        }
    }

    fn forward(&self, result: PyResult<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        match result {
            Ok(v) => Ok(v.unbind()),
            Err(e) => {
                // StopIteration (the result) or an exception: either way the call is over.
                *lock(&self.state) = CallState::Finished;
                Err(e)
            }
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // Dropped while running (its task was garbage-collected): stop the Rust work.
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let CallState::Running { cancel, .. } = state {
            cancel.cancel();
        }
    }
}

#[pymethods]
impl Call {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let iter = self.iter(py)?;
        self.forward(
            iter.bind(py)
                .call_method1(intern!(py, "send"), (py.None(),)),
        )
    }

    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let iter = self.iter(py)?;
        self.forward(iter.bind(py).call_method1(intern!(py, "send"), (value,)))
    }

    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        // An exception thrown in (asyncio's cancellation, most often) cancels the Rust work.
        let iter = match &*lock(&self.state) {
            CallState::Running { iter, .. } => Some(iter.clone_ref(py)),
            _ => None,
        };
        self.finish();
        let Some(iter) = iter else {
            let err = match val {
                Some(v) if !v.is_none() => PyErr::from_value(v.clone()),
                _ => PyErr::from_value(typ.clone()),
            };
            return Err(err);
        };
        let iter = iter.bind(py);
        let result = match (val, tb) {
            (None, None) => iter.call_method1(intern!(py, "throw"), (typ,)),
            _ => iter.call_method1(intern!(py, "throw"), (typ, val, tb)),
        };
        self.forward(result)
    }

    fn close(&self) {
        self.finish();
    }

    fn __repr__(&self) -> &'static str {
        "<corral call>"
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(state) = self.state.try_lock()
            && let CallState::Running { iter, .. } = &*state
        {
            visit.call(iter)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.finish();
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static BRIDGES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Spawns the work of a call; returns the iterator of the asyncio future it will resolve.
fn start(py: Python<'_>, job: Job) -> PyResult<(Py<PyAny>, CancellationToken)> {
    let get_running_loop = GET_RUNNING_LOOP.get_or_try_init(py, || {
        py.import("asyncio")?
            .getattr("get_running_loop")
            .map(Bound::unbind)
    })?;
    let event_loop = get_running_loop.bind(py).call0()?;
    let bridge = Bridge::of(py, &event_loop)?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let work = job(Ctx {
        cancel: cancel.clone(),
        post: Post::Loop(bridge.clone()),
    });
    let target = future.clone().unbind();
    let token = cancel.clone();
    rt.spawn(async move {
        let outcome = guarded(work, token).await;
        bridge.push(Item::Resolve(target, outcome));
    });
    let iter = future.call_method0(intern!(py, "__await__"))?;
    Ok((iter.unbind(), cancel))
}

enum Item {
    Resolve(Py<PyAny>, Deliver),
    Run(Callback),
}

pub struct BridgeInner {
    queue: Mutex<Vec<Item>>,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
    pid: u32,
}

impl BridgeInner {
    /// Queues an item for the loop thread; wakes the loop when the queue was empty. (The loop
    /// empties the socket before it takes the queue, so no wake-up is lost.)
    fn push(&self, item: Item) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            let empty = queue.is_empty();
            queue.push(item);
            empty
        };
        if was_empty {
            let _ = (&self.wake_tx).write(&[1]);
        }
    }
}

/// One per event loop: the reader the loop runs when calls finish. Kept in a
/// `WeakKeyDictionary` keyed by the loop, so it goes away with its loop.
#[pyclass(frozen, module = "corral._corral", name = "_Bridge")]
pub struct Bridge {
    inner: Arc<BridgeInner>,
}

impl Bridge {
    fn of(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<BridgeInner>> {
        let registry = BRIDGES
            .get_or_try_init(py, || {
                py.import("weakref")?
                    .getattr("WeakKeyDictionary")?
                    .call0()
                    .map(Bound::unbind)
            })?
            .bind(py);
        let found = registry.call_method1(intern!(py, "get"), (event_loop,))?;
        if let Ok(bridge) = found.cast::<Bridge>()
            && bridge.get().inner.pid == pid()
        {
            return Ok(bridge.get().inner.clone());
        }
        let (wake_tx, wake_rx) = UnixStream::pair()
            .and_then(|(tx, rx)| {
                tx.set_nonblocking(true)?;
                rx.set_nonblocking(true)?;
                Ok((tx, rx))
            })
            .map_err(|e| errors::internal(format!("cannot create a wake-up socket: {e}")))?;
        let fd = wake_rx.as_raw_fd();
        let inner = Arc::new(BridgeInner {
            queue: Mutex::new(Vec::new()),
            wake_tx,
            wake_rx,
            pid: pid(),
        });
        let bridge = Bound::new(
            py,
            Bridge {
                inner: inner.clone(),
            },
        )?;
        event_loop
            .call_method1(intern!(py, "add_reader"), (fd, bridge.clone()))
            .map_err(|e| {
                errors::internal(format!(
                    "corral needs an asyncio event loop that supports add_reader (the default loop, or uvloop): {e}"
                ))
            })?;
        registry.set_item(event_loop, bridge)?;
        Ok(inner)
    }
}

#[pymethods]
impl Bridge {
    /// Runs on the loop thread when the wake-up socket is readable.
    fn __call__(&self, py: Python<'_>) {
        // One read empties the socket (one byte is written per empty-to-busy transition); if
        // more were pending, the loop calls again.
        let mut buf = [0u8; 256];
        let _ = (&self.inner.wake_rx).read(&mut buf);
        let items = std::mem::take(&mut *lock(&self.inner.queue));
        for item in items {
            match item {
                Item::Resolve(future, outcome) => resolve(py, future.bind(py), outcome),
                Item::Run(callback) => callback(py),
            }
        }
    }
}

fn resolve(py: Python<'_>, future: &Bound<'_, PyAny>, outcome: Deliver) {
    let done = future
        .call_method0(intern!(py, "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true);
    if done {
        return; // cancelled meanwhile
    }
    let set = match outcome(py) {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,)),
        Err(e) => future.call_method1(intern!(py, "set_exception"), (e.into_value(py),)),
    };
    if let Err(e) = set {
        e.write_unraisable(py, Some(future));
    }
}

/// Calls a user callback with one argument; an exception it raises is reported as
/// unraisable (printed), never propagated into corral.
pub fn call_user(py: Python<'_>, callback: &Py<PyAny>, arg: impl for<'py> IntoPyObject<'py>) {
    let callback = callback.bind(py);
    if let Err(e) = arg.into_py_any(py).and_then(|arg| callback.call1((arg,))) {
        e.write_unraisable(py, Some(callback));
    }
}

// ---------------------------------------------------------------------------------------------
// Explicit cancellation

/// A cancellation handle for calls (`cancel=`), usable from any thread: `token.cancel()`
/// makes the calls it was given fail with `corral.CancelledError`.
#[pyclass(frozen, module = "corral._corral", name = "CancelToken")]
pub struct CancelToken {
    pub token: CancellationToken,
}

#[pymethods]
impl CancelToken {
    #[new]
    fn new() -> Self {
        Self {
            token: CancellationToken::new(),
        }
    }

    /// Cancels every call this token was given. Idempotent.
    fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    fn __repr__(&self) -> String {
        format!("CancelToken(cancelled={})", self.token.is_cancelled())
    }
}

impl CancelToken {
    pub fn extract_token(token: Option<&Bound<'_, CancelToken>>) -> Option<CancellationToken> {
        token.map(|t| t.get().token.clone())
    }
}

/// A job that needs no Rust work: it gives `value` back.
pub fn ready<T>(value: T) -> PyResult<Job>
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    with(Ok(value), |value, _| async move { Ok(value) })
}

/// A `#[pymethods]` block whose `jobs { … }` entries each become two methods running the same
/// [`Job`]: `name` returns an awaitable [`Call`], `name_sync` blocks on it with the GIL
/// released. `fn name | name_sync(&self, args…) => job_expression;` (attributes and docs apply
/// to both). The `plain { … }` methods are copied as they are. `context(open)` adds `async
/// with`/`with`: entering runs the job `open(slf)`, leaving runs `close`.
macro_rules! pymethods_with_jobs {
    (
        impl $ty:ty {
            $(context($open:path);)?
            plain { $($plain:tt)* }
            jobs { $(
                $(#[$meta:meta])*
                fn $name:ident | $sync:ident (&$self:ident $(, $arg:ident : $argty:ty)* $(,)?) => $job:expr;
            )* }
        }
    ) => {
        #[pyo3::pymethods]
        impl $ty {
            $($plain)*
            $(
                fn __aenter__(slf: pyo3::Py<Self>) -> pyo3::PyResult<$crate::runtime::Call> {
                    Ok($crate::runtime::Call::new($open(slf)?))
                }
                #[pyo3(signature = (*_exc))]
                fn __aexit__(&self, _exc: &pyo3::Bound<'_, pyo3::types::PyTuple>) -> pyo3::PyResult<$crate::runtime::Call> {
                    self.close()
                }
                fn __enter__(slf: pyo3::Py<Self>, py: pyo3::Python<'_>) -> pyo3::PyResult<pyo3::Py<pyo3::PyAny>> {
                    $crate::runtime::block_on(py, $open(slf)?)
                }
                #[pyo3(signature = (*_exc))]
                fn __exit__(&self, py: pyo3::Python<'_>, _exc: &pyo3::Bound<'_, pyo3::types::PyTuple>) -> pyo3::PyResult<()> {
                    self.close_sync(py).map(drop)
                }
            )?
            $(
                $(#[$meta])*
                fn $name(&$self $(, $arg: $argty)*) -> pyo3::PyResult<$crate::runtime::Call> {
                    Ok($crate::runtime::Call::new($job))
                }
                $(#[$meta])*
                fn $sync(
                    &$self,
                    py: pyo3::Python<'_>
                    $(, $arg: $argty)*
                ) -> pyo3::PyResult<pyo3::Py<pyo3::PyAny>> {
                    $crate::runtime::block_on(py, $job)
                }
            )*
        }
    };
}
pub(crate) use pymethods_with_jobs;
