//! The ledger of events handed to the transport: where each stored event
//! that is not finished is. Exactly one place each: after the cursor
//! (untouched), in the chunk the cursor is in the middle of, in the retry
//! list, or in one batch the transport holds. So a batch that comes back in
//! part, in any order and from any connection, has exactly its unfinished
//! events sent again, and a chunk's row is deleted once all its events are
//! finished (delivered or refused for good).
//!
//! Batches are built here: the retry list first (oldest first), then the
//! chunk in progress, then new chunks, as many as the transport's capacity
//! takes (a batch may span chunks, a chunk may span batches). Progress inside
//! a chunk is kept in memory; `progress` tells the worker which rows to
//! rewrite with only their unfinished events (at shutdown, and before the
//! buffer moves), so a later process sends again only what was not finished.

use crate::buffer::{self, Chunk, ChunkSize};
use crate::transport::batch::event_end;
use crate::transport::{Batch, Capacity, Part};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Chunks fetched from the buffer per query while building batches: few at
/// first (a turn may need only one; rows read back from SQLite and not used
/// are read again next turn), doubling while a turn needs more.
const FETCH_FIRST: usize = 4;
const FETCH_MOST: usize = 64;

#[derive(Default)]
pub struct Ledger {
    /// Chunks with events handed out and not all of them finished, by id.
    touched: BTreeMap<i64, Touched>,
    /// Parts to send again, oldest first (by chunk id, then first event).
    retry: BTreeMap<(i64, u32), Part>,
    /// The batches the transport holds, by ticket.
    in_flight: HashMap<u64, Vec<Part>>,
    in_flight_events: u64,
    /// Parts in those batches, by chunk id (such chunks cannot be removed).
    in_batches: HashMap<i64, u32>,
    /// The chunk handed out in part, and where its rest starts.
    open: Option<Cursor>,
    /// The highest chunk id handed out (in whole or in part): later chunks
    /// are untouched.
    sent_through: i64,
    /// Events finished in touched chunks (their rows are still stored).
    settled: u64,
    last_ticket: u64,
    /// Chunks whose events are all finished, for the backlog to delete.
    finished: Vec<ChunkSize>,
}

struct Touched {
    chunk: Arc<Chunk>,
    /// Finished events: sorted, disjoint, non-adjacent ranges [a, b).
    done: Vec<(u32, u32)>,
    finished: u32,
}

struct Cursor {
    chunk: Arc<Chunk>,
    next: u32,
    at: usize,
}

/// A chunk with some events finished: the sorted ranges [a, b) of them.
pub type Progress = (Arc<Chunk>, Vec<(u32, u32)>);

/// The oldest stored chunks after an id, at most a number of them.
pub type Fetch<'a> = dyn Fn(i64, usize) -> buffer::Result<Vec<Arc<Chunk>>> + 'a;

/// Where new chunks come from while batches are built (one send turn):
/// fetched from the buffer a few dozen at a time, kept between batches.
pub struct Source<'a> {
    fetch: &'a Fetch<'a>,
    ahead: VecDeque<Arc<Chunk>>,
    next_fetch: usize,
}

impl<'a> Source<'a> {
    pub fn new(fetch: &'a Fetch<'a>) -> Source<'a> {
        Source {
            fetch,
            ahead: VecDeque::new(),
            next_fetch: FETCH_FIRST,
        }
    }

    fn next(&mut self, after_id: i64) -> buffer::Result<Option<Arc<Chunk>>> {
        if self.ahead.is_empty() {
            self.ahead = (self.fetch)(after_id, self.next_fetch)?.into();
            self.next_fetch = (self.next_fetch * 2).min(FETCH_MOST);
        }
        Ok(self.ahead.pop_front())
    }

    fn put_back(&mut self, chunk: Arc<Chunk>) {
        self.ahead.push_front(chunk);
    }
}

/// A batch being filled up to a capacity.
struct Fill {
    cap: Capacity,
    parts: Vec<Part>,
    events: u32,
    bytes: usize,
}

impl Fill {
    fn full(&self) -> bool {
        self.events >= self.cap.max_events || self.bytes >= self.cap.max_bytes
    }

