//! The send window: everything about handing stored events to the
//! transport. It owns the transport, the ledger of what was handed out
//! (`ledger.rs`), when the next batch is due, and the failing state with its
//! backoff. It reads chunks from the backlog and reports which are finished;
//! deleting them is the backlog's job.
//!
//! The transport never makes the worker wait: batches go out while it has
//! capacity (several Beats windows or HTTP requests at once), and their
//! outcomes come back later, in any order, through `poll`.

use super::backlog::Backlog;
use super::backoff::Backoff;
use super::ledger::{Ledger, Progress, Source};
use crate::buffer::ChunkSize;
use crate::config::{Config, TransportKind};
use crate::shared::Shared;
use crate::stats::Counters;
use crate::transport::{Capacity, Outcome, SendError, Transport, Waker};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one send turn may run before the queue is looked at again, so a
/// long backlog never starves ingestion (and memory stays bounded).
const SEND_TURN: Duration = Duration::from_millis(50);

pub struct SendWindow {
    shared: Arc<Shared>,
    transport: Box<dyn Transport>,
    ledger: Ledger,
    /// When the oldest not-yet-sent event was stored (for the flush interval).
    pending_since: Option<Instant>,
    next_attempt: Instant,
    failing: bool,
    /// The last ticket handed out when the current failure began: only a
    /// later batch's success ends it (an older one was under way already).
    failed_after: u64,
    /// Failures so far (a send turn stops at the first).
    failures: u64,
    /// Shutdown was seen (it overrides the backoff once).
    stop_seen: bool,
    backoff: Backoff,
    backoff_max: Duration,
    flush_count: u64,
    flush_interval: Duration,
    /// The custom transport's batches hold `queued_events_batch_size` events.
    max_batch: Option<u32>,
    outcomes: Vec<Outcome>,
}

