//! Options of the worker: whether it ships at all, where it stores events
//! (`database_path`), how it batches them, whether it reports errors on
//! stderr, and the name its statistics carry (`handle_name`).

use super::options::{option, ConfigOption};
use super::read::{boolean, int_in, opt_string, seconds};
use std::path::PathBuf;

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("enable", "true", |c, k, v| {
        c.enable = boolean(k, v)?;
        Ok(())
    }),
    option("database_path", "\":memory:\"", |c, k, v| {
        c.database_path = match opt_string(k, v)? {
            None => None,
            Some(p) if p == ":memory:" => None,
            Some(p) if p.is_empty() => {
                return Err("database_path: must not be empty (use \":memory:\")".into())
            }
            Some(p) => Some(PathBuf::from(p)),
        };
        Ok(())
    }),
    option("queue_check_interval", "2.0", |c, k, v| {
        c.queue_check_interval = seconds(k, v, 0.001, 3600.0)?;
        Ok(())
    }),
    option("queued_events_flush_interval", "10.0", |c, k, v| {
        c.queued_events_flush_interval = seconds(k, v, 0.0, 86400.0)?;
        Ok(())
    }),
    option("queued_events_flush_count", "50", |c, k, v| {
        c.queued_events_flush_count = int_in(k, v, 1, 10_000_000)? as usize;
        Ok(())
    }),
    option("queued_events_batch_size", "50", |c, k, v| {
        c.queued_events_batch_size = int_in(k, v, 1, 1_000_000)? as usize;
        Ok(())
    }),
    option("stderr_errors", "true", |c, k, v| {
        c.stderr_errors = boolean(k, v)?;
        Ok(())
    }),
    option("handle_name", "null", |c, k, v| {
        c.handle_name = match opt_string(k, v)? {
            Some(name) if name.trim().is_empty() => {
                return Err("handle_name: must not be empty (null numbers the handles)".into())
            }
            Some(name) if name.len() > 200 || name.chars().any(char::is_control) => {
                return Err("handle_name: expected a short name without control characters".into())
            }
            other => other,
        };
        Ok(())
    }),
];
