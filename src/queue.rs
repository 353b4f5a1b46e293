//! The bounded in-memory queue between emit (many caller threads) and the worker.
//!
//! Emit copies the event into the tail of a block (64 KiB of event bytes and
//! their entries) under the lock: no allocation on the caller's thread, since
//! emptied blocks come back from the worker to a small pool. The worker swaps
//! the whole deque of blocks out in one go, so the lock is never held across
//! I/O or formatting. The worker is woken only when enough events piled up
//! (`wake_at`) or on request (flush, shutdown), not once per event: a futex
//! wake per emit would dominate its cost.

use crate::config::OverflowPolicy;
use crate::event::EventRef;
use crate::result::ResultCode;
use parking_lot::{Condvar, Mutex};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Event bytes per block (an event larger than this gets a block of its own).
const BLOCK_BYTES: usize = 64 << 10;
/// Entries per block at most.
const BLOCK_ENTRIES: usize = 1024;
/// Emptied blocks kept for reuse (about 5 MiB); the rest are freed.
const POOL_BLOCKS: usize = 64;

/// One entry of a block, in the order the callers made them.
#[derive(Debug)]
pub enum Entry {
    /// An event: its JSON is `bytes[start..start + len]` of the block.
    Event {
        unix_ms: i64,
        thread_name: Arc<str>,
        start: u32,
        len: u32,
    },
    /// set_extra: applies to every event queued after it.
    SetExtra(Box<(String, Option<Box<RawValue>>)>),
    /// An event evicted by drop_oldest, or an entry the worker has consumed.
    Gone,
}

/// Events and set_extra entries, with the events' JSON in one buffer.
#[derive(Debug)]
pub struct Block {
    bytes: Vec<u8>,
    pub entries: Vec<Entry>,
    /// Entries before this one are all `Gone`.
    first_live: usize,
}

impl Block {
    fn with_capacity(bytes: usize) -> Block {
        Block {
            bytes: Vec::with_capacity(bytes),
            entries: Vec::new(),
            first_live: 0,
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.entries.len() < BLOCK_ENTRIES && self.bytes.capacity() - self.bytes.len() >= len
    }

    /// The entries not yet consumed, with the bytes their events point into.
    pub fn live_entries(&mut self) -> (&[u8], &mut [Entry]) {
        (&self.bytes, &mut self.entries[self.first_live..])
    }

    /// The event an `Entry::Event` of this block stands for.
    pub fn event<'a>(bytes: &'a [u8], entry: &'a Entry) -> Option<EventRef<'a>> {
        match entry {
            Entry::Event {
                unix_ms,
                thread_name,
                start,
                len,
            } => Some(EventRef {
                unix_ms: *unix_ms,
                thread_name,
                json: &bytes[*start as usize..(*start + *len) as usize],
            }),
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.first_live = 0;
    }

    /// Evicts the oldest event; false when the block holds none.
    fn evict_oldest_event(&mut self) -> bool {
        let Some(pos) = self.entries[self.first_live..]
            .iter()
            .position(|e| matches!(e, Entry::Event { .. }))
        else {
            return false;
        };
        self.entries[self.first_live + pos] = Entry::Gone;
        while matches!(self.entries.get(self.first_live), Some(Entry::Gone)) {
            self.first_live += 1;
        }
        true
    }
}

#[derive(Default)]
struct State {
    blocks: VecDeque<Block>,
    /// Emptied blocks of the standard size, for reuse.
    pool: Vec<Block>,
    /// Events (not SetExtra entries) currently in `blocks`.
    events: usize,
    /// Events the worker drained and has not yet stored (released): they count
    /// against the capacity, so the queue and the worker together hold at most
    /// `capacity` events in memory.
    held: usize,
    /// Sequence number of the last accepted event (1-based; 0 = none yet).
    accepted_seq: u64,
    wake_requested: bool,
    closed: bool,
}

impl State {
    /// The block the next entry of `len` event bytes goes into.
    fn tail_for(&mut self, len: usize) -> &mut Block {
        if !self.blocks.back().is_some_and(|b| b.fits(len)) {
            let block = if len > BLOCK_BYTES {
                Block::with_capacity(len)
            } else {
                self.pool
                    .pop()
                    .unwrap_or_else(|| Block::with_capacity(BLOCK_BYTES))
            };
            self.blocks.push_back(block);
        }
        self.blocks.back_mut().expect("just ensured")
    }
}

/// What the worker takes out of the queue in one go.
pub struct Drained {
    pub blocks: VecDeque<Block>,
    /// Events in `blocks` (to `release` once stored).
    pub events: usize,
    /// Sequence number of the last event in `blocks` (or of the last accepted event).
    pub last_seq: u64,
    /// Events evicted by drop_oldest since the last drain.
    pub evicted: u64,
}

pub struct Queue {
    state: Mutex<State>,
    worker_cv: Condvar,
    space_cv: Condvar,
    capacity: usize,
    wake_at: usize,
    policy: OverflowPolicy,
    block_timeout: std::time::Duration,
    evicted: std::sync::atomic::AtomicU64,
}

impl Queue {
    pub fn new(
        capacity: usize,
        wake_at: usize,
        policy: OverflowPolicy,
        block_timeout: std::time::Duration,
    ) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            worker_cv: Condvar::new(),
            space_cv: Condvar::new(),
            capacity,
            wake_at: wake_at.clamp(1, capacity),
            policy,
            block_timeout,
            evicted: Default::default(),
        }
    }

