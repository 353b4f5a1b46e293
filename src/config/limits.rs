//! Limits and what happens at them: the least level accepted, the largest
//! event, the memory queue's and the database's bounds, the overflow policy
//! (and how long `block` waits), and how old an undelivered event may grow.

use super::options::{option, ConfigOption};
use super::read::{int_in, seconds, string};
use crate::level::Level;
use serde_json::Value;
use std::time::Duration;

/// What happens when the in-memory queue or the database is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Refuse the new event (emit returns QUEUE_FULL). Never blocks.
    #[default]
    DropNewest,
    /// Evict the oldest buffered events to make room.
    DropOldest,
    /// Wait up to `block_timeout` for room, then refuse.
    Block,
}

/// Largest event accepted by default: Logstash's and syslog's usual line limit.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Upper bound of `max_event_bytes`: one event is copied whole on the caller's thread.
pub const MAX_MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("level", "\"DEBUG\"", |c, k, v| {
        let name = string(k, v)?;
        c.level = Level::from_name(&name).ok_or_else(|| {
            format!("level: unknown level \"{name}\" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)")
        })?;
        Ok(())
    }),
    option("max_event_bytes", "1048576", |c, k, v| {
        c.max_event_bytes = int_in(k, v, 2, MAX_MAX_EVENT_BYTES as i64)? as usize;
        Ok(())
    }),
    option("max_queue_events", "100000", |c, k, v| {
        c.max_queue_events = int_in(k, v, 1, 100_000_000)? as usize;
        Ok(())
    }),
    option("max_database_events", "null", |c, k, v| {
        c.max_database_events = match v {
            Value::Null => None,
            _ => Some(int_in(k, v, 1, i64::MAX)? as u64),
        };
        Ok(())
    }),
    option("max_database_bytes", "null", |c, k, v| {
        c.max_database_bytes = match v {
            Value::Null => None,
            _ => Some(int_in(k, v, 4096, i64::MAX)? as u64),
        };
        Ok(())
    }),
    option("overflow_policy", "\"drop_newest\"", |c, k, v| {
        c.overflow_policy = match string(k, v)?.as_str() {
            "drop_newest" => OverflowPolicy::DropNewest,
            "drop_oldest" => OverflowPolicy::DropOldest,
            "block" => OverflowPolicy::Block,
            other => {
                return Err(format!(
                    "overflow_policy: unknown policy \"{other}\" (expected \"drop_newest\", \"drop_oldest\" or \"block\")"
                ))
            }
        };
        Ok(())
    }),
    option("block_timeout_ms", "100", |c, k, v| {
        c.block_timeout = Duration::from_millis(int_in(k, v, 0, 3_600_000)? as u64);
        Ok(())
    }),
    option("event_ttl", "null", |c, k, v| {
        c.event_ttl = match v {
            Value::Null => None,
            _ => Some(seconds(k, v, 0.001, 10.0 * 365.0 * 86400.0)?),
        };
        Ok(())
    }),
];
