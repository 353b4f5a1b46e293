//! The SQLite buffer: events wait here until the transport has delivered them.
//!
//! Events are stored in chunks: one row holds a batch of formatted events (one
//! JSON line each), so a transaction writes a handful of rows instead of one row
//! per event. That is what lets a WAL file keep up with hundreds of thousands of
//! events per second (one row per event tops out near 300k rows/s here).
//!
//! Rows are deleted only after delivery; a chunk that was in flight when the
//! process died is simply still there at the next start and is sent again.

mod checkpoint;
mod fork_safety;
mod lock;
mod schema;
mod tail;

pub use lock::FileLock;

use rusqlite::{params, Connection, ErrorCode};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tail::Tail;

/// Bytes of the newest chunks a file buffer keeps in memory to send them
/// without reading them back.
const FILE_TAIL_BYTES: usize = 4 << 20;
/// Bytes of chunks a `:memory:` buffer holds outside SQLite. Above the data a
/// healthy TCP link has written but not yet confirmed (up to ~16 MiB, see
/// transport/tcp.rs), so that a receiver keeping up means no SQLite work.
const MEMORY_TAIL_BYTES: usize = 32 << 20;

/// A chunk to store: its lines, event count and newest event time (Unix ms).
pub type NewChunk = (Vec<u8>, u32, i64);

/// One stored row: a batch of events in send order.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub id: i64,
    /// The events, each one JSON line terminated by `\n`.
    pub lines: Vec<u8>,
    pub count: u32,
    /// Wall-clock time (Unix ms) the newest event of the chunk was accepted.
    pub newest_ms: i64,
}

impl Chunk {
    /// The events without their newlines.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.lines
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
    }
}

/// Totals over every stored row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub chunks: u64,
    pub events: u64,
    pub bytes: u64,
}

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
    spill_error: Option<rusqlite::Error>,
    /// Bytes inserted since the checkpointer was last asked to run.
    unkicked_bytes: u64,
    /// checkpoint::KICK_BYTES and HARD_WAL_BYTES (smaller in tests).
    wal_kick_bytes: u64,
    wal_hard_bytes: u64,
}

/// What opening a file database did besides opening it.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Set when a corrupt file was moved aside to this path.
    pub moved_aside: Option<PathBuf>,
}

impl Buffer {
    /// An in-memory buffer (`:memory:`).
    pub fn in_memory() -> Result<Buffer, String> {
        fork_safety::install();
        let conn = Connection::open_in_memory().map_err(|e| format!(":memory: database: {e}"))?;
        schema::prepare(&conn, false).map_err(|e| format!(":memory: database: {e}"))?;
        Ok(Buffer {
            conn,
            path: None,
            _lock: None,
            tail: Tail::default(),
            tail_budget: MEMORY_TAIL_BYTES,
            next_id: 1,
            spill_error: None,
            checkpointer: None,
            unkicked_bytes: 0,
            wal_kick_bytes: checkpoint::KICK_BYTES,
            wal_hard_bytes: checkpoint::HARD_WAL_BYTES,
        })
    }

    /// Opens (or creates) a file database in WAL mode and takes the lock that
    /// keeps a second handle or process from sending the same rows. A file that
    /// is not a database, or is corrupt, is renamed aside (never deleted) and a
    /// fresh one is created in its place.
    pub fn open_file(path: &Path) -> Result<(Buffer, OpenReport), String> {
        fork_safety::install();
        let lock = FileLock::acquire(path)?;
        let mut report = OpenReport::default();
        let conn = match Self::open_checked(path) {
            Ok(conn) => conn,
            Err(e) if is_corruption(&e) => {
                let aside = move_aside(path).map_err(|io| {
                    format!(
                        "database_path {}: corrupt ({e}) and could not be moved aside: {io}",
                        path.display()
                    )
                })?;
                report.moved_aside = Some(aside);
                Self::open_checked(path)
                    .map_err(|e| format!("database_path {}: {e}", path.display()))?
            }
            Err(e) => return Err(format!("database_path {}: {e}", path.display())),
        };
        let checkpointer = Self::start_checkpointer(&conn, path)
            .map_err(|e| format!("database_path {}: {e}", path.display()))?;
        Ok((
            Buffer {
                conn,
                path: Some(path.to_owned()),
                _lock: Some(lock),
                tail: Tail::default(),
                tail_budget: FILE_TAIL_BYTES,
                next_id: 0,
                spill_error: None,
                checkpointer,
                unkicked_bytes: 0,
                wal_kick_bytes: checkpoint::KICK_BYTES,
                wal_hard_bytes: checkpoint::HARD_WAL_BYTES,
            },
            report,
        ))
    }

