//! Lock helpers: how the core treats a poisoned `std::sync::Mutex`.
//!
//! A lock is poisoned when a thread panicked while holding it. The core's locks guard small
//! pieces of state (a map of servers, a callback, a timestamp) whose every update is a single
//! assignment or insert, so the data is consistent even after such a panic: [`lock`] takes the
//! guard back with [`PoisonError::into_inner`] and logs the event once, instead of each site
//! silently skipping its work (a no-op setter, a server reported missing) as it used to.
//! [`blocking`] moves blocking file-system work off the runtime's threads.

use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};

/// Locks `mutex`, recovering the guard if another thread panicked while holding it (the
/// bindings use it too, so that every lock of corral's is treated the same).
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned: PoisonError<_>| {
        static LOGGED: AtomicBool = AtomicBool::new(false);
        if !LOGGED.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "a corral lock was poisoned (a thread panicked while holding it); its state \
                 is used as it is (every update under these locks is a single assignment)"
            );
        }
        mutex.clear_poison();
        poisoned.into_inner()
    })
}

/// Runs blocking work (file system trees, cgroup teardown) on the blocking pool instead of a
/// runtime thread.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        crate::Error::new(
            crate::ErrorKind::Io,
            format!("a file-system task of corral failed: {e}"),
        )
    })?
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_its_data() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 3);
        assert!(!m.is_poisoned());
    }
}
