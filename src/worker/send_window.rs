//! The send window: everything about handing stored chunks to the transport.
//! It owns the transport, the chunks written but not yet confirmed, the
//! cursor of what was handed over, when the next batch is due, and the
//! failing state with its backoff. It reads chunks from the backlog and
//! reports what was delivered; deleting them is the backlog's job.
//!
//! Today one chunk goes out at a time and confirmations arrive in order
//! (`Transport::confirmed_through` is cumulative). A pipelined send path
//! (several windows or requests in flight, completing out of order) changes
//! this file only: the backlog deletes delivered chunks in any order, and
//! `InFlight` keeps its chunks in id order wherever they leave it.

use super::backlog::Backlog;
use super::backoff::Backoff;
use crate::buffer::{Chunk, ChunkSize};
use crate::config::Config;
use crate::shared::Shared;
use crate::stats::Counters;
use crate::transport::{SendError, Sent, Transport};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Chunks fetched from the buffer per query while sending.
const FETCH_CHUNKS: usize = 64;
/// How long one send turn may run before the queue is looked at again, so a
/// long backlog never starves ingestion (and memory stays bounded).
const SEND_TURN: Duration = Duration::from_millis(50);
/// How often written-but-unconfirmed TCP data is re-checked.
const CONFIRM_POLL: Duration = Duration::from_millis(20);

pub struct SendWindow {
    shared: Arc<Shared>,
    transport: Box<dyn Transport>,
    in_flight: InFlight,
    /// Highest chunk id handed to the transport (sent or in flight).
    sent_through: i64,
    /// When the oldest not-yet-sent event was stored (for the flush interval).
    pending_since: Option<Instant>,
    next_attempt: Instant,
    failing: bool,
    /// Shutdown was seen (it overrides the backoff once).
    stop_seen: bool,
    backoff: Backoff,
    flush_count: u64,
    flush_interval: Duration,
}

/// What a send turn did, for the backlog to record before `end_turn`.
pub struct Turn {
    /// Chunks delivered (to delete).
    pub delivered: Vec<ChunkSize>,
    /// A chunk whose first events were delivered before the transport failed.
    pub partial: Option<Partial>,
    pub end: TurnEnd,
}

/// The first `delivered` events of `chunk` are delivered, `rejected` of
/// them refused for good by the receiver.
pub struct Partial {
    pub chunk: Arc<Chunk>,
    pub delivered: u32,
    pub rejected: u32,
}

pub enum TurnEnd {
    /// No chunk was handed over (the transport not ready, nothing to send).
    Idle,
    Sent,
    Failed(SendError),
}

/// Chunks written to the transport, awaiting confirmation, in id order.
#[derive(Default)]
struct InFlight {
    chunks: VecDeque<Written>,
    /// Events in `chunks` (kept as a sum: it is read several times per turn).
    events: u64,
}

struct Written {
    chunk: ChunkSize,
    /// Orders the writes: `Transport::confirmed_through` confirms every
    /// write up to a ticket.
    ticket: u64,
}

impl InFlight {
    fn push(&mut self, chunk: ChunkSize, ticket: u64) {
        self.events += chunk.events;
        self.chunks.push_back(Written { chunk, ticket });
    }

