//! The queue's bound and its overflow policy. `queued` (events reserved or in
//! the shards) plus `held` (drained by the worker, not yet stored) never
//! exceeds the capacity: a producer reserves its room with a compare-and-swap
//! before it takes a shard lock. When full, drop_newest refuses the event,
//! block waits for room, and drop_oldest evicts the oldest queued event of all
//! shards (it locks them all, in order: a slow path, taken only when the
//! queue is full).

use super::sync::Ordering;
use super::Queue;
use crate::config::OverflowPolicy;
use crate::context::Origin;
use crate::result::ResultCode;
use std::sync::Arc;
use std::time::Instant;

/// The event drop_oldest evicts: where it is, and its seq.
struct Victim {
    shard: usize,
    block: usize,
    entry: usize,
    seq: u64,
}

impl Queue {
    /// Reserves room for one event: the number queued with it, or None when
    /// full (exact: see occupancy.rs).
    pub(super) fn reserve(&self) -> Option<usize> {
        self.hot.0.occupancy.reserve(self.capacity)
    }

    /// Policy `block`: waits (up to the timeout) for room.
    pub(super) fn reserve_waiting(&self) -> Result<usize, ResultCode> {
        let deadline = Instant::now() + self.block_timeout;
        let mut guard = self.space.lock();
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
            }
            if let Some(queued) = self.reserve() {
                return Ok(queued);
            }
            self.wake.notify();
            if self.space_cv.wait_until(&mut guard, deadline).timed_out() {
                return self.reserve().ok_or(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL);
            }
        }
    }

    /// Policy `drop_oldest` with the queue full: evicts the oldest queued
    /// event of all shards for this one. With none queued (the worker holds
    /// them all, and they cannot be evicted) the event is accepted over the
    /// bound until the worker releases them.
    pub(super) fn push_evicting(
        &self,
        unix_ms: i64,
        origin: Arc<Origin>,
        json: &[u8],
        len: u32,
    ) -> Result<(), ResultCode> {
        let mut guards = self.shards.lock_all();
        if self.closed.load(Ordering::Relaxed) {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        // Room may have come back meanwhile.
        let queued = match self.reserve() {
            Some(queued) => queued,
            None => {
                let mut oldest: Option<Victim> = None;
                for (s, guard) in guards.iter().enumerate() {
                    let Some(shard) = guard else { break };
                    for (b, block) in shard.blocks.iter().enumerate() {
                        if let Some((i, seq)) = block.oldest_event() {
                            if oldest.as_ref().is_none_or(|o| seq < o.seq) {
                                oldest = Some(Victim {
                                    shard: s,
                                    block: b,
                                    entry: i,
                                    seq,
                                });
                            }
                            break;
                        }
                    }
                }
                match oldest {
                    Some(victim) => {
                        let shard = guards[victim.shard].as_mut().expect("locked above");
                        shard.blocks[victim.block].evict(victim.entry);
                        shard.events -= 1;
                        self.evicted.fetch_add(1, Ordering::Relaxed);
                        // The evicted event's room is this one's.
                        self.hot.0.occupancy.queued()
                    }
                    None => self.hot.0.occupancy.reserve_over(),
                }
            }
        };
        let shard = guards[self.shards.home_index()]
            .as_mut()
            .expect("locked above");
        self.push_locked(shard, unix_ms, origin, json, len);
        drop(guards);
        if queued == self.wake.at() {
            self.wake.notify();
        }
        Ok(())
    }

    /// Worker: `n` drained events are stored (or dropped): their room is free.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.hot.0.occupancy.release(n);
        if self.policy == OverflowPolicy::Block {
            drop(self.space.lock());
            self.space_cv.notify_all();
        }
    }
}
