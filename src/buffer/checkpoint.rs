//! WAL checkpoints on a thread of their own.
//!
//! A checkpoint copies the WAL into the database file and fsyncs both. Run by
//! SQLite's auto-checkpoint, it ran on the worker after a commit and the
//! worker spent a third of a file-buffer benchmark blocked in fsync (issue 8:
//! `submit_bio_wait` under `ext4_sync_file`). Here a second connection runs
//! PASSIVE checkpoints, which never block the writer, whenever the worker has
//! written enough; the worker only checkpoints itself when the WAL has grown
//! past a hard bound (the background thread cannot keep up, or a steady
//! stream never lets the log restart), which bounds the WAL on disk.

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// Bytes written to the WAL between two background checkpoints.
pub(super) const KICK_BYTES: u64 = 32 << 20;
/// WAL file size past which the worker checkpoints itself. The log restarts
/// from its beginning only after a checkpoint that copied all of it, which a
/// steady stream of writes during background checkpoints rarely allows.
pub(super) const HARD_WAL_BYTES: u64 = 256 << 20;
/// What a restarted WAL file is truncated to (`journal_size_limit`).
pub(super) const WAL_SIZE_LIMIT: u64 = 64 << 20;

#[derive(Default)]
struct State {
    kicked: bool,
    stop: bool,
}

/// std's primitives, not parking_lot's: parking_lot parks threads in one
/// process-wide table, and in a fork()ed child that table still links the
/// parent's threads that were parked at the fork. A child thread that reuses
/// such a thread's stack overwrites its entry and can unlink a thread parked
/// behind it: an untimed wait here then never saw `stop`, and the child's
/// shutdown hung joining this thread (tests/fork_child.rs). std's condvar
/// keeps its waiters in the object itself.
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain flags: still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread.
    pub fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("logstash-async-ckpt".into())
            .spawn(move || run(conn, &for_thread))
            .map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("checkpoint thread: {e}")),
                )
            })?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; never blocks.
    pub fn kick(&self) {
        self.shared.lock().kicked = true;
        self.shared.cv.notify_one();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.cv.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, shared: &Shared) {
    loop {
        {
            let mut st = shared.lock();
            while !st.kicked && !st.stop {
                st = shared.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            if st.stop {
                return;
            }
            st.kicked = false;
        }
        // An error (busy: the worker checkpoints itself) is retried at the
        // next kick; the data is safe in the WAL meanwhile.
        let _ = passive(&conn);
    }
}

/// Runs a PASSIVE checkpoint: copies what it can without blocking writers.
pub fn passive(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
