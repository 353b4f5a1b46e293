//! A vector of fixed capacity whose memory is either its own heap allocation
//! or borrowed raw memory (a slab slot): the queue's blocks keep their event
//! bytes and their entries in one slot without a custom allocator.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

pub struct FixedVec<T> {
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
    /// The memory is a `Vec<T>` allocation of `cap` (freed on drop).
    heap: bool,
    _owns: PhantomData<T>,
}

// SAFETY: a FixedVec owns its elements as a Vec does (its memory is used by
// nothing else while it lives).
unsafe impl<T: Send> Send for FixedVec<T> {}
// SAFETY: as above; `&FixedVec` gives only `&[T]`.
unsafe impl<T: Sync> Sync for FixedVec<T> {}

impl<T> FixedVec<T> {
    /// Room for at least `cap` elements on the heap.
    pub fn heap(cap: usize) -> FixedVec<T> {
        let mut v = ManuallyDrop::new(Vec::<T>::with_capacity(cap));
        FixedVec {
            // A Vec's pointer is never null (dangling when it has no memory).
            ptr: NonNull::new(v.as_mut_ptr()).expect("Vec pointers are non-null"),
            len: 0,
            cap: v.capacity(),
            heap: true,
            _owns: PhantomData,
        }
    }

    /// Room for `cap` elements at `ptr`.
    ///
    /// # Safety
    /// `ptr` is aligned for `T`, valid for reads and writes of `cap` elements,
    /// and used by nothing else until this FixedVec is dropped (it does not
    /// free the memory).
    pub unsafe fn in_place(ptr: NonNull<T>, cap: usize) -> FixedVec<T> {
        FixedVec {
            ptr,
            len: 0,
            cap,
            heap: false,
            _owns: PhantomData,
        }
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Appends; panics when full (callers check the room first).
    pub fn push(&mut self, value: T) {
        assert!(self.len < self.cap, "FixedVec full");
        // SAFETY: len < cap: the slot is inside the memory and holds no value.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
    }

    /// Drops every element.
    pub fn clear(&mut self) {
        let len = self.len;
        // Set first: a panicking element drop leaks the rest rather than
        // dropping any twice.
        self.len = 0;
        // SAFETY: the first `len` elements are initialised and dropped once.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len))
        };
    }

    /// Touches the memory of the next `n` (unused) elements, so that filling
    /// them later takes no page fault.
    pub fn prefault(&mut self, n: usize) {
        let n = n.min(self.cap - self.len);
        // SAFETY: elements len..len+n are inside the memory and hold no value;
        // writing bytes to unused memory creates no value.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, n) };
    }
}

impl<T: Copy> FixedVec<T> {
    /// Appends a copy of `values`; panics when they do not fit.
    pub fn extend_from_slice(&mut self, values: &[T]) {
        assert!(values.len() <= self.cap - self.len, "FixedVec full");
        // SAFETY: room checked; `values` cannot overlap memory this FixedVec
        // owns exclusively (it is borrowed shared while we hold `&mut self`).
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                values.len(),
            )
        };
        self.len += values.len();
    }
}

impl<T> Deref for FixedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` elements are initialised; ptr is aligned and non-null.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for FixedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for FixedVec<T> {
    fn drop(&mut self) {
        self.clear();
        if self.heap {
            // SAFETY: ptr/cap came from a Vec<T> in `heap`, now empty.
            drop(unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), 0, self.cap) });
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for FixedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self[..].fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn heap_and_in_place_vectors_own_and_drop_their_elements() {
        let counted = Arc::new(());
        let mut v: FixedVec<Arc<()>> = FixedVec::heap(3);
        assert!(v.capacity() >= 3);
        v.push(counted.clone());
        v.push(counted.clone());
        assert_eq!(Arc::strong_count(&counted), 3);
        v.clear();
        assert_eq!(Arc::strong_count(&counted), 1);
        v.push(counted.clone());
        drop(v);
        assert_eq!(Arc::strong_count(&counted), 1);

        let mut memory = vec![0u64; 4];
        // SAFETY: memory is aligned, 4 u64 long and unused while `v` lives.
        let mut v = unsafe { FixedVec::in_place(NonNull::new(memory.as_mut_ptr()).unwrap(), 4) };
        v.prefault(4);
        v.extend_from_slice(&[1, 2, 3]);
        v.push(4);
        assert_eq!(&v[..], &[1, 2, 3, 4]);
        v[0] = 9;
        drop(v);
        assert_eq!(memory, vec![9, 2, 3, 4]);
    }

    #[test]
    #[should_panic(expected = "FixedVec full")]
    fn overfilling_panics() {
        let mut v: FixedVec<u8> = FixedVec::heap(2);
        v.extend_from_slice(&vec![0; v.capacity() + 1]);
    }
}