    /// Queues a copy of an event. Never blocks unless the policy is `block`.
    pub fn push_event(
        &self,
        unix_ms: i64,
        thread_name: Arc<str>,
        json: &[u8],
    ) -> Result<(), ResultCode> {
        let Ok(len) = u32::try_from(json.len()) else {
            return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
        };
        let mut st = self.state.lock();
        if st.closed {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        if st.events + st.held >= self.capacity {
            match self.policy {
                OverflowPolicy::DropNewest => return Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL),
                OverflowPolicy::Block => {
                    let deadline = Instant::now() + self.block_timeout;
                    while st.events + st.held >= self.capacity && !st.closed {
                        self.worker_cv.notify_one();
                        if self.space_cv.wait_until(&mut st, deadline).timed_out() {
                            break;
                        }
                    }
                    if st.closed {
                        return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
                    }
                    if st.events + st.held >= self.capacity {
                        return Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL);
                    }
                }
                OverflowPolicy::DropOldest => {
                    // Events the worker holds cannot be evicted: with none
                    // queued, the event is accepted over the bound until the
                    // worker releases them.
                    let mut found = false;
                    for block in st.blocks.iter_mut() {
                        if block.evict_oldest_event() {
                            found = true;
                            break;
                        }
                    }
                    if found {
                        st.events -= 1;
                        self.evicted
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
        let block = st.tail_for(json.len());
        let start = block.bytes.len() as u32;
        block.bytes.extend_from_slice(json);
        block.entries.push(Entry::Event {
            unix_ms,
            thread_name,
            start,
            len,
        });
        st.events += 1;
        st.accepted_seq += 1;
        let wake = st.events == self.wake_at;
        drop(st);
        if wake {
            self.worker_cv.notify_one();
        }
        Ok(())
    }

    /// Queues a set_extra; it is ordered with the events around it.
    pub fn push_set_extra(
        &self,
        key: String,
        value: Option<Box<RawValue>>,
    ) -> Result<(), ResultCode> {
        let entry = Entry::SetExtra(Box::new((key, value)));
        let mut st = self.state.lock();
        if st.closed {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        st.tail_for(0).entries.push(entry);
        Ok(())
    }

    /// The sequence number of the last accepted event.
    pub fn accepted_seq(&self) -> u64 {
        self.state.lock().accepted_seq
    }

    /// Asks the worker to run now (flush, shutdown).
    pub fn wake(&self) {
        self.state.lock().wake_requested = true;
        self.worker_cv.notify_one();
    }

    /// Refuses further events; the worker drains what is there.
    pub fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        st.wake_requested = true;
        drop(st);
        self.worker_cv.notify_one();
        self.space_cv.notify_all();
    }

    /// Worker: waits until woken, enough events queued, or the deadline, but
    /// not before `not_before`: until then it sleeps without being a waiter,
    /// so emits crossing `wake_at` find no one to wake and make no syscall.
    pub fn wait(&self, deadline: Instant, not_before: Instant) {
        let pause_until = not_before.min(deadline);
        let now = Instant::now();
        if pause_until > now {
            std::thread::sleep(pause_until - now);
        }
        let mut st = self.state.lock();
        while !st.wake_requested && st.events < self.wake_at && Instant::now() < deadline {
            if self.worker_cv.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.wake_requested = false;
    }

    /// Worker: takes everything queued, leaving `spare` (an empty deque) in
    /// its place. The events stay counted against the capacity until the
    /// worker `release`s them.
    pub fn drain(&self, spare: VecDeque<Block>) -> Drained {
        let mut st = self.state.lock();
        let blocks = std::mem::replace(&mut st.blocks, spare);
        let events = std::mem::take(&mut st.events);
        st.held += events;
        let last_seq = st.accepted_seq;
        drop(st);
        Drained {
            blocks,
            events,
            last_seq,
            evicted: self.evicted.swap(0, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Worker: `n` drained events are stored (or dropped): their room is free.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = self.state.lock();
        st.held = st.held.saturating_sub(n);
        drop(st);
        if self.policy == OverflowPolicy::Block {
            self.space_cv.notify_all();
        }
    }

    /// Worker: hands back drained blocks (emptied here, outside the lock) for
    /// reuse; `blocks` is left empty.
    pub fn recycle(&self, blocks: &mut Vec<Block>) {
        let mut keep: Vec<Block> = Vec::new();
        for mut block in blocks.drain(..) {
            if block.bytes.capacity() == BLOCK_BYTES && keep.len() < POOL_BLOCKS {
                block.clear();
                keep.push(block);
            }
        }
        if keep.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        let room = POOL_BLOCKS.saturating_sub(st.pool.len()).min(keep.len());
        st.pool.extend(keep.drain(..room));
        drop(st);
        // Blocks beyond the pool's room are freed here, outside the lock.
    }

    /// Events in memory now: queued, or drained and not yet stored.
    pub fn len(&self) -> usize {
        let st = self.state.lock();
        st.events + st.held
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What a drain holds, in order: event JSON as text, or "extra:KEY".
    fn contents(queue: &Queue) -> (Vec<String>, usize) {
        let Drained {
            mut blocks, events, ..
        } = queue.drain(VecDeque::new());
        let mut out = Vec::new();
        for block in blocks.iter_mut() {
            let (bytes, entries) = block.live_entries();
            for entry in entries.iter() {
                match entry {
                    Entry::SetExtra(extra) => out.push(format!("extra:{}", extra.0)),
                    Entry::Gone => {}
                    e => out.push(
                        String::from_utf8(Block::event(bytes, e).unwrap().json.to_vec()).unwrap(),
                    ),
                }
            }
        }
        queue.recycle(&mut blocks.into_iter().collect());
        queue.release(events);
        (out, events)
    }

    fn queue(capacity: usize, policy: OverflowPolicy) -> Queue {
        Queue::new(capacity, 10, policy, Duration::from_millis(1))
    }

    #[test]
    fn events_and_extras_keep_their_order_across_blocks() {
        let q = queue(100_000, OverflowPolicy::DropNewest);
        let thread: Arc<str> = Arc::from("t");
        let big = format!("\"{}\"", "x".repeat(BLOCK_BYTES + 10));
        let mut expected = Vec::new();
        for i in 0..3000 {
            let ev = if i == 1500 {
                big.clone()
            } else {
                format!("{{\"i\":{i}}}")
            };
            assert!(q.push_event(0, thread.clone(), ev.as_bytes()).is_ok());
            expected.push(ev);
            if i % 700 == 0 {
                q.push_set_extra(format!("k{i}"), None).unwrap();
                expected.push(format!("extra:k{i}"));
            }
        }
        let (got, events) = contents(&q);
        assert_eq!(events, 3000);
        assert_eq!(got, expected);
        // Blocks come back from the pool empty.
        q.push_event(0, thread, b"{}").ok().unwrap();
        assert_eq!(contents(&q).0, vec!["{}".to_string()]);
    }

    #[test]
    fn capacity_counts_events_the_worker_still_holds() {
        let q = queue(3, OverflowPolicy::DropNewest);
        let t: Arc<str> = Arc::from("t");
        for _ in 0..3 {
            assert!(q.push_event(0, t.clone(), b"{}").is_ok());
        }
        let drained = q.drain(VecDeque::new());
        assert_eq!(drained.events, 3);
        assert!(q.push_event(0, t.clone(), b"{}").is_err());
        assert_eq!(q.len(), 3);
        q.release(2);
        assert!(q.push_event(0, t.clone(), b"{}").is_ok());
        assert!(q.push_event(0, t, b"{}").is_ok());
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn drop_oldest_evicts_the_oldest_queued_event_and_keeps_extras() {
        let q = queue(2, OverflowPolicy::DropOldest);
        let t: Arc<str> = Arc::from("t");
        q.push_set_extra("k".into(), None).unwrap();
        for i in 0..5 {
            assert!(q
                .push_event(0, t.clone(), format!("{i}").as_bytes())
                .is_ok());
        }
        let (got, events) = contents(&q);
        assert_eq!(got, vec!["extra:k", "3", "4"]);
        assert_eq!(events, 2);
    }
}
