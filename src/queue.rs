//! The bounded in-memory queue between emit (many caller threads) and the worker.
//!
//! Emit copies the event into the tail of a block (64 KiB of event bytes and
//! their entries): no allocation on the caller's thread, since emptied blocks
//! come back from the worker to a small pool. When the pool runs dry (the
//! queue growing fast), a producer takes a block from the slab (`slab.rs`)
//! reserved at creation, not from malloc: growing the heap takes the
//! process's memory-map lock, and a producer would sleep behind whichever
//! thread holds it. The worker takes whole blocks
//! out, so no lock is held across I/O or formatting. The worker is woken only
//! when enough events piled up (`wake_at`) or on request (flush, shutdown),
//! not once per event: a futex wake per emit would dominate its cost.
//!
//! Sharded, so that a producer never waits for another producer the OS has
//! preempted: with more busy threads than cores, a thread preempted while it
//! holds the one lock makes every other producer park behind it for a
//! scheduler timeslice (a convoy; 12-16 ms stalls with one lock). A producer
//! uses its thread's home shard, and if that one is busy `try_lock`s the next
//! ones (the one it gets becomes its home); only a full round of busy shards
//! falls back to a blocking lock.
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
//!
//! Capacity: `queued` (events reserved or in the shards) plus `held` (drained
//! by the worker, not yet stored) never exceeds the capacity: a producer
//! reserves its room with a compare-and-swap before it takes a shard lock.
//! drop_oldest evicts the oldest queued event of all shards (it locks them
//! all, in order: a slow path, taken only when the queue is full).

use crate::config::OverflowPolicy;
use crate::event::EventRef;
use crate::fixed_vec::FixedVec;
use crate::result::ResultCode;
use crate::slab::{Slab, Slot};
use parking_lot::{Condvar, Mutex, MutexGuard};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Event bytes per block (an event larger than this gets a block of its own).
const BLOCK_BYTES: usize = 64 << 10;
/// Entries per block at most (a block in a slab slot; its memory is only
/// touched as far as it is used).
const BLOCK_ENTRIES: usize = 1024;
/// Entries a standard block on the heap has room for (the slab is full or
/// unavailable): events of ~190 bytes and more fill its bytes first. (512
/// gave the same emit cost and ~25 MB more peak RSS with 1M events queued.)
const BLOCK_ENTRIES_RESERVED: usize = 352;
/// Entries whose memory a pooled block has touched: 16 KiB of them (whole
/// pages in a slot: touching 352 took a fifth page per block, +12 MB peak
/// RSS with 1M 200-byte events queued, since most blocks come from the pool).
const BLOCK_ENTRIES_PREFAULTED: usize = (16 << 10) / std::mem::size_of::<(u64, Entry)>();
/// Entries of a block made for one event larger than BLOCK_BYTES (room for a
/// few set_extra entries after it).
const HUGE_BLOCK_ENTRIES: usize = 16;
/// Where a block's parts live in a slab slot: bytes, then entries.
const SLOT_ENTRIES_AT: usize = BLOCK_BYTES.next_multiple_of(std::mem::align_of::<(u64, Entry)>());
const SLOT_BYTES: usize = SLOT_ENTRIES_AT + BLOCK_ENTRIES * std::mem::size_of::<(u64, Entry)>();
/// The slab reserves a slot for this many events of the capacity (about
/// 512-byte events; smaller ones take fewer slots), plus the pool and the
/// shards' tails. Beyond it, or beyond SLAB_MAX_BYTES of address space,
/// blocks come from the heap.
const SLAB_EVENTS_PER_SLOT: usize = 128;
const SLAB_MAX_BYTES: usize = if usize::BITS >= 64 {
    4 << 30
} else {
    256 << 20
};
/// Emptied blocks kept for reuse: an eighth of what a full queue holds
/// (counting ~256 events per block), within these bounds (16 blocks are
/// about 1.3 MiB). The pool covers the queue's growth while the worker is
/// not running; a producer that finds it empty allocates, and that can make
/// it sleep on the process's memory-map lock.
const POOL_BLOCKS_MIN: usize = 16;
const POOL_BLOCKS_MAX: usize = 256;
/// Shards at most (drop_oldest holds all their locks at once, on the stack).
const MAX_SHARDS: usize = 16;

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
    bytes: FixedVec<u8>,
    /// Each entry with its seq (ascending). One array, not two: in a slab
    /// slot, each array's last page is partly used (+13 MB RSS with 1M
    /// 200-byte events queued with two).
    entries: FixedVec<(u64, Entry)>,
    /// Entries before this one are consumed or `Gone`.
    first_live: usize,
    /// The slab slot the three vectors live in (None: on the heap). Declared
    /// last: freed only after they are dropped.
    slot: Option<Slot>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

