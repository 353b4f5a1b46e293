//! The queue's blocks: a block holds events' JSON bytes and the entries
//! (events and set_extra, each with its seq) in the order they were pushed.
//! A standard block lives in a slot of the slab reserved at creation
//! (`slab.rs`), its parts laid out there by fixed-capacity vectors
//! (`fixed_vec.rs`); a block for one huge event, or one made when the slab
//! is full, lives on the heap.

mod fixed_vec;
mod slab;

pub use slab::Slab;

use crate::context::Origin;
use fixed_vec::FixedVec;
use serde_json::value::RawValue;
use slab::Slot;
use std::ptr::NonNull;
use std::sync::Arc;

/// Event bytes per block (an event larger than this gets a block of its own).
#[cfg(not(all(test, loom)))]
pub(super) const BLOCK_BYTES: usize = 64 << 10;
/// Entries per block at most (a block in a slab slot; its memory is only
/// touched as far as it is used).
#[cfg(not(all(test, loom)))]
const BLOCK_ENTRIES: usize = 1024;
/// The model checker's blocks (loom_models.rs) hold two entries, so that its
/// few events cross blocks and take them from the pool and the slab.
#[cfg(all(test, loom))]
pub(super) const BLOCK_BYTES: usize = 16;
#[cfg(all(test, loom))]
const BLOCK_ENTRIES: usize = 2;
/// Entries a standard block on the heap has room for (the slab is full or
/// unavailable): events of ~190 bytes and more fill its bytes first. (512
/// gave the same emit cost and ~25 MB more peak RSS with 1M events queued.)
#[cfg(not(all(test, loom)))]
const BLOCK_ENTRIES_RESERVED: usize = 352;
#[cfg(all(test, loom))]
const BLOCK_ENTRIES_RESERVED: usize = BLOCK_ENTRIES;
/// Entries whose memory a pooled block has touched: 16 KiB of them (whole
/// pages in a slot: touching 352 took a fifth page per block, +12 MB peak
/// RSS with 1M 200-byte events queued, since most blocks come from the pool).
const BLOCK_ENTRIES_PREFAULTED: usize = (16 << 10) / std::mem::size_of::<(u64, Entry)>();
/// Entries of a block made for one event larger than BLOCK_BYTES (room for a
/// few set_extra entries after it).
const HUGE_BLOCK_ENTRIES: usize = 16;
/// Where a block's parts live in a slab slot: bytes, then entries.
const SLOT_ENTRIES_AT: usize = BLOCK_BYTES.next_multiple_of(std::mem::align_of::<(u64, Entry)>());
pub(super) const SLOT_BYTES: usize =
    SLOT_ENTRIES_AT + BLOCK_ENTRIES * std::mem::size_of::<(u64, Entry)>();
/// One entry of a block, in the order the callers made them.
#[derive(Debug)]
pub enum Entry {
    /// An event: its JSON is `bytes[start..start + len]` of the block.
    Event {
        unix_ms: i64,
        origin: Arc<Origin>,
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
    /// The slab slot the two vectors live in (None: on the heap). Declared
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
    pub fn huge(bytes: usize) -> Block {
        Block::on_heap(bytes, HUGE_BLOCK_ENTRIES)
    }

    /// A block of the standard size: in a slab slot when one is free (a
    /// page fault at most, never a change to the address space), else on
    /// the heap.
    pub fn standard(slab: Option<&Arc<Slab>>) -> Block {
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
    pub fn prefaulted(slab: Option<&Arc<Slab>>) -> Block {
        let mut block = Block::standard(slab);
        block.bytes.prefault(BLOCK_BYTES);
        block.entries.prefault(BLOCK_ENTRIES_PREFAULTED);
        block
    }

    pub fn is_standard(&self) -> bool {
        self.bytes.capacity() == BLOCK_BYTES
    }

    /// Frees the block; a slab slot's memory goes back to the system (the
    /// worker's job: it takes the memory-map lock for reading).
    pub fn discard(mut self) {
        let slot = self.slot.take();
        // The vectors (and the entries in them) are dropped first.
        drop(self);
        if let Some(slot) = slot {
            // SAFETY: the block's vectors are gone: no value stored in the
            // slot is alive any more.
            unsafe { slot.release_memory() };
        }
    }

    pub fn fits(&self, len: usize) -> bool {
        self.entries.len() < self.entries.capacity()
            && self.bytes.capacity() - self.bytes.len() >= len
    }

    /// Copies an event's JSON in: where it starts (its entry follows).
    pub fn append_bytes(&mut self, json: &[u8]) -> u32 {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(json);
        start
    }

    pub fn push(&mut self, seq: u64, entry: Entry) {
        self.entries.push((seq, entry));
    }

    /// The seq of the first entry not yet consumed.
    pub fn front_seq(&self) -> Option<u64> {
        self.entries.get(self.first_live).map(|e| e.0)
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.first_live = 0;
    }

    /// The index and seq of the oldest event in the block.
    pub fn oldest_event(&self) -> Option<(usize, u64)> {
        let pos = self.entries[self.first_live..]
            .iter()
            .position(|e| matches!(e.1, Entry::Event { .. }))?;
        let i = self.first_live + pos;
        Some((i, self.entries[i].0))
    }

    pub fn evict(&mut self, i: usize) {
        self.entries[i].1 = Entry::Gone;
        while matches!(self.entries.get(self.first_live), Some((_, Entry::Gone))) {
            self.first_live += 1;
        }
    }

    /// Consumes the first live entry: its index (see `is_gone`).
    #[inline]
    pub fn consume_front(&mut self) -> usize {
        self.first_live += 1;
        self.first_live - 1
    }

    #[inline]
    pub fn is_gone(&self, i: usize) -> bool {
        matches!(self.entries[i].1, Entry::Gone)
    }

    /// Whether the block lives in a slab slot.
    #[cfg(test)]
    pub fn is_in_slot(&self) -> bool {
        self.slot.is_some()
    }

    /// Entry `i` with its seq, and the bytes its event's JSON lies in.
    #[inline]
    pub fn entry_mut(&mut self, i: usize) -> (u64, &[u8], &mut Entry) {
        let (seq, entry) = &mut self.entries[i];
        (*seq, &self.bytes, entry)
    }
}
