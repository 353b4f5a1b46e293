//! Keeps SQLite usable in a child created by fork().
//!
//! SQLite guards process-wide state with static mutexes (the allocator's
//! statistics, the unix VFS's inode list and WAL barrier, the PRNG, the main
//! registry). A worker thread of the parent may hold one at the instant another
//! thread forks; the child inherits it locked, with no thread left to unlock
//! it, and the child's first SQLite call (a new handle's buffer) hangs forever.
//! So the forking thread takes them all just before fork() and releases them
//! right after, in the parent and in the child.

use rusqlite::ffi;
use std::sync::Once;

/// SQLite's static mutexes that a buffer's worker may hold, in the order
/// SQLite nests them (MAIN, then VFS1, then PRNG, then MEM: MEM is a leaf).
const STATIC_MUTEXES: [i32; 4] = [
    ffi::SQLITE_MUTEX_STATIC_MAIN,
    ffi::SQLITE_MUTEX_STATIC_VFS1,
    ffi::SQLITE_MUTEX_STATIC_PRNG,
    ffi::SQLITE_MUTEX_STATIC_MEM,
];

static INSTALL: Once = Once::new();

extern "C" fn before_fork() {
    for id in STATIC_MUTEXES {
        // SAFETY: SQLite is initialized (see install); static mutexes live forever.
        unsafe { ffi::sqlite3_mutex_enter(ffi::sqlite3_mutex_alloc(id)) };
    }
}

extern "C" fn after_fork() {
    for id in STATIC_MUTEXES.iter().rev() {
        // SAFETY: taken by this thread in before_fork. These are plain (not
        // recursive) pthread mutexes, so the child's copy of the thread may
        // unlock them too.
        unsafe { ffi::sqlite3_mutex_leave(ffi::sqlite3_mutex_alloc(*id)) };
    }
}

/// Registers the fork handlers once per process, before the first connection.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sqlite3_initialize is idempotent and thread-safe; the
        // handlers only touch SQLite's static mutexes.
        unsafe {
            if ffi::sqlite3_initialize() == ffi::SQLITE_OK {
                libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork));
            }
        }
    });
}
