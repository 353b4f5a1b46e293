//! The SQLite buffer: events wait here until the transport has delivered them.
//!
//! Events are stored in chunks: one row holds a batch of formatted events (one
//! JSON line each), so a transaction writes a handful of rows instead of one row
//! per event. That is what lets a WAL file keep up with hundreds of thousands of
//! events per second (one row per event tops out near 300k rows/s here).
//!
//! Rows are deleted only after delivery; a chunk that was in flight when the
//! process died is simply still there at the next start and is sent again.
//!
//! `open.rs` opens a buffer, `rows.rs` reads and writes chunks through the
//! in-memory tail (`tail.rs`) and SQLite, `checkpoint.rs` keeps the WAL
//! bounded off the worker thread, `vacuum.rs` gives the space of a drained
//! backlog back. SQLite's errors stay in here (`Error`).

mod checkpoint;
mod chunk;
mod error;
mod fork_safety;
pub mod inspect;
mod lock;
mod open;
pub mod python;
mod rows;
mod schema;
mod tail;
mod vacuum;

pub use chunk::{Chunk, ChunkSize, NewChunk, Totals};
pub use error::{Error, Result};
pub use lock::FileLock;
pub use open::OpenReport;
pub use vacuum::Reclaimed;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use tail::Tail;

/// A buffer: a SQLite database (`:memory:` or a file) and its in-memory tail.
pub struct Buffer {
    // Drop order: the checkpoint thread's connection, then ours (the last one
    // checkpoints and removes the WAL), then the lock.
    /// File buffers: checkpoints off the worker thread (None: SQLite's
    /// auto-checkpoint, when the thread could not start).
    checkpointer: Option<checkpoint::Checkpointer>,
    conn: Connection,
    path: Option<PathBuf>,
    _lock: Option<FileLock>,
    /// The newest chunks (see tail.rs): a copy of stored rows with a file,
    /// the only copy with `:memory:` until spilled into SQLite.
    tail: Tail,
    /// Bytes the tail holds at most (beyond them: dropped from a file
    /// buffer's copy, spilled into SQLite with `:memory:`).
    tail_budget: usize,
    /// The id the next chunk of a `:memory:` buffer gets (a file's come from SQLite).
    next_id: i64,
    /// Why moving chunks from the tail into SQLite failed (they stay in the tail).
    spill_error: Option<Error>,
    /// Bytes inserted since the checkpointer was last asked to run.
    unkicked_bytes: u64,
    /// checkpoint::KICK_BYTES and HARD_WAL_BYTES (smaller in tests).
    wal_kick_bytes: u64,
    wal_hard_bytes: u64,
    /// When to give free pages back (vacuum.rs).
    reclaim: vacuum::Reclaim,
}

