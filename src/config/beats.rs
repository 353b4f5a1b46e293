//! Options of the beats transport (Lumberjack v2): compression, window size,
//! pipelining, acknowledgement timeout, and its default port.

use super::declare::{option, ConfigOption};
use super::read::{int_in, seconds};
use super::transport::only_with;
use super::{Config, TransportKind};
use serde_json::{Map, Value};

/// Default port of the beats transport (Logstash's beats input).
const BEATS_DEFAULT_PORT: u16 = 5044;

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("compression_level", "3", |c, k, v| {
        c.compression_level = int_in(k, v, 0, 9)? as u32;
        Ok(())
    }),
    option("beats_window_size", "2048", |c, k, v| {
        c.beats_window_size = int_in(k, v, 1, 1_000_000)? as usize;
        Ok(())
    }),
    option("beats_pipelining", "2", |c, k, v| {
        c.beats_pipelining = int_in(k, v, 1, 64)? as usize;
        Ok(())
    }),
    option("beats_ack_timeout", "30.0", |c, k, v| {
        c.beats_ack_timeout = seconds(k, v, 0.001, 86400.0)?;
        Ok(())
    }),
];

/// The options above, which only the beats transport uses.
const BEATS_ONLY: [&str; 4] = [
    "compression_level",
    "beats_window_size",
    "beats_pipelining",
    "beats_ack_timeout",
];

/// Rule: the beats options only with the beats transport.
pub(super) fn check_transport(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    only_with(TransportKind::Beats, "beats", &BEATS_ONLY, c, map)
}

/// Rule: beats listens on 5044 unless `port` says otherwise.
pub(super) fn default_port(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    if c.transport == TransportKind::Beats && !map.contains_key("port") {
        c.port = BEATS_DEFAULT_PORT;
    }
    Ok(())
}