    /// Moves checkpoints to their own thread (see checkpoint.rs); without
    /// the thread SQLite's auto-checkpoint stays on.
    fn start_checkpointer(
        conn: &Connection,
        path: &Path,
    ) -> rusqlite::Result<Option<checkpoint::Checkpointer>> {
        conn.execute_batch(&format!(
            "PRAGMA journal_size_limit={};",
            checkpoint::WAL_SIZE_LIMIT
        ))?;
        match checkpoint::Checkpointer::start(path) {
            Ok(c) => {
                conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
                Ok(Some(c))
            }
            Err(_) => Ok(None),
        }
    }

    /// After a commit of `bytes`: asks for a background checkpoint every
    /// KICK_BYTES, and checkpoints here when the WAL is past its hard bound.
    fn wrote(&mut self, bytes: u64) {
        let Some(checkpointer) = &self.checkpointer else {
            return;
        };
        self.unkicked_bytes += bytes;
        if self.unkicked_bytes < self.wal_kick_bytes {
            return;
        }
        self.unkicked_bytes = 0;
        let mut wal = self.path.clone().unwrap_or_default().into_os_string();
        wal.push("-wal");
        let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if wal_bytes > self.wal_hard_bytes {
            // The writer checkpointing: nothing is appended meanwhile, so
            // this one can copy the whole log and let the next write restart it.
            let _ = checkpoint::passive(&self.conn);
        } else {
            checkpointer.kick();
        }
    }

    fn open_checked(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        schema::prepare(&conn, true)?;
        // Reading the table proves the file is a usable database now, not at the first send.
        conn.query_row("SELECT count(*) FROM chunks", [], |r| r.get::<_, i64>(0))?;
        Ok(conn)
    }

