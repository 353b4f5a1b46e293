//! python-logstash-async's database file (its `database_path`): the `event`
//! table its handler fills (`event_id`, `event_text` the formatted JSON,
//! `pending_delete` set while a batch is in flight, `entry_date`), read and
//! emptied row by row by `logstash-async replay --python-database`.
//!
//! Every row is read, `pending_delete` ones included: python-logstash-async
//! marks a batch before sending it and deletes it after, so rows still
//! marked were in flight when its process died, and it never sends them
//! again itself.

use rusqlite::{params_from_iter, Connection};
use std::path::Path;
use std::time::Duration;

/// One stored event: its row id and its JSON text as Python formatted it.
pub struct PythonEvent {
    pub id: i64,
    pub text: String,
    pub pending_delete: bool,
}

/// An open python-logstash-async database.
pub struct PythonDatabase {
    conn: Connection,
    name: String,
}

/// Ids per DELETE statement (SQLite's variable limit is 999 in old builds;
/// python-logstash-async deletes in chunks of 750).
const DELETE_CHUNK: usize = 500;

impl PythonDatabase {
    /// Opens the file (never creates one) and checks it has the `event` table.
    pub fn open(path: &Path) -> Result<PythonDatabase, String> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(format!("{name}: no such file"));
        }
        let fail = |e: rusqlite::Error| format!("{name}: {e}");
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        // Python's handler waits 5 s (constants.DATABASE_TIMEOUT) on a lock too.
        conn.busy_timeout(Duration::from_secs(5)).map_err(fail)?;
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('event')")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|e| format!("{name}: not an SQLite database ({e})"))?;
        for needed in ["event_id", "event_text", "pending_delete"] {
            if !columns.iter().any(|c| c == needed) {
                return Err(format!(
                    "{name}: not a python-logstash-async database (no event table with {needed})"
                ));
            }
        }
        Ok(PythonDatabase { conn, name })
    }

    /// The rows after `after_id`, at most `limit`, oldest first.
    pub fn events_after(&self, after_id: i64, limit: usize) -> Result<Vec<PythonEvent>, String> {
        let fail = |e: rusqlite::Error| format!("{}: {e}", self.name);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event_id, CAST(event_text AS BLOB), pending_delete FROM event
                 WHERE event_id > ?1 ORDER BY event_id LIMIT ?2",
            )
            .map_err(fail)?;
        let rows = stmt
            .query_map([after_id, limit as i64], |r| {
                let bytes: Vec<u8> = r.get(1)?;
                Ok(PythonEvent {
                    id: r.get(0)?,
                    // Python wrote str: UTF-8 unless the file was tampered with.
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    pending_delete: r.get::<_, i64>(2)? != 0,
                })
            })
            .map_err(fail)?;
        rows.collect::<rusqlite::Result<_>>().map_err(fail)
    }

    /// Rows in the table.
    pub fn count(&self) -> Result<u64, String> {
        self.conn
            .query_row("SELECT count(*) FROM event", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// Deletes delivered rows, in one transaction.
    pub fn delete(&mut self, ids: &[i64]) -> Result<(), String> {
        let fail =
            |e: rusqlite::Error| format!("{}: cannot delete delivered events: {e}", self.name);
        let tx = self.conn.transaction().map_err(fail)?;
        for part in ids.chunks(DELETE_CHUNK) {
            let marks = vec!["?"; part.len()].join(",");
            tx.execute(
                &format!("DELETE FROM event WHERE event_id IN ({marks})"),
                params_from_iter(part),
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// python-logstash-async's DATABASE_SCHEMA_STATEMENTS (4.x), as it creates them.
    const PYTHON_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS `event` (
        `event_id` INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        `event_text` TEXT NOT NULL, `pending_delete` INTEGER NOT NULL,
        `entry_date` DATETIME NOT NULL);";

    #[test]
    fn reads_every_row_and_deletes_those_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("py.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(PYTHON_SCHEMA).unwrap();
        for (i, pending) in [(1, 0), (2, 1), (3, 0)] {
            c.execute(
                "INSERT INTO event (event_text, pending_delete, entry_date) VALUES (?1, ?2, datetime('now'))",
                rusqlite::params![format!("{{\"n\":{i}}}"), pending],
            )
            .unwrap();
        }
        let mut db = PythonDatabase::open(&path).unwrap();
        let rows = db.events_after(0, 10).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].pending_delete && rows[1].text == "{\"n\":2}");
        assert_eq!(db.events_after(rows[0].id, 1).unwrap()[0].id, rows[1].id);
        db.delete(&[rows[0].id, rows[1].id]).unwrap();
        assert_eq!(db.count().unwrap(), 1);
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(PythonDatabase::open(&other)
            .err()
            .unwrap()
            .contains("not a python-logstash-async database"));
        assert!(PythonDatabase::open(&dir.path().join("none.db"))
            .err()
            .unwrap()
            .contains("no such file"));
    }
}
