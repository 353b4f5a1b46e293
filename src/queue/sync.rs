//! The queue's synchronisation primitives, in one place so that the model
//! checker can replace them: in a normal build these are exactly
//! `std::sync::atomic`'s atomics, `parking_lot`'s Mutex and Condvar and
//! `std::thread_local!` (re-exports: no wrapper, no cost); in the loom test
//! build (`bash scripts/loom.sh`: the library's unit tests with `--cfg
//! loom`) they are loom's, whose every operation is a point where the model
//! checker explores another thread's turn (see loom_models.rs).

pub use std::sync::atomic::Ordering;

#[cfg(not(all(test, loom)))]
pub use parking_lot::{Condvar, Mutex, MutexGuard};
#[cfg(not(all(test, loom)))]
pub use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(all(test, loom)))]
pub(crate) use std::thread_local;

/// The counter that spreads threads over the shards (a static: one per
/// process).
#[cfg(not(all(test, loom)))]
pub fn next_home() -> usize {
    static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);
    NEXT_HOME.fetch_add(1, Ordering::Relaxed)
}

#[cfg(all(test, loom))]
pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
/// loom's thread_local! (per model thread and execution), taking the `const`
/// initialiser form std's takes.
#[cfg(all(test, loom))]
macro_rules! loom_thread_local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr };) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
}
#[cfg(all(test, loom))]
pub(crate) use loom_thread_local as thread_local;
#[cfg(all(test, loom))]
pub use model::{next_home, Condvar, Mutex, MutexGuard};

/// parking_lot's API over loom's primitives. Loom does not model time: a
/// timed wait is a wait for a notification (a wake that could be lost shows
/// as a deadlock in the model rather than as a timeout).
#[cfg(all(test, loom))]
mod model {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    pub fn next_home() -> usize {
        loom::lazy_static! {
            // Per model execution (a static would carry over between them).
            static ref NEXT_HOME: loom::sync::atomic::AtomicUsize =
                loom::sync::atomic::AtomicUsize::new(0);
        }
        NEXT_HOME.fetch_add(1, super::Ordering::Relaxed)
    }

    #[derive(Default)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// Always Some, but while a Condvar waits with it.
    pub struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().expect("not poisoned")))
        }

        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("held")
        }
    }

    #[derive(Default)]
    pub struct Condvar(loom::sync::Condvar);

    pub struct WaitTimeoutResult;

    impl WaitTimeoutResult {
        pub fn timed_out(&self) -> bool {
            false
        }
    }

    impl Condvar {
        pub fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: Instant,
        ) -> WaitTimeoutResult {
            let held = guard.0.take().expect("held");
            guard.0 = Some(self.0.wait(held).expect("not poisoned"));
            WaitTimeoutResult
        }

        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
