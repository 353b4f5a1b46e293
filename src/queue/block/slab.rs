//! Fixed-size slots carved out of one anonymous mapping reserved up front,
//! for the queue's blocks.
//!
//! Why not the heap: when the queue grows fast (producers outrunning a
//! starved worker), malloc grows its arena with `mprotect`/`mmap`, which take
//! the process's memory-map lock for writing; a producer then sleeps behind
//! whichever thread holds or waits for that lock (often a preempted one):
//! stalls of several ms. A page fault in a mapping that already exists takes
//! only that mapping's own lock, so taking a fresh slot never waits for
//! another thread's address-space change. The reservation is address space
//! only (`MAP_NORESERVE`): memory is used as slots are touched, and slots the
//! queue gives back are returned to the system (`release_memory`).
//!
//! Slots are handed out from a lock-free stack of free slots (most recently
//! freed first, their pages likely resident), then from the never-used ones.

use crate::queue::sync::{AtomicU32, AtomicU64, Ordering};
use std::ptr::NonNull;
use std::sync::Arc;

/// The mapping and its free slots.
pub struct Slab {
    base: NonNull<u8>,
    slot_bytes: usize,
    slots: u32,
    /// Slots from this index on were never handed out.
    fresh: AtomicU32,
    /// Top of the free stack: the slot's index + 1 (0: empty) in the low 32
    /// bits, and a count of changes in the high 32 bits, so that a pop that
    /// raced with a pop and a push of the same slot fails its CAS (ABA).
    free_top: AtomicU64,
    /// For each slot on the free stack: the index + 1 of the one below it.
    below: Box<[AtomicU32]>,
    /// The model checker's stand-in for each slot's memory: written by each
    /// owner, so that loom reports a hand-over without a happens-before.
    #[cfg(all(test, loom))]
    memory: Box<[loom::cell::UnsafeCell<u32>]>,
}

// SAFETY: the mapping is plain memory owned by the Slab; each slot's bytes are
// used only through the one `Slot` that owns it, and the shared state is atomic.
unsafe impl Send for Slab {}
// SAFETY: as above; `&Slab` only hands out distinct slots.
unsafe impl Sync for Slab {}

