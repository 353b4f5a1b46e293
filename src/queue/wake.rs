//! Waking the worker: only when enough events piled up (`at`) or on request
//! (flush, shutdown), not once per event: a futex wake per emit would
//! dominate its cost.

use super::sync::{Condvar, Mutex};
use std::time::Instant;

pub struct WorkerWake {
    /// A wake was requested (flush, shutdown).
    requested: Mutex<bool>,
    cv: Condvar,
    /// Queued events that wake the worker.
    at: usize,
}

impl WorkerWake {
    pub fn new(at: usize) -> WorkerWake {
        WorkerWake {
            requested: Mutex::new(false),
            cv: Condvar::new(),
            at,
        }
    }

    /// The number of queued events that wakes the worker.
    pub fn at(&self) -> usize {
        self.at
    }

    /// Wakes the worker if it waits. Taking its lock first orders this after
    /// the worker's check of `queued`, so the wake cannot be lost.
    pub fn notify(&self) {
        drop(self.requested.lock());
        self.cv.notify_one();
    }

    /// Asks the worker to run now, whether it waits or not.
    pub fn request(&self) {
        *self.requested.lock() = true;
        self.cv.notify_one();
    }

    /// Worker: waits until woken, `queued` reaches `at`, or the deadline,
    /// but not before `not_before`: until then it sleeps without being a
    /// waiter, so emits crossing `at` find no one to wake and make no syscall.
    pub fn wait(&self, queued: impl Fn() -> usize, deadline: Instant, not_before: Instant) {
        let pause_until = not_before.min(deadline);
        let now = Instant::now();
        if pause_until > now {
            std::thread::sleep(pause_until - now);
        }
        let mut requested = self.requested.lock();
        while !*requested && queued() < self.at && Instant::now() < deadline {
            if self.cv.wait_until(&mut requested, deadline).timed_out() {
                break;
            }
        }
        *requested = false;
    }
}