impl Block {
    fn on_heap(bytes: usize, entries: usize) -> Block {
        Block {
            bytes: FixedVec::heap(bytes),
            entries: FixedVec::heap(entries),
            first_live: 0,
            slot: None,
        }
    }

    /// A block for one event larger than a standard block.
    fn huge(bytes: usize) -> Block {
        Block::on_heap(bytes, HUGE_BLOCK_ENTRIES)
    }

    /// A block of the standard size: in a slab slot when one is free (a
    /// page fault at most, never a change to the address space), else on
    /// the heap.
    fn standard(slab: Option<&Arc<Slab>>) -> Block {
        match slab.and_then(|slab| slab.take()) {
            Some(slot) => Block::in_slot(slot),
            None => Block::on_heap(BLOCK_BYTES, BLOCK_ENTRIES_RESERVED),
        }
    }

    fn in_slot(slot: Slot) -> Block {
        assert!(slot.slot_bytes() >= SLOT_BYTES);
        let base = slot.ptr().as_ptr();
        // SAFETY: the slot is SLOT_BYTES long at least, page-aligned, and
        // used only by this block while it owns the slot. The two ranges do
        // not overlap (bytes [0, BLOCK_BYTES), entries [SLOT_ENTRIES_AT,
        // SLOT_BYTES)) and their offsets are multiples of their types'
        // alignment. The vectors are dropped before `slot` (field order), so
        // the memory outlives them.
        unsafe {
            Block {
                bytes: FixedVec::in_place(slot.ptr(), BLOCK_BYTES),
                entries: FixedVec::in_place(
                    NonNull::new_unchecked(base.add(SLOT_ENTRIES_AT).cast()),
                    BLOCK_ENTRIES,
                ),
                first_live: 0,
                slot: Some(slot),
            }
        }
    }

    /// A standard block, its memory touched: made by the worker for the
    /// pool, so that producers neither call malloc nor take page faults.
    /// Either can make a thread sleep on the process's memory map lock while
    /// another thread grows its heap (stalls of several ms with 4 producers
    /// on 2 cores when each grew its own).
    fn prefaulted(slab: Option<&Arc<Slab>>) -> Block {
        let mut block = Block::standard(slab);
        block.bytes.prefault(BLOCK_BYTES);
        block.entries.prefault(BLOCK_ENTRIES_PREFAULTED);
        block
    }

    fn is_standard(&self) -> bool {
        self.bytes.capacity() == BLOCK_BYTES
    }

