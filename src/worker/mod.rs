//! The worker: one background thread per handle, the only place with I/O.
//!
//! Each turn of its loop: take everything from the in-memory queue, format it
//! and store it in SQLite in one transaction (group commit); apply what the
//! transport reported; enforce the buffer's limits and expiry; then, when a
//! batch is due, hand the oldest events to the transport, and delete rows
//! once all their events are delivered. It sleeps on a timer or until woken
//! (by an emit, a flush, or a transport thread with news), never spins,
//! never waits for a receiver, and survives every error it meets.
//!
//! Each job is a type that owns its state; the loop here passes outcomes from
//! one to the next:
//! - `ingest.rs`: queue drain -> formatted rows -> groups to store;
//! - `backlog.rs`: the buffer, its totals, limits, expiry, flush progress;
//! - `send_window.rs`: the transport, batches in flight and their
//!   outcomes, the failing state and its backoff (`backoff.rs`);
//! - `ledger.rs`: where each unfinished event is (sent, in flight, to be
//!   sent again), and building batches;
//! - `recovery.rs`: the fallback to memory when the file fails, and its retry;
//! - `schedule.rs`: when to ingest, and how long to sleep.

mod backlog;
mod backoff;
mod ingest;
mod ledger;
mod recovery;
mod schedule;
mod send_window;

use crate::buffer::Buffer;
use crate::config::Config;
use crate::layout::Layout;
use crate::shared::Shared;
use crate::stats::Counters;
use crate::transport::Transport;
use backlog::Backlog;
use ingest::{Group, Ingest};
use recovery::FileRecovery;
use schedule::{Due, Schedule};
use send_window::SendWindow;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Starts the worker thread of a handle.
pub fn spawn(
    shared: Arc<Shared>,
    config: Config,
    buffer: Buffer,
    transport: Box<dyn Transport>,
) -> Result<JoinHandle<()>, String> {
    let program = crate::sys::program_name();
    std::thread::Builder::new()
        .name("logstash-async".into())
        .spawn(move || {
            let worker_shared = Arc::clone(&shared);
            let run = move || Worker::new(worker_shared, config, buffer, transport, &program).run();
            // A bug in the worker must not leave flush and shutdown waiting
            // for a thread that is gone: report it and mark the worker done.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                shared.interrupter.clear_all();
                shared.report_error(
                    "panic",
                    "internal error: the worker thread panicked; undelivered events stay in the database file (if any)",
                );
                let notices = &shared.reporter.notices;
                notices.flush_held();
                let tell = || notices.dispatch(&shared.counters);
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(tell));
                shared.handshake.finished();
            }
        })
        .map_err(|e| format!("cannot start the worker thread: {e}"))
}

struct Worker {
    shared: Arc<Shared>,
    ingest: Ingest,
    backlog: Backlog,
    window: SendWindow,
    recovery: FileRecovery,
    schedule: Schedule,
}

impl Worker {
    fn new(
        shared: Arc<Shared>,
        config: Config,
        buffer: Buffer,
        transport: Box<dyn Transport>,
        program: &str,
    ) -> Worker {
        // Host lookups (FQDN) may block on DNS: done here, on the worker
        // thread, never in create or emit.
        let host = if config.fqdn {
            crate::sys::fqdn()
        } else {
            crate::sys::hostname()
        };
        let durable = buffer.is_durable();
        Worker {
            ingest: Ingest::new(&config, Layout::new(&config, &host, program)),
            backlog: Backlog::new(Arc::clone(&shared), &config, buffer),
            window: SendWindow::new(Arc::clone(&shared), &config, transport),
            recovery: FileRecovery::new(Arc::clone(&shared), &config, durable),
            schedule: Schedule::new(config.queue_check_interval),
            shared,
        }
    }

    fn run(mut self) {
        if self.backlog.load_totals() > 0 {
            // Rows left by an earlier process: send them without waiting.
            self.window.send_leftovers(Instant::now());
        }
        loop {
            let now = Instant::now();
            let stopping = self.shared.handshake.stop_requested();
            if self.shared.handshake.aborted() {
                break;
            }
            if stopping || self.schedule.ingest_due(now) || !self.shared.queue.is_empty() {
                self.ingest(true);
                self.schedule.ingested();
            }
            let expired = self
                .backlog
                .expire_due(now, &|id| self.window.removable(id));
            self.window.removed(&expired);
            self.backlog.finish_reclaim();
            if self.recovery.retry_due(now, self.window.has_in_flight()) {
                self.retry_file();
            }
            self.poll(now);
            if self.shared.handshake.take_flush_kick() {
                self.window.attempt_now(now);
            }
            if stopping {
                self.window.stopping(now);
            }
            if self.send_at(now, stopping).is_some_and(|t| t <= now) {
                self.send_turn();
            }
            if stopping {
                let deadline = self.shared.handshake.stop_deadline();
                let done = self.shared.queue.is_empty() && self.backlog.session_done();
                if done || Instant::now() >= deadline {
                    self.finish(deadline);
                    return;
                }
            }
            self.sleep(stopping);
        }
        self.finish(Instant::now());
    }

