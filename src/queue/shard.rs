//! The shards producers push into, so that a producer never waits for another
//! producer the OS has preempted: with more busy threads than cores, a thread
//! preempted while it holds the one lock makes every other producer park
//! behind it for a scheduler timeslice (a convoy; 12-16 ms stalls with one
//! lock). A producer uses its thread's home shard, and if that one is busy
//! `try_lock`s the next ones (the one it gets becomes its home); only a full
//! round of busy shards falls back to a blocking lock.

use super::block::{Block, BLOCK_BYTES};
use super::pool::Pool;
use super::sync::{self, AtomicUsize, Mutex, MutexGuard, Ordering};
use super::Padded;
use std::cell::Cell;
use std::collections::VecDeque;

/// Shards at most (drop_oldest holds all their locks at once, on the stack).
pub(super) const MAX_SHARDS: usize = 16;

#[derive(Default)]
pub struct Shard {
    pub blocks: VecDeque<Block>,
    /// Events (not SetExtra entries) in `blocks`.
    pub events: usize,
}

impl Shard {
    /// The block the next entry of `len` event bytes goes into; a new one
    /// (counted in `blocks_started`) when the last one is full.
    pub fn tail_for(
        &mut self,
        len: usize,
        pool: &Pool,
        blocks_started: &AtomicUsize,
    ) -> &mut Block {
        if !self.blocks.back().is_some_and(|b| b.fits(len)) {
            blocks_started.fetch_add(1, Ordering::Relaxed);
            let block = if len > BLOCK_BYTES {
                Block::huge(len)
            } else {
                pool.take()
            };
            self.blocks.push_back(block);
        }
        self.blocks.back_mut().expect("just ensured")
    }
}

/// The shards, each on cache lines of its own.
pub struct Shards(Box<[Padded<Mutex<Shard>>]>);

/// Every shard's lock, or a prefix of them (`lock_all`).
pub type AllShards<'a> = [Option<MutexGuard<'a, Shard>>; MAX_SHARDS];

impl Shards {
    pub fn new(count: usize) -> Shards {
        assert!(count.is_power_of_two() && count <= MAX_SHARDS);
        Shards((0..count).map(|_| Padded::default()).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Mutex<Shard>> {
        self.0.iter().map(|s| &s.0)
    }

    /// The calling thread's home shard.
    pub fn home_index(&self) -> usize {
        home_shard() & (self.0.len() - 1)
    }

    /// The calling thread's shard: its home if free, else the next free one
    /// (which becomes its home); a blocking lock only when all are busy.
    pub fn lock_home(&self) -> MutexGuard<'_, Shard> {
        let mask = self.0.len() - 1;
        let home = home_shard() & mask;
        for i in 0..self.0.len() {
            let s = (home + i) & mask;
            if let Some(guard) = self.0[s].0.try_lock() {
                if i != 0 {
                    HOME.with(|h| h.set(s));
                }
                return guard;
            }
        }
        self.0[home].0.lock()
    }

    /// All the shard locks, taken in index order (the only place that holds
    /// more than one): on the stack, no allocation.
    pub fn lock_all(&self) -> AllShards<'_> {
        let mut guards: AllShards<'_> = std::array::from_fn(|_| None);
        for (guard, shard) in guards.iter_mut().zip(self.0.iter()) {
            *guard = Some(shard.0.lock());
        }
        guards
    }
}

sync::thread_local! {
    /// This thread's preferred shard (usize::MAX: not chosen yet).
    static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
}

pub fn home_shard() -> usize {
    HOME.with(|h| {
        let mut home = h.get();
        if home == usize::MAX {
            home = sync::next_home();
            h.set(home);
        }
        home
    })
}

/// Shards for this machine: a power of two, twice the CPUs, 8 to MAX_SHARDS.
pub fn shard_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus * 2).next_power_of_two().clamp(8, MAX_SHARDS)
}
