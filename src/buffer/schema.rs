//! The on-disk layout of the buffer. Versioned so a later release can migrate it.

use rusqlite::Connection;

/// Bumped whenever the table layout changes.
pub const SCHEMA_VERSION: i64 = 1;

/// Sets the pragmas and creates the table if needed.
pub fn prepare(conn: &Connection, file: bool) -> rusqlite::Result<()> {
    // Another process (a CLI replay, say) may hold the write lock briefly.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if file {
        // Big pages for new files (ignored for existing ones): a row holds a
        // chunk of tens of KiB, which with 4 KiB pages is a chain of overflow
        // pages, each written to the WAL and again at checkpoint. Must be set
        // before WAL mode and before the first table exists.
        conn.execute_batch("PRAGMA page_size=65536;")?;
        // WAL: readers never block the writer; NORMAL sync is durable against a
        // process crash (the guarantee we give) and much faster than FULL.
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS chunks (
             id          INTEGER PRIMARY KEY AUTOINCREMENT,
             newest_ms   INTEGER NOT NULL,
             event_count INTEGER NOT NULL,
             lines       BLOB    NOT NULL
         );",
    )?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        conn.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION};"))?;
    } else if version > SCHEMA_VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "database schema version {version} is newer than this library understands ({SCHEMA_VERSION})"
            )),
        ));
    }
    Ok(())
}
