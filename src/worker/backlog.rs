//! The backlog ledger: the buffer and the books kept on it. Events and bytes
//! stored, the database limits (whole chunks evicted or refused), `event_ttl`
//! expiry, and which of this session's chunks are still undelivered, which
//! is how far a flush has come.

use super::ingest::Rows;
use crate::buffer::{self, Buffer, Chunk, ChunkSize, Totals};
use crate::config::{Config, OverflowPolicy};
use crate::shared::Shared;
use crate::stats::Counters;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether a stored chunk may be removed (evicted, expired): None while the
/// transport holds some of its events, else how many of them are finished
/// already (delivered or refused, and counted so).
pub type Removable<'a> = dyn Fn(i64) -> Option<u32> + 'a;

/// How often stored chunks are checked against `event_ttl`.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);

pub struct Backlog {
    shared: Arc<Shared>,
    buffer: Buffer,
    limits: Limits,
    event_ttl: Option<Duration>,
    next_expiry: Instant,
    /// Chunks of this session not yet delivered, oldest first.
    session: VecDeque<SessionChunk>,
    /// Every event with a seq up to this one has been stored or dropped.
    assigned_seq: u64,
    /// Events in the buffer (delivered rows excluded) and their bytes.
    events: u64,
    bytes: u64,
}

/// A chunk this session stored and has not delivered yet.
struct SessionChunk {
    id: i64,
    /// Seq of its first event: every event before it is done once every
    /// chunk before this one is.
    first_seq: u64,
}

/// `max_database_events` and `max_database_bytes`, and what to drop when
/// they are reached.
struct Limits {
    max_events: Option<u64>,
    max_bytes: Option<u64>,
    evict_oldest: bool,
}

impl Backlog {
    pub fn new(shared: Arc<Shared>, config: &Config, buffer: Buffer) -> Backlog {
        Backlog {
            shared,
            buffer,
            limits: Limits {
                max_events: config.max_database_events,
                max_bytes: config.max_database_bytes,
                evict_oldest: config.overflow_policy == OverflowPolicy::DropOldest,
            },
            event_ttl: config.event_ttl,
            next_expiry: Instant::now(),
            session: VecDeque::new(),
            assigned_seq: 0,
            events: 0,
            bytes: 0,
        }
    }

    /// Takes stock of what the buffer holds at start (rows left by an
    /// earlier process): the events found.
    pub fn load_totals(&mut self) -> u64 {
        match self.buffer.totals() {
            Ok(t) => {
                self.events = t.events;
                self.bytes = t.bytes;
            }
            Err(e) => self.shared.database_error("read the buffer", &e),
        }
        self.publish();
        self.events
    }

    pub fn is_durable(&self) -> bool {
        self.buffer.is_durable()
    }

    /// Events stored and not yet delivered.
    pub fn buffered_events(&self) -> u64 {
        self.events
    }

    /// Every event with a seq up to this one has been stored or dropped.
    pub fn assigned_seq(&self) -> u64 {
        self.assigned_seq
    }

    /// Whether every chunk this session stored is delivered (or dropped).
    pub fn session_done(&self) -> bool {
        self.session.is_empty()
    }

    /// The oldest chunks after `after_id`, at most `limit`.
    pub fn fetch_after(&self, after_id: i64, limit: usize) -> buffer::Result<Vec<Arc<Chunk>>> {
        self.buffer.fetch_after(after_id, limit)
    }

    /// Every stored chunk, oldest first.
    pub fn all_chunks(&self) -> buffer::Result<Vec<Arc<Chunk>>> {
        // Spilled rows first, then the tail: one fetch per part.
        let mut chunks = Vec::new();
        loop {
            let after = chunks.last().map_or(0, |c: &Arc<Chunk>| c.id);
            let more = self.buffer.fetch_after(after, usize::MAX)?;
            if more.is_empty() {
                return Ok(chunks);
            }
            chunks.extend(more);
        }
    }

    /// Applies the database limits to rows about to be stored. drop_oldest
    /// evicts the oldest stored chunks the transport does not hold, then, if
    /// still over, the oldest new rows; the other policies refuse the newest
    /// rows (the worker never blocks). Returns the ids of the chunks evicted.
    pub fn admit(&mut self, rows: &mut Rows, removable: &Removable) -> Vec<i64> {
        let (max_events, max_bytes) = (self.limits.max_events, self.limits.max_bytes);
        let mut evicted = Vec::new();
        if max_events.is_none() && max_bytes.is_none() {
            return evicted;
        }
        let over = |b: &Backlog, rows: &Rows| {
            let events = b.events + rows.events();
            let bytes = b.bytes + rows.bytes();
            max_events.is_some_and(|m| events > m) || max_bytes.is_some_and(|m| bytes > m)
        };
        if self.limits.evict_oldest {
            let mut after = 0;
            while over(self, rows) {
                let Ok(mut oldest) = self.buffer.fetch_after(after, 1) else {
                    break;
                };
                let Some(victim) = oldest.pop() else { break };
                after = victim.id;
                let Some(finished) = removable(victim.id) else {
                    continue; // the transport holds some of it
                };
                if let Err(e) = self.buffer.delete(&[victim.id]) {
                    self.shared.database_error("evict old events", &e);
                    break;
                }
                let counters = &self.shared.counters;
                let dropped = victim.count.saturating_sub(finished);
                Counters::add(&counters.dropped_oldest, u64::from(dropped));
                self.forget(victim.size());
                evicted.push(victim.id);
            }
            while !rows.is_empty() && over(self, rows) {
                let dropped = rows.drop_oldest();
                let counters = &self.shared.counters;
                Counters::add(&counters.dropped_oldest, u64::from(dropped.count));
            }
            return evicted;
        }
        while !rows.is_empty() && over(self, rows) {
            let Some(dropped) = rows.drop_newest() else {
                break;
            };
            let counters = &self.shared.counters;
            Counters::add(&counters.dropped_database_full, u64::from(dropped.count));
        }
        evicted
    }

