//! Reading and writing chunks: the in-memory tail first, SQLite behind it
//! (see tail.rs), with a background checkpoint asked for as the WAL grows.

use super::{checkpoint, Buffer, Chunk, ChunkSize, Error, NewChunk, Result, Totals};
use rusqlite::{params, Connection};
use std::sync::Arc;

impl Buffer {
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

    /// Stores chunks, returning their ids in order; on success `chunks` is
    /// left empty (they moved into the buffer), on an error it is untouched.
    /// A file buffer writes them in one transaction. A `:memory:` buffer keeps
    /// them in its tail and moves the oldest into SQLite once the tail is over
    /// its budget.
    pub fn insert(&mut self, chunks: &mut Vec<NewChunk>) -> Result<Vec<i64>> {
        let ids = if self.is_durable() {
            let rows = chunks.iter().map(|c| Row {
                id: None,
                lines: &c.lines,
                count: c.count,
                newest_ms: c.newest_ms,
            });
            let ids = Self::insert_rows(&mut self.conn, rows)?;
            self.wrote(chunks.iter().map(|c| c.lines.len() as u64).sum());
            for (chunk, &id) in chunks.drain(..).zip(&ids) {
                self.tail.push(Arc::new(Chunk {
                    id,
                    lines: chunk.lines,
                    count: chunk.count,
                    newest_ms: chunk.newest_ms,
                }));
            }
            // The rows are in the file: the oldest copies can simply go.
            while self.tail.bytes() > self.tail_budget {
                self.tail.pop_front();
            }
            ids
        } else {
            let mut ids = Vec::with_capacity(chunks.len());
            for chunk in chunks.drain(..) {
                let id = self.next_id;
                self.next_id += 1;
                ids.push(id);
                self.tail.push(Arc::new(Chunk {
                    id,
                    lines: chunk.lines,
                    count: chunk.count,
                    newest_ms: chunk.newest_ms,
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
        let rows = moving.iter().map(|c| Row {
            id: Some(c.id),
            lines: &c.lines,
            count: c.count,
            newest_ms: c.newest_ms,
        });
        if let Err(e) = Self::insert_rows(&mut self.conn, rows) {
            self.tail.restore_front(moving);
            self.spill_error = Some(e.into());
        }
    }

    /// Inserts rows in one transaction.
    fn insert_rows<'a>(
        conn: &mut Connection,
        rows: impl Iterator<Item = Row<'a>>,
    ) -> rusqlite::Result<Vec<i64>> {
        let tx = conn.transaction()?;
        let mut ids = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks (id, newest_ms, event_count, lines) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for row in rows {
                stmt.execute(params![row.id, row.newest_ms, row.count, row.lines])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Proves the database takes writes now (after a full disk): inserts and
    /// deletes a row in one committed transaction, which writes pages.
    pub fn probe_write(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO chunks (newest_ms, event_count, lines) VALUES (0, 0, x'')",
            [],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute("DELETE FROM chunks WHERE id = ?1", [id])?;
        Ok(tx.commit()?)
    }

    /// Why chunks could not be moved into SQLite lately, if they could not.
    pub fn take_spill_error(&mut self) -> Option<Error> {
        self.spill_error.take()
    }

    /// The oldest chunks with an id greater than `after_id`, at most `limit`:
    /// from the tail when it holds the next one, otherwise from SQLite.
    pub fn fetch_after(&self, after_id: i64, limit: usize) -> Result<Vec<Arc<Chunk>>> {
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
    pub fn delete(&mut self, ids: &[i64]) -> Result<()> {
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
        Ok(tx.commit()?)
    }

    /// Replaces a chunk's events by its undelivered tail (after a partial delivery).
    pub fn replace(&mut self, id: i64, lines: &[u8], count: u32) -> Result<()> {
        if self.is_durable() || !self.tail.contains(id) {
            self.conn
                .prepare_cached("UPDATE chunks SET lines = ?2, event_count = ?3 WHERE id = ?1")?
                .execute(params![id, lines, count])?;
        }
        self.tail.replace(id, lines, count);
        Ok(())
    }

    /// Up to 1024 chunks below `below_id` whose newest
    /// event was accepted before `cutoff_ms`, oldest first, without reading
    /// their events.
    pub fn expired_before(&self, cutoff_ms: i64, below_id: i64) -> Result<Vec<ChunkSize>> {
        const LIMIT: usize = 1024;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, event_count, length(lines) FROM chunks
             WHERE newest_ms < ?1 AND id < ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![cutoff_ms, below_id, LIMIT as i64], |r| {
            Ok(ChunkSize {
                id: r.get(0)?,
                events: r.get::<_, i64>(1)? as u64,
                bytes: r.get::<_, i64>(2)? as u64,
            })
        })?;
        let mut victims: Vec<ChunkSize> = rows.collect::<rusqlite::Result<_>>()?;
        if !self.is_durable() && victims.len() < LIMIT {
            // The tail's ids all follow the rows spilled into SQLite.
            victims.extend(
                self.tail
                    .expired_before(cutoff_ms, below_id, LIMIT - victims.len()),
            );
        }
        Ok(victims)
    }

    pub fn totals(&self) -> Result<Totals> {
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
            let tail = self.tail.totals();
            totals.chunks += tail.chunks;
            totals.events += tail.events;
            totals.bytes += tail.bytes;
        }
        Ok(totals)
    }
}

/// A row to insert (`id` None: SQLite chooses it).
struct Row<'a> {
    id: Option<i64>,
    lines: &'a [u8],
    count: u32,
    newest_ms: i64,
}
