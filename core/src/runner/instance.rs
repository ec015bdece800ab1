//! One server's slot and the one state of its live instance.
//!
//! A slot is [`State::Stopped`], [`State::Starting`] (one start in progress, which every other
//! caller waits for), [`State::Running`] or [`State::Closed`] (removed, replaced or its corral
//! closed: it never starts again). The state sits behind one short std lock that is never held
//! across an await; starting and stopping happen outside it.
//!
//! An instance in use is held through a [`Lease`] (a call in flight, a [`ServerSession`]
//! handle): leases are taken under the slot's lock, so the idle reaper, which looks under the
//! same lock, stops only an instance that nobody holds and that has been idle long enough.
//!
//! [`ServerSession`]: super::ServerSession

use std::{
    ops::Deref,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Corral, start::Start};
use crate::{
    config::ServerConfig,
    error::{Error, ErrorKind, Result},
    mcp::Session,
    sandbox::Sandbox,
    sync::lock,
    tool::Tool,
};

/// How long stopping a slot waits for a cancelled start to wind down (it kills the start's
/// sandbox first, so this is only reached by a start that is no longer being polled).
const CANCELLED_START_GRACE: Duration = Duration::from_secs(10);

/// A configured server.
pub(super) struct Slot {
    pub(super) config: ServerConfig,
    state: Mutex<State>,
}

enum State {
    Stopped,
    Starting(Arc<Start>),
    Running(Arc<Live>),
    Closed,
}

/// A running server: its session, its sandbox, the tools it listed, and who uses it.
pub(super) struct Live {
    pub(super) id: String,
    pub(super) session: Session,
    pub(super) sandbox: Option<Arc<dyn Sandbox>>,
    tools: Mutex<Option<Arc<Vec<Tool>>>>,
    leases: AtomicUsize,
    last_used: Mutex<Instant>,
}

impl Live {
    pub(super) fn new(id: String, session: Session, sandbox: Option<Arc<dyn Sandbox>>) -> Self {
        Self {
            id,
            session,
            sandbox,
            tools: Mutex::new(None),
            leases: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
        }
    }

    /// Closes the session and kills the sandbox.
    pub(super) async fn stop(&self) {
        self.session.close().await;
        if let Some(s) = &self.sandbox {
            let _ = s.kill().await;
        }
    }

    pub(super) fn cached_tools(&self) -> Option<Arc<Vec<Tool>>> {
        lock(&self.tools).clone()
    }

    pub(super) fn cache_tools(&self, tools: Arc<Vec<Tool>>) {
        *lock(&self.tools) = Some(tools);
    }

    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }
}

/// A use of a live instance; the instance counts as idle only while it has none.
pub(super) struct Lease(Arc<Live>);

impl Lease {
    /// Only under the slot's lock (so the reaper cannot miss it).
    fn new(live: Arc<Live>) -> Self {
        live.leases.fetch_add(1, Ordering::SeqCst);
        live.touch();
        Self(live)
    }
}

impl Deref for Lease {
    type Target = Live;

    fn deref(&self) -> &Live {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.touch();
        self.0.leases.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `Corral::live` does after looking at the state.
enum Next {
    Stop(Arc<Live>),
    Wait(Arc<Start>),
    Start(Arc<Start>),
}

impl Slot {
    pub(super) fn new(config: ServerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::Stopped),
        }
    }

    pub(super) fn is_running(&self) -> bool {
        matches!(*lock(&self.state), State::Running(_))
    }

    /// Drops `live` from the slot (if it is still the current instance) and stops it.
    pub(super) async fn retire(&self, live: &Lease) {
        {
            let mut state = lock(&self.state);
            if matches!(&*state, State::Running(cur) if Arc::ptr_eq(cur, &live.0)) {
                *state = State::Stopped;
            }
        }
        live.stop().await;
    }

    /// Closes the slot for good: stops its instance, or cancels its start (killing the start's
    /// sandbox, so no install command runs on) and waits for that start to end.
    pub(super) async fn close(&self) {
        let old = std::mem::replace(&mut *lock(&self.state), State::Closed);
        match old {
            State::Running(live) => live.stop().await,
            State::Starting(start) => {
                start.cancel().await;
                let _ = tokio::time::timeout(CANCELLED_START_GRACE, start.finished()).await;
            }
            State::Stopped | State::Closed => {}
        }
    }

    /// Ends `start` in the slot (if it is still the slot's start): running with `live` (and a
    /// lease on it for the starting caller), or stopped.
    fn settle(&self, start: &Arc<Start>, live: Option<&Arc<Live>>) -> Option<Lease> {
        let mut state = lock(&self.state);
        if !matches!(&*state, State::Starting(s) if Arc::ptr_eq(s, start)) {
            return None;
        }
        match live {
            Some(live) => {
                *state = State::Running(live.clone());
                Some(Lease::new(live.clone()))
            }
            None => {
                *state = State::Stopped;
                None
            }
        }
    }

