//! The worker's side of the queue: a drain takes every shard's blocks and
//! yields their entries merged into one order, as items (an event, or a
//! set_extra), so the worker never sees the block format.
//!
//! Order across shards: every entry (event or set_extra) takes a sequence
//! number from one counter, incremented under the lock of the shard the entry
//! goes into, so each shard holds its entries in seq order. The worker locks
//! the shards one after the other, each time reading the counter: an entry
//! pushed to shard j after the worker took it has a seq above what the worker
//! read there, so every entry with a seq up to the first reading (`last_seq`)
//! has been taken. The worker merges the shards by seq up to `last_seq` and
//! keeps later entries for the next drain. This keeps each thread's order
//! (even when it moves to another shard) and orders a set_extra before every
//! event queued after it, whichever thread queues it.

use super::block::{Block, Entry};
use super::sync::{MutexGuard, Ordering};
use super::Queue;
use crate::event::EventRef;
use serde_json::value::RawValue;
use std::collections::VecDeque;

/// One entry of a drain, in the order the callers made them.
pub enum Item<'a> {
    /// An event, with its seq.
    Event { seq: u64, event: EventRef<'a> },
    /// set_extra: applies to every event after it (None removes the key).
    SetExtra {
        seq: u64,
        key: String,
        value: Option<Box<RawValue>>,
    },
}

impl<'a> Item<'a> {
    /// The item an entry stands for (a set_extra moves out, leaving `Gone`);
    /// None for a `Gone` entry.
    #[inline]
    fn take(seq: u64, bytes: &'a [u8], entry: &'a mut Entry) -> Option<Item<'a>> {
        match entry {
            Entry::Event {
                unix_ms,
                origin,
                start,
                len,
            } => Some(Item::Event {
                seq,
                event: EventRef {
                    unix_ms: *unix_ms,
                    thread_name: &origin.thread_name,
                    context: origin.context.as_ref(),
                    json: &bytes[*start as usize..(*start + *len) as usize],
                },
            }),
            Entry::SetExtra(_) => {
                let Entry::SetExtra(extra) = std::mem::replace(entry, Entry::Gone) else {
                    unreachable!("matched above")
                };
                let (key, value) = *extra;
                Some(Item::SetExtra { seq, key, value })
            }
            Entry::Gone => None,
        }
    }
}

impl Queue {
    /// Worker: takes everything queued. Its events stay counted against the
    /// capacity until the worker `release`s them.
    pub fn drain(&self) -> Drained<'_> {
        let mut taken = self.taken.lock();
        let mut last_seq = u64::MAX;
        for (shard, into) in self.shards.iter().zip(taken.iter_mut()) {
            let mut shard = shard.lock();
            // Entries pushed to this shard from now on get a higher seq.
            last_seq = last_seq.min(self.hot.0.last_seq.load(Ordering::SeqCst));
            let events = std::mem::take(&mut shard.events);
            into.extend(shard.blocks.drain(..));
            drop(shard);
            if events > 0 {
                self.hot.0.occupancy.hold(events);
            }
        }
        self.pool.top_up(&self.hot.0.blocks_started);
        Drained {
            queue: self,
            taken,
            last_seq,
            evicted: self.evicted.swap(0, Ordering::Relaxed),
            run: 0,
            run_end: 0,
            done: Vec::new(),
        }
    }
}

/// What the worker took out of the queue: its entries in seq order, up to
/// `last_seq` (later ones wait in the queue's worker side for the next drain).
pub struct Drained<'a> {
    queue: &'a Queue,
    taken: MutexGuard<'a, Vec<VecDeque<Block>>>,
    /// Every entry with a seq up to this one is in this drain or an earlier one.
    last_seq: u64,
    /// Events evicted by drop_oldest since the last drain.
    evicted: u64,
    /// The shard entries come from until seq `run_end` (exclusive): below the
    /// other shards' next entries, so no search is needed until then.
    run: usize,
    run_end: u64,
    /// Consumed blocks, for `release` to recycle.
    done: Vec<Block>,
}

impl Drained<'_> {
    /// Every entry with a seq up to this one is in this drain or an earlier one.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Events evicted by drop_oldest since the last drain.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The next item in seq order; None when every entry up to `last_seq`
    /// is consumed.
    pub fn next_item(&mut self) -> Option<Item<'_>> {
        loop {
            let s = match self.front_seq(self.run) {
                Some(seq) if seq < self.run_end => self.run,
                _ => self.pick_run()?,
            };
            let block = self.taken[s].front_mut().expect("front_seq saw it");
            let i = block.consume_front();
            if !block.is_gone(i) {
                let block = self.taken[s].front_mut().expect("just consumed");
                let (seq, bytes, entry) = block.entry_mut(i);
                return Item::take(seq, bytes, entry);
            }
        }
    }

    /// The seq of shard `s`'s next entry, moving consumed blocks to `done`.
    fn front_seq(&mut self, s: usize) -> Option<u64> {
        let shard = &mut self.taken[s];
        loop {
            let seq = shard.front()?.front_seq();
            if seq.is_some() {
                return seq;
            }
            self.done.extend(shard.pop_front());
        }
    }

    /// Picks the shard with the lowest next seq (up to `last_seq`) as the run.
    fn pick_run(&mut self) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        let mut second = self.last_seq.saturating_add(1);
        for s in 0..self.taken.len() {
            let Some(seq) = self.front_seq(s) else {
                continue;
            };
            match best {
                Some((_, b)) if seq >= b => second = second.min(seq),
                _ => {
                    if let Some((_, b)) = best {
                        second = second.min(b);
                    }
                    best = Some((s, seq));
                }
            }
        }
        let (s, seq) = best?;
        if seq > self.last_seq {
            return None;
        }
        self.run = s;
        self.run_end = second;
        Some(s)
    }

    /// `n` consumed events are stored (or dropped): frees their room and
    /// recycles the blocks consumed so far.
    pub fn release(&mut self, n: usize) {
        self.queue.pool.recycle(&mut self.done);
        self.queue.release(n);
        self.queue.pool.top_up(&self.queue.hot.0.blocks_started);
    }
}

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        self.queue.pool.recycle(&mut self.done);
    }
}