    /// Stores rows in one transaction. On an error they are left in `rows`.
    pub fn store(&mut self, rows: &mut Rows) -> buffer::Result<()> {
        let (events, bytes) = (rows.events(), rows.bytes());
        let ids = self.buffer.insert(&mut rows.chunks)?;
        if let Some(e) = self.buffer.take_spill_error() {
            // Nothing lost: the chunks stay in memory outside SQLite.
            self.shared
                .database_error("move events into the in-memory database", &e);
        }
        for (id, first_seq) in ids.into_iter().zip(rows.first_seqs()) {
            self.session.push_back(SessionChunk { id, first_seq });
        }
        self.events += events;
        self.bytes += bytes;
        self.publish();
        Ok(())
    }

    /// Rows that could not be stored: dropped and counted.
    pub fn refuse(&mut self, rows: &Rows) {
        let counters = &self.shared.counters;
        Counters::add(&counters.dropped_database_full, rows.events());
        self.publish();
    }

    /// Every event up to `last_seq` was drained: those that made no chunk
    /// (evicted, unformattable, over a limit) are done as soon as everything
    /// stored before them is.
    pub fn assigned_through(&mut self, last_seq: u64) {
        self.assigned_seq = self.assigned_seq.max(last_seq);
        self.update_completion();
    }

    /// Chunks delivered: deleted from the buffer and from the books, in any
    /// order.
    pub fn delivered(&mut self, chunks: &[ChunkSize]) {
        if chunks.is_empty() {
            return;
        }
        let ids: Vec<i64> = chunks.iter().map(|c| c.id).collect();
        if let Err(e) = self.buffer.delete(&ids) {
            // The rows stay and would be sent again by the next process: report it.
            self.shared.database_error("delete delivered events", &e);
        }
        for chunk in chunks {
            self.events = self.events.saturating_sub(chunk.events);
            self.bytes = self.bytes.saturating_sub(chunk.bytes);
        }
        if self.events == 0 {
            self.bytes = 0;
            if self.buffer.is_durable() {
                // Rows stranded by a fallback to memory were in this file,
                // which is back in use and now empty: they are delivered.
                self.shared.handshake.stranded_delivered();
            }
        }
        // Counters first: a flush woken by finish_chunks sees them current.
        self.publish();
        self.finish_chunks(&ids);
        self.reclaim_space();
    }

    /// After a part of a chunk was finished (delivered, or refused and
    /// counted): its row keeps only the other events. `finished`: sorted
    /// ranges [a, b) of event indexes.
    pub fn keep_unfinished(&mut self, chunk: &Chunk, finished: &[(u32, u32)]) {
        let mut rest = Vec::new();
        let mut count = 0u32;
        let mut ranges = finished.iter().peekable();
        for (i, event) in (0u32..).zip(chunk.events()) {
            while ranges.peek().is_some_and(|r| r.1 <= i) {
                ranges.next();
            }
            if ranges.peek().is_some_and(|r| r.0 <= i) {
                continue;
            }
            rest.extend_from_slice(event);
            rest.push(b'\n');
            count += 1;
        }
        if let Err(e) = self.buffer.replace(chunk.id, &rest, count) {
            self.shared.database_error("record a partial delivery", &e);
            return;
        }
        self.events = self
            .events
            .saturating_sub(u64::from(chunk.count.saturating_sub(count)));
        self.bytes = self
            .bytes
            .saturating_sub((chunk.lines.len() - rest.len()) as u64);
        self.publish();
    }

    /// Removes chunks older than `event_ttl` once a second, except those
    /// the transport holds (their fate is its): the ids removed.
    pub fn expire_due(&mut self, now: Instant, removable: &Removable) -> Vec<i64> {
        if now < self.next_expiry {
            return Vec::new();
        }
        self.next_expiry = now + EXPIRY_INTERVAL;
        self.expire(removable)
    }

    /// When expiry should run next (None: nothing can expire).
    pub fn next_expiry(&self) -> Option<Instant> {
        (self.event_ttl.is_some() && self.events > 0).then_some(self.next_expiry)
    }

