//! A spinner on stderr while servers install and start — only on a terminal.

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

const FRAMES: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Clone)]
pub(crate) struct Spinner {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    message: Mutex<String>,
    running: AtomicBool,
}

impl Spinner {
    /// A spinner showing `message`; inert when `enabled` is false (not a terminal, or --json).
    pub(crate) fn start(enabled: bool, message: String) -> Self {
        if !enabled {
            return Self { inner: None };
        }
        let inner = Arc::new(Inner {
            message: Mutex::new(message),
            running: AtomicBool::new(true),
        });
        let tick = inner.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while tick.running.load(Ordering::SeqCst) {
                let msg = tick.message.lock().map(|m| m.clone()).unwrap_or_default();
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{} {msg}", FRAMES[i % FRAMES.len()]);
                let _ = err.flush();
                drop(err);
                i += 1;
                std::thread::sleep(Duration::from_millis(80));
            }
        });
        Self { inner: Some(inner) }
    }

    pub(crate) fn set(&self, message: String) {
        if let Some(inner) = &self.inner
            && let Ok(mut m) = inner.message.lock()
        {
            *m = message;
        }
    }

    /// Prints a line above the spinner (or plainly to stderr when there is no spinner).
    pub(crate) fn println(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.inner.is_some() {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{line}");
    }

    pub(crate) fn stop(&self) {
        if let Some(inner) = &self.inner
            && inner.running.swap(false, Ordering::SeqCst)
        {
            std::thread::sleep(Duration::from_millis(90));
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
