//! For `replay --python-database`: the staging file (a buffer of this
//! library holding copies of the Python rows, which a handle then sends as
//! it sends any leftovers) and the ledger that says which Python rows may be
//! deleted: those of staged chunks that left the staging file delivered.
//!
//! A chunk also leaves the file when the receiver refuses it for good (an
//! HTTP 4xx, a datagram too large): the library counts it as dropped, and
//! the staging file cannot tell the two apart. So rows of chunks that left
//! wait one poll before they are deleted, and once the library has counted
//! any such drop nothing more is deleted: those rows stay in the Python file
//! (a later replay sends them again), never a row that was not delivered.

use logstash_async::buffer::python::PythonDatabase;
use logstash_async::buffer::{Buffer, NewChunk};
use logstash_async::config::TransportKind;
use logstash_async::Config;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Rows read from the Python file at a time.
const PAGE: usize = 10_000;
/// Bytes stored per staging transaction.
const GROUP_BYTES: usize = 2 << 20;
/// TCP and UDP chunks: the library's own row size for them.
const STREAM_EVENTS: usize = 1000;
const STREAM_BYTES: usize = 256 << 10;

/// A staging file in the temp directory, removed (with its WAL, shared
/// memory and lock files) when dropped.
pub struct StagingFile {
    pub path: PathBuf,
}

impl StagingFile {
    pub fn new() -> StagingFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("logstash-async-replay-{}-{nanos}.db", std::process::id());
        StagingFile {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What staging found.
pub struct Staged {
    pub ledger: Ledger,
    /// Rows that are not a JSON object (or too large): left in the file.
    pub unreadable: u64,
}

/// Copies every row of `python` (pending_delete ones too) into a new buffer
/// at `staging`, in chunks as the configured transport stores them.
pub fn stage(python: &PythonDatabase, staging: &Path, config: &Config) -> Result<Staged, String> {
    let (max_events, max_bytes) = match config.transport {
        TransportKind::Tcp | TransportKind::Udp if !config.loadbalance => {
            (STREAM_EVENTS, STREAM_BYTES)
        }
        _ => (config.queued_events_batch_size, STREAM_BYTES),
    };
    let (mut buffer, _) = Buffer::open_file(staging)?;
    let now = logstash_async::sys::now_unix_ms();
    let mut ledger = Ledger::default();
    let mut unreadable = 0u64;
    let mut group: Vec<NewChunk> = Vec::new();
    let mut group_rows: Vec<Vec<i64>> = Vec::new();
    let mut group_bytes = 0;
    let mut store = |group: &mut Vec<NewChunk>, rows: &mut Vec<Vec<i64>>| -> Result<(), String> {
        let ids = buffer
            .insert(group)
            .map_err(|e| format!("staging file: {e}"))?;
        for (id, rows) in ids.into_iter().zip(rows.drain(..)) {
            ledger.staged.insert(id, rows);
        }
        Ok(())
    };
    let mut after = 0;
    loop {
        let page = python.events_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in page {
            // Whitespace newlines would split the line (JSON strings hold
            // none unescaped): one line per event.
            let text = row.text.replace(['\n', '\r'], " ");
            if logstash_async::event::validate(text.as_bytes(), config.max_event_bytes).is_err() {
                unreadable += 1;
                continue;
            }
            let fits = group.last().is_some_and(|c: &NewChunk| {
                (c.count as usize) < max_events && c.lines.len() + text.len() < max_bytes
            });
            if !fits {
                group.push(NewChunk {
                    lines: Vec::new(),
                    count: 0,
                    newest_ms: now,
                });
                group_rows.push(Vec::new());
            }
            let chunk = group.last_mut().expect("a chunk");
            chunk.lines.extend_from_slice(text.as_bytes());
            chunk.lines.push(b'\n');
            chunk.count += 1;
            group_rows.last_mut().expect("its rows").push(row.id);
            group_bytes += text.len() + 1;
            if group_bytes >= GROUP_BYTES {
                store(&mut group, &mut group_rows)?;
                group_bytes = 0;
            }
        }
    }
    if !group.is_empty() {
        store(&mut group, &mut group_rows)?;
    }
    Ok(Staged { ledger, unreadable })
}

/// Which Python rows each staged chunk carries, and which may go.
#[derive(Default)]
pub struct Ledger {
    /// Chunk id in the staging file -> its Python rows.
    staged: HashMap<i64, Vec<i64>>,
    /// Rows of chunks that left the staging file, and the poll that saw it.
    waiting: Vec<(u64, Vec<i64>)>,
    polls: u64,
    /// The library counted an event removed undelivered: delete no more.
    tainted: bool,
}

impl Ledger {
    /// A look at the staging file (`remaining` chunk ids) and the library's
    /// count of events removed undelivered, read after it: the Python rows
    /// that may be deleted now.
    pub fn observe(&mut self, remaining: &HashSet<i64>, removed_undelivered: u64) -> Vec<i64> {
        self.polls += 1;
        let gone: Vec<i64> = self
            .staged
            .keys()
            .filter(|id| !remaining.contains(id))
            .copied()
            .collect();
        let rows: Vec<i64> = gone
            .iter()
            .flat_map(|id| self.staged.remove(id).unwrap_or_default())
            .collect();
        if !rows.is_empty() {
            self.waiting.push((self.polls, rows));
        }
        self.tainted |= removed_undelivered > 0;
        if self.tainted {
            return Vec::new();
        }
        let now = self.polls;
        let (ready, wait): (Vec<_>, Vec<_>) =
            self.waiting.drain(..).partition(|(seen, _)| *seen < now);
        self.waiting = wait;
        ready.into_iter().flat_map(|(_, rows)| rows).collect()
    }

    /// The last look, once the handle has stopped (its counts are final):
    /// every row whose chunk left may go unless something was removed
    /// undelivered.
    pub fn finish(&mut self, remaining: &HashSet<i64>, removed_undelivered: u64) -> Vec<i64> {
        let mut rows = self.observe(remaining, removed_undelivered);
        if !self.tainted {
            rows.extend(self.waiting.drain(..).flat_map(|(_, rows)| rows));
        }
        rows
    }

    /// Whether every staged chunk has left the staging file.
    pub fn all_gone(&self) -> bool {
        self.staged.is_empty()
    }

    /// Whether rows were kept because the library removed events undelivered.
    pub fn tainted(&self) -> bool {
        self.tainted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(chunks: &[(i64, &[i64])]) -> Ledger {
        let mut l = Ledger::default();
        for (id, rows) in chunks {
            l.staged.insert(*id, rows.to_vec());
        }
        l
    }

    #[test]
    fn rows_go_one_poll_after_their_chunk_and_never_after_a_drop() {
        let mut l = ledger(&[(1, &[10, 11]), (2, &[12]), (3, &[13])]);
        let left = |ids: &[i64]| ids.iter().copied().collect::<HashSet<i64>>();
        assert!(
            l.observe(&left(&[2, 3]), 0).is_empty(),
            "chunk 1 waits a poll"
        );
        assert_eq!(l.observe(&left(&[3]), 0), vec![10, 11]);
        // A drop is counted: chunk 2's rows (gone in the same interval) stay.
        assert!(l.observe(&left(&[]), 1).is_empty());
        assert!(l.finish(&left(&[]), 1).is_empty());
        assert!(l.tainted() && l.all_gone());

        let mut l = ledger(&[(1, &[10]), (2, &[11])]);
        assert!(l.observe(&left(&[2]), 0).is_empty());
        assert_eq!(
            l.finish(&left(&[]), 0),
            vec![10, 11],
            "final counts are exact"
        );
    }
}