    /// The oldest chunk id still in flight.
    fn oldest_id(&self) -> Option<i64> {
        self.chunks.front().map(|w| w.chunk.id)
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Removes the chunks confirmed by `ticket` (tickets grow with the
    /// writes, so they are the oldest).
    fn take_confirmed(&mut self, ticket: u64) -> Vec<ChunkSize> {
        let mut done = Vec::new();
        while self.chunks.front().is_some_and(|w| w.ticket <= ticket) {
            let w = self.chunks.pop_front().expect("checked");
            self.events -= w.chunk.events;
            done.push(w.chunk);
        }
        done
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.events = 0;
    }
}

impl SendWindow {
    pub fn new(shared: Arc<Shared>, config: &Config, transport: Box<dyn Transport>) -> SendWindow {
        SendWindow {
            shared,
            transport,
            in_flight: InFlight::default(),
            sent_through: 0,
            pending_since: None,
            next_attempt: Instant::now(),
            failing: false,
            stop_seen: false,
            backoff: Backoff::new(config.backoff_initial, config.backoff_max),
            flush_count: config.queued_events_flush_count as u64,
            flush_interval: config.queued_events_flush_interval,
        }
    }

    /// Highest chunk id handed to the transport: later ones are unsent.
    pub fn sent_through(&self) -> i64 {
        self.sent_through
    }

    /// The oldest chunk id in flight (None: nothing is).
    pub fn oldest_in_flight(&self) -> Option<i64> {
        self.in_flight.oldest_id()
    }

    pub fn has_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// When to look for confirmations again (None: nothing in flight).
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.has_in_flight().then(|| now + CONFIRM_POLL)
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
        self.in_flight.clear();
        self.sent_through = 0;
    }

    /// When the next send is due (None: nothing to send). The one rule for
    /// both the loop and the sleep, so the worker never wakes for a send it
    /// then does not make (a busy loop) nor sleeps through one. `held`: new
    /// sends wait (a file retry); `urgent`: shutdown or a flush is waiting
    /// (asked last: it takes a lock).
    pub fn send_at(
        &self,
        now: Instant,
        buffered_events: u64,
        held: bool,
        urgent: impl FnOnce() -> bool,
    ) -> Option<Instant> {
        let unsent = buffered_events.saturating_sub(self.in_flight.events);
        if unsent == 0 || held {
            return None;
        }
        if self.failing {
            // Retrying: at the end of the backoff, whatever the batch size.
            return Some(self.next_attempt);
        }
        let batch_due = if urgent() || unsent >= self.flush_count {
            now
        } else {
            self.pending_since.map_or(now, |t| t + self.flush_interval)
        };
        Some(batch_due.max(self.next_attempt))
    }

    /// Sends the oldest unsent chunks for up to SEND_TURN.
    pub fn turn(&mut self, backlog: &Backlog) -> Turn {
        let started = Instant::now();
        let mut turn = Turn {
            delivered: Vec::new(),
            partial: None,
            end: TurnEnd::Idle,
        };
        let mut handed_over = 0usize;
        'turn: while started.elapsed() < SEND_TURN {
            if !self.transport.ready() {
                break; // (before the query: a busy transport is asked every turn)
            }
            let chunks = match backlog.fetch_after(self.sent_through, FETCH_CHUNKS) {
                Ok(c) => c,
                Err(e) => {
                    // Treated like a send failure: retried after the backoff,
                    // not in a tight loop.
                    self.shared.database_error("read events to send", &e);
                    turn.end = TurnEnd::Failed(SendError::new(format!("database: {e}")));
                    break;
                }
            };
            if chunks.is_empty() {
                break;
            }
            for chunk in chunks {
                if !self.transport.ready() {
                    break 'turn;
                }
                handed_over += 1;
                let result = self.transport.send(&chunk);
                let rejection = self.transport.take_rejection();
                if let Some(r) = &rejection {
                    self.report_rejection(&r.message);
                }
                match result {
                    Ok(sent) => {
                        self.sent_through = chunk.id;
                        match sent {
                            Sent::Delivered { rejected } => {
                                let counters = &self.shared.counters;
                                Counters::add(&counters.dropped_undeliverable, u64::from(rejected));
                                Counters::add(
                                    &counters.sent,
                                    u64::from(chunk.count.saturating_sub(rejected)),
                                );
                                turn.delivered.push(chunk.size());
                            }
                            Sent::Written { ticket } => self.in_flight.push(chunk.size(), ticket),
                        }
                    }
                    Err(e) => {
                        if e.delivered_prefix > 0 {
                            turn.partial = Some(Partial {
                                delivered: e.delivered_prefix,
                                rejected: rejection.map_or(0, |r| r.in_failed_prefix),
                                chunk,
                            });
                        }
                        turn.end = TurnEnd::Failed(e);
                        break 'turn;
                    }
                }
                if started.elapsed() >= SEND_TURN {
                    break 'turn;
                }
            }
        }
        self.shared
            .counters
            .connects
            .store(self.transport.connections_opened(), Ordering::Relaxed);
        if handed_over > 0 && matches!(turn.end, TurnEnd::Idle) {
            turn.end = TurnEnd::Sent;
        }
        turn
    }