impl Slab {
    /// Reserves `slots` slots of at least `min_slot_bytes` each (rounded up
    /// to whole pages), or as many as fit in `max_bytes`. None if that is
    /// none, or the system refuses the mapping.
    pub fn new(slots: usize, min_slot_bytes: usize, max_bytes: usize) -> Option<Arc<Slab>> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| p.is_power_of_two())?;
        let slot_bytes = min_slot_bytes.max(1).checked_next_multiple_of(page)?;
        // Indexes + 1 must fit in the u32 halves of `free_top`.
        let slots = slots.min(max_bytes / slot_bytes).min(u32::MAX as usize - 1);
        if slots == 0 {
            return None;
        }
        // No overflow: slots * slot_bytes <= max_bytes.
        let len = slots * slot_bytes;
        let slots = slots as u32;
        // SAFETY: a new private anonymous mapping, placed by the kernel: it
        // aliases nothing; the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        // Small pages: a huge page would make one fault zero 2 MiB on a
        // producer's thread and keep memory resident in 2 MiB steps. Advice
        // only; the mapping works either way.
        // SAFETY: the range is the mapping just made.
        unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
        // The first fault in an anonymous mapping sets up its reverse map
        // under the memory-map lock (later ones take only the mapping's own
        // lock): taken here, on the creating thread, not by a producer.
        // SAFETY: the first byte of the mapping just made; no slot is out.
        unsafe { base.cast::<u8>().write_volatile(0) };
        Some(Arc::new(Slab {
            base: NonNull::new(base.cast())?,
            slot_bytes,
            slots,
            fresh: AtomicU32::new(0),
            free_top: AtomicU64::new(0),
            below: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            #[cfg(all(test, loom))]
            memory: (0..slots).map(|_| loom::cell::UnsafeCell::new(0)).collect(),
        }))
    }

    /// A free slot, or None when every slot is in use. Lock-free.
    pub fn take(self: &Arc<Slab>) -> Option<Slot> {
        let index = self.pop_free().or_else(|| {
            self.fresh
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                    (f < self.slots).then_some(f + 1)
                })
                .ok()
        })?;
        // SAFETY: loom checks that no other thread accesses it meanwhile.
        #[cfg(all(test, loom))]
        self.memory[index as usize].with_mut(|m| unsafe { *m += 1 });
        Some(Slot {
            slab: Arc::clone(self),
            index,
        })
    }

    fn pop_free(&self) -> Option<u32> {
        let mut top = self.free_top.load(Ordering::Acquire);
        loop {
            let index = (top as u32).checked_sub(1)?;
            let below = self.below[index as usize].load(Ordering::Relaxed);
            let new = ((top >> 32).wrapping_add(1) << 32) | u64::from(below);
            match self.free_top.compare_exchange_weak(
                top,
                new,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(index),
                Err(now) => top = now,
            }
        }
    }

    fn push_free(&self, index: u32) {
        let mut top = self.free_top.load(Ordering::Relaxed);
        loop {
            self.below[index as usize].store(top as u32, Ordering::Relaxed);
            let new = ((top >> 32).wrapping_add(1) << 32) | u64::from(index + 1);
            match self.free_top.compare_exchange_weak(
                top,
                new,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => top = now,
            }
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // Every Slot holds an Arc to the Slab: none is left, so nothing points
        // into the mapping any more.
        // SAFETY: base/len are the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(
                self.base.as_ptr().cast(),
                self.slots as usize * self.slot_bytes,
            )
        };
    }
}

/// One slot, owned: back to the free stack when dropped.
pub struct Slot {
    slab: Arc<Slab>,
    index: u32,
}

impl Slot {
    /// The slot's first byte: `slot_bytes()` bytes, page-aligned, readable
    /// and writable for as long as this Slot lives, used by nothing else.
    pub fn ptr(&self) -> NonNull<u8> {
        // SAFETY: index < slots, so the offset stays inside the mapping.
        unsafe {
            self.slab
                .base
                .add(self.index as usize * self.slab.slot_bytes)
        }
    }

    /// Bytes in the slot (a whole number of pages).
    pub fn slot_bytes(&self) -> usize {
        self.slab.slot_bytes
    }