    /// Frees the block; a slab slot's memory goes back to the system (the
    /// worker's job: it takes the memory-map lock for reading).
    fn discard(mut self) {
        let slot = self.slot.take();
        // The vectors (and the entries in them) are dropped first.
        drop(self);
        if let Some(slot) = slot {
            // SAFETY: the block's vectors are gone: no value stored in the
            // slot is alive any more.
            unsafe { slot.release_memory() };
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.entries.len() < self.entries.capacity()
            && self.bytes.capacity() - self.bytes.len() >= len
    }

    fn push(&mut self, seq: u64, entry: Entry) {
        self.entries.push((seq, entry));
    }

    /// The seq of the first entry not yet consumed.
    fn front_seq(&self) -> Option<u64> {
        self.entries.get(self.first_live).map(|e| e.0)
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

    /// The index and seq of the oldest event in the block.
    fn oldest_event(&self) -> Option<(usize, u64)> {
        let pos = self.entries[self.first_live..]
            .iter()
            .position(|e| matches!(e.1, Entry::Event { .. }))?;
        let i = self.first_live + pos;
        Some((i, self.entries[i].0))
    }

    fn evict(&mut self, i: usize) {
        self.entries[i].1 = Entry::Gone;
        while matches!(self.entries.get(self.first_live), Some((_, Entry::Gone))) {
            self.first_live += 1;
        }
    }
}

/// Keeps a value on cache lines of its own (no false sharing between shards).
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

#[derive(Default)]
struct Shard {
    blocks: VecDeque<Block>,
    /// Events (not SetExtra entries) in `blocks`.
    events: usize,
}

impl Shard {
    /// The block the next entry of `len` event bytes goes into.
    fn tail_for(&mut self, len: usize, queue: &Queue) -> &mut Block {
        if !self.blocks.back().is_some_and(|b| b.fits(len)) {
            queue.hot.0.blocks_started.fetch_add(1, Ordering::Relaxed);
            let block = if len > BLOCK_BYTES {
                Block::huge(len)
            } else {
                // The pool's lock is held for a pop; should it be busy, a new
                // block beats waiting.
                queue
                    .pool
                    .try_lock()
                    .and_then(|mut p| p.pop())
                    .unwrap_or_else(|| Block::standard(queue.slab.as_ref()))
            };
            self.blocks.push_back(block);
        }
        self.blocks.back_mut().expect("just ensured")
    }
}

/// The counters every emit touches, on one cache line.
#[derive(Default)]
struct Hot {
    /// Seq of the last entry pushed (1-based; 0 = none yet).
    last_seq: AtomicU64,
    /// Events reserved by producers or queued in the shards.
    queued: AtomicUsize,
    /// Blocks producers started since the worker last topped the pool up.
    blocks_started: AtomicUsize,
}

thread_local! {
    /// This thread's preferred shard (usize::MAX: not chosen yet).
    static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Spreads threads over the shards.
static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);

fn home_shard() -> usize {
    HOME.with(|h| {
        let mut home = h.get();
        if home == usize::MAX {
            home = NEXT_HOME.fetch_add(1, Ordering::Relaxed);
            h.set(home);
        }
        home
    })
}

/// Shards for this machine: a power of two, twice the CPUs, 8 to MAX_SHARDS.
fn shard_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus * 2).next_power_of_two().clamp(8, MAX_SHARDS)
}

pub struct Queue {
    shards: Box<[Padded<Mutex<Shard>>]>,
    hot: Padded<Hot>,
    /// Events drained by the worker and not yet stored (released): they count
    /// against the capacity, so the queue and the worker together hold at
    /// most `capacity` events in memory. Changed only by the worker.
    held: Padded<AtomicUsize>,
    closed: AtomicBool,
    /// Emptied blocks of the standard size, for reuse.
    pool: Mutex<Vec<Block>>,
    /// Most blocks the pool keeps.
    pool_blocks: usize,
    /// Where standard blocks live (None: the system refused the mapping).
    slab: Option<Arc<Slab>>,