    /// The instance to reap, if it is idle: no lease on it and unused for `idle_timeout`.
    fn take_if_idle(&self) -> Option<Arc<Live>> {
        let mut state = lock(&self.state);
        let State::Running(live) = &*state else {
            return None;
        };
        if live.leases.load(Ordering::SeqCst) > 0 || live.idle_for() < self.config.idle_timeout {
            return None;
        }
        let State::Running(live) = std::mem::replace(&mut *state, State::Stopped) else {
            return None;
        };
        Some(live)
    }

    fn closed_error(&self) -> Error {
        Error::new(
            ErrorKind::Closed,
            format!(
                "server `{}` was removed, replaced or closed",
                self.config.name
            ),
        )
    }
}

impl Corral {
    /// The lease of the server's warm instance if it is running now (no start, no wait).
    pub(super) fn live_now(&self, slot: &Arc<Slot>) -> Option<Lease> {
        match &*lock(&slot.state) {
            State::Running(live) if live.session.is_alive() => Some(Lease::new(live.clone())),
            _ => None,
        }
    }

    /// A lease on the warm instance of a server, started if there is none or it died. One
    /// start at a time per server: concurrent callers wait for it and share its outcome.
    pub(super) async fn live(&self, slot: &Arc<Slot>) -> Result<Lease> {
        match self.live_now(slot) {
            Some(lease) => Ok(lease),
            // A start's future (install, sandbox, handshake) is about 8 KB: boxed, so that the
            // future of every call holds a pointer to it, and creating and moving one does not
            // copy its state (callgrind, Node: 8k instructions of memcpy per call).
            None => Box::pin(self.start_or_wait(slot)).await,
        }
    }

    async fn start_or_wait(&self, slot: &Arc<Slot>) -> Result<Lease> {
        loop {
            let next = {
                let mut state = lock(&slot.state);
                match &*state {
                    State::Running(live) if live.session.is_alive() => {
                        return Ok(Lease::new(live.clone()));
                    }
                    State::Running(_) => match std::mem::replace(&mut *state, State::Stopped) {
                        State::Running(dead) => Next::Stop(dead),
                        _ => continue,
                    },
                    State::Starting(start) => Next::Wait(start.clone()),
                    State::Closed => return Err(slot.closed_error()),
                    State::Stopped => {
                        self.check_open()?;
                        let start = Arc::new(Start::new(self.inner.cancel.child_token()));
                        *state = State::Starting(start.clone());
                        Next::Start(start)
                    }
                }
            };
            match next {
                Next::Stop(dead) => dead.stop().await,
                Next::Wait(start) => start.outcome().await?,
                Next::Start(start) => {
                    let live = self.start_slot(slot, &start).await?;
                    self.ensure_reaper();
                    return Ok(live);
                }
            }
        }
    }

    /// Runs the start of `slot` and publishes its outcome. If the caller gives up (this future
    /// is dropped), the slot goes back to stopped and a waiting caller starts it instead.
    async fn start_slot(&self, slot: &Arc<Slot>, start: &Arc<Start>) -> Result<Lease> {
        /// Puts a slot whose starting caller gave up back to stopped (dropped futures only).
        struct Abandon<'a>(&'a Slot, &'a Arc<Start>, bool);
        impl Drop for Abandon<'_> {
            fn drop(&mut self) {
                if !self.2 {
                    self.0.settle(self.1, None);
                    self.1.abandon();
                }
            }
        }
        let mut abandon = Abandon(slot, start, false);
        let started = self.start(&slot.config, true, start).await;
        abandon.2 = true;
        let outcome = match started {
            Ok(live) => match slot.settle(start, Some(&live)) {
                Some(lease) => Ok(lease),
                None => {
                    // Closed while the handshake finished: this instance is nobody's.
                    start.finish(Err(&slot.closed_error()));
                    live.stop().await;
                    return Err(slot.closed_error());
                }
            },
            Err(e) => {
                slot.settle(start, None);
                Err(e)
            }
        };
        start.finish(outcome.as_ref().map(|_| ()));
        outcome
    }

    /// Starts the idle reaper, if it is not running: it stops instances unused for their
    /// server's `idle_timeout`.
    fn ensure_reaper(&self) {
        let mut reaper = lock(&self.inner.reaper);
        if reaper.as_ref().is_some_and(|r| !r.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        *reaper = Some(tokio::spawn(async move {
            loop {
                let tick = {
                    let Some(inner) = weak.upgrade() else { return };
                    let slots: Vec<Arc<Slot>> = lock(&inner.servers).values().cloned().collect();
                    drop(inner);
                    let mut tick = Duration::from_secs(5);
                    for slot in slots {
                        tick = tick.min(slot.config.idle_timeout / 2);
                        if let Some(live) = slot.take_if_idle() {
                            tracing::debug!(server = %slot.config.name, "stopping idle server");
                            live.stop().await;
                        }
                    }
                    tick.max(Duration::from_millis(50))
                };
                tokio::time::sleep(tick).await;
            }
        }));
    }
}