    /// After the backlog recorded a turn's deliveries (`buffered_events`
    /// are left): a success resets the backoff, a failure starts it.
    pub fn end_turn(&mut self, end: TurnEnd, buffered_events: u64) {
        match end {
            TurnEnd::Idle => {}
            TurnEnd::Sent => self.succeeded(),
            TurnEnd::Failed(e) => self.failed(&e),
        }
        // Events left unsent keep their age (they are due as before); with
        // nothing left the flush interval starts again with the next event.
        self.pending_since = (buffered_events > self.in_flight.events)
            .then(|| self.pending_since.unwrap_or_else(Instant::now));
    }

    /// Chunks whose writes are now confirmed (for the backlog to delete).
    /// A failed confirmation voids every unconfirmed write; events refused
    /// for good inside confirmed writes are reported and counted as dropped;
    /// a trouble the transport works through itself is reported.
    pub fn confirm(&mut self, now: Instant) -> Vec<ChunkSize> {
        if self.in_flight.is_empty() {
            return Vec::new();
        }
        let confirmed = match self.transport.confirmed_through(now) {
            Ok(ticket) => {
                let refused = self.transport.take_rejection().map_or(0, |r| {
                    self.report_rejection(&r.message);
                    r.in_failed_prefix
                });
                let confirmed = self.take_confirmed(ticket, refused);
                if !confirmed.is_empty() && self.failing {
                    // Deliveries resumed after a trouble (see `troubled`).
                    self.succeeded();
                }
                confirmed
            }
            Err(e) => {
                self.failed(&e);
                Vec::new()
            }
        };
        if let Some(message) = self.transport.take_trouble() {
            self.troubled(&message);
        }
        confirmed
    }

    /// Closes the transport within the deadline: the chunks it confirmed.
    pub fn close(&mut self, deadline: Instant) -> Vec<ChunkSize> {
        let ticket = self.transport.close(deadline.max(Instant::now()));
        let refused = self
            .transport
            .take_rejection()
            .map_or(0, |r| r.in_failed_prefix);
        let confirmed = self.take_confirmed(ticket, refused);
        self.in_flight.clear();
        confirmed
    }

    /// The chunks confirmed by `ticket`, of whose events `refused` were
    /// refused for good (dropped, not sent).
    fn take_confirmed(&mut self, ticket: u64, refused: u32) -> Vec<ChunkSize> {
        let done = self.in_flight.take_confirmed(ticket);
        let events: u64 = done.iter().map(|c| c.events).sum();
        let refused = u64::from(refused).min(events);
        let counters = &self.shared.counters;
        Counters::add(&counters.dropped_undeliverable, refused);
        Counters::add(&counters.sent, events - refused);
        done
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

    /// A send or confirmation failed: unconfirmed writes are void (sent
    /// again from the oldest), and the next attempt waits for the backoff.
    fn failed(&mut self, e: &SendError) {
        // Retry from the oldest write in flight or, with none, from the
        // oldest stored chunk (the one that failed, and everything after it).
        self.sent_through = self.in_flight.oldest_id().map_or(0, |id| id - 1);
        Counters::add(&self.shared.counters.resent, self.in_flight.events);
        self.in_flight.clear();
        Counters::add(&self.shared.counters.send_errors, 1);
        self.shared.counters.set_error(&e.message);
        if e.another_host_ready {
            // Failover: the failed host waits out its own backoff; others are up.
            self.next_attempt = Instant::now();
            return;
        }
        let delay = self.backoff.next_delay();
        self.shared.reporter.report(
            "send",
            &format!(
                "cannot deliver events: {e}; events stay buffered, retrying in {:.1}s",
                delay.as_secs_f64()
            ),
        );
        self.next_attempt = Instant::now() + delay;
        self.failing = true;
        self.shared.handshake.set_failing(true);
    }

    /// A trouble the transport works through itself (a broker down,
    /// credentials refused; its writes stay valid): counted and reported like
    /// a failed send, nothing is resent. New sends wait for the backoff.
    fn troubled(&mut self, message: &str) {
        Counters::add(&self.shared.counters.send_errors, 1);
        self.shared.counters.set_error(message);
        let delay = self.backoff.next_delay();
        self.shared.reporter.report(
            "send",
            &format!("cannot deliver events: {message}; events stay buffered, retrying"),
        );
        self.next_attempt = Instant::now() + delay;
        self.failing = true;
        self.shared.handshake.set_failing(true);
    }

    /// Events the receiver refused for good: counted by the caller, reported here.
    fn report_rejection(&self, message: &str) {
        let message = format!("events rejected by the receiver (not retried): {message}");
        self.shared.report_error("rejected", &message);
    }
}