impl Buffer {
    /// True when events survive a restart of the process.
    pub fn is_durable(&self) -> bool {
        self.path.is_some()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(lines: &str, count: u32) -> NewChunk {
        timed(lines, count, 1000)
    }

    fn timed(lines: &str, count: u32, newest_ms: i64) -> NewChunk {
        NewChunk {
            lines: lines.as_bytes().to_vec(),
            count,
            newest_ms,
        }
    }

    #[test]
    fn chunks_round_trip_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        {
            let (mut b, _) = Buffer::open_file(&path).unwrap();
            let ids = b
                .insert(&mut vec![chunk("a\nb\n", 2), chunk("c\n", 1)])
                .unwrap();
            assert_eq!(ids.len(), 2);
            assert!(ids[0] < ids[1]);
            let got = b.fetch_after(0, 10).unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].events().collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        }
        let (mut b, _) = Buffer::open_file(&path).unwrap();
        assert_eq!(b.totals().unwrap().events, 3);
        let first = b.fetch_after(0, 1).unwrap()[0].id;
        b.delete(&[first]).unwrap();
        assert_eq!(b.totals().unwrap().events, 1);
        let rest = b.fetch_after(0, 10).unwrap();
        b.replace(rest[0].id, b"", 0).unwrap();
        assert_eq!(b.totals().unwrap().events, 0);
    }

    #[test]
    fn a_memory_buffer_spills_its_oldest_chunks_into_sqlite_and_reads_across_both() {
        let mut b = Buffer::in_memory().unwrap();
        b.tail_budget = 8;
        let stored_rows = |b: &Buffer| -> i64 {
            b.conn
                .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
                .unwrap()
        };
        let ids = b
            .insert(&mut vec![
                timed("a\n", 1, 10),
                timed("b\nc\n", 2, 20),
                timed("d\n", 1, 30),
            ])
            .unwrap();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(stored_rows(&b), 0, "within the budget: nothing in SQLite");
        b.insert(&mut vec![timed("e\nf\n", 2, 40)]).unwrap();
        assert_eq!(stored_rows(&b), 2, "the two oldest chunks spilled");
        assert_eq!(b.totals().unwrap().events, 6);
        assert_eq!(b.totals().unwrap().chunks, 4);
        // Reads go across SQLite and the tail in id order.
        let order: Vec<i64> = (0..4)
            .scan(0, |after, _| {
                let next = b.fetch_after(*after, 1).unwrap().pop()?.id;
                *after = next;
                Some(next)
            })
            .collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        assert_eq!(b.fetch_after(1, 10).unwrap()[0].id, 2);
        // Expiry, replace and delete reach both places.
        let expired: Vec<i64> = b
            .expired_before(35, i64::MAX)
            .unwrap()
            .iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(expired, vec![1, 2, 3]);
        b.replace(2, b"c\n", 1).unwrap();
        b.replace(4, b"f\n", 1).unwrap();
        assert_eq!(b.totals().unwrap().events, 4);
        b.delete(&[1, 2, 3]).unwrap();
        assert_eq!(stored_rows(&b), 0);
        let rest = b.fetch_after(0, 10).unwrap();
        assert_eq!((rest.len(), rest[0].lines.as_slice()), (1, &b"f\n"[..]));
        assert!(b.take_spill_error().is_none());
    }

    #[test]
    fn a_file_buffer_sends_its_newest_rows_from_memory_and_older_ones_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let (mut b, _) = Buffer::open_file(&path).unwrap();
        b.tail_budget = 4;
        b.insert(&mut vec![timed("a\n", 1, 10), timed("b\n", 1, 20)])
            .unwrap();
        b.insert(&mut vec![timed("c\nd\n", 2, 30)]).unwrap();
        assert_eq!(b.tail.totals().chunks, 1, "older copies dropped, rows kept");
        assert_eq!(b.totals().unwrap().events, 4);
        let all = b.fetch_after(0, 10).unwrap();
        assert_eq!(all.len(), 2, "the rows before the tail first");
        assert_eq!(b.fetch_after(all[1].id, 10).unwrap()[0].lines, b"c\nd\n");
        b.delete(&[3]).unwrap();
        assert_eq!(b.totals().unwrap().events, 2, "deleted from the file too");
    }

    #[test]
    fn checkpoints_keep_the_wal_bounded_and_the_rows_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let wal = dir.path().join("q.db-wal");
        let (mut b, _) = Buffer::open_file(&path).unwrap();
        assert!(
            b.checkpointer.is_some(),
            "checkpoints run on their own thread"
        );
        b.wal_kick_bytes = 256 << 10;
        b.wal_hard_bytes = 2 << 20;
        let row = vec![b'x'; 60_000];
        let mut largest_wal = 0;
        let mut kept = Vec::new();
        for i in 0..300 {
            let ids = b
                .insert(&mut vec![NewChunk {
                    lines: row.clone(),
                    count: 1,
                    newest_ms: i,
                }])
                .unwrap();
            // Like the worker: most rows are delivered and deleted soon after.
            if i % 10 == 0 {
                kept.extend(ids);
            } else {
                b.delete(&ids).unwrap();
            }
            largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        // 18 MB went through the WAL; the hard bound plus a kick's worth of
        // frames (and one big frame per page) is all it may hold.
        assert!(largest_wal < (4 << 20), "WAL grew to {largest_wal} bytes");
        drop(b);
        let (b, _) = Buffer::open_file(&path).unwrap();
        assert_eq!(b.totals().unwrap().events, kept.len() as u64);
        assert_eq!(b.fetch_after(0, 1000).unwrap().len(), kept.len());
    }

    #[test]
    fn expired_chunks_are_found_without_their_events() {
        let mut b = Buffer::in_memory().unwrap();
        b.insert(&mut vec![
            timed("a\n", 1, 10),
            timed("b\nc\n", 2, 20),
            timed("d\n", 1, 30),
        ])
        .unwrap();
        let victims = b.expired_before(25, i64::MAX).unwrap();
        let ids: Vec<i64> = victims.iter().map(|v| v.id).collect();
        assert_eq!(
            (ids.len(), victims.iter().map(|v| v.events).sum::<u64>()),
            (2, 3)
        );
        assert_eq!(
            victims.iter().map(|v| v.bytes).sum::<u64>(),
            6,
            "bytes of a\n b\nc\n"
        );
        assert_eq!(
            b.expired_before(25, ids[1]).unwrap().len(),
            1,
            "never at or past below_id"
        );
        b.delete(&ids).unwrap();
        assert_eq!(b.totals().unwrap().events, 1);
        assert!(!b.fetch_after(0, 10).unwrap().is_empty());
    }
}
