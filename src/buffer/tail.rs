//! The newest chunks of a buffer, held in memory in id order.
//!
//! With a file database the tail is a copy of the newest rows: they are sent
//! from memory instead of being read back from SQLite. With `:memory:` it is
//! the only copy (write-behind): a chunk reaches SQLite only when the tail
//! outgrows its byte budget, that is when the receiver is down or slower than
//! the producers. A healthy in-memory handle then never touches SQLite: its
//! inserts and deletes were a fifth of the worker's time (issue 8 profile).

use super::{Chunk, ChunkSize, Totals};
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Tail {
    /// Ascending ids (not necessarily consecutive: rows removed out of order
    /// leave gaps).
    chunks: VecDeque<Arc<Chunk>>,
    bytes: usize,
}

impl Tail {
    pub fn push(&mut self, chunk: Arc<Chunk>) {
        debug_assert!(self.chunks.back().is_none_or(|b| b.id < chunk.id));
        self.bytes += chunk.lines.len();
        self.chunks.push_back(chunk);
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn first_id(&self) -> Option<i64> {
        self.chunks.front().map(|c| c.id)
    }

    pub fn pop_front(&mut self) -> Option<Arc<Chunk>> {
        let chunk = self.chunks.pop_front()?;
        self.bytes -= chunk.lines.len();
        Some(chunk)
    }

    /// Puts chunks taken with `pop_front` back, oldest first.
    pub fn restore_front(&mut self, chunks: Vec<Arc<Chunk>>) {
        for chunk in chunks.into_iter().rev() {
            self.bytes += chunk.lines.len();
            self.chunks.push_front(chunk);
        }
    }

    fn position(&self, id: i64) -> Result<usize, usize> {
        self.chunks.binary_search_by_key(&id, |c| c.id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.position(id).is_ok()
    }

    /// Up to `limit` chunks with an id greater than `after_id`, oldest first.
    pub fn after(&self, after_id: i64, limit: usize) -> Vec<Arc<Chunk>> {
        let from = self.chunks.partition_point(|c| c.id <= after_id);
        self.chunks.range(from..).take(limit).cloned().collect()
    }

    /// Removes one chunk; false when it is not here.
    pub fn remove(&mut self, id: i64) -> bool {
        if self.chunks.front().is_some_and(|c| c.id == id) {
            self.pop_front();
            return true;
        }
        match self.position(id) {
            Ok(at) => {
                let chunk = self.chunks.remove(at).expect("found");
                self.bytes -= chunk.lines.len();
                true
            }
            Err(_) => false,
        }
    }

    /// Gives a chunk new events (its undelivered tail), keeping its id and
    /// time; false when it is not here.
    pub fn replace(&mut self, id: i64, lines: &[u8], count: u32) -> bool {
        let Ok(at) = self.position(id) else {
            return false;
        };
        let newest_ms = self.chunks[at].newest_ms;
        self.bytes = self.bytes - self.chunks[at].lines.len() + lines.len();
        self.chunks[at] = Arc::new(Chunk {
            id,
            lines: lines.to_vec(),
            count,
            newest_ms,
        });
        true
    }

    /// Totals over every chunk here.
    pub fn totals(&self) -> Totals {
        Totals {
            chunks: self.chunks.len() as u64,
            events: self.chunks.iter().map(|c| u64::from(c.count)).sum(),
            bytes: self.bytes as u64,
        }
    }

    /// Up to `limit` chunks below `below_id` whose newest event is older
    /// than `cutoff_ms`.
    pub fn expired_before(&self, cutoff_ms: i64, below_id: i64, limit: usize) -> Vec<ChunkSize> {
        self.chunks
            .iter()
            .take_while(|c| c.id < below_id)
            .filter(|c| c.newest_ms < cutoff_ms)
            .take(limit)
            .map(|c| c.size())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: i64, lines: &str) -> Arc<Chunk> {
        Arc::new(Chunk {
            id,
            lines: lines.as_bytes().to_vec(),
            count: lines.matches('\n').count() as u32,
            newest_ms: id * 10,
        })
    }

    #[test]
    fn keeps_id_order_through_removals_and_replacements() {
        let mut tail = Tail::default();
        for (id, lines) in [(1, "a\n"), (2, "b\nc\n"), (4, "d\n"), (7, "e\n")] {
            tail.push(chunk(id, lines));
        }
        let totals = |tail: &Tail| (tail.totals().events, tail.totals().bytes);
        assert_eq!(totals(&tail), (5, 10));
        let ids = |v: Vec<Arc<Chunk>>| v.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(tail.after(1, 10)), vec![2, 4, 7]);
        assert_eq!(ids(tail.after(3, 1)), vec![4]);
        assert!(tail.remove(4));
        assert!(!tail.remove(4));
        assert!(tail.replace(2, b"c\n", 1));
        assert!(!tail.replace(3, b"x\n", 1));
        assert_eq!(totals(&tail), (3, 6));
        assert_eq!(tail.expired_before(25, 7, 10).len(), 2);
        assert_eq!(tail.expired_before(25, 2, 10).len(), 1);
        let front = vec![tail.pop_front().unwrap()];
        assert_eq!(tail.first_id(), Some(2));
        tail.restore_front(front);
        assert_eq!(ids(tail.after(0, 10)), vec![1, 2, 7]);
        assert!(tail.contains(7) && !tail.contains(3));
    }
}
