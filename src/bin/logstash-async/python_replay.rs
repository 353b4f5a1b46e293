//! `replay --python-database FILE`: delivers what python-logstash-async left
//! in its database (every row, those marked pending_delete too) with any of
//! the library's transports, and deletes each row from that file only once
//! its event was delivered. The rows are copied into a staging buffer that
//! a handle sends (python_staging.rs); a row whose chunk left it delivered
//! is deleted from the Python file as the replay goes.

use crate::connection::{self, ConnectionArgs};
use crate::failure::Failure;
use crate::progress;
use crate::python_staging::{stage, StagingFile};
use logstash_async::buffer::inspect::ChunkIds;
use logstash_async::buffer::python::PythonDatabase;
use logstash_async::{Client, Stats};
use std::path::Path;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

pub fn run(path: &Path, conn: &ConnectionArgs, timeout: Duration) -> Result<(), Failure> {
    if conn.database().is_some() {
        return Err(Failure::Usage(
            "replay: give --python-database or --database, not both".into(),
        ));
    }
    let mut config = conn.config()?;
    // Staged events are removed from the staging file only when delivered
    // (or refused by the receiver): no expiry, no database limit.
    config.event_ttl = None;
    config.max_database_events = None;
    config.max_database_bytes = None;
    let destination = connection::destination(&config);
    let mut python = PythonDatabase::open(path).map_err(Failure::Runtime)?;
    let total = python.count().map_err(Failure::Runtime)?;
    if total == 0 {
        println!("nothing to replay: {} holds no events", path.display());
        return Ok(());
    }

    let staging = StagingFile::new();
    let staged = stage(&python, &staging.path, &config).map_err(Failure::Runtime)?;
    let mut ledger = staged.ledger;
    config.database_path = Some(staging.path.clone());
    let client = Client::new(config).map_err(Failure::Runtime)?;
    let watch = ChunkIds::open(&staging.path).map_err(Failure::Runtime)?;
    let deadline = Instant::now() + timeout;
    let mut deleted = 0u64;
    let mut delete = |python: &mut PythonDatabase, rows: Vec<i64>| -> Result<(), Failure> {
        if !rows.is_empty() {
            python.delete(&rows).map_err(Failure::Runtime)?;
            deleted += rows.len() as u64;
        }
        Ok(())
    };
    progress::while_running(&client, "replayed", || -> Result<(), Failure> {
        loop {
            std::thread::sleep(POLL);
            // The staging file first, then the counters (see python_staging.rs).
            let remaining = watch.read().map_err(Failure::Runtime)?;
            let s = client.stats();
            delete(
                &mut python,
                ledger.observe(&remaining, removed_undelivered(&s)),
            )?;
            let failing = s.send_errors > 0 || s.database_errors > 0;
            if ledger.all_gone() || failing || Instant::now() >= deadline {
                return Ok(());
            }
        }
    })?;
    // Written but unconfirmed events are confirmed by the clean close.
    let _ = client.shutdown(deadline.saturating_duration_since(Instant::now()).max(POLL));
    let s = client.stats();
    let remaining = watch.read().map_err(Failure::Runtime)?;
    delete(
        &mut python,
        ledger.finish(&remaining, removed_undelivered(&s)),
    )?;
    drop(watch);
    drop(client);

    let left = python.count().map_err(Failure::Runtime)?;
    let name = path.display();
    if left == 0 {
        println!("replayed {deleted} events from {name} (python-logstash-async) to {destination}");
        return Ok(());
    }
    let mut why = Vec::new();
    if staged.unreadable > 0 {
        why.push(format!(
            "{} rows are not JSON objects (or over max_event_bytes)",
            staged.unreadable
        ));
    }
    if ledger.tainted() {
        why.push(format!(
            "the receiver refused {} events for good, so the batches around them were kept",
            removed_undelivered(&s)
        ));
    }
    match &s.last_error {
        Some(e) if s.send_errors > 0 || s.database_errors > 0 => why.push(e.clone()),
        _ if !ledger.all_gone() => {
            why.push(format!("not done within {:.0}s", timeout.as_secs_f64()))
        }
        _ => {}
    }
    Err(Failure::Undelivered(format!(
        "replayed {deleted} of {total} events to {destination}; {left} left in {name} ({})",
        why.join("; ")
    )))
}

/// Events the library removed without delivering them.
fn removed_undelivered(s: &Stats) -> u64 {
    s.dropped_undeliverable + s.expired + s.dropped_oldest + s.dropped_database_full
}