    /// Moves everything queued into the buffer, formatted, in groups of rows
    /// stored one transaction each (group commit, without holding a whole
    /// drain's formatted events in memory at once). With `send_between`, due
    /// sends run between those transactions: chunks then go out from the
    /// buffer's in-memory tail and their rows are deleted before a WAL
    /// checkpoint copies them into the database file (storing a whole backlog
    /// first made every row be written twice and read back, most of the file
    /// buffer's cost).
    fn ingest(&mut self, send_between: bool) {
        let shared = Arc::clone(&self.shared);
        let mut drained = shared.queue.drain();
        Counters::add(&shared.counters.dropped_oldest, drained.evicted());
        let last_seq = drained.last_seq();
        let mut group = Group::after(self.backlog.assigned_seq());
        let mut all_stored = true;
        loop {
            let full = self.ingest.fill(&mut drained, &mut group, &shared.counters);
            all_stored &= self.store(&mut group);
            // Each release also hands the consumed blocks back to the queue:
            // it refills while a long drain is stored, and its events are
            // bounded by the capacity only if their blocks go back too.
            drained.release(group.take_drained_events());
            if !full {
                break;
            }
            if send_between {
                self.send_if_due();
            }
        }
        drop(drained);
        self.backlog.assigned_through(last_seq);
        // "Persisted" only when every event of the drain reached the file (or
        // was dropped and counted by a limit), never for a failed insert.
        if self.backlog.is_durable() && all_stored {
            shared.handshake.persisted_through(last_seq);
        }
    }

    /// Stores a group's rows within the database limits; false when some of
    /// them could not be stored.
    fn store(&mut self, group: &mut Group) -> bool {
        let Some(mut rows) = group.take_rows() else {
            return true;
        };
        let evicted = self
            .backlog
            .admit(&mut rows, &|id| self.window.removable(id));
        self.window.removed(&evicted);
        if rows.is_empty() {
            return true;
        }
        let stored = match self.backlog.store(&mut rows) {
            Ok(()) => true,
            Err(e) => {
                self.shared.database_error("store events", &e);
                // A file that fails (disk full, unwritable): go on in memory
                // rather than lose the events.
                let retried = self.backlog.is_durable() && {
                    if self.recovery.fall_back(&mut self.backlog) {
                        self.window.forget_in_flight();
                    }
                    self.backlog.store(&mut rows).is_ok()
                };
                if !retried {
                    self.backlog.refuse(&rows);
                }
                retried
            }
        };
        if stored {
            self.window.stored(Instant::now());
        }
        stored
    }

    /// Applies the transport's news and sends when a send is due (what the
    /// main loop does after an ingest), so a long ingest does not hold back
    /// sends.
    fn send_if_due(&mut self) {
        let now = Instant::now();
        self.poll(now);
        let stopping = self.shared.handshake.stop_requested();
        if self.send_at(now, stopping).is_some_and(|t| t <= now) {
            self.send_turn();
        }
    }

    fn send_at(&self, now: Instant, stopping: bool) -> Option<Instant> {
        let held = self.recovery.holds_sends(now) && !stopping;
        self.window
            .send_at(now, self.backlog.buffered_events(), held, || {
                stopping || self.shared.handshake.flush_pending()
            })
    }

    fn send_turn(&mut self) {
        let finished = self.window.turn(&self.backlog);
        self.backlog.delivered(&finished);
        self.window.end_turn(self.backlog.buffered_events());
    }

    fn poll(&mut self, now: Instant) {
        let finished = self.window.poll(now);
        self.backlog.delivered(&finished);
    }

    /// Rewrites the rows of chunks delivered in part with only their other
    /// events, so that what comes next (another process, the file the
    /// buffer moves to) sends only those again.
    fn keep_progress(&mut self) {
        for (chunk, finished) in self.window.progress() {
            self.backlog.keep_unfinished(&chunk, &finished);
        }
    }

    fn retry_file(&mut self) {
        // Nothing is in flight (a retry waits for that), but events of
        // chunks in progress may be finished: their rows keep only the rest.
        // The rows now say what is left: the window starts afresh from them
        // (and a file retry gives them new ids).
        self.keep_progress();
        self.window.forget_in_flight();
        if let Some(events) = self.recovery.retry(&mut self.backlog) {
            if events > 0 {
                self.window.stored(Instant::now());
            }
        }
    }

    fn sleep(&self, stopping: bool) {
        // The application hears of what happened this turn (no lock held).
        self.shared.reporter.notices.dispatch(&self.shared.counters);
        let now = Instant::now();
        let due = Due {
            confirm: self.window.poll_at(now),
            send: self.send_at(now, stopping),
            expiry: self.backlog.next_expiry(),
            file_retry: self
                .recovery
                .retry_at()
                .filter(|_| !self.window.has_in_flight()),
            stop: stopping.then(|| self.shared.handshake.stop_deadline()),
        };
        self.schedule.sleep(now, &due, &self.shared.queue);
    }

    /// Closes the transport within the deadline and records what it confirmed.
    fn finish(&mut self, deadline: Instant) {
        self.ingest(false);
        let finished = self.window.close(deadline);
        self.backlog.delivered(&finished);
        self.keep_progress();
        self.backlog.count_lost_at_shutdown();
        let notices = &self.shared.reporter.notices;
        notices.dispatch(&self.shared.counters);
        notices.flush_held();
        notices.dispatch(&self.shared.counters);
        self.shared.handshake.finished();
    }
}
