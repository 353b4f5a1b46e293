//! The flush and shutdown handshake between a `Client` and its worker: how far
//! delivery has come, what a flush or shutdown waits for, and the stop and
//! abort requests. Each side has its own methods; the state is private.

use crate::result::ResultCode;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// After the shutdown deadline, how long to wait for the worker to notice the
/// abort (its socket is shut down under it) before leaving it detached.
const ABORT_GRACE: Duration = Duration::from_millis(250);

pub struct Handshake {
    progress: Mutex<Progress>,
    /// Signalled whenever `progress` changes.
    changed: Condvar,
    /// Shutdown requested: deliver what is left, then exit.
    stop: AtomicBool,
    /// The shutdown deadline passed: exit now.
    abort: AtomicBool,
}

/// Delivery progress, guarded by `Handshake::progress`.
#[derive(Default)]
struct Progress {
    /// Every event with a seq up to this is delivered (or dropped and counted).
    completed_seq: u64,
    /// Every event with a seq up to this is stored in the database file.
    persisted_seq: u64,
    /// The buffer is a file (so STORED_NOT_SENT can be reported).
    durable: bool,
    /// Events of this session with a seq in stranded_from..=stranded_through
    /// (0 = none) were left in a database file the handle stopped using (it
    /// fell back to memory): "done" for the flush progress, but stored, not sent.
    stranded_from: u64,
    stranded_through: u64,
    /// The last send attempt failed.
    failing: bool,
    /// Failed attempts so far (flush compares before/after).
    failures: u64,
    /// Callers waiting in flush: the worker sends without waiting for a batch.
    flush_waiters: usize,
    /// A flush asked for one immediate attempt, even during backoff.
    flush_kick: bool,
    /// Set by shutdown: the worker must be finished by then.
    stop_deadline: Option<Instant>,
    worker_done: bool,
}

impl Progress {
    /// Whether events up to `target` include some left in an abandoned file.
    fn stranded(&self, target: u64) -> bool {
        self.stranded_through > 0 && target >= self.stranded_from
    }
}

/// How a shutdown ended.
pub struct Stopped {
    pub result: Result<(), ResultCode>,
    /// The worker finished (else it is left detached).
    pub worker_done: bool,
}