    fn expire(&mut self, removable: &Removable) -> Vec<i64> {
        let Some(ttl) = self.event_ttl else {
            return Vec::new();
        };
        let cutoff = crate::sys::now_unix_ms() - ttl.as_millis() as i64;
        // Only ids, sizes and counts are read.
        let victims = match self.buffer.expired_before(cutoff, i64::MAX) {
            Ok(victims) => victims,
            Err(e) => {
                self.shared.database_error("expire events", &e);
                return Vec::new();
            }
        };
        let victims: Vec<(ChunkSize, u32)> = victims
            .into_iter()
            .filter_map(|v| Some((v, removable(v.id)?)))
            .collect();
        if victims.is_empty() {
            return Vec::new();
        }
        let ids: Vec<i64> = victims.iter().map(|(c, _)| c.id).collect();
        if let Err(e) = self.buffer.delete(&ids) {
            self.shared.database_error("expire events", &e);
            return Vec::new();
        }
        for (victim, finished) in victims {
            let expired = victim.events.saturating_sub(u64::from(finished));
            Counters::add(&self.shared.counters.expired, expired);
            self.forget(victim);
        }
        self.publish();
        self.reclaim_space();
        ids
    }

    /// After deletions: gives the disk space of a drained backlog back
    /// (buffer/vacuum.rs decides when it is worth it).
    fn reclaim_space(&mut self) {
        if let Err(e) = self.buffer.reclaim_space(self.events == 0) {
            self.shared
                .database_error("give free space back to the file system", &e);
        }
    }

    /// From the worker's loop: finishes giving space back when the WAL's
    /// truncation had to wait (cheap when there is nothing to finish).
    pub fn finish_reclaim(&mut self) {
        if let Err(e) = self.buffer.finish_reclaim() {
            self.shared
                .database_error("give free space back to the file system", &e);
        }
    }

    /// Switches to `memory` after the database file failed. This session's
    /// chunks stay in the file for the next handle: counted as done, but
    /// "stored, not sent" (flush and shutdown say so). Ids of the old file
    /// mean nothing in the new buffer.
    pub fn fall_back_to(&mut self, memory: Buffer) {
        self.buffer = memory;
        let stranded = self
            .session
            .front()
            .map(|c| (c.first_seq, self.assigned_seq));
        self.shared.handshake.fell_back_to_memory(stranded);
        self.session.clear();
        self.events = 0;
        self.bytes = 0;
        self.update_completion();
    }

    /// Goes on with `file`, into which every chunk moved (old id -> new id
    /// in `new_ids`); it holds `totals`.
    pub fn move_to_file(&mut self, file: Buffer, new_ids: &HashMap<i64, i64>, totals: Totals) {
        for chunk in self.session.iter_mut() {
            if let Some(&new) = new_ids.get(&chunk.id) {
                chunk.id = new;
            }
        }
        self.buffer = file;
        self.events = totals.events;
        self.bytes = totals.bytes;
        self.publish();
        self.shared.handshake.back_on_file(self.assigned_seq);
    }

    /// At shutdown: an in-memory buffer dies with the handle, so what it
    /// holds is counted as dropped.
    pub fn count_lost_at_shutdown(&self) {
        if self.buffer.is_durable() {
            return;
        }
        let lost = self
            .buffer
            .totals()
            .map(|t| t.events)
            .unwrap_or(self.events);
        Counters::add(&self.shared.counters.dropped_at_shutdown, lost);
    }

    /// The database file's path, for messages.
    pub fn path_text(&self) -> String {
        self.buffer
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Bookkeeping for a chunk removed without delivery (evicted or expired).
    fn forget(&mut self, chunk: ChunkSize) {
        self.events = self.events.saturating_sub(chunk.events);
        self.bytes = self.bytes.saturating_sub(chunk.bytes);
        self.finish_chunks(&[chunk.id]);
    }

    /// Marks chunks handled and advances the flush progress.
    fn finish_chunks(&mut self, ids: &[i64]) {
        // Chunks are finished oldest first almost always: pop those, and only
        // search the rest for ids finished out of order (evictions, expiry,
        // deliveries completing out of order).
        let mut rest = ids;
        while let (Some(front), Some((&id, tail))) = (self.session.front(), rest.split_first()) {
            if front.id != id {
                break;
            }
            self.session.pop_front();
            rest = tail;
        }
        if !rest.is_empty() {
            let rest: HashSet<i64> = rest.iter().copied().collect();
            self.session.retain(|c| !rest.contains(&c.id));
        }
        self.update_completion();
    }

    /// Flush progress: every event before the oldest undelivered chunk of this
    /// session is done (delivered, or dropped and counted).
    fn update_completion(&self) {
        let done = match self.session.front() {
            Some(chunk) => chunk.first_seq - 1,
            None => self.assigned_seq,
        };
        self.shared.handshake.complete_through(done);
    }

    fn publish(&self) {
        self.shared
            .counters
            .buffered
            .store(self.events, Ordering::Relaxed);
    }
}
