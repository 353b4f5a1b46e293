//! Transports: how batches of formatted events leave the process.
//!
//! The worker owns the buffer and hands a transport batches (`batch.rs`) as
//! long as it has capacity; a transport never makes the worker wait for a
//! receiver. Beats and HTTP work on threads of their own (a connection or a
//! request each) and wake the worker when a batch is done; TCP, UDP and the
//! custom transport work on the worker thread and never block it for long
//! (TCP connects on a short-lived thread, `connector.rs`).
//! Outcomes come back per batch, in any order; the worker decides what is
//! deleted, what is sent again, and the retry policy (backoff).

pub mod batch;
pub mod beats;
pub mod callback;
mod connector;
pub mod hosts;
pub mod http;
mod interrupt;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod redis;
mod reports;
mod stream;
pub mod tcp;
pub mod tls;
pub mod udp;

pub use batch::{Batch, Capacity, Outcome, Part, SendError};
pub use interrupt::{InterruptSlot, Interrupter, Waker};

use crate::config::{Config, TransportKind};
use crate::stats::Counters;
use std::time::Instant;

pub trait Transport: Send {
    /// Called once, before anything else, by the worker that will use the
    /// transport: `waker` wakes it when an outcome is ready.
    fn start(&mut self, _waker: Waker) {}

    /// How large the next batch may be; None while the transport takes no
    /// batch (its pipeline is full, or it has enough output buffered).
    fn capacity(&self, now: Instant) -> Option<Capacity>;

    /// Takes a batch sized within the last `capacity`. Never waits for a
    /// receiver: its fate is reported by `poll`, under its ticket.
    fn submit(&mut self, batch: Batch, now: Instant);

    /// Appends what happened since the last call to `out`. Never blocks.
    fn poll(&mut self, now: Instant, out: &mut Vec<Outcome>);

    /// When `poll` has something to look at without being woken (a timer
    /// of the transport's); None: only after a wake or a submit.
    fn next_poll(&self, _now: Instant) -> Option<Instant> {
        None
    }

    /// Connections established so far (the `connects` counter).
    fn connections_opened(&self) -> u64 {
        0
    }

    /// Finishes before `deadline`, making sure the receiver got what it can
    /// confirm, and reports those outcomes; a batch not reported is not
    /// delivered (its events stay in the buffer).
    fn close(&mut self, deadline: Instant, out: &mut Vec<Outcome>);
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
            config.connection_ttl,
            interrupter,
        ))),
        TransportKind::Beats => Ok(Box::new(beats::BeatsTransport::new(
            hosts(),
            beats::BeatsSettings {
                timeout: config.socket_timeout,
                ack_timeout: config.beats_ack_timeout,
                compression_level: config.compression_level,
                max_window: config.beats_window_size,
                pipelining: config.beats_pipelining,
                connection_ttl: config.connection_ttl,
            },
            tls()?,
            interrupter,
        ))),
        TransportKind::Udp => Ok(Box::new(udp::UdpTransport::new(
            config.host.clone(),
            config.port,
        ))),
        TransportKind::Http => Ok(Box::new(http::HttpTransport::new(config, hosts())?)),
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
