//! Test support for every integration test binary (one `mod support;` line
//! each): real loopback receivers, the test PKI, the C program runner,
//! syslog-ng, and the helpers that build clients and check what arrived.
//!
//! | file | job |
//! |---|---|
//! | `listener.rs` | binding, the accept loop, bounded reads, crash resets |
//! | `tcp_sink.rs`, `udp_sink.rs` | line / datagram receivers |
//! | `beats_server.rs` | the Lumberjack v2 (Beats) receiver |
//! | `http_server.rs` | the HTTP/1.1 receiver |
//! | `tls_relay.rs` | a TLS front for a plain receiver |
//! | `pki.rs` | a throwaway CA and certificates |
//! | `python.rs` | python-logstash-async and prometheus_client from PyPI, in a venv |
//! | `syslog_ng.rs` | syslog-ng, an independent receiver |
//! | `kafka.rs` | a Kafka broker (scripts/services/kafka.sh), topics, kcat |
//! | `redis.rs` | redis-server and redis-cli |
//! | `c_program.rs` | compiling and running the C programs of tests/c/ |
//! | `client.rs` | client configurations, waits on statistics |
//! | `events.rs` | numbered test events and the checks on arrival |

// Each test binary uses only part of this tree; the rest would be reported
// as dead code in that binary.
#![allow(dead_code)]

pub mod beats_server;
pub mod c_program;
pub mod client;
pub mod events;
pub mod http_server;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod listener;
pub mod pki;
pub mod python;
pub mod redis;
pub mod syslog_ng;
pub mod tcp_sink;
pub mod tls_relay;
pub mod udp_sink;

// The everyday names, for `use support::*` (a binary using none of one of
// them would be warned of an unused import).
#[allow(unused_imports)]
pub use {client::*, events::*, tcp_sink::TcpSink, udp_sink::UdpSink};

use std::time::{Duration, Instant};

/// A port that was free a moment ago (nothing listens on it).
pub fn free_port() -> u16 {
    listener::bind_any().local_addr().unwrap().port()
}

/// Polls `done` every 10 ms until it is true or `timeout` passed; returns
/// whether it became true.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
