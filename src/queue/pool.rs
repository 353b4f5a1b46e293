//! Where producers get their blocks: emptied blocks the worker hands back to
//! a small pool (topped up with new, pre-touched ones as the queue grows), and
//! behind it the slab reserved at creation. Never malloc on a producer's
//! thread while the slab has room: growing the heap takes the process's
//! memory-map lock, and a producer would sleep behind whichever thread holds
//! it.

use super::block::{Block, Slab, SLOT_BYTES};
use super::sync::{AtomicUsize, Mutex, Ordering};
use std::sync::Arc;

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

pub struct Pool {
    /// Emptied blocks of the standard size, for reuse.
    blocks: Mutex<Vec<Block>>,
    /// Most blocks the pool keeps.
    max_blocks: usize,
    /// Where standard blocks live (None: the system refused the mapping).
    slab: Option<Arc<Slab>>,
}

impl Pool {
    /// The pool of a queue of `capacity` events over `shards` shards.
    pub fn new(capacity: usize, shards: usize) -> Pool {
        let max_blocks = (capacity / 256 / 8).clamp(POOL_BLOCKS_MIN, POOL_BLOCKS_MAX);
        let slots = capacity
            .div_ceil(SLAB_EVENTS_PER_SLOT)
            .saturating_add(max_blocks + 2 * shards);
        Pool {
            blocks: Mutex::new(Vec::new()),
            max_blocks,
            slab: Slab::new(slots, SLOT_BYTES, SLAB_MAX_BYTES),
        }
    }

    /// A standard block for a producer. The pool's lock is held for a pop;
    /// should it be busy, a new block beats waiting.
    pub fn take(&self) -> Block {
        self.blocks
            .try_lock()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| Block::standard(self.slab.as_ref()))
    }

    /// Worker: hands back drained blocks (emptied here, outside the lock) for
    /// reuse; `blocks` is left empty.
    pub fn recycle(&self, blocks: &mut Vec<Block>) {
        let mut keep: Vec<Block> = Vec::new();
        for mut block in blocks.drain(..) {
            if block.is_standard() && keep.len() < self.max_blocks {
                block.clear();
                keep.push(block);
            } else {
                block.discard();
            }
        }
        if keep.is_empty() {
            return;
        }
        let mut pool = self.blocks.lock();
        let room = self.max_blocks.saturating_sub(pool.len()).min(keep.len());
        pool.extend(keep.drain(..room));
        drop(pool);
        // Blocks beyond the pool's room are freed here, outside the lock.
        keep.into_iter().for_each(Block::discard);
    }

    /// Worker: puts new blocks in the pool until it holds twice as many as
    /// producers started since the last top-up (`blocks_started`, reset
    /// here: the demand until the next, with a margin for a worker that runs
    /// late on a busy machine), so that producers do not allocate while the
    /// queue grows, also during a long ingest. Idle, none.
    pub fn top_up(&self, blocks_started: &AtomicUsize) {
        let started = blocks_started.swap(0, Ordering::Relaxed);
        let want = (2 * started).min(self.max_blocks);
        let have = self.blocks.lock().len();
        if have >= want {
            return;
        }
        let fresh: Vec<Block> = (have..want)
            .map(|_| Block::prefaulted(self.slab.as_ref()))
            .collect();
        self.blocks.lock().extend(fresh);
    }

    /// Whether the slab's mapping was made.
    #[cfg(test)]
    pub fn has_slab(&self) -> bool {
        self.slab.is_some()
    }
}
