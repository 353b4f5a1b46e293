//! The count the queue's bound is checked against: events `queued`
//! (reserved by producers or in the shards) and events `held` (drained by
//! the worker, not yet stored), in one atomic word. A drain moves events from
//! one to the other in a single step: with two words, a producer that read
//! `queued` before the move and `held` after it counted the moved events
//! twice and refused an event with the queue half full (found by the model
//! checker: loom_models.rs, `a_drain_never_makes_a_half_full_queue_refuse`).

use super::sync::{AtomicU64, Ordering};

/// `held` is the high half of the word, `queued` the low half.
const HELD: u64 = 1 << 32;
const QUEUED_MASK: u64 = HELD - 1;
/// The largest capacity: queued may exceed it (drop_oldest, see
/// capacity.rs) by a few, and must stay within its half.
pub(super) const MAX_CAPACITY: usize = (u32::MAX / 2) as usize;

#[derive(Default)]
pub struct Occupancy(AtomicU64);

impl Occupancy {
    /// Events queued (reserved or in the shards).
    pub fn queued(&self) -> usize {
        (self.0.load(Ordering::SeqCst) & QUEUED_MASK) as usize
    }

    /// Events in memory: queued or held.
    pub fn total(&self) -> usize {
        let word = self.0.load(Ordering::SeqCst);
        ((word & QUEUED_MASK) + (word >> 32)) as usize
    }

    /// Reserves room for one event if fewer than `capacity` are in memory:
    /// the number queued with it.
    #[inline]
    pub fn reserve(&self, capacity: usize) -> Option<usize> {
        let mut word = self.0.load(Ordering::SeqCst);
        loop {
            let queued = word & QUEUED_MASK;
            if (queued + (word >> 32)) as usize >= capacity {
                return None;
            }
            match self
                .0
                .compare_exchange_weak(word, word + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(queued as usize + 1),
                Err(now) => word = now,
            }
        }
    }

    /// Queues one event whatever the count (drop_oldest with nothing to
    /// evict): the number queued with it.
    pub fn reserve_over(&self) -> usize {
        ((self.0.fetch_add(1, Ordering::SeqCst) & QUEUED_MASK) + 1) as usize
    }

    /// Gives back a reservation that was not used.
    pub fn unreserve(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }

    /// Worker: `n` queued events are drained: now held.
    pub fn hold(&self, n: usize) {
        // queued >= n: the low half does not borrow from the high one.
        self.0
            .fetch_add((n as u64 * HELD).wrapping_sub(n as u64), Ordering::SeqCst);
    }

    /// Worker: `n` held events are stored (or dropped).
    pub fn release(&self, n: usize) {
        self.0.fetch_sub(n as u64 * HELD, Ordering::SeqCst);
    }

    /// (queued, held), for the model checks.
    #[cfg(all(test, loom))]
    pub fn counts(&self) -> (usize, usize) {
        let word = self.0.load(Ordering::SeqCst);
        ((word & QUEUED_MASK) as usize, (word >> 32) as usize)
    }
}