impl Handshake {
    /// `durable`: the buffer is a database file.
    pub fn new(durable: bool) -> Handshake {
        Handshake {
            progress: Mutex::new(Progress {
                durable,
                ..Progress::default()
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            abort: AtomicBool::new(false),
        }
    }

    // The client's side.

    /// Waits until every event up to `target` is delivered. `wake_worker`
    /// makes the worker look now (it sends at once while a flush waits).
    /// `Err(TIMEOUT)` if the deadline passes first; `Err(STORED_NOT_SENT)`
    /// when they are all safe in the database file but the transport is
    /// failing; `Err(SHUTTING_DOWN)` when the worker has finished.
    pub fn wait_flushed(
        &self,
        target: u64,
        deadline: Instant,
        wake_worker: impl FnOnce(),
    ) -> Result<(), ResultCode> {
        let failures_before;
        {
            let mut p = self.progress.lock();
            if p.completed_seq >= target {
                return Ok(());
            }
            p.flush_waiters += 1;
            p.flush_kick = true;
            failures_before = p.failures;
        }
        wake_worker();
        let mut p = self.progress.lock();
        let done = |p: &Progress| {
            if p.stranded(target) {
                Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
            } else {
                Ok(())
            }
        };
        let result = loop {
            if p.completed_seq >= target {
                break done(&p);
            }
            if p.durable && p.failing && p.failures > failures_before && p.persisted_seq >= target {
                break Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT);
            }
            if p.worker_done {
                break Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
            }
            if self.changed.wait_until(&mut p, deadline).timed_out() {
                break if p.completed_seq >= target {
                    done(&p)
                } else {
                    Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
                };
            }
        };
        p.flush_waiters -= 1;
        result
    }

    /// Asks the worker to deliver what is left and finish by `deadline`.
    pub fn request_stop(&self, deadline: Instant) {
        self.progress.lock().stop_deadline = Some(deadline);
        self.stop.store(true, Ordering::Release);
    }

    /// Waits for the worker to finish. Past `deadline` it is told to abort
    /// and `interrupt` runs (it unblocks a send stuck in the kernel and wakes
    /// the worker); after a short grace the wait gives up. The result says
    /// whether events up to `target` were delivered (Ok), stored but not sent,
    /// or neither (TIMEOUT).
    pub fn wait_stopped(&self, target: u64, deadline: Instant, interrupt: impl Fn()) -> Stopped {
        let mut p = self.progress.lock();
        let hard_deadline = deadline + ABORT_GRACE;
        while !p.worker_done {
            if Instant::now() >= deadline {
                // Too late: abort, and unblock a send stuck in the kernel.
                self.abort.store(true, Ordering::Release);
                interrupt();
            }
            let until = if Instant::now() >= deadline {
                hard_deadline
            } else {
                deadline
            };
            if self.changed.wait_until(&mut p, until).timed_out() && Instant::now() >= hard_deadline
            {
                break;
            }
        }
        let result = if p.completed_seq >= target && !p.stranded(target) {
            Ok(())
        } else if p.completed_seq >= target || (p.durable && p.persisted_seq >= target) {
            Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
        } else {
            Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
        };
        Stopped {
            result,
            worker_done: p.worker_done,
        }
    }

    // The worker's side.

    /// Shutdown was requested: deliver what is left, then exit.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// The shutdown deadline passed: exit now.
    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    /// When the worker must be finished (now if no shutdown set one).
    pub fn stop_deadline(&self) -> Instant {
        self.progress
            .lock()
            .stop_deadline
            .unwrap_or_else(Instant::now)
    }

    /// Callers wait in flush: send without waiting for a batch.
    pub fn flush_pending(&self) -> bool {
        self.progress.lock().flush_waiters > 0
    }

    /// Whether a flush asked for one immediate attempt since the last call.
    pub fn take_flush_kick(&self) -> bool {
        std::mem::take(&mut self.progress.lock().flush_kick)
    }

    /// Every event with a seq up to `seq` is delivered, or dropped and counted.
    pub fn complete_through(&self, seq: u64) {
        let mut p = self.progress.lock();
        if seq > p.completed_seq {
            p.completed_seq = seq;
            drop(p);
            self.changed.notify_all();
        }
    }

    /// Every event with a seq up to `seq` is in the database file.
    pub fn persisted_through(&self, seq: u64) {
        self.progress.lock().persisted_seq = seq;
        self.changed.notify_all();
    }

    /// Whether the last send attempt failed.
    pub fn set_failing(&self, failing: bool) {
        let mut p = self.progress.lock();
        p.failing = failing;
        if failing {
            p.failures += 1;
        }
        drop(p);
        self.changed.notify_all();
    }

    /// The database file became unusable and the worker buffers in memory.
    /// `stranded`: the seqs of this session's events left in the file.
    pub fn fell_back_to_memory(&self, stranded: Option<(u64, u64)>) {
        let mut p = self.progress.lock();
        if let Some((from, through)) = stranded {
            (p.stranded_from, p.stranded_through) = (from, through);
        }
        p.durable = false;
    }

    /// The database file is in use again, holding every event up to
    /// `persisted_seq`.
    pub fn back_on_file(&self, persisted_seq: u64) {
        {
            let mut p = self.progress.lock();
            p.durable = true;
            p.persisted_seq = persisted_seq;
        }
        self.changed.notify_all();
    }

    /// The file holds no events any more: those a fallback left there are
    /// delivered.
    pub fn stranded_delivered(&self) {
        let mut p = self.progress.lock();
        (p.stranded_from, p.stranded_through) = (0, 0);
    }

    /// The worker is done (normally or after a panic).
    pub fn finished(&self) {
        self.progress.lock().worker_done = true;
        self.changed.notify_all();
    }
}
