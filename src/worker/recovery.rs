//! File recovery: when the database file stops taking writes (disk full,
//! unwritable), the worker goes on buffering in memory and retries the file
//! with a growing delay; once it takes writes again, every chunk moves back
//! into it.

use super::backlog::Backlog;
use crate::buffer::{Buffer, NewChunk};
use crate::config::Config;
use crate::shared::Shared;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest pause of new sends while a file retry waits for in-flight writes.
const FILE_RETRY_GRACE: Duration = Duration::from_secs(1);

pub struct FileRecovery {
    shared: Arc<Shared>,
    /// `database_path` (None: the buffer is `:memory:` by choice).
    path: Option<PathBuf>,
    /// Set while the file is unusable.
    retry: Option<Retry>,
    backoff_initial: Duration,
    backoff_max: Duration,
}

/// When to try the file again, and the delay after that (the send
/// backoff's bounds).
#[derive(Clone, Copy)]
struct Retry {
    at: Instant,
    delay: Duration,
}

impl FileRecovery {
    /// `durable`: the buffer opened is the configured file.
    pub fn new(shared: Arc<Shared>, config: &Config, durable: bool) -> FileRecovery {
        let mut recovery = FileRecovery {
            shared,
            path: config.database_path.clone(),
            retry: None,
            backoff_initial: config.backoff_initial,
            backoff_max: config.backoff_max,
        };
        if recovery.path.is_some() && !durable {
            // Create fell back to memory: the file may become usable later.
            recovery.schedule(None);
        }
        recovery
    }

    fn schedule(&mut self, previous: Option<Duration>) {
        let delay = previous.map_or(self.backoff_initial.max(Duration::from_millis(100)), |d| {
            (d * 2).min(self.backoff_max.max(d))
        });
        self.retry = Some(Retry {
            at: Instant::now() + delay,
            delay,
        });
    }

    /// Whether to retry the file now: it is time, and nothing is in flight
    /// (unconfirmed writes refer to ids of the memory buffer). When writes
    /// stayed unconfirmed through the grace period, the retry is put off.
    pub fn retry_due(&mut self, now: Instant, writes_in_flight: bool) -> bool {
        let Some(retry) = self.retry else {
            return false;
        };
        if now >= retry.at && !writes_in_flight {
            return true;
        }
        if now >= retry.at + FILE_RETRY_GRACE {
            self.schedule(Some(retry.delay));
        }
        false
    }

    /// A due retry waits for in-flight writes to be confirmed: no new sends
    /// start meanwhile (for at most FILE_RETRY_GRACE), or a steady stream
    /// would always have some in flight and the file would never be retried.
    pub fn holds_sends(&self, now: Instant) -> bool {
        self.retry
            .is_some_and(|r| now >= r.at && now < r.at + FILE_RETRY_GRACE)
    }

    /// When the next retry is due.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry.map(|r| r.at)
    }

    /// The file failed a write: the backlog goes on in a new `:memory:`
    /// buffer (rows already in the file stay there). False when none could
    /// be made.
    pub fn fall_back(&mut self, backlog: &mut Backlog) -> bool {
        let Ok(memory) = Buffer::in_memory() else {
            return false;
        };
        self.shared.reporter.report(
            "database fallback",
            &format!(
                "database {} is not writable: buffering in memory until it is usable again (rows already in the file stay there)",
                backlog.path_text()
            ),
        );
        backlog.fall_back_to(memory);
        self.schedule(None);
        true
    }

    /// Goes back to the configured file: opens it, moves every chunk the
    /// memory buffer holds into it (in order, ids remapped) and carries on
    /// there. Returns the events now in the file, or None when any step
    /// failed: the memory buffer stays in place and the next attempt is
    /// scheduled.
    pub fn retry(&mut self, backlog: &mut Backlog) -> Option<u64> {
        let retry = self.retry.take()?;
        let path = self.path.clone()?;
        let moved = Buffer::open_file(&path).and_then(|(mut file, _)| {
            file.probe_write().map_err(|e| e.to_string())?;
            let chunks = backlog.all_chunks().map_err(|e| e.to_string())?;
            let old_ids: Vec<i64> = chunks.iter().map(|c| c.id).collect();
            let mut rows: Vec<NewChunk> = chunks
                .into_iter()
                .map(|c| NewChunk {
                    lines: c.lines.clone(),
                    count: c.count,
                    newest_ms: c.newest_ms,
                })
                .collect();
            let new_ids = file.insert(&mut rows).map_err(|e| e.to_string())?;
            let totals = file.totals().map_err(|e| e.to_string())?;
            Ok((file, old_ids.into_iter().zip(new_ids).collect(), totals))
        });
        match moved {
            Ok((file, new_ids, totals)) => {
                backlog.move_to_file(file, &new_ids, totals);
                self.shared.reporter.report(
                    "database recovered",
                    &format!(
                        "database {} is usable again: buffering in the file",
                        path.display()
                    ),
                );
                Some(totals.events)
            }
            Err(e) => {
                self.shared
                    .counters
                    .set_error(&format!("database: still unusable: {e}"));
                self.schedule(Some(retry.delay));
                None
            }
        }
    }
}