    /// How many of `part`'s events fit, and where the last of them ends
    /// (the first event always fits in an empty batch, however large).
    fn fitting(&self, part: &Part) -> (u32, usize) {
        let room = self.cap.max_events.saturating_sub(self.events);
        let bytes = part.end - part.start;
        if part.count <= room && self.bytes + bytes <= self.cap.max_bytes {
            return (part.count, part.end);
        }
        let lines = &part.chunk.lines;
        let (mut n, mut at) = (0, part.start);
        while n < part.count.min(room) {
            let next = event_end(lines, at, 1);
            if self.bytes + (next - part.start) > self.cap.max_bytes && (self.events > 0 || n > 0) {
                break;
            }
            n += 1;
            at = next;
        }
        (n, at)
    }

    /// Adds the first events of `part` that fit; returns the rest (None when
    /// it all fit; the whole part when none did).
    fn take(&mut self, mut part: Part) -> Option<Part> {
        let (n, cut) = self.fitting(&part);
        if n == 0 {
            return Some(part);
        }
        let rest = (n < part.count).then(|| part.split_at(n, cut));
        self.events += part.count;
        self.bytes += part.end - part.start;
        self.parts.push(part);
        rest
    }
}

fn whole(chunk: &Arc<Chunk>, next: u32, at: usize) -> Part {
    Part {
        chunk: Arc::clone(chunk),
        first: next,
        count: chunk.count.saturating_sub(next),
        start: at,
        end: chunk.lines.len(),
    }
}

impl Ledger {
    /// Whether chunk `id` may be removed from the buffer: None while a
    /// batch holds some of its events, else how many are finished.
    pub fn removable(&self, id: i64) -> Option<u32> {
        if self.in_batches.contains_key(&id) {
            return None;
        }
        Some(self.touched.get(&id).map_or(0, |t| t.finished))
    }

    /// Chunks removed from the buffer (evicted, expired; none in a batch):
    /// their events are not sent any more.
    pub fn drop_chunks(&mut self, ids: &[i64]) {
        for id in ids {
            if let Some(t) = self.touched.remove(id) {
                self.settled -= u64::from(t.finished);
            }
            if self.open.as_ref().is_some_and(|c| c.chunk.id == *id) {
                self.open = None;
            }
        }
        if !self.retry.is_empty() {
            self.retry.retain(|(id, _), _| !ids.contains(id));
        }
    }

    /// Whether the transport holds batches.
    pub fn has_batches(&self) -> bool {
        !self.in_flight.is_empty()
    }

    pub fn last_ticket(&self) -> u64 {
        self.last_ticket
    }

    /// Of `buffered` stored events, those not in a batch and not finished.
    pub fn unsent(&self, buffered: u64) -> u64 {
        buffered.saturating_sub(self.settled + self.in_flight_events)
    }

    /// The next batch within `cap` (None: nothing to send).
    pub fn build(&mut self, cap: Capacity, source: &mut Source) -> buffer::Result<Option<Batch>> {
        let mut fill = Fill {
            cap,
            parts: Vec::new(),
            events: 0,
            bytes: 0,
        };
        while !fill.full() {
            let Some(entry) = self.retry.first_entry() else {
                break;
            };
            if let Some(rest) = fill.take(entry.remove()) {
                self.retry.insert((rest.chunk.id, rest.first), rest);
                break;
            }
        }
        if !fill.full() {
            if let Some(cursor) = self.open.take() {
                let part = whole(&cursor.chunk, cursor.next, cursor.at);
                if let Some(rest) = fill.take(part) {
                    self.open = Some(Cursor {
                        chunk: cursor.chunk,
                        next: rest.first,
                        at: rest.start,
                    });
                }
            }
        }
        while !fill.full() && self.open.is_none() {
            let Some(chunk) = source.next(self.sent_through)? else {
                break;
            };
            if chunk.count == 0 {
                // Nothing to send in it: done at once.
                self.sent_through = chunk.id;
                self.finished.push(chunk.size());
                continue;
            }
            let part = whole(&chunk, 0, 0);
            if fill.fitting(&part).0 == 0 {
                source.put_back(chunk);
                break;
            }
            self.sent_through = chunk.id;
            self.touched.insert(
                chunk.id,
                Touched {
                    chunk: Arc::clone(&chunk),
                    done: Vec::new(),
                    finished: 0,
                },
            );
            if let Some(rest) = fill.take(part) {
                self.open = Some(Cursor {
                    chunk,
                    next: rest.first,
                    at: rest.start,
                });
            }
        }
        if fill.parts.is_empty() {
            return Ok(None);
        }
        self.last_ticket += 1;
        let ticket = self.last_ticket;
        self.in_flight_events += u64::from(fill.events);
        for part in &fill.parts {
            *self.in_batches.entry(part.chunk.id).or_default() += 1;
        }
        self.in_flight.insert(ticket, fill.parts.clone());
        Ok(Some(Batch {
            ticket,
            parts: fill.parts,
        }))
    }

