//! How a finished call reaches its Promise: one N-API threadsafe function per JS thread,
//! through which every call of that thread settles.
//!
//! napi-rs's `spawn_future_with_callback` creates a threadsafe function (a libuv async handle,
//! set up and closed on the JS thread) for every Promise. Here a call registers its deferred
//! and its `finish` (which may hold JS references, so it never leaves this thread) under an id;
//! the runtime thread sends back only the id and the Rust result. The threadsafe function keeps
//! Node's event loop alive exactly while a call of its thread is pending (ref'd on the first,
//! unref'd after the last), as a pending napi-rs Promise did.
//!
//! Shutdown: when Node tears the environment down it finalizes the threadsafe function; a
//! result that arrives after that is dropped on the runtime thread (the raw handle is cleared
//! under a lock that senders hold while they send, so none uses a freed handle).

use std::{
    any::Any,
    cell::RefCell,
    collections::HashMap,
    ffi::c_void,
    panic::AssertUnwindSafe,
    ptr,
    sync::{Arc, RwLock},
};

use napi::{Env, JsError, Status, sys};

/// Turns a finished call's result into the Promise's value (or its rejection), on the JS thread.
pub type Finish = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> napi::Result<sys::napi_value>>;

/// What a runtime thread sends: the call's id and its result.
type Message = (u64, Box<dyn Any + Send>);

/// The thread's threadsafe function; null once Node finalized it.
struct Tsfn(RwLock<sys::napi_threadsafe_function>);

// SAFETY: N-API threadsafe functions are made to be called from any thread; the handle is only
// read under the lock, and cleared (under the write lock) when Node frees it.
unsafe impl Send for Tsfn {}
// SAFETY: as above.
unsafe impl Sync for Tsfn {}

/// A result's way back to the JS thread of its call.
#[derive(Clone)]
pub struct Sender {
    tsfn: Arc<Tsfn>,
    id: u64,
}

impl Sender {
    /// Sends the call's result to its JS thread (dropped if that environment is gone).
    pub fn send(self, result: Box<dyn Any + Send>) {
        let guard = self.tsfn.0.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_null() {
            return;
        }
        let message = Box::into_raw(Box::new((self.id, result)));
        // SAFETY: the handle is live while the read lock is held (finalize clears it under the
        // write lock); on failure the message was not queued and is ours to free.
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                *guard,
                message.cast(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not queued, so not freed by the callback.
            drop(unsafe { Box::from_raw(message) });
        }
    }
}

struct Call {
    deferred: sys::napi_deferred,
    finish: Finish,
}

/// This JS thread's threadsafe function and its pending calls.
struct Local {
    env: sys::napi_env,
    tsfn: Arc<Tsfn>,
    pending: HashMap<u64, Call>,
    next: u64,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Makes a Promise that `finish` settles once the [`Sender`]'s result arrives; returns the
/// Promise and the sender for the runtime thread.
pub fn promise(env: &Env, finish: Finish) -> napi::Result<(sys::napi_value, Sender)> {
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: on the JS thread of `env`.
    check(unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) })?;
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.as_ref().is_none_or(|l| l.env != raw) {
            *local = Some(Local {
                env: raw,
                tsfn: create(raw)?,
                pending: HashMap::new(),
                next: 0,
            });
        }
        let Some(local) = local.as_mut() else {
            return Err(napi::Error::from_reason("no settler"));
        };
        let raw_tsfn = *local.tsfn.0.read().unwrap_or_else(|p| p.into_inner());
        if local.pending.is_empty() && !raw_tsfn.is_null() {
            // SAFETY: on the JS thread; the handle is live (not finalized).
            check(unsafe { sys::napi_ref_threadsafe_function(raw, raw_tsfn) })?;
        }
        let id = local.next;
        local.next += 1;
        local.pending.insert(id, Call { deferred, finish });
        let tsfn = local.tsfn.clone();
        Ok((promise, Sender { tsfn, id }))
    })
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    match status {
        sys::Status::napi_ok => Ok(()),
        s => Err(napi::Error::new(Status::from(s), "N-API call failed")),
    }
}

/// The thread's threadsafe function: no JS function (the callback settles in Rust), unref'd
/// until a call is pending.
fn create(env: sys::napi_env) -> napi::Result<Arc<Tsfn>> {
    let tsfn = Arc::new(Tsfn(RwLock::new(ptr::null_mut())));
    let mut name = ptr::null_mut();
    let mut raw = ptr::null_mut();
    // SAFETY: on the JS thread of `env`; the finalize data is a strong reference to `tsfn`,
    // given back (and dropped) in `finalize`.
    unsafe {
        check(sys::napi_create_string_utf8(
            env,
            c"corral".as_ptr(),
            6,
            &mut name,
        ))?;
        check(sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            Arc::into_raw(tsfn.clone()).cast_mut().cast(),
            Some(finalize),
            ptr::null_mut(),
            Some(call_js),
            &mut raw,
        ))?;
        check(sys::napi_unref_threadsafe_function(env, raw))?;
    }
    *tsfn.0.write().unwrap_or_else(|p| p.into_inner()) = raw;
    Ok(tsfn)
}

/// Node frees the threadsafe function (the environment is going away): clears the handle, and
/// forgets the pending calls (their JS references die with the environment).
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Arc` given in `create`.
    let tsfn = unsafe { Arc::from_raw(data.cast_const().cast::<Tsfn>()) };
    *tsfn.0.write().unwrap_or_else(|p| p.into_inner()) = ptr::null_mut();
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut local) = local.try_borrow_mut()
            && local.as_ref().is_some_and(|l| Arc::ptr_eq(&l.tsfn, &tsfn))
            && let Some(l) = local.take()
        {
            std::mem::forget(l.pending);
        }
    });
}

/// On the JS thread: settles the Promise of one finished call.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: `data` is the `Message` boxed by `Sender::send`.
    let (id, result) = *unsafe { Box::from_raw(data.cast::<Message>()) };
    if env.is_null() {
        return; // the environment is going away
    }
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| settle(env, id, result)));
}

fn settle(env: sys::napi_env, id: u64, result: Box<dyn Any + Send>) {
    let call = LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        let local = local.as_mut()?;
        let call = local.pending.remove(&id)?;
        let raw_tsfn = *local.tsfn.0.read().unwrap_or_else(|p| p.into_inner());
        if local.pending.is_empty() && !raw_tsfn.is_null() {
            // SAFETY: on the JS thread; the handle is live.
            unsafe { sys::napi_unref_threadsafe_function(env, raw_tsfn) };
        }
        Some(call)
    });
    let Some(Call { deferred, finish }) = call else {
        return;
    };
    // `finish` runs outside the borrow: it may start another call.
    let outcome = finish(&Env::from_raw(env), result);
    // SAFETY: on the JS thread; each deferred is settled once (its call was removed above).
    unsafe {
        match outcome {
            Ok(value) => sys::napi_resolve_deferred(env, deferred, value),
            Err(e) => sys::napi_reject_deferred(env, deferred, JsError::from(e).into_value(env)),
        };
    }
}