    /// Gives the slot's memory back to the system (it reads as zeros
    /// afterwards), then frees the slot. Takes the memory-map lock for
    /// reading: for the worker, not for producers.
    ///
    /// # Safety
    /// Nothing may still own a value stored in the slot (its contents are
    /// discarded without being dropped).
    pub unsafe fn release_memory(self) {
        // SAFETY: the range is this slot's, inside the mapping; the caller
        // guarantees no value in it still needs dropping.
        unsafe {
            libc::madvise(
                self.ptr().as_ptr().cast(),
                self.slab.slot_bytes,
                libc::MADV_DONTNEED,
            )
        };
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: loom checks that no other thread accesses it meanwhile.
        #[cfg(all(test, loom))]
        self.slab.memory[self.index as usize].with_mut(|m| unsafe { *m += 1 });
        self.slab.push_free(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_distinct_reused_and_bounded() {
        let slab = Slab::new(3, 100, 1 << 20).expect("mapped");
        let a = slab.take().unwrap();
        let b = slab.take().unwrap();
        let c = slab.take().unwrap();
        assert!(a.slot_bytes() >= 100);
        assert!(slab.take().is_none(), "all three in use");
        let ptrs = [a.ptr(), b.ptr(), c.ptr()];
        assert!(ptrs[0] != ptrs[1] && ptrs[1] != ptrs[2] && ptrs[0] != ptrs[2]);
        // Written and read back, each slot whole.
        for (i, s) in [&a, &b, &c].into_iter().enumerate() {
            // SAFETY: the slot is ours, slot_bytes long.
            unsafe { std::ptr::write_bytes(s.ptr().as_ptr(), i as u8 + 1, s.slot_bytes()) };
        }
        // SAFETY: inside b's slot, written above.
        assert_eq!(unsafe { *b.ptr().as_ptr().add(b.slot_bytes() - 1) }, 2);
        let b_ptr = b.ptr();
        drop(b);
        let again = slab.take().unwrap();
        assert_eq!(again.ptr(), b_ptr, "the last freed comes back first");
        // SAFETY: nothing is stored in the slot.
        unsafe { again.release_memory() };
        let zeroed = slab.take().unwrap();
        // SAFETY: inside the slot.
        assert_eq!(
            unsafe { *zeroed.ptr().as_ptr() },
            0,
            "released memory reads as zeros"
        );
    }

    #[test]
    fn reserves_at_most_max_bytes() {
        assert!(Slab::new(0, 4096, 1 << 30).is_none());
        assert!(Slab::new(1, 4096, 100).is_none(), "not even one slot fits");
        let slab = Slab::new(usize::MAX, 1 << 20, 8 << 20).expect("mapped");
        assert_eq!(slab.slots, 8);
        let slab = Slab::new(3, 1, 1 << 30).expect("mapped");
        assert_eq!(slab.slots, 3);
        assert!(slab.take().unwrap().slot_bytes() >= 1);
    }

    #[test]
    fn concurrent_takes_and_frees_never_share_a_slot() {
        let slab = Slab::new(8, 64, 1 << 20).expect("mapped");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let slab = &slab;
                s.spawn(move || {
                    for _ in 0..2000 {
                        let Some(slot) = slab.take() else { continue };
                        let p = slot.ptr().as_ptr();
                        // SAFETY: the slot is ours while we hold it.
                        unsafe {
                            std::ptr::write_bytes(p, t, 64);
                            std::thread::yield_now();
                            assert!(std::slice::from_raw_parts(p, 64).iter().all(|&b| b == t));
                        }
                    }
                });
            }
        });
        // All eight free again.
        let all: Vec<Slot> = (0..8).map(|_| slab.take().unwrap()).collect();
        assert!(slab.take().is_none());
        drop(all);
    }
}

/// The free stack under the model checker (see queue/loom_models.rs).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::thread;

    /// Every slot handed out once, then none: the stack is whole.
    fn assert_all_free(slab: &Arc<Slab>) {
        let all: Vec<Slot> = (0..slab.slots).map(|_| slab.take().unwrap()).collect();
        assert!(slab.take().is_none(), "a slot is on the stack twice");
        let mut indexes: Vec<u32> = all.iter().map(|s| s.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes.len(), slab.slots as usize);
    }

    #[test]
    fn pops_racing_pops_and_pushes_of_the_same_slot_keep_the_stack_whole() {
        crate::queue::loom_models::check(|| {
            let slab = Slab::new(2, 64, 1 << 20).expect("mapped");
            // The free stack holds 0 above 1.
            let (a, b) = (slab.take().unwrap(), slab.take().unwrap());
            drop(b);
            drop(a);
            let popper = {
                let slab = slab.clone();
                thread::spawn(move || drop(slab.take()))
            };
            // Pops 0 and 1, pushes 0 back: the ABA a pop of 0 may race.
            let x = slab.take();
            let y = slab.take();
            drop(x);
            drop(y);
            popper.join().unwrap();
            assert_all_free(&slab);
        });
    }

    #[test]
    fn slots_released_on_one_thread_are_reused_on_others() {
        crate::queue::loom_models::check(|| {
            let slab = Slab::new(1, 64, 1 << 20).expect("mapped");
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let slab = slab.clone();
                    thread::spawn(move || drop(slab.take()))
                })
                .collect();
            drop(slab.take());
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_all_free(&slab);
        });
    }
}
