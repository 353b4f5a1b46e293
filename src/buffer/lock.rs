//! An exclusive lock on a database file, held for the life of a handle.
//!
//! Two handles (in one process or two) sending from the same file would both
//! send every row. Instead the second one is refused at create with a message
//! naming the file; each process should use a file of its own.
//!
//! A forked child closes its inherited copies of the lock descriptors (an
//! atfork handler): the lock stays the parent's alone, so it is released when
//! the parent exits even while children live on.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

/// Descriptors of the lock files held by this process (-1 = free slot). A
/// fixed array of atomics: the child's atfork handler may not allocate or lock.
static HELD: [AtomicI32; 64] = [const { AtomicI32::new(-1) }; 64];
static ATFORK: Once = Once::new();

extern "C" fn close_inherited_locks() {
    for slot in &HELD {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: close(2) is async-signal-safe; the descriptor is the
            // child's copy of a lock file, which nothing in the child uses.
            unsafe { libc::close(fd) };
        }
    }
}

pub struct FileLock {
    _file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let fd = self._file.as_raw_fd();
        for slot in &HELD {
            let _ = slot.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}

impl FileLock {
    /// Takes `<database>.lock` with flock(LOCK_EX | LOCK_NB). A separate file is
    /// used because closing any descriptor of the database itself would drop
    /// SQLite's own POSIX locks.
    pub fn acquire(database: &Path) -> Result<FileLock, String> {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "database_path {}: cannot open lock file: {e}",
                    database.display()
                )
            })?;
        // SAFETY: the descriptor is owned by `file` and stays open while we hold it.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(format!(
                    "database_path {}: in use by another handle or process (each needs its own file)",
                    database.display()
                ));
            }
            return Err(format!(
                "database_path {}: cannot lock: {err}",
                database.display()
            ));
        }
        ATFORK.call_once(|| {
            // SAFETY: registering a plain extern "C" fn as the child hook.
            unsafe { libc::pthread_atfork(None, None, Some(close_inherited_locks)) };
        });
        let fd = file.as_raw_fd();
        // Beyond 64 locks the child merely keeps its copy (the old behaviour).
        let _ = HELD.iter().find(|slot| {
            slot.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Ok(FileLock { _file: file })
    }
}
