//! Opening a buffer: `:memory:`, or a file database in WAL mode behind its
//! lock, a corrupt file moved aside (never deleted) and replaced.

use super::tail::Tail;
use super::{checkpoint, fork_safety, schema, Buffer, FileLock};
use rusqlite::{Connection, ErrorCode};
use std::path::{Path, PathBuf};

/// Bytes of the newest chunks a file buffer keeps in memory to send them
/// without reading them back.
const FILE_TAIL_BYTES: usize = 4 << 20;
/// Bytes of chunks a `:memory:` buffer holds outside SQLite. Above the data a
/// healthy TCP link has written but not yet confirmed (up to ~16 MiB, see
/// transport/tcp.rs), so that a receiver keeping up means no SQLite work.
const MEMORY_TAIL_BYTES: usize = 32 << 20;

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
            reclaim: Default::default(),
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
                reclaim: Default::default(),
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
    fn open_checked(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        schema::prepare(&conn, true)?;
        // Reading the table proves the file is a usable database now, not at the first send.
        conn.query_row("SELECT count(*) FROM chunks", [], |r| r.get::<_, i64>(0))?;
        Ok(conn)
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
    use crate::buffer::Totals;

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
}