    /// The worker's side: blocks taken from each shard, not yet consumed.
    taken: Mutex<Vec<VecDeque<Block>>>,
    /// The worker's wake flag (flush, shutdown), and its condvar.
    wake_requested: Mutex<bool>,
    worker_cv: Condvar,
    /// Producers waiting for room (policy `block`).
    space: Mutex<()>,
    space_cv: Condvar,
    evicted: AtomicU64,
    capacity: usize,
    wake_at: usize,
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
        Queue::with_shards(shard_count(), capacity, wake_at, policy, block_timeout)
    }

    fn with_shards(
        shards: usize,
        capacity: usize,
        wake_at: usize,
        policy: OverflowPolicy,
        block_timeout: Duration,
    ) -> Queue {
        assert!(shards.is_power_of_two() && shards <= MAX_SHARDS);
        let pool_blocks = (capacity / 256 / 8).clamp(POOL_BLOCKS_MIN, POOL_BLOCKS_MAX);
        let slots = capacity
            .div_ceil(SLAB_EVENTS_PER_SLOT)
            .saturating_add(pool_blocks + 2 * shards);
        Queue {
            shards: (0..shards).map(|_| Padded::default()).collect(),
            hot: Padded::default(),
            held: Padded::default(),
            closed: AtomicBool::new(false),
            pool: Mutex::new(Vec::new()),
            pool_blocks,
            slab: Slab::new(slots, SLOT_BYTES, SLAB_MAX_BYTES),
            taken: Mutex::new((0..shards).map(|_| VecDeque::new()).collect()),
            wake_requested: Mutex::new(false),
            worker_cv: Condvar::new(),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
            evicted: AtomicU64::new(0),
            capacity,
            wake_at: wake_at.clamp(1, capacity),
            policy,
            block_timeout,
        }
    }

    /// Queues a copy of an event. Never blocks unless the policy is `block`
    /// (or, for a moment, when every shard is busy).
    pub fn push_event(
        &self,
        unix_ms: i64,
        thread_name: Arc<str>,
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
                    return self.push_evicting(unix_ms, thread_name, json, len)
                }
            },
        };
        let mut shard = self.lock_shard();
        if self.closed.load(Ordering::Relaxed) {
            drop(shard);
            self.hot.0.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        self.push_locked(&mut shard, unix_ms, thread_name, json, len);
        drop(shard);
        if queued == self.wake_at {
            self.notify_worker();
        }
        Ok(())
    }

    /// Reserves room for one event: the number queued with it, or None when
    /// full. Exact: `held` grows only in `drain`, before `queued` shrinks by
    /// as much, so queued + held never reads below the events in memory.
    fn reserve(&self) -> Option<usize> {
        let queued = &self.hot.0.queued;
        let mut q = queued.load(Ordering::SeqCst);
        loop {
            if q + self.held.0.load(Ordering::SeqCst) >= self.capacity {
                return None;
            }
            match queued.compare_exchange_weak(q, q + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(q + 1),
                Err(now) => q = now,
            }
        }
    }

    /// Policy `block`: waits (up to the timeout) for room.
    fn reserve_waiting(&self) -> Result<usize, ResultCode> {
        let deadline = Instant::now() + self.block_timeout;
        let mut guard = self.space.lock();
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
            }
            if let Some(queued) = self.reserve() {
                return Ok(queued);
            }
            self.notify_worker();
            if self.space_cv.wait_until(&mut guard, deadline).timed_out() {
                return self.reserve().ok_or(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL);
            }
        }
    }

    /// Policy `drop_oldest` with the queue full: evicts the oldest queued
    /// event of all shards for this one. With none queued (the worker holds
    /// them all, and they cannot be evicted) the event is accepted over the
    /// bound until the worker releases them.
    fn push_evicting(
        &self,
        unix_ms: i64,
        thread_name: Arc<str>,
        json: &[u8],
        len: u32,
    ) -> Result<(), ResultCode> {
        // All the shard locks, taken in index order (the only place that
        // holds more than one): on the stack, no allocation.
        let mut guards: [Option<MutexGuard<'_, Shard>>; MAX_SHARDS] = std::array::from_fn(|_| None);
        for (guard, shard) in guards.iter_mut().zip(self.shards.iter()) {
            *guard = Some(shard.0.lock());
        }
        if self.closed.load(Ordering::Relaxed) {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        // Room may have come back meanwhile.
        let queued = match self.reserve() {
            Some(queued) => queued,
            None => {
                let mut oldest: Option<(usize, usize, usize, u64)> = None;
                for (s, guard) in guards.iter().enumerate() {
                    let Some(shard) = guard else { break };
                    for (b, block) in shard.blocks.iter().enumerate() {
                        if let Some((i, seq)) = block.oldest_event() {
                            if oldest.is_none_or(|o| seq < o.3) {
                                oldest = Some((s, b, i, seq));
                            }
                            break;
                        }
                    }
                }
                match oldest {
                    Some((s, b, i, _)) => {
                        let shard = guards[s].as_mut().expect("locked above");
                        shard.blocks[b].evict(i);
                        shard.events -= 1;
                        self.evicted.fetch_add(1, Ordering::Relaxed);
                        // The evicted event's room is this one's.
                        self.hot.0.queued.load(Ordering::SeqCst)
                    }
                    None => self.hot.0.queued.fetch_add(1, Ordering::SeqCst) + 1,
                }
            }
        };
        let home = home_shard() & (self.shards.len() - 1);
        let shard = guards[home].as_mut().expect("locked above");
        self.push_locked(shard, unix_ms, thread_name, json, len);
        drop(guards);
        if queued == self.wake_at {
            self.notify_worker();
        }
        Ok(())
    }

    /// Copies an event into a locked shard, with the next seq.
    fn push_locked(
        &self,
        shard: &mut Shard,
        unix_ms: i64,
        thread_name: Arc<str>,
        json: &[u8],
        len: u32,
    ) {
        let block = shard.tail_for(json.len(), self);
        let start = block.bytes.len() as u32;
        block.bytes.extend_from_slice(json);
        // Under the shard's lock: see `drain`.
        let seq = self.hot.0.last_seq.fetch_add(1, Ordering::SeqCst) + 1;
        block.push(
            seq,
            Entry::Event {
                unix_ms,
                thread_name,
                start,
                len,
            },
        );
        shard.events += 1;
    }

    /// The calling thread's shard: its home if free, else the next free one
    /// (which becomes its home); a blocking lock only when all are busy.
    fn lock_shard(&self) -> MutexGuard<'_, Shard> {
        let mask = self.shards.len() - 1;
        let home = home_shard() & mask;
        for i in 0..self.shards.len() {
            let s = (home + i) & mask;
            if let Some(guard) = self.shards[s].0.try_lock() {
                if i != 0 {
                    HOME.with(|h| h.set(s));
                }
                return guard;
            }
        }
        self.shards[home].0.lock()
    }

    /// Wakes the worker if it waits. Taking its lock first orders this after
    /// the worker's check of `queued`, so the wake cannot be lost.
    fn notify_worker(&self) {
        drop(self.wake_requested.lock());
        self.worker_cv.notify_one();
    }

    /// Queues a set_extra; it is ordered with the events around it.
    pub fn push_set_extra(
        &self,
        key: String,
        value: Option<Box<RawValue>>,
    ) -> Result<(), ResultCode> {
        let entry = Entry::SetExtra(Box::new((key, value)));
        let mut shard = self.lock_shard();
        if self.closed.load(Ordering::Relaxed) {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        let block = shard.tail_for(0, self);
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
        *self.wake_requested.lock() = true;
        self.worker_cv.notify_one();
    }

    /// Refuses further events; the worker drains what is there.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Every producer checks `closed` under a shard lock: once each lock
        // was taken here, none can push anything more.
        for shard in self.shards.iter() {
            drop(shard.0.lock());
        }
        *self.wake_requested.lock() = true;
        self.worker_cv.notify_one();
        drop(self.space.lock());
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
        let mut requested = self.wake_requested.lock();
        while !*requested
            && self.hot.0.queued.load(Ordering::SeqCst) < self.wake_at
            && Instant::now() < deadline
        {
            if self
                .worker_cv
                .wait_until(&mut requested, deadline)
                .timed_out()
            {
                break;
            }
        }
        *requested = false;
    }

    /// Worker: takes everything queued. Its events stay counted against the
    /// capacity until the worker `release`s them.
    pub fn drain(&self) -> Drained<'_> {
        let mut taken = self.taken.lock();
        let mut last_seq = u64::MAX;
        for (shard, into) in self.shards.iter().zip(taken.iter_mut()) {
            let mut shard = shard.0.lock();
            // Entries pushed to this shard from now on get a higher seq.
            last_seq = last_seq.min(self.hot.0.last_seq.load(Ordering::SeqCst));
            let events = std::mem::take(&mut shard.events);
            into.extend(shard.blocks.drain(..));
            drop(shard);
            if events > 0 {
                self.held.0.fetch_add(events, Ordering::SeqCst);
                self.hot.0.queued.fetch_sub(events, Ordering::SeqCst);
            }
        }
        self.top_up_pool();
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

    /// Worker: `n` drained events are stored (or dropped): their room is free.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.held.0.fetch_sub(n, Ordering::SeqCst);
        if self.policy == OverflowPolicy::Block {
            drop(self.space.lock());
            self.space_cv.notify_all();
        }
    }

    /// Worker: hands back drained blocks (emptied here, outside the lock) for
    /// reuse; `blocks` is left empty.
    fn recycle(&self, blocks: &mut Vec<Block>) {
        let mut keep: Vec<Block> = Vec::new();
        for mut block in blocks.drain(..) {
            if block.is_standard() && keep.len() < self.pool_blocks {
                block.clear();
                keep.push(block);
            } else {
                block.discard();
            }
        }
        if keep.is_empty() {
            return;
        }
        let mut pool = self.pool.lock();
        let room = self.pool_blocks.saturating_sub(pool.len()).min(keep.len());
        pool.extend(keep.drain(..room));
        drop(pool);
        // Blocks beyond the pool's room are freed here, outside the lock.
        keep.into_iter().for_each(Block::discard);
    }

    /// Worker: puts new blocks in the pool until it holds twice as many as
    /// producers started since the last top-up (the demand until the next,
    /// with a margin for a worker that runs late on a busy machine), so that
    /// producers do not allocate while the queue grows, also during a long
    /// ingest. Idle, none.
    fn top_up_pool(&self) {
        let started = self.hot.0.blocks_started.swap(0, Ordering::Relaxed);
        let want = (2 * started).min(self.pool_blocks);
        let have = self.pool.lock().len();
        if have >= want {
            return;
        }
        let fresh: Vec<Block> = (have..want)
            .map(|_| Block::prefaulted(self.slab.as_ref()))
            .collect();
        self.pool.lock().extend(fresh);
    }

    /// Events in memory now: queued, or drained and not yet stored.
    pub fn len(&self) -> usize {
        self.hot.0.queued.load(Ordering::SeqCst) + self.held.0.load(Ordering::SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the worker took out of the queue: its entries in seq order, up to
/// `last_seq` (later ones wait in the queue's worker side for the next drain).
pub struct Drained<'a> {
    queue: &'a Queue,
    taken: MutexGuard<'a, Vec<VecDeque<Block>>>,
    /// Every entry with a seq up to this one is in this drain or an earlier one.
    pub last_seq: u64,
    /// Events evicted by drop_oldest since the last drain.
    pub evicted: u64,
    /// The shard entries come from until seq `run_end` (exclusive): below the
    /// other shards' next entries, so no search is needed until then.
    run: usize,
    run_end: u64,
    /// Consumed blocks, for `release` to recycle.
    done: Vec<Block>,
}

impl Drained<'_> {
    /// The next entry in seq order (never a `Gone` one), with its seq and the
    /// bytes of its block; None when every entry up to `last_seq` is consumed.
    pub fn next_entry(&mut self) -> Option<(u64, &[u8], &mut Entry)> {
        loop {
            let s = match self.front_seq(self.run) {
                Some(seq) if seq < self.run_end => self.run,
                _ => self.pick_run()?,
            };
            let block = self.taken[s].front_mut().expect("front_seq saw it");
            let i = block.first_live;
            block.first_live += 1;
            if !matches!(block.entries[i].1, Entry::Gone) {
                break;
            }
        }
        let block = self.taken[self.run].front_mut().expect("just consumed");
        let i = block.first_live - 1;
        let (seq, entry) = &mut block.entries[i];
        Some((*seq, &block.bytes[..], entry))
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
        self.queue.recycle(&mut self.done);
        self.queue.release(n);
        self.queue.top_up_pool();
    }
}

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        self.queue.recycle(&mut self.done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// What one drain yields, in order: (seq, event JSON as text or "extra:KEY").
    fn drain_all(queue: &Queue) -> Vec<(u64, String)> {
        let mut drained = queue.drain();
        let mut out = Vec::new();
        let mut events = 0;
        while let Some((seq, bytes, entry)) = drained.next_entry() {
            match entry {
                Entry::SetExtra(extra) => out.push((seq, format!("extra:{}", extra.0))),
                e => {
                    let ev = Block::event(bytes, e).expect("only live entries");
                    out.push((seq, String::from_utf8(ev.json.to_vec()).unwrap()));
                    events += 1;
                }
            }
        }
        drained.release(events);
        out
    }

    fn contents(queue: &Queue) -> Vec<String> {
        drain_all(queue).into_iter().map(|(_, s)| s).collect()
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
        assert_eq!(q.len(), 3000);
        assert_eq!(contents(&q), expected);
        assert_eq!(q.len(), 0);
        // Blocks come back from the pool empty.
        q.push_event(0, thread, b"{}").ok().unwrap();
        assert_eq!(contents(&q), vec!["{}".to_string()]);
    }

    #[test]
    fn blocks_beyond_the_slab_come_from_the_heap_and_slots_are_reused() {
        // 8 shards, capacity 200: 2 + 16 + 16 = 34 slots. Events of 40 KB
        // take a block each: 200 blocks, most of them on the heap.
        let q = Queue::with_shards(8, 200, 1000, OverflowPolicy::DropNewest, Duration::ZERO);
        assert!(q.slab.is_some(), "the mapping is made");
        let t: Arc<str> = Arc::from("t");
        for round in 0..3 {
            let events: Vec<String> = (0..200)
                .map(|i| format!("\"{round}:{i}:{}\"", "x".repeat(40_000)))
                .collect();
            for ev in &events {
                q.push_event(0, t.clone(), ev.as_bytes()).unwrap();
            }
            q.push_set_extra(format!("k{round}"), None).unwrap();
            assert!(q.push_event(0, t.clone(), b"{}").is_err(), "full");
            if round == 0 {
                let (mut in_slots, mut on_heap) = (0, 0);
                for shard in q.shards.iter() {
                    for block in &shard.0.lock().blocks {
                        *if block.slot.is_some() {
                            &mut in_slots
                        } else {
                            &mut on_heap
                        } += 1;
                    }
                }
                assert_eq!((in_slots, on_heap), (34, 166));
            }
            let mut expected = events;
            expected.push(format!("extra:k{round}"));
            assert_eq!(contents(&q), expected);
            assert_eq!(q.len(), 0);
        }
    }

    #[test]
    fn tiny_and_huge_capacities_work() {
        let t: Arc<str> = Arc::from("t");
        for capacity in [1, 2, 1 << 40, usize::MAX / 2] {
            let q = queue(capacity, OverflowPolicy::DropNewest);
            q.push_event(0, t.clone(), b"1").unwrap();
            let big = format!("\"{}\"", "x".repeat(BLOCK_BYTES * 2));
            let second = q.push_event(0, t.clone(), big.as_bytes());
            assert_eq!(second.is_ok(), capacity > 1);
            let mut expected = vec!["1".to_string()];
            if capacity > 1 {
                expected.push(big);
            }
            assert_eq!(contents(&q), expected);
        }
    }

    #[test]
    fn capacity_counts_events_the_worker_still_holds() {
        let q = queue(3, OverflowPolicy::DropNewest);
        let t: Arc<str> = Arc::from("t");
        for _ in 0..3 {
            assert!(q.push_event(0, t.clone(), b"{}").is_ok());
        }
        let mut drained = q.drain();
        let mut n = 0;
        while drained.next_entry().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(q.push_event(0, t.clone(), b"{}").is_err());
        assert_eq!(q.len(), 3);
        drained.release(2);
        assert!(q.push_event(0, t.clone(), b"{}").is_ok());
        assert!(q.push_event(0, t.clone(), b"{}").is_ok());
        assert!(q.push_event(0, t, b"{}").is_err());
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
        assert_eq!(q.drain().evicted, 3);
        assert_eq!(contents(&q), vec!["extra:k", "3", "4"]);
    }

    #[test]
    fn a_thread_that_moves_to_another_shard_keeps_its_order() {
        let q = Queue::with_shards(8, 1000, 10, OverflowPolicy::DropNewest, Duration::ZERO);
        let t: Arc<str> = Arc::from("t");
        q.push_event(0, t.clone(), b"1").unwrap();
        let home = home_shard() & 7;
        // The home shard busy (as if its holder were preempted): the next
        // event goes to another shard, and is still drained after the first.
        let busy = q.shards[home].0.lock();
        q.push_event(0, t.clone(), b"2").unwrap();
        q.push_set_extra("k".into(), None).unwrap();
        drop(busy);
        q.push_event(0, t.clone(), b"3").unwrap();
        assert_ne!(home_shard() & 7, home, "moved to a free shard");
        assert_eq!(contents(&q), vec!["1", "2", "extra:k", "3"]);
    }

    #[test]
    fn an_extra_set_on_one_thread_precedes_events_queued_after_it_on_others() {
        let q = Queue::with_shards(8, 1000, 10, OverflowPolicy::DropNewest, Duration::ZERO);
        let t: Arc<str> = Arc::from("t");
        std::thread::scope(|s| {
            s.spawn(|| q.push_event(0, t.clone(), b"before").unwrap());
        });
        std::thread::scope(|s| {
            s.spawn(|| q.push_set_extra("k".into(), None).unwrap());
        });
        std::thread::scope(|s| {
            s.spawn(|| q.push_event(0, t.clone(), b"after").unwrap());
        });
        assert_eq!(contents(&q), vec!["before", "extra:k", "after"]);
    }

    /// Producers emit "THREAD:N" while a drainer consumes; returns what the
    /// drainer saw, in order, with the number of events each producer had accepted.
    fn run_concurrently(
        q: &Queue,
        producers: usize,
        per: usize,
    ) -> (Vec<(u64, String)>, Vec<usize>) {
        let done = AtomicUsize::new(0);
        let start = Barrier::new(producers + 1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..producers)
                .map(|p| {
                    let (q, done, start) = (&q, &done, &start);
                    s.spawn(move || {
                        let t: Arc<str> = Arc::from("t");
                        start.wait();
                        let mut accepted = 0;
                        for i in 0..per {
                            if i % 1000 == 0 {
                                q.push_set_extra(format!("{p}:{i}"), None).unwrap();
                            }
                            let ev = format!("{p}:{i}");
                            accepted +=
                                usize::from(q.push_event(0, t.clone(), ev.as_bytes()).is_ok());
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                        accepted
                    })
                })
                .collect();
            start.wait();
            let mut seen = Vec::new();
            // Bounded: the producers finish in a bounded number of steps.
            loop {
                let finished = done.load(Ordering::SeqCst) == producers;
                seen.extend(drain_all(q));
                if finished {
                    break;
                }
                std::thread::yield_now();
            }
            let accepted = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (seen, accepted)
        })
    }

    #[test]
    fn concurrent_producers_lose_nothing_and_keep_their_order() {
        let q = Queue::with_shards(4, 1 << 20, 64, OverflowPolicy::DropNewest, Duration::ZERO);
        let (seen, accepted) = run_concurrently(&q, 6, 20_000);
        assert_eq!(accepted, vec![20_000; 6]);
        // Seqs strictly ascending across drains: one order for everything.
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(seen.len(), 6 * (20_000 + 20));
        assert_eq!(seen.last().unwrap().0, q.accepted_seq());
        // Each thread's events and extras in the order it made them.
        let mut next = [0usize; 6];
        let mut next_extra = [0usize; 6];
        for (_, s) in &seen {
            let (extra, rest) = match s.strip_prefix("extra:") {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let (p, i) = rest.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            if extra {
                assert_eq!(i, next_extra[p] * 1000);
                assert_eq!(next[p], i, "the extra comes before event {i} of its thread");
                next_extra[p] += 1;
            } else {
                assert_eq!(i, next[p]);
                next[p] += 1;
            }
        }
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn concurrent_producers_never_exceed_the_capacity() {
        let q = Queue::with_shards(4, 5000, 64, OverflowPolicy::DropNewest, Duration::ZERO);
        let mut accepted = 0;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let t: Arc<str> = Arc::from("t");
                        (0..10_000)
                            .filter(|_| q.push_event(0, t.clone(), b"{}").is_ok())
                            .count()
                    })
                })
                .collect();
            for h in handles {
                accepted += h.join().unwrap();
            }
        });
        assert_eq!(accepted, 5000);
        assert_eq!(q.len(), 5000);
        assert_eq!(contents(&q).len(), 5000);
        // And with a drainer: never more in memory than the capacity.
        let q = Queue::with_shards(4, 300, 64, OverflowPolicy::DropNewest, Duration::ZERO);
        let (seen, accepted) = run_concurrently(&q, 4, 20_000);
        let events = seen
            .iter()
            .filter(|(_, s)| !s.starts_with("extra:"))
            .count();
        assert_eq!(events, accepted.iter().sum::<usize>());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn concurrent_drop_oldest_keeps_the_newest_events() {
        let q = Queue::with_shards(4, 100, 64, OverflowPolicy::DropOldest, Duration::ZERO);
        std::thread::scope(|s| {
            for p in 0..4 {
                let q = &q;
                s.spawn(move || {
                    let t: Arc<str> = Arc::from("t");
                    for i in 0..2000 {
                        q.push_event(0, t.clone(), format!("{p}:{i}").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(q.len(), 100);
        assert_eq!(q.drain().evicted, 8000 - 100);
        let seen = drain_all(&q);
        assert_eq!(seen.len(), 100);
        // The survivors are the 100 last accepted.
        let last = q.accepted_seq();
        assert_eq!(seen.first().unwrap().0, last - 99);
        assert_eq!(seen.last().unwrap().0, last);
    }

    #[test]
    fn block_waits_for_room_and_close_refuses() {
        let q = Queue::with_shards(8, 2, 1, OverflowPolicy::Block, Duration::from_secs(30));
        let t: Arc<str> = Arc::from("t");
        q.push_event(0, t.clone(), b"1").unwrap();
        q.push_event(0, t.clone(), b"2").unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| q.push_event(0, t.clone(), b"3"));
            // The waiter gets room once the worker stores what it holds.
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut got = contents(&q);
            while got.len() < 3 {
                assert!(Instant::now() < deadline, "the waiter never pushed");
                std::thread::sleep(Duration::from_millis(1));
                got.extend(contents(&q));
            }
            assert_eq!(got, vec!["1", "2", "3"]);
            assert!(waiter.join().unwrap().is_ok());
        });
        q.push_event(0, t.clone(), b"4").unwrap();
        q.push_event(0, t.clone(), b"5").unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| q.push_event(0, t.clone(), b"6"));
            std::thread::sleep(Duration::from_millis(20));
            q.close();
            assert_eq!(
                waiter.join().unwrap(),
                Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
            );
        });
        assert_eq!(
            q.push_event(0, t.clone(), b"7"),
            Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
        );
        assert_eq!(contents(&q), vec!["4", "5"]);
    }
}
