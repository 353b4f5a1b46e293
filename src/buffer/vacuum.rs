//! Giving the disk space of an outage back: a file buffer grows to hold
//! what the receiver did not take, and SQLite keeps the pages of deleted
//! rows for reuse, so without this the file stays at its largest forever.
//!
//! Once the backlog has drained (few live pages left, many free ones), the
//! worker runs VACUUM, which rewrites only the live pages into a new file
//! (cheap then: a few MiB at most), and truncates the WAL. Checked after
//! deletions: at once when the buffer became empty, else at most once a
//! second. A truncation that found the background checkpoint in its way is
//! tried again once a second (`finish_reclaim`, from the worker's loop), so
//! the WAL the VACUUM filled does not stay at its size. Incremental auto-vacuum was not chosen: it needs the setting
//! before the first table exists (existing files would need a VACUUM
//! anyway) and moves pages on every commit while the file is busy.

use super::{Buffer, Result};
use std::time::{Duration, Instant};

/// Free pages worth giving back: below this the file is left as it is (a
/// healthy buffer churns through a few MiB of pages all the time).
const MIN_FREE_BYTES: u64 = 64 << 20;
/// The most live data VACUUM copies (the worker waits for it): bigger
/// backlogs wait until they have drained further.
const MAX_LIVE_BYTES: u64 = 32 << 20;
/// Between two checks while the buffer is not empty.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// After a failed VACUUM (a full disk has no room for its copy).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// How long the closing WAL checkpoint waits for readers (an `inspect`
/// holding a snapshot) before leaving the WAL to the next checkpoint.
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(200);
/// The busy timeout the buffer uses otherwise (schema.rs).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// When to look, and the thresholds (smaller in unit tests).
pub(super) struct Reclaim {
    next_check: Instant,
    /// The WAL still holds a VACUUM's copy: truncate it when no one is in the way.
    truncate_pending: bool,
    pub(super) min_free_bytes: u64,
    pub(super) max_live_bytes: u64,
}

impl Default for Reclaim {
    fn default() -> Reclaim {
        Reclaim {
            next_check: Instant::now(),
            truncate_pending: false,
            min_free_bytes: MIN_FREE_BYTES,
            max_live_bytes: MAX_LIVE_BYTES,
        }
    }
}