impl SendWindow {
    pub fn new(
        shared: Arc<Shared>,
        config: &Config,
        mut transport: Box<dyn Transport>,
    ) -> SendWindow {
        // Weak: a transport thread left running after shutdown must not
        // keep the queue's memory alive.
        let weak = Arc::downgrade(&shared);
        transport.start(Waker::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.queue.wake();
            }
        }));
        let max_batch = (config.transport == TransportKind::Custom)
            .then(|| config.queued_events_batch_size.max(1) as u32);
        SendWindow {
            shared,
            transport,
            ledger: Ledger::default(),
            pending_since: None,
            next_attempt: Instant::now(),
            failing: false,
            failed_after: 0,
            failures: 0,
            stop_seen: false,
            backoff: Backoff::new(config.backoff_initial, config.backoff_max),
            backoff_max: config.backoff_max,
            flush_count: config.queued_events_flush_count as u64,
            flush_interval: config.queued_events_flush_interval,
            max_batch,
            outcomes: Vec::new(),
        }
    }

    /// Whether chunk `id` may be removed (evicted, expired): None while the
    /// transport holds some of its events, else how many are finished.
    pub fn removable(&self, id: i64) -> Option<u32> {
        self.ledger.removable(id)
    }

    /// Chunks were removed from the buffer (evicted, expired).
    pub fn removed(&mut self, ids: &[i64]) {
        self.ledger.drop_chunks(ids);
    }

    /// Whether the transport holds batches.
    pub fn has_in_flight(&self) -> bool {
        self.ledger.has_batches()
    }

    /// When the transport wants to be polled without being woken.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.transport.next_poll(now)
    }

    /// New chunks were stored: the flush interval runs from the first.
    pub fn stored(&mut self, now: Instant) {
        self.pending_since.get_or_insert(now);
    }

    /// Chunks left by an earlier process: send them without waiting.
    pub fn send_leftovers(&mut self, now: Instant) {
        self.pending_since = Some(now - self.flush_interval);
    }

    /// A flush asked for one attempt now, even during a backoff.
    pub fn attempt_now(&mut self, now: Instant) {
        self.next_attempt = self.next_attempt.min(now);
    }

    /// Shutdown makes one immediate attempt, even during a backoff.
    pub fn stopping(&mut self, now: Instant) {
        if !self.stop_seen {
            self.stop_seen = true;
            self.attempt_now(now);
        }
    }

    /// The buffer changed under the window (fallback to memory, back on the
    /// file): chunk ids it holds mean nothing any more.
    pub fn forget_in_flight(&mut self) {
        self.ledger.forget();
    }

    /// Touched chunks with some events finished and which, for the backlog
    /// to rewrite with only their other events.
    pub fn progress(&self) -> Vec<Progress> {
        self.ledger.progress()
    }

    /// When the next send is due (None: nothing to send, or the transport
    /// takes nothing now and wakes the worker when it does). The one rule
    /// for both the loop and the sleep, so the worker never wakes for a
    /// send it then does not make (a busy loop) nor sleeps through one.
    /// `held`: new sends wait (a file retry); `urgent`: shutdown or a flush
    /// is waiting (asked last: it takes a lock).
    pub fn send_at(
        &self,
        now: Instant,
        buffered_events: u64,
        held: bool,
        urgent: impl FnOnce() -> bool,
    ) -> Option<Instant> {
        let unsent = self.ledger.unsent(buffered_events);
        if unsent == 0 || held {
            return None;
        }
        if self.failing {
            // Retrying: one batch at the end of the backoff, then wait for its fate.
            return (!self.ledger.has_batches()).then_some(self.next_attempt);
        }
        self.transport.capacity(now)?;
        let batch_due = if urgent() || unsent >= self.flush_count {
            now
        } else {
            self.pending_since.map_or(now, |t| t + self.flush_interval)
        };
        Some(batch_due.max(self.next_attempt))
    }

    /// Hands batches to the transport for up to SEND_TURN, while it has
    /// capacity; returns the chunks finished meanwhile.
    pub fn turn(&mut self, backlog: &Backlog) -> Vec<ChunkSize> {
        let started = Instant::now();
        let failures = self.failures;
        let fetch = |after: i64, limit: usize| backlog.fetch_after(after, limit);
        let mut source = Source::new(&fetch);
        while started.elapsed() < SEND_TURN && self.failures == failures {
            if self.failing && self.ledger.has_batches() {
                break; // a retry is under way: wait for its fate
            }
            let Some(cap) = self.transport.capacity(Instant::now()) else {
                break;
            };
            let batch = match self.ledger.build(self.limit(cap), &mut source) {
                Ok(Some(batch)) => batch,
                Ok(None) => break,
                Err(e) => {
                    // Treated like a send failure: retried after the backoff,
                    // not in a tight loop.
                    self.shared.database_error("read events to send", &e);
                    self.failed(&SendError::new(format!("database: {e}")));
                    break;
                }
            };
            self.transport.submit(batch, Instant::now());
            // Transports working on the worker thread know at once.
            self.apply_outcomes(Instant::now());
        }
        self.ledger.take_finished()
    }

    /// After the backlog deleted a turn's finished chunks (`buffered_events`
    /// are left): events left unsent keep their age (they are due as
    /// before); with nothing left the flush interval starts again with the
    /// next event.
    pub fn end_turn(&mut self, buffered_events: u64) {
        self.pending_since = (self.ledger.unsent(buffered_events) > 0)
            .then(|| self.pending_since.unwrap_or_else(Instant::now));
    }

    /// Applies what the transport reports: the chunks now finished.
    pub fn poll(&mut self, now: Instant) -> Vec<ChunkSize> {
        self.apply_outcomes(now);
        self.ledger.take_finished()
    }

    /// Closes the transport within the deadline: the chunks it finished.
    pub fn close(&mut self, deadline: Instant) -> Vec<ChunkSize> {
        let mut outcomes = std::mem::take(&mut self.outcomes);
        self.transport
            .close(deadline.max(Instant::now()), &mut outcomes);
        for outcome in outcomes.drain(..) {
            self.apply(outcome);
        }
        self.publish_connects();
        self.ledger.take_finished()
    }

    fn limit(&self, cap: Capacity) -> Capacity {
        match self.max_batch {
            Some(n) => Capacity {
                max_events: cap.max_events.min(n),
                ..cap
            },
            None => cap,
        }
    }

    fn apply_outcomes(&mut self, now: Instant) {
        let mut outcomes = std::mem::take(&mut self.outcomes);
        self.transport.poll(now, &mut outcomes);
        for outcome in outcomes.drain(..) {
            self.apply(outcome);
        }
        self.outcomes = outcomes;
        self.publish_connects();
    }

    fn apply(&mut self, outcome: Outcome) {
        let counters = &self.shared.counters;
        match outcome {
            Outcome::Done { ticket, rejected } => {
                let Some(events) = self.ledger.done(ticket) else {
                    return;
                };
                let rejected = rejected.min(events);
                Counters::add(&counters.dropped_undeliverable, u64::from(rejected));
                Counters::add(&counters.sent, u64::from(events - rejected));
                if ticket > self.failed_after {
                    self.succeeded();
                }
            }
            Outcome::Returned {
                ticket,
                finished,
                rejected,
                written,
            } => {
                let Some(back) = self.ledger.returned(ticket, finished) else {
                    return;
                };
                let rejected = rejected.min(finished);
                Counters::add(&counters.dropped_undeliverable, u64::from(rejected));
                Counters::add(&counters.sent, u64::from(finished - rejected));
                if written {
                    // Possibly received: a duplicate if the receiver kept them.
                    Counters::add(&counters.resent, u64::from(back));
                }
            }
            Outcome::Failed(e) => self.failed(&e),
            Outcome::Rejected(message) => {
                let message = format!("events rejected by the receiver (not retried): {message}");
                self.shared.report_error("rejected", &message);
            }
        }
    }

    fn publish_connects(&self) {
        self.shared
            .counters
            .connects
            .store(self.transport.connections_opened(), Ordering::Relaxed);
    }

    fn succeeded(&mut self) {
        if self.failing {
            self.failing = false;
            self.shared.handshake.set_failing(false);
            self.shared
                .reporter
                .report("recovered", "delivery recovered");
        }
        self.backoff.reset();
    }

    /// A connection, a request or a read of the buffer failed: the batches it
    /// cut short come back on their own (`Returned`), and the next attempt
    /// waits for the backoff, unless another host can take over at once.
    fn failed(&mut self, e: &SendError) {
        self.failures += 1;
        Counters::add(&self.shared.counters.send_errors, 1);
        self.shared.counters.set_error(&e.message);
        self.failed_after = self.ledger.last_ticket();
        let now = Instant::now();
        let asked = e.retry_after.map(|d| d.min(self.backoff_max));
        if e.another_host_ready {
            // Failover: the failed host waits out its own backoff; others are up.
            self.next_attempt = now;
            return;
        }
        if self.failing && now < self.next_attempt {
            // Another batch cut short while the backoff runs (several were
            // out at once): the same trouble, the same wait.
            if let Some(asked) = asked {
                self.next_attempt = self.next_attempt.max(now + asked);
            }
            return;
        }
        let delay = self.backoff.next_delay().max(asked.unwrap_or_default());
        self.shared.reporter.report(
            "send",
            &format!(
                "cannot deliver events: {e}; events stay buffered, retrying in {:.1}s",
                delay.as_secs_f64()
            ),
        );
        self.next_attempt = now + delay;
        self.failing = true;
        self.shared.handshake.set_failing(true);
    }
}
