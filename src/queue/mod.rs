//! The bounded in-memory queue between emit (many caller threads) and the
//! worker: producers copy events into blocks of their shard, the worker drains
//! them all at once, merged into the order they were made.
//!
//! Emit copies the event into the tail of a block (`block/`: 64 KiB of event
//! bytes and their entries): no allocation on the caller's thread, since
//! blocks come from a pool the worker keeps filled, or from a mapping
//! reserved at creation (`pool.rs`). Producers spread over shards
//! (`shard.rs`) and reserve room with a compare-and-swap (`capacity.rs`,
//! with the overflow policies). The worker takes whole blocks out
//! (`drain.rs`), so no lock is held across I/O or formatting, and is woken
//! only at a threshold or on request (`wake.rs`).

mod block;
mod capacity;
mod drain;
mod occupancy;
mod pool;
mod shard;
mod sync;
mod wake;

pub use drain::{Drained, Item};

use crate::config::OverflowPolicy;
use crate::context::Origin;
use crate::result::ResultCode;
use block::Entry;
use occupancy::Occupancy;
use pool::Pool;
use serde_json::value::RawValue;
use shard::{Shard, Shards};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};
use wake::WorkerWake;

/// Keeps a value on cache lines of its own (no false sharing between shards).
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

/// The counters every emit touches, on one cache line.
#[derive(Default)]
struct Hot {
    /// Seq of the last entry pushed (1-based; 0 = none yet).
    last_seq: AtomicU64,
    /// Events reserved by producers or queued in the shards, and events
    /// drained by the worker and not yet stored (released): they count
    /// against the capacity, so the queue and the worker together hold at
    /// most `capacity` events in memory.
    occupancy: Occupancy,
    /// Blocks producers started since the worker last topped the pool up.
    blocks_started: AtomicUsize,
}

pub struct Queue {
    shards: Shards,
    hot: Padded<Hot>,
    closed: AtomicBool,
    pool: Pool,

    /// The worker's side: blocks taken from each shard, not yet consumed.
    taken: Mutex<Vec<VecDeque<block::Block>>>,
    wake: WorkerWake,
    /// Producers waiting for room (policy `block`).
    space: Mutex<()>,
    space_cv: Condvar,
    evicted: AtomicU64,
    capacity: usize,
    policy: OverflowPolicy,
    block_timeout: Duration,
}

impl Queue {
    pub fn new(
        capacity: usize,
        wake_at: usize,
        policy: OverflowPolicy,
        block_timeout: Duration,
    ) -> Queue {
        Queue::with_shards(
            shard::shard_count(),
            capacity,
            wake_at,
            policy,
            block_timeout,
        )
    }

    fn with_shards(
        shards: usize,
        capacity: usize,
        wake_at: usize,
        policy: OverflowPolicy,
        block_timeout: Duration,
    ) -> Queue {
        // Beyond it (the configuration allows 100M), memory gives out first.
        let capacity = capacity.min(occupancy::MAX_CAPACITY);
        Queue {
            shards: Shards::new(shards),
            hot: Padded::default(),
            closed: AtomicBool::new(false),
            pool: Pool::new(capacity, shards),
            taken: Mutex::new((0..shards).map(|_| VecDeque::new()).collect()),
            wake: WorkerWake::new(wake_at.clamp(1, capacity)),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
            evicted: AtomicU64::new(0),
            capacity,
            policy,
            block_timeout,
        }
    }

    /// Queues a copy of an event. Never blocks unless the policy is `block`
    /// (or, for a moment, when every shard is busy).
    pub fn push_event(
        &self,
        unix_ms: i64,
        origin: Arc<Origin>,
        json: &[u8],
    ) -> Result<(), ResultCode> {
        let Ok(len) = u32::try_from(json.len()) else {
            return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
        };
        if self.closed.load(Ordering::Relaxed) {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        let queued = match self.reserve() {
            Some(queued) => queued,
            None => match self.policy {
                OverflowPolicy::DropNewest => return Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL),
                OverflowPolicy::Block => self.reserve_waiting()?,
                OverflowPolicy::DropOldest => {
                    return self.push_evicting(unix_ms, origin, json, len)
                }
            },
        };
        let mut shard = self.shards.lock_home();
        if self.closed.load(Ordering::Relaxed) {
            drop(shard);
            self.hot.0.occupancy.unreserve();
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        self.push_locked(&mut shard, unix_ms, origin, json, len);
        drop(shard);
        if queued == self.wake.at() {
            self.wake.notify();
        }
        Ok(())
    }

    /// Copies an event into a locked shard, with the next seq.
    fn push_locked(
        &self,
        shard: &mut Shard,
        unix_ms: i64,
        origin: Arc<Origin>,
        json: &[u8],
        len: u32,
    ) {
        let block = shard.tail_for(json.len(), &self.pool, &self.hot.0.blocks_started);
        let start = block.append_bytes(json);
        // Under the shard's lock: see drain.rs.
        let seq = self.hot.0.last_seq.fetch_add(1, Ordering::SeqCst) + 1;
        block.push(
            seq,
            Entry::Event {
                unix_ms,
                origin,
                start,
                len,
            },
        );
        shard.events += 1;
    }

    /// Queues a set_extra; it is ordered with the events around it.
    pub fn push_set_extra(
        &self,
        key: String,
        value: Option<Box<RawValue>>,
    ) -> Result<(), ResultCode> {
        let entry = Entry::SetExtra(Box::new((key, value)));
        let mut shard = self.shards.lock_home();
        if self.closed.load(Ordering::Relaxed) {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        let block = shard.tail_for(0, &self.pool, &self.hot.0.blocks_started);
        let seq = self.hot.0.last_seq.fetch_add(1, Ordering::SeqCst) + 1;
        block.push(seq, entry);
        Ok(())
    }

    /// The seq of the last accepted entry: flush waits for the worker to
    /// complete it (event and set_extra seqs share one numbering).
    pub fn accepted_seq(&self) -> u64 {
        self.hot.0.last_seq.load(Ordering::SeqCst)
    }

    /// Asks the worker to run now (flush, shutdown).
    pub fn wake(&self) {
        self.wake.request();
    }

    /// Refuses further events; the worker drains what is there.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Every producer checks `closed` under a shard lock: once each lock
        // was taken here, none can push anything more.
        for shard in self.shards.iter() {
            drop(shard.lock());
        }
        self.wake.request();
        drop(self.space.lock());
        self.space_cv.notify_all();
    }

    /// Worker: waits until woken, enough events queued, or the deadline, but
    /// not before `not_before` (see wake.rs).
    pub fn wait(&self, deadline: Instant, not_before: Instant) {
        let occupancy = &self.hot.0.occupancy;
        self.wake.wait(|| occupancy.queued(), deadline, not_before);
    }

    /// Events in memory now: queued, or drained and not yet stored.
    pub fn len(&self) -> usize {
        self.hot.0.occupancy.total()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(test)]
mod tests;
