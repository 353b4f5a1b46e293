//! When the worker runs next: an ingest on the queue-check timer (or when
//! events are queued), and a sleep until the earliest thing due. It never
//! spins, and ingests at most once per INGEST_GAP when the queue wakes it.

use crate::queue::Queue;
use std::time::{Duration, Instant};

/// Least time between two ingests woken by the queue filling up (flush,
/// shutdown and timers wait at most this much longer).
const INGEST_GAP: Duration = Duration::from_millis(1);
/// Least sleep before a send or file retry that is due now: a turn that
/// did nothing (the transport not ready) must not spin.
const MIN_RETRY_SLEEP: Duration = Duration::from_millis(1);

pub struct Schedule {
    /// `queue_check_interval`.
    check_interval: Duration,
    next_ingest: Instant,
    last_ingest: Instant,
}

/// What the worker waits for, each when due (None: not waiting for it).
pub struct Due {
    /// Confirmations of written data.
    pub confirm: Option<Instant>,
    pub send: Option<Instant>,
    pub expiry: Option<Instant>,
    pub file_retry: Option<Instant>,
    /// Shutdown's deadline (Some: stopping).
    pub stop: Option<Instant>,
}

impl Schedule {
    pub fn new(check_interval: Duration) -> Schedule {
        let now = Instant::now();
        Schedule {
            check_interval,
            next_ingest: now,
            last_ingest: now,
        }
    }

    pub fn ingest_due(&self, now: Instant) -> bool {
        now >= self.next_ingest
    }

    /// An ingest just ran: the next one is due after the check interval.
    pub fn ingested(&mut self) {
        self.last_ingest = Instant::now();
        self.next_ingest = Instant::now() + self.check_interval;
    }

    /// Sleeps until the next ingest or the earliest of `due`, or until the
    /// queue wakes the worker.
    pub fn sleep(&self, now: Instant, due: &Due, queue: &Queue) {
        let mut wake = self.next_ingest;
        if let Some(at) = due.confirm {
            wake = wake.min(at);
        }
        if let Some(at) = due.send {
            wake = wake.min(at.max(now + MIN_RETRY_SLEEP));
        }
        if let Some(at) = due.expiry {
            wake = wake.min(at);
        }
        if let Some(at) = due.file_retry {
            wake = wake.min(at.max(now + MIN_RETRY_SLEEP));
        }
        if let Some(at) = due.stop {
            wake = wake.min(at);
        }
        if wake > now {
            // At high rates the worker ingests at most once per INGEST_GAP, so
            // a producer pays a futex wake once per ~1 ms of events rather
            // than once per `queued_events_flush_count` events (p99 of emit).
            let not_before = if due.stop.is_some() {
                now
            } else {
                self.last_ingest + INGEST_GAP
            };
            queue.wait(wake, not_before);
        }
    }
}