    /// True when events survive a restart of the process.
    pub fn is_durable(&self) -> bool {
        self.path.is_some()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Stores chunks, returning their ids in order; on success `chunks` is
    /// left empty (they moved into the buffer), on an error it is untouched.
    /// A file buffer writes them in one transaction. A `:memory:` buffer keeps
    /// them in its tail and moves the oldest into SQLite once the tail is over
    /// its budget.
    pub fn insert(&mut self, chunks: &mut Vec<NewChunk>) -> rusqlite::Result<Vec<i64>> {
        let ids = if self.is_durable() {
            let rows = chunks.iter().map(|c| (None, c.0.as_slice(), c.1, c.2));
            let ids = Self::insert_rows(&mut self.conn, rows)?;
            self.wrote(chunks.iter().map(|c| c.0.len() as u64).sum());
            for ((lines, count, newest_ms), &id) in chunks.drain(..).zip(&ids) {
                self.tail.push(Arc::new(Chunk {
                    id,
                    lines,
                    count,
                    newest_ms,
                }));
            }
            // The rows are in the file: the oldest copies can simply go.
            while self.tail.bytes() > self.tail_budget {
                self.tail.pop_front();
            }
            ids
        } else {
            let mut ids = Vec::with_capacity(chunks.len());
            for (lines, count, newest_ms) in chunks.drain(..) {
                let id = self.next_id;
                self.next_id += 1;
                ids.push(id);
                self.tail.push(Arc::new(Chunk {
                    id,
                    lines,
                    count,
                    newest_ms,
                }));
            }
            self.spill();
            ids
        };
        Ok(ids)
    }

    /// `:memory:`: moves the oldest tail chunks into SQLite while the tail is
    /// over its budget. On an error they stay in the tail (nothing is lost;
    /// memory grows) and the error waits in `spill_error`.
    fn spill(&mut self) {
        if self.tail.bytes() <= self.tail_budget {
            return;
        }
        let mut moving = Vec::new();
        while self.tail.bytes() > self.tail_budget {
            match self.tail.pop_front() {
                Some(chunk) => moving.push(chunk),
                None => break,
            }
        }
        let rows = moving
            .iter()
            .map(|c| (Some(c.id), c.lines.as_slice(), c.count, c.newest_ms));
        if let Err(e) = Self::insert_rows(&mut self.conn, rows) {
            self.tail.restore_front(moving);
            self.spill_error = Some(e);
        }
    }

    /// Inserts rows (id: None lets SQLite choose) in one transaction.
    fn insert_rows<'a>(
        conn: &mut Connection,
        rows: impl Iterator<Item = (Option<i64>, &'a [u8], u32, i64)>,
    ) -> rusqlite::Result<Vec<i64>> {
        let tx = conn.transaction()?;
        let mut ids = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks (id, newest_ms, event_count, lines) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, lines, count, newest_ms) in rows {
                stmt.execute(params![id, newest_ms, count, lines])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Proves the database takes writes now (after a full disk): inserts and
    /// deletes a row in one committed transaction, which writes pages.
    pub fn probe_write(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO chunks (newest_ms, event_count, lines) VALUES (0, 0, x'')",
            [],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute("DELETE FROM chunks WHERE id = ?1", [id])?;
        tx.commit()
    }

    /// Why chunks could not be moved into SQLite lately, if they could not.
    pub fn take_spill_error(&mut self) -> Option<rusqlite::Error> {
        self.spill_error.take()
    }

    /// The oldest chunks with an id greater than `after_id`, at most `limit`:
    /// from the tail when it holds the next one, otherwise from SQLite.
    pub fn fetch_after(&self, after_id: i64, limit: usize) -> rusqlite::Result<Vec<Arc<Chunk>>> {
        let tail_from = self.tail.first_id();
        if tail_from.is_some_and(|first| after_id >= first - 1) {
            return Ok(self.tail.after(after_id, limit));
        }
        // Rows before the tail (with a file, the tail's rows are in SQLite too).
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, lines, event_count, newest_ms FROM chunks
             WHERE id > ?1 AND id < ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![after_id, tail_from.unwrap_or(i64::MAX), limit as i64],
            |r| {
                Ok(Arc::new(Chunk {
                    id: r.get(0)?,
                    lines: r.get(1)?,
                    count: r.get(2)?,
                    newest_ms: r.get(3)?,
                }))
            },
        )?;
        let chunks: Vec<Arc<Chunk>> = rows.collect::<rusqlite::Result<_>>()?;
        if chunks.is_empty() {
            return Ok(self.tail.after(after_id, limit));
        }
        Ok(chunks)
    }

    /// Deletes chunks (delivered, evicted or expired). They leave the tail
    /// even when SQLite fails (the caller reports it: the rows stay in the
    /// file and the next process sends them again).
    pub fn delete(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        let durable = self.is_durable();
        let mut rows: Vec<i64> = Vec::with_capacity(if durable { ids.len() } else { 0 });
        for &id in ids {
            // With :memory:, a chunk is either in the tail or in SQLite.
            if !self.tail.remove(id) || durable {
                rows.push(id);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            // Delivered ids come in runs of consecutive ids: one range
            // statement per run instead of one statement per row.
            let mut stmt = tx.prepare_cached("DELETE FROM chunks WHERE id BETWEEN ?1 AND ?2")?;
            let mut i = 0;
            while i < rows.len() {
                let mut j = i;
                while j + 1 < rows.len() && rows[j + 1] == rows[j] + 1 {
                    j += 1;
                }
                stmt.execute([rows[i], rows[j]])?;
                i = j + 1;
            }
        }
        tx.commit()
    }

    /// Replaces a chunk's events by its undelivered tail (after a partial delivery).
    pub fn replace(&mut self, id: i64, lines: &[u8], count: u32) -> rusqlite::Result<()> {
        if self.is_durable() || !self.tail.contains(id) {
            self.conn
                .prepare_cached("UPDATE chunks SET lines = ?2, event_count = ?3 WHERE id = ?1")?
                .execute(params![id, lines, count])?;
        }
        self.tail.replace(id, lines, count);
        Ok(())
    }

    /// (id, events, bytes) of up to 1024 chunks below `below_id` whose newest
    /// event was accepted before `cutoff_ms`, oldest first, without reading
    /// their events.
    pub fn expired_before(
        &self,
        cutoff_ms: i64,
        below_id: i64,
    ) -> rusqlite::Result<Vec<(i64, u64, u64)>> {
        const LIMIT: usize = 1024;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, event_count, length(lines) FROM chunks
             WHERE newest_ms < ?1 AND id < ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![cutoff_ms, below_id, LIMIT as i64], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        let mut victims: Vec<(i64, u64, u64)> = rows.collect::<rusqlite::Result<_>>()?;
        if !self.is_durable() && victims.len() < LIMIT {
            // The tail's ids all follow the rows spilled into SQLite.
            victims.extend(
                self.tail
                    .expired_before(cutoff_ms, below_id, LIMIT - victims.len()),
            );
        }
        Ok(victims)
    }

    pub fn totals(&self) -> rusqlite::Result<Totals> {
        let mut totals = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(event_count),0), coalesce(sum(length(lines)),0) FROM chunks",
            )?
            .query_row([], |r| {
                Ok(Totals {
                    chunks: r.get::<_, i64>(0)? as u64,
                    events: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                })
            })?;
        if !self.is_durable() {
            let (events, bytes) = self.tail.totals();
            totals.chunks += self.tail.len() as u64;
            totals.events += events;
            totals.bytes += bytes;
        }
        Ok(totals)
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt)
    )
}