/// What a VACUUM gave back: the file's size (database and WAL) before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl Buffer {
    /// After deletions (`empty`: nothing is left in the buffer): gives the
    /// free pages of a drained backlog back to the file system when there
    /// are many. Only file buffers; never blocks on another process for
    /// long (VACUUM needs no lock a reader holds; the WAL is truncated only
    /// if no reader is in the way).
    pub fn reclaim_space(&mut self, empty: bool) -> Result<Option<Reclaimed>> {
        let now = Instant::now();
        if !self.is_durable() || (!empty && now < self.reclaim.next_check) {
            return Ok(None);
        }
        self.reclaim.next_check = now + CHECK_INTERVAL;
        let page_size: u64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages: u64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: u64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let (free_bytes, live_bytes) = (free * page_size, (pages - free) * page_size);
        if free_bytes < self.reclaim.min_free_bytes || live_bytes > self.reclaim.max_live_bytes {
            return Ok(None);
        }
        let bytes_before = self.file_bytes();
        if let Err(e) = self.conn.execute_batch("VACUUM") {
            self.reclaim.next_check = now + RETRY_AFTER_FAILURE;
            return Err(e.into());
        }
        // The WAL now holds the whole new database: copy it back (the file
        // shrinks then) and truncate the WAL, unless a reader or the
        // background checkpoint is in the way (then later: finish_reclaim).
        self.reclaim.truncate_pending = true;
        self.truncate_wal()?;
        Ok(Some(Reclaimed {
            bytes_before,
            bytes_after: self.file_bytes(),
        }))
    }

    /// Truncates a WAL a VACUUM filled, if that was in someone's way before;
    /// at most once a second. Never waits long (see `truncate_wal`).
    pub fn finish_reclaim(&mut self) -> Result<()> {
        if !self.reclaim.truncate_pending {
            return Ok(());
        }
        let now = Instant::now();
        if now < self.reclaim.next_check {
            return Ok(());
        }
        self.reclaim.next_check = now + CHECK_INTERVAL;
        self.truncate_wal()
    }

    /// A TRUNCATE checkpoint waiting at most CHECKPOINT_BUSY_TIMEOUT for
    /// readers and the background checkpoint; done unless SQLite says busy.
    fn truncate_wal(&mut self) -> Result<()> {
        self.conn.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        if busy? == 0 {
            self.reclaim.truncate_pending = false;
        }
        Ok(())
    }

    /// The database file and its WAL, in bytes.
    pub fn file_bytes(&self) -> u64 {
        let Some(path) = &self.path else { return 0 };
        [path.clone(), super::inspect::sidecar(path, "-wal")]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use crate::buffer::{Buffer, NewChunk};
    use std::path::Path;

    /// A file buffer with small reclaim thresholds, its idle size, and the
    /// ids of the 200 rows of 60 kB an outage then left in it.
    fn outage(path: &Path) -> (Buffer, u64, Vec<i64>) {
        let (mut b, _) = Buffer::open_file(path).unwrap();
        b.reclaim.min_free_bytes = 4 << 20;
        b.reclaim.max_live_bytes = 1 << 20;
        let idle = b.file_bytes();
        let mut ids = Vec::new();
        for i in 0..200 {
            ids.extend(
                b.insert(&mut vec![NewChunk {
                    lines: vec![b'x'; 60_000],
                    count: 1,
                    newest_ms: i,
                }])
                .unwrap(),
            );
        }
        (b, idle, ids)
    }

    #[test]
    fn a_drained_file_shrinks_back_and_keeps_what_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let (mut b, idle, ids) = outage(&path);
        let full = b.file_bytes();
        assert!(full > 12 << 20, "{full}");
        // Not while the backlog is big.
        b.delete(&ids[..100]).unwrap();
        assert_eq!(b.reclaim_space(false).unwrap(), None);
        // Nearly drained: given back, at once when nothing is left.
        b.delete(&ids[100..199]).unwrap();
        let reclaimed = b.reclaim_space(true).unwrap().expect("a VACUUM");
        assert!(reclaimed.bytes_before >= full, "{reclaimed:?}");
        assert!(
            reclaimed.bytes_after < idle + (1 << 20),
            "{reclaimed:?}, idle {idle}"
        );
        assert_eq!(b.file_bytes(), reclaimed.bytes_after);
        // The row left is intact, ids and all; the next insert follows it.
        let left = b.fetch_after(0, 10).unwrap();
        assert_eq!(
            (left.len(), left[0].id, left[0].lines.len()),
            (1, ids[199], 60_000)
        );
        let next = b
            .insert(&mut vec![NewChunk {
                lines: b"a\n".to_vec(),
                count: 1,
                newest_ms: 0,
            }])
            .unwrap();
        assert!(next[0] > ids[199]);
        // Nothing more to give back.
        assert_eq!(b.reclaim_space(true).unwrap(), None);
        drop(b);
        let (b, _) = Buffer::open_file(&path).unwrap();
        assert_eq!(b.totals().unwrap().events, 2);
    }

    #[test]
    fn a_wal_truncation_in_someones_way_is_finished_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let (mut b, idle, ids) = outage(&path);
        b.delete(&ids).unwrap();
        // A reader holding a snapshot (as `inspect` may, or the background
        // checkpoint's connection): the VACUUM runs, the WAL stays.
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        let reclaimed = b.reclaim_space(true).unwrap().expect("a VACUUM");
        assert!(reclaimed.bytes_after > idle + (4 << 20), "{reclaimed:?}");
        assert!(b.reclaim.truncate_pending);
        // Not before a second has passed, then done once the reader is gone.
        reader.execute_batch("COMMIT").unwrap();
        b.finish_reclaim().unwrap();
        assert!(b.reclaim.truncate_pending, "at most once a second");
        b.reclaim.next_check = std::time::Instant::now();
        b.finish_reclaim().unwrap();
        assert!(!b.reclaim.truncate_pending);
        assert!(b.file_bytes() < idle + (1 << 20), "{}", b.file_bytes());
    }

    #[test]
    fn memory_buffers_are_left_alone() {
        let mut b = Buffer::in_memory().unwrap();
        assert_eq!(b.reclaim_space(true).unwrap(), None);
    }
}
