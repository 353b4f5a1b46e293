//! Counters: every accepted, delivered, dropped and failed event is counted.

use parking_lot::Mutex;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Live counters, updated with relaxed atomics (each is exact on its own;
/// a snapshot is not one atomic cut across all of them).
#[derive(Default)]
pub struct Counters {
    pub emitted: AtomicU64,
    pub rejected: AtomicU64,
    pub below_level: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_oldest: AtomicU64,
    pub dropped_database_full: AtomicU64,
    pub dropped_undeliverable: AtomicU64,
    pub dropped_at_shutdown: AtomicU64,
    pub expired: AtomicU64,
    pub sent: AtomicU64,
    pub resent: AtomicU64,
    pub send_errors: AtomicU64,
    pub connects: AtomicU64,
    pub database_errors: AtomicU64,
    pub buffered: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    /// Updated by the kafka transport itself (all 0 with other transports).
    pub kafka: Arc<KafkaCounters>,
}

/// librdkafka's side of the kafka transport: messages handed to it and its
/// delivery reports.
#[derive(Default)]
pub struct KafkaCounters {
    pub produced: AtomicU64,
    pub delivered: AtomicU64,
    /// Delivery reports with an error (refused for good, or retried from the buffer).
    pub failed: AtomicU64,
    /// Messages librdkafka holds that have no delivery report yet.
    pub in_flight: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn set_error(&self, message: &str) {
        *self.last_error.lock() = Some(message.to_owned());
    }
}

/// A snapshot of the counters, as returned by `Client::stats` and, as JSON,
/// by `logstash_async_stats_json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events accepted by emit/log.
    pub emitted: u64,
    /// Events refused by emit/log for bad input (not counted as emitted).
    pub rejected: u64,
    /// Events discarded on the caller's thread for a level below the
    /// `level` option (neither emitted nor dropped).
    pub below_level: u64,
    /// Events waiting in the in-memory queue.
    pub queued: u64,
    /// Events stored in the SQLite buffer, not yet delivered.
    pub buffered: u64,
    /// Events delivered (for TCP: written and confirmed; see the README).
    pub sent: u64,
    /// Events sent again after a connection failure (possible duplicates at the receiver).
    pub resent: u64,
    /// Dropped events, by reason.
    pub dropped_queue_full: u64,
    pub dropped_oldest: u64,
    pub dropped_database_full: u64,
    pub dropped_undeliverable: u64,
    pub dropped_at_shutdown: u64,
    /// Events removed because they were older than event_ttl.
    pub expired: u64,
    /// Failed sends or connection attempts.
    pub send_errors: u64,
    /// Connections opened (the first one included).
    pub connects: u64,
    pub database_errors: u64,
    pub last_error: Option<String>,
    /// Kafka transport: messages handed to librdkafka, its delivery reports
    /// (successful and failed), and messages awaiting one.
    pub kafka_produced: u64,
    pub kafka_delivered: u64,
    pub kafka_failed: u64,
    pub kafka_in_flight: u64,
}

impl Stats {
    /// Every dropped event, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_oldest
            + self.dropped_database_full
            + self.dropped_undeliverable
            + self.dropped_at_shutdown
    }
}

impl Counters {
    pub fn snapshot(&self, queued: u64) -> Stats {
        Stats {
            emitted: self.emitted.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            below_level: self.below_level.load(Relaxed),
            queued,
            buffered: self.buffered.load(Relaxed),
            sent: self.sent.load(Relaxed),
            resent: self.resent.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_oldest: self.dropped_oldest.load(Relaxed),
            dropped_database_full: self.dropped_database_full.load(Relaxed),
            dropped_undeliverable: self.dropped_undeliverable.load(Relaxed),
            dropped_at_shutdown: self.dropped_at_shutdown.load(Relaxed),
            expired: self.expired.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            connects: self.connects.load(Relaxed),
            database_errors: self.database_errors.load(Relaxed),
            last_error: self.last_error.lock().clone(),
            kafka_produced: self.kafka.produced.load(Relaxed),
            kafka_delivered: self.kafka.delivered.load(Relaxed),
            kafka_failed: self.kafka.failed.load(Relaxed),
            kafka_in_flight: self.kafka.in_flight.load(Relaxed),
        }
    }
}
