//! The SQLite buffer: events wait here until the transport has delivered them.
//!
//! Events are stored in chunks: one row holds a batch of formatted events (one
//! JSON line each), so a transaction writes a handful of rows instead of one row
//! per event. That is what lets a WAL file keep up with hundreds of thousands of
//! events per second (one row per event tops out near 300k rows/s here).
//!
//! Rows are deleted only after delivery; a chunk that was in flight when the
//! process died is simply still there at the next start and is sent again.

mod fork_safety;
mod lock;
mod schema;

pub use lock::FileLock;

use rusqlite::{params, Connection, ErrorCode};
use std::path::{Path, PathBuf};

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
    conn: Connection,
    path: Option<PathBuf>,
    _lock: Option<FileLock>,
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
        Ok((
            Buffer {
                conn,
                path: Some(path.to_owned()),
                _lock: Some(lock),
            },
            report,
        ))
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

    /// Stores chunks in one transaction, returning their ids in order.
    pub fn insert(&mut self, chunks: &[(Vec<u8>, u32, i64)]) -> rusqlite::Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(chunks.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks (newest_ms, event_count, lines) VALUES (?1, ?2, ?3)",
            )?;
            for (lines, count, newest_ms) in chunks {
                stmt.execute(params![newest_ms, count, lines])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The oldest chunks with an id greater than `after_id`, at most `limit`.
    pub fn fetch_after(&self, after_id: i64, limit: usize) -> rusqlite::Result<Vec<Chunk>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, lines, event_count, newest_ms FROM chunks WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_id, limit as i64], |r| {
            Ok(Chunk {
                id: r.get(0)?,
                lines: r.get(1)?,
                count: r.get(2)?,
                newest_ms: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// Deletes delivered chunks.
    pub fn delete(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            // Delivered ids come in runs of consecutive ids: one range
            // statement per run instead of one statement per row.
            let mut stmt = tx.prepare_cached("DELETE FROM chunks WHERE id BETWEEN ?1 AND ?2")?;
            let mut i = 0;
            while i < ids.len() {
                let mut j = i;
                while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
                    j += 1;
                }
                stmt.execute([ids[i], ids[j]])?;
                i = j + 1;
            }
        }
        tx.commit()
    }

    /// Replaces a chunk's events by its undelivered tail (after a partial delivery).
    pub fn replace(&mut self, id: i64, lines: &[u8], count: u32) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("UPDATE chunks SET lines = ?2, event_count = ?3 WHERE id = ?1")?
            .execute(params![id, lines, count])?;
        Ok(())
    }

    /// Deletes chunks whose newest event was accepted before `cutoff_ms`;
    /// (id, events, bytes) of up to 1024 chunks below `below_id` whose newest
    /// event was accepted before `cutoff_ms`, without reading their events.
    pub fn expired_before(
        &self,
        cutoff_ms: i64,
        below_id: i64,
    ) -> rusqlite::Result<Vec<(i64, u64, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, event_count, length(lines) FROM chunks
             WHERE newest_ms < ?1 AND id < ?2 ORDER BY id LIMIT 1024",
        )?;
        let rows = stmt.query_map([cutoff_ms, below_id], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        rows.collect()
    }

    pub fn totals(&self) -> rusqlite::Result<Totals> {
        self.conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(event_count),0), coalesce(sum(length(lines)),0) FROM chunks",
            )?
            .query_row([], |r| {
                Ok(Totals {
                    chunks: r.get::<_, i64>(0)? as u64,
                    events: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                })
            })
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
            let ids = b.insert(&[chunk("a\nb\n", 2), chunk("c\n", 1)]).unwrap();
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
        b.insert(&[
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
