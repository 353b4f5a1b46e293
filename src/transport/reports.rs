//! What a transport's threads report to it (a window ACKed, a request
//! answered), collected until the worker polls, with a wait for the next
//! report at shutdown. Pushing a report does not wake the worker: the thread
//! does that with its `Waker` once its reports are in.

use parking_lot::{Condvar, Mutex};
use std::time::Instant;

pub struct Reports<R> {
    list: Mutex<Vec<R>>,
    changed: Condvar,
}

impl<R> Default for Reports<R> {
    fn default() -> Reports<R> {
        Reports {
            list: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }
    }
}

impl<R> Reports<R> {
    pub fn push(&self, report: R) {
        self.list.lock().push(report);
        self.changed.notify_all();
    }

    pub fn take(&self) -> Vec<R> {
        std::mem::take(&mut *self.list.lock())
    }

    /// Waits until there is a report or `deadline`.
    pub fn wait(&self, deadline: Instant) {
        let mut list = self.list.lock();
        if list.is_empty() {
            let _ = self.changed.wait_until(&mut list, deadline);
        }
    }
}