/// Renames a corrupt database (and its WAL and shared-memory files) aside.
fn move_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = crate::sys::now_unix_ms();
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{stamp}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        let _ = std::fs::rename(&from, &to);
    }
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(lines: &str, n: u32) -> (Vec<u8>, u32, i64) {
        (lines.as_bytes().to_vec(), n, 1000)
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
                (b"a\n".to_vec(), 1, 10),
                (b"b\nc\n".to_vec(), 2, 20),
                (b"d\n".to_vec(), 1, 30),
            ])
            .unwrap();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(stored_rows(&b), 0, "within the budget: nothing in SQLite");
        b.insert(&mut vec![(b"e\nf\n".to_vec(), 2, 40)]).unwrap();
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
            .map(|v| v.0)
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
        b.insert(&mut vec![
            (b"a\n".to_vec(), 1, 10),
            (b"b\n".to_vec(), 1, 20),
        ])
        .unwrap();
        b.insert(&mut vec![(b"c\nd\n".to_vec(), 2, 30)]).unwrap();
        assert_eq!(b.tail.len(), 1, "older copies dropped, rows kept");
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
            let ids = b.insert(&mut vec![(row.clone(), 1, i)]).unwrap();
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
    fn a_second_open_of_the_same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let _first = Buffer::open_file(&path).unwrap();
        let err = Buffer::open_file(&path).err().unwrap();
        assert!(err.contains("in use"), "{err}");
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let (b, report) = Buffer::open_file(&path).unwrap();
        let aside = report.moved_aside.expect("moved aside");
        assert_eq!(std::fs::read(&aside).unwrap(), vec![0x5a; 8192]);
        assert_eq!(b.totals().unwrap(), Totals::default());
    }

    #[test]
    fn expired_chunks_are_found_without_their_events() {
        let mut b = Buffer::in_memory().unwrap();
        b.insert(&mut vec![
            (b"a\n".to_vec(), 1, 10),
            (b"b\nc\n".to_vec(), 2, 20),
            (b"d\n".to_vec(), 1, 30),
        ])
        .unwrap();
        let victims = b.expired_before(25, i64::MAX).unwrap();
        let ids: Vec<i64> = victims.iter().map(|v| v.0).collect();
        assert_eq!(
            (ids.len(), victims.iter().map(|v| v.1).sum::<u64>()),
            (2, 3)
        );
        assert_eq!(
            victims.iter().map(|v| v.2).sum::<u64>(),
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
