//! What a `Client` and its worker thread share: the queue between them, the
//! counters, the error reporter, the flush/shutdown handshake and the
//! interrupter that unblocks a stuck socket.

use crate::buffer;
use crate::handshake::Handshake;
use crate::queue::Queue;
use crate::report::Reporter;
use crate::stats::Counters;
use crate::transport::Interrupter;

pub struct Shared {
    pub queue: Queue,
    pub counters: Counters,
    pub reporter: Reporter,
    pub handshake: Handshake,
    pub interrupter: Interrupter,
}

impl Shared {
    /// An error the worker met: kept as the last error and printed
    /// (rate-limited per kind).
    pub fn report_error(&self, kind: &'static str, message: &str) {
        self.counters.set_error(message);
        self.reporter.report(kind, message);
    }

    /// A database error: counted, then reported.
    pub fn database_error(&self, what: &str, e: &buffer::Error) {
        Counters::add(&self.counters.database_errors, 1);
        self.report_error("database", &format!("database: cannot {what}: {e}"));
    }
}