    /// Every event of a batch is finished: its size, None for a batch this
    /// ledger does not hold (forgotten, or reported twice).
    pub fn done(&mut self, ticket: u64) -> Option<u32> {
        let parts = self.take_batch(ticket)?;
        let events = parts.iter().map(|p| p.count).sum();
        for part in parts {
            self.finish(&part);
        }
        Some(events)
    }

    /// The first `finished` events of a batch are finished, the rest go to
    /// the retry list: how many went there (None: an unknown batch).
    pub fn returned(&mut self, ticket: u64, finished: u32) -> Option<u32> {
        let parts = self.take_batch(ticket)?;
        let mut left = finished;
        let mut back = 0;
        for mut part in parts {
            if left >= part.count {
                left -= part.count;
                self.finish(&part);
                continue;
            }
            if left > 0 {
                let rest = part.split_off(left);
                self.finish(&part);
                part = rest;
                left = 0;
            }
            back += part.count;
            self.retry.insert((part.chunk.id, part.first), part);
        }
        Some(back)
    }

    /// Chunks finished since the last call.
    pub fn take_finished(&mut self) -> Vec<ChunkSize> {
        std::mem::take(&mut self.finished)
    }

    /// Touched chunks with some events finished, and which: the rows to
    /// rewrite with only their other events.
    pub fn progress(&self) -> Vec<Progress> {
        self.touched
            .values()
            .filter(|t| t.finished > 0)
            .map(|t| (Arc::clone(&t.chunk), t.done.clone()))
            .collect()
    }

    /// Forgets everything (the buffer changed under the ledger: its ids mean
    /// nothing any more). Outcomes of batches handed out before are ignored.
    pub fn forget(&mut self) {
        let last_ticket = self.last_ticket;
        *self = Ledger {
            last_ticket,
            ..Ledger::default()
        };
    }

    fn take_batch(&mut self, ticket: u64) -> Option<Vec<Part>> {
        let parts = self.in_flight.remove(&ticket)?;
        let events: u64 = parts.iter().map(|p| u64::from(p.count)).sum();
        self.in_flight_events -= events;
        for part in &parts {
            let id = part.chunk.id;
            match self.in_batches.get_mut(&id) {
                Some(n) if *n > 1 => *n -= 1,
                _ => {
                    self.in_batches.remove(&id);
                }
            }
        }
        Some(parts)
    }

    fn finish(&mut self, part: &Part) {
        let id = part.chunk.id;
        let Some(t) = self.touched.get_mut(&id) else {
            return;
        };
        add_range(&mut t.done, part.first, part.first + part.count);
        t.finished += part.count;
        self.settled += u64::from(part.count);
        if t.finished >= t.chunk.count {
            let t = self.touched.remove(&id).expect("present");
            self.settled -= u64::from(t.finished);
            self.finished.push(t.chunk.size());
        }
    }
}

/// Adds [a, b) to sorted, disjoint ranges, merging neighbours.
fn add_range(ranges: &mut Vec<(u32, u32)>, a: u32, b: u32) {
    let at = ranges.partition_point(|r| r.1 < a);
    let mut end = at;
    let (mut lo, mut hi) = (a, b);
    while end < ranges.len() && ranges[end].0 <= hi {
        lo = lo.min(ranges[end].0);
        hi = hi.max(ranges[end].1);
        end += 1;
    }
    ranges.splice(at..end, std::iter::once((lo, hi)));
}

#[cfg(test)]
mod tests;
