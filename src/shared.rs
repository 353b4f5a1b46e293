//! State shared by the caller-facing handle and its worker thread.

use crate::queue::Queue;
use crate::report::Reporter;
use crate::stats::Counters;
use crate::transport::Interrupter;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Delivery progress, guarded by `Shared::progress` and signalled on
/// `Shared::progress_cv` whenever it changes.
#[derive(Default)]
pub struct Progress {
    /// Every event with a seq up to this is delivered (or dropped and counted).
    pub completed_seq: u64,
    /// Every event with a seq up to this is stored in the database file.
    pub persisted_seq: u64,
    /// The buffer is a file (so STORED_NOT_SENT can be reported).
    pub durable: bool,
    /// Events of this session with a seq in stranded_from..=stranded_through
    /// (0 = none) were left in a database file the handle stopped using (it
    /// fell back to memory): "done" for the flush progress, but stored, not sent.
    pub stranded_from: u64,
    pub stranded_through: u64,
    /// The last send attempt failed.
    pub failing: bool,
    /// Failed attempts so far (flush compares before/after).
    pub failures: u64,
    /// Callers waiting in flush: the worker sends without waiting for a batch.
    pub flush_waiters: usize,
    /// A flush asked for one immediate attempt, even during backoff.
    pub flush_kick: bool,
    /// Set by shutdown: the worker must be finished by then.
    pub stop_deadline: Option<Instant>,
    pub worker_done: bool,
}

pub struct Shared {
    pub queue: Queue,
    pub counters: Counters,
    pub reporter: Reporter,
    pub progress: Mutex<Progress>,
    pub progress_cv: Condvar,
    /// Shutdown requested: deliver what is left, then exit.
    pub stop: AtomicBool,
    /// The shutdown deadline passed: exit now.
    pub abort: AtomicBool,
    pub interrupter: Interrupter,
}

impl Progress {
    /// Whether events up to `target` include some left in an abandoned file.
    pub fn stranded(&self, target: u64) -> bool {
        self.stranded_through > 0 && target >= self.stranded_from
    }
}

impl Shared {
    pub fn complete_through(&self, seq: u64) {
        let mut p = self.progress.lock();
        if seq > p.completed_seq {
            p.completed_seq = seq;
            drop(p);
            self.progress_cv.notify_all();
        }
    }

    pub fn set_failing(&self, failing: bool) {
        let mut p = self.progress.lock();
        p.failing = failing;
        if failing {
            p.failures += 1;
        }
        drop(p);
        self.progress_cv.notify_all();
    }

    pub fn take_flush_kick(&self) -> bool {
        std::mem::take(&mut self.progress.lock().flush_kick)
    }

    pub fn flush_pending(&self) -> bool {
        self.progress.lock().flush_waiters > 0
    }

    pub fn stop_deadline(&self) -> Instant {
        self.progress
            .lock()
            .stop_deadline
            .unwrap_or_else(Instant::now)
    }

    pub fn worker_finished(&self) {
        self.progress.lock().worker_done = true;
        self.progress_cv.notify_all();
    }
}
