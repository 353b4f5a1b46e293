//! A look at a database file without using it: what a buffer file (or a
//! python-logstash-async database) holds, read while its process may still
//! run. The file is opened read-only, our `.lock` is not taken, nothing is
//! written: a WAL file's readers never block its writer; a buffer with no
//! WAL has no process on it and is read as immutable (no lock, no -shm
//! file created).

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// Which kind of database a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A buffer of this library, its schema version.
    Buffer { schema_version: i64 },
    /// A python-logstash-async database (`event` table); rows marked
    /// `pending_delete` were in flight when its process stopped.
    Python { pending_delete: u64 },
}

/// What a database file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub kind: Kind,
    pub events: u64,
    /// Rows: chunks of a buffer, events of a Python database.
    pub rows: u64,
    /// The events' JSON, in bytes.
    pub bytes: u64,
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// The oldest and newest events' `@timestamp` (else when they were stored).
    pub oldest: Option<String>,
    pub newest: Option<String>,
}

/// Opens `path` for reading only (see the module's comment); `live`: the
/// file is in use (or about to be), never read it as immutable.
fn open_read_only(path: &Path, live: bool) -> Result<Connection, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let header = std::fs::read(path).map_err(|e| fail(&e)).map(|mut bytes| {
        bytes.truncate(100);
        bytes
    })?;
    if !header.starts_with(b"SQLite format 3\0") {
        return Err(fail(&"not an SQLite database"));
    }
    // Bytes 18 and 19 are 2 in WAL mode; its -wal exists while a process has it open.
    let wal_mode = header.get(18..20) == Some(&[2, 2][..]);
    let immutable = !live && wal_mode && !sidecar(path, "-wal").exists();
    let uri = format!(
        "file:{}?mode=ro{}",
        uri_path(path),
        if immutable { "&immutable=1" } else { "" }
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags).map_err(|e| fail(&e))?;
    conn.busy_timeout(Duration::from_secs(2))
        .map_err(|e| fail(&e))?;
    Ok(conn)
}

/// Reads what the database file at `path` holds.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    let conn = open_read_only(path, false)?;
    let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let has_table = |name: &str| -> Result<bool, String> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(fail)
    };
    let mut found = if has_table("chunks")? {
        buffer_contents(&conn).map_err(fail)?
    } else if has_table("event")? {
        python_contents(&conn).map_err(fail)?
    } else {
        return Err(format!(
            "{}: neither a logstash-async buffer nor a python-logstash-async database",
            path.display()
        ));
    };
    found.database_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    found.wal_bytes = std::fs::metadata(sidecar(path, "-wal")).map_or(0, |m| m.len());
    Ok(found)
}

