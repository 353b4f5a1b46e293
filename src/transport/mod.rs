//! Transports: how a chunk of formatted events leaves the process.
//!
//! Every method runs on the worker thread only. A transport owns its connection
//! and re-establishes it on the next send after an error; the worker owns the
//! retry policy (backoff) and the bookkeeping of which rows may be deleted.

pub mod beats;
pub mod callback;
pub mod hosts;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod redis;
mod stream;
pub mod tcp;
pub mod tls;
pub mod udp;

use crate::buffer::Chunk;
use crate::config::{Config, TransportKind};
use crate::stats::Counters;
use std::time::Instant;

/// What a successful send means for the chunk's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Delivered now: the rows can be deleted. `rejected` events of the chunk
    /// could never be delivered (e.g. larger than a datagram) and are counted as dropped.
    Delivered { rejected: u32 },
    /// Written, but delivery is confirmed later by `confirmed_through`
    /// (plain TCP has no acknowledgements; see tcp.rs). The ticket orders writes.
    Written { ticket: u64 },
}

/// A failed send or confirmation. The connection is closed; unconfirmed
/// writes are void and must be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// Events at the start of the chunk known to be delivered despite the error.
    pub delivered_prefix: u32,
    /// Another host can take over at once: retry without the worker's backoff
    /// (the failed host has its own).
    pub another_host_ready: bool,
}

impl SendError {
    pub fn new(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            delivered_prefix: 0,
            another_host_ready: false,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Events the receiver refused for good (not retried), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// How many of them lie within the `delivered_prefix` of a `SendError`
    /// (they are dropped, not delivered). 0 after a successful send.
    pub in_failed_prefix: u32,
    pub message: String,
}

pub trait Transport: Send {
    /// Sends one chunk (connecting first if needed).
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError>;

    /// The highest ticket whose write is now known delivered (0 = none). An
    /// error means the connection died and unconfirmed writes are void.
    fn confirmed_through(&mut self, _now: Instant) -> Result<u64, SendError> {
        Ok(u64::MAX)
    }

    /// False while the transport has enough unsent output buffered: the worker
    /// then hands it no new chunk until a later turn (backpressure).
    fn ready(&self) -> bool {
        true
    }

    /// Why events of the last send were rejected by the receiver (counted in
    /// `Sent::Delivered::rejected`, or among a `SendError`'s `delivered_prefix`),
    /// for the worker to report. Taken once. Also asked after a successful
    /// `confirmed_through`: then `in_failed_prefix` counts the events among the
    /// writes just confirmed that were refused for good (dropped, not delivered).
    fn take_rejection(&mut self) -> Option<Rejection> {
        None
    }

    /// A trouble the transport works through by itself (a broker down,
    /// credentials refused) while its unconfirmed writes stay valid: the worker
    /// reports it like a failed send (counted, on stderr rate-limited, seen by
    /// flush) but voids and resends nothing. Taken once.
    fn take_trouble(&mut self) -> Option<String> {
        None
    }

    /// Connections established so far (the `connects` counter).
    fn connections_opened(&self) -> u64 {
        0
    }

    /// Closes gracefully before `deadline`, making sure the peer got what was
    /// written. Returns the highest ticket known delivered.
    fn close(&mut self, deadline: Instant) -> u64;
}

/// Lets another thread unblock a worker stuck in a socket call (shutdown with a
/// timeout): the transport registers its current descriptor, and `interrupt`
/// calls shutdown(2) on it. The mutex keeps the descriptor from being closed
/// and reused between the two.
#[derive(Clone, Default)]
pub struct Interrupter(std::sync::Arc<parking_lot::Mutex<Option<std::os::unix::io::RawFd>>>);

impl Interrupter {
    pub fn register(&self, fd: std::os::unix::io::RawFd) {
        *self.0.lock() = Some(fd);
    }

    /// Runs `close` (which closes the registered descriptor) under the lock.
    pub fn clear_while<T>(&self, close: impl FnOnce() -> T) -> T {
        let mut slot = self.0.lock();
        *slot = None;
        close()
    }

    pub fn interrupt(&self) {
        if let Some(fd) = *self.0.lock() {
            // SAFETY: the descriptor is registered, so it is open and ours.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }
}

/// Builds the configured transport. TLS material is loaded here, on the
/// caller's thread inside create, so a bad file fails create with its name.
/// A transport with counters of its own updates them in `counters`.
pub fn build(
    config: &Config,
    interrupter: Interrupter,
    counters: &Counters,
) -> Result<Box<dyn Transport>, String> {
    let tls = || -> Result<Option<tls::TlsSettings>, String> {
        if config.tls.enable {
            Ok(Some(tls::TlsSettings::load(&config.tls, &config.host)?))
        } else {
            Ok(None)
        }
    };
    let hosts = || {
        hosts::HostSet::new(
            config.endpoints(),
            config.loadbalance,
            config.backoff_initial,
            config.backoff_max,
        )
    };
    match config.transport {
        TransportKind::Tcp => Ok(Box::new(tcp::TcpTransport::new(
            hosts(),
            config.socket_timeout,
            tls()?,
            interrupter,
        ))),
        TransportKind::Beats => Ok(Box::new(beats::BeatsTransport::new(
            hosts(),
            beats::BeatsSettings {
                timeout: config.socket_timeout,
                ack_timeout: config.beats_ack_timeout,
                compression_level: config.compression_level,
                max_window: config.beats_window_size,
            },
            tls()?,
            interrupter,
        ))),
        TransportKind::Udp => Ok(Box::new(udp::UdpTransport::new(
            config.host.clone(),
            config.port,
        ))),
        TransportKind::Http => Ok(Box::new(http::HttpTransport::new(config)?)),
        #[cfg(feature = "kafka")]
        TransportKind::Kafka => Ok(Box::new(kafka::KafkaTransport::new(
            config,
            counters.kafka.clone(),
        )?)),
        #[cfg(not(feature = "kafka"))]
        TransportKind::Kafka => {
            let _ = counters;
            Err("transport: this build of the library has no Kafka support (cargo feature \"kafka\")".into())
        }
        TransportKind::Redis => Ok(Box::new(redis::RedisTransport::new(
            hosts(),
            config,
            tls()?,
            interrupter,
        ))),
        TransportKind::Custom => {
            Err("transport: a custom transport needs its send function (logstash_async_create_with_transport)".into())
        }
    }
}

#[cfg(all(test, not(feature = "kafka")))]
mod tests {
    use super::*;

    #[test]
    fn kafka_without_the_feature_fails_create_saying_so() {
        let config = Config::from_json(br#"{"transport":"kafka","host":"k"}"#).unwrap();
        let err = build(&config, Interrupter::default(), &Counters::default())
            .err()
            .expect("refused");
        assert!(err.contains("no Kafka support"), "{err}");
    }
}