/// The oldest `limit` events, as stored (one JSON document each).
pub fn oldest_events(path: &Path, limit: usize) -> Result<Vec<String>, String> {
    let conn = open_read_only(path, false)?;
    let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let mut out = Vec::new();
    let python = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(fail)?
        .is_some();
    if python {
        // Python's handler stores the encoded text: a BLOB.
        let mut stmt = conn
            .prepare("SELECT CAST(event_text AS BLOB) FROM event ORDER BY event_id LIMIT ?1")
            .map_err(fail)?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                r.get::<_, Vec<u8>>(0)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .map_err(fail)?;
        return rows.collect::<Result<_, _>>().map_err(fail);
    }
    let mut stmt = conn
        .prepare("SELECT lines FROM chunks ORDER BY id")
        .map_err(fail)?;
    let mut rows = stmt.query([]).map_err(fail)?;
    while out.len() < limit {
        let Some(row) = rows.next().map_err(fail)? else {
            break;
        };
        let lines: Vec<u8> = row.get(0).map_err(fail)?;
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if out.len() == limit {
                break;
            }
            out.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    Ok(out)
}

/// The ids of the chunks a buffer file holds, read again and again while
/// its handle sends them (`replay --python-database` watches its staging
/// file: a chunk is gone once delivered).
pub struct ChunkIds {
    conn: Connection,
    path: String,
}

impl ChunkIds {
    pub fn open(path: &Path) -> Result<ChunkIds, String> {
        Ok(ChunkIds {
            conn: open_read_only(path, true)?,
            path: path.display().to_string(),
        })
    }

    /// The ids stored now.
    pub fn read(&self) -> Result<std::collections::HashSet<i64>, String> {
        let fail = |e: rusqlite::Error| format!("{}: {e}", self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM chunks")
            .map_err(fail)?;
        let ids = stmt.query_map([], |r| r.get(0)).map_err(fail)?;
        ids.collect::<rusqlite::Result<_>>().map_err(fail)
    }
}

fn buffer_contents(conn: &Connection) -> rusqlite::Result<Inspection> {
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let (rows, events, bytes) = conn.query_row(
        "SELECT count(*), coalesce(sum(event_count), 0), coalesce(sum(length(lines)), 0) FROM chunks",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
    )?;
    let chunk = |order: &str| -> rusqlite::Result<Option<(Vec<u8>, i64)>> {
        conn.query_row(
            &format!("SELECT lines, newest_ms FROM chunks ORDER BY id {order} LIMIT 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    };
    let oldest = chunk("ASC")?.map(|(lines, ms)| {
        let first = lines.split(|&b| b == b'\n').find(|l| !l.is_empty());
        first.and_then(timestamp_of).unwrap_or_else(|| iso_ms(ms))
    });
    let newest = chunk("DESC")?.map(|(lines, ms)| {
        let last = lines.split(|&b| b == b'\n').rfind(|l| !l.is_empty());
        last.and_then(timestamp_of).unwrap_or_else(|| iso_ms(ms))
    });
    Ok(Inspection {
        kind: Kind::Buffer { schema_version },
        events: events as u64,
        rows: rows as u64,
        bytes: bytes as u64,
        database_bytes: 0,
        wal_bytes: 0,
        oldest,
        newest,
    })
}

fn python_contents(conn: &Connection) -> rusqlite::Result<Inspection> {
    let (events, bytes, pending, oldest, newest) = conn.query_row(
        "SELECT count(*), coalesce(sum(length(CAST(event_text AS BLOB))), 0),
                coalesce(sum(pending_delete != 0), 0), min(entry_date), max(entry_date) FROM event",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        },
    )?;
    // entry_date is SQLite's datetime('now'): "YYYY-MM-DD HH:MM:SS", UTC.
    let iso = |d: Option<String>| d.map(|d| format!("{}Z", d.replacen(' ', "T", 1)));
    Ok(Inspection {
        kind: Kind::Python {
            pending_delete: pending as u64,
        },
        events: events as u64,
        rows: events as u64,
        bytes: bytes as u64,
        database_bytes: 0,
        wal_bytes: 0,
        oldest: iso(oldest),
        newest: iso(newest),
    })
}

/// The `@timestamp` of one stored event.
fn timestamp_of(line: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value.get("@timestamp")?.as_str().map(str::to_owned)
}

fn iso_ms(unix_ms: i64) -> String {
    let mut out = Vec::new();
    crate::layout::format_timestamp(unix_ms, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with a suffix (`-wal`).
pub(super) fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// `path` for an SQLite URI: the characters a URI gives meaning escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' | b'&' | b'=' => out.push_str(&format!("%{b:02X}")),
            b if b.is_ascii() && !b.is_ascii_control() => out.push(*b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::schema::SCHEMA_VERSION;
    use crate::buffer::{Buffer, NewChunk};

    #[test]
    fn a_buffer_in_use_is_read_without_its_lock_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd?name#%.db");
        let (mut b, _) = Buffer::open_file(&path).unwrap();
        let line = |ts: &str| format!("{{\"@timestamp\":\"{ts}\",\"message\":\"m\"}}\n");
        let lines = format!(
            "{}{}",
            line("2024-01-01T00:00:00.000Z"),
            line("2024-01-01T00:00:01.000Z")
        );
        b.insert(&mut vec![
            NewChunk {
                lines: lines.into_bytes(),
                count: 2,
                newest_ms: 1,
            },
            NewChunk {
                lines: line("2024-01-02T00:00:00.000Z").into_bytes(),
                count: 1,
                newest_ms: 2,
            },
        ])
        .unwrap();
        // The owner still holds the file (and its lock) while we look.
        let found = inspect(&path).unwrap();
        assert_eq!(
            found.kind,
            Kind::Buffer {
                schema_version: SCHEMA_VERSION
            }
        );
        assert_eq!((found.events, found.rows), (3, 2));
        assert_eq!(found.oldest.as_deref(), Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(found.newest.as_deref(), Some("2024-01-02T00:00:00.000Z"));
        assert!(found.database_bytes > 0);
        assert_eq!(oldest_events(&path, 2).unwrap().len(), 2);
        // The owner goes on writing meanwhile.
        b.insert(&mut vec![NewChunk {
            lines: line("x").into_bytes(),
            count: 1,
            newest_ms: 3,
        }])
        .unwrap();
        drop(b);
        // Closed: no WAL left; read as immutable, nothing created.
        assert!(!sidecar(&path, "-wal").exists());
        assert_eq!(inspect(&path).unwrap().events, 4);
        assert!(!sidecar(&path, "-wal").exists() && !sidecar(&path, "-shm").exists());
        // And the next owner opens it as usual.
        let (b, _) = Buffer::open_file(&path).unwrap();
        assert_eq!(b.totals().unwrap().events, 4);
    }

    #[test]
    fn other_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(inspect(&text)
            .unwrap_err()
            .contains("not an SQLite database"));
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(inspect(&other).unwrap_err().contains("neither"));
        assert!(inspect(&dir.path().join("missing.db")).is_err());
    }
}
