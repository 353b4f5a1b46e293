//! What a `logstash_async_handle *` points to: the handle's `Client`, the
//! fences of the host's callbacks, and a state word. Shutdown stops and
//! frees the client but never the handle itself: it stays as a small
//! tombstone in the CLOSED state, so a second shutdown, or any call after
//! it, finds a closed handle and returns LOGSTASH_ASYNC_CLOSED instead of
//! reading freed memory (harmless by construction). A tombstone is a few
//! dozen bytes per handle ever created; the addresses are kept in a list so
//! that leak checkers see them as reachable.

use super::host::HostFence;
use crate::result::ResultCode;
use crate::Client;
use parking_lot::Mutex;
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The state of a live handle ("LSASYNC1"); anything else behind a pointer
/// is refused (a best-effort check against garbage pointers).
const LIVE: u64 = 0x4c53_4153_594e_4331;
/// The state of a shut-down handle (a tombstone).
const CLOSED: u64 = 0x4c53_4153_594e_4330;

/// An opaque logging handle: an in-memory queue, a SQLite buffer and one
/// background worker thread. Create it with `logstash_async_create`, release it
/// with `logstash_async_shutdown`.
#[allow(non_camel_case_types)]
pub struct logstash_async_handle {
    state: AtomicU64,
    /// Dropped in place by shutdown (the state says when).
    client: UnsafeCell<ManuallyDrop<Client>>,
    fences: Fences,
}

/// The fences a shutdown closes: the custom transport's (waited for only
/// without a close function: with one, `user_data` lives until it ran) and
/// the notice callback's (always waited for).
#[derive(Default)]
pub(super) struct Fences {
    pub transport: Option<(Arc<HostFence>, bool)>,
    pub notice: Option<Arc<HostFence>>,
}

/// Tombstones of shut-down handles, kept reachable.
static TOMBSTONES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// A new handle owning `client`.
pub(super) fn new_handle(client: Client, fences: Fences) -> *mut logstash_async_handle {
    Box::into_raw(Box::new(logstash_async_handle {
        state: AtomicU64::new(LIVE),
        client: UnsafeCell::new(ManuallyDrop::new(client)),
        fences,
    }))
}

/// The client of a live handle; CLOSED after shutdown.
///
/// # Safety
/// `h` is NULL or a pointer returned by a create function (shut down or not).
pub(super) unsafe fn handle<'a>(h: *const logstash_async_handle) -> Result<&'a Client, ResultCode> {
    if h.is_null() {
        return Err(ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT);
    }
    let h = &*h;
    match h.state.load(Ordering::Acquire) {
        // SAFETY: a live handle's client is only dropped by shutdown, which
        // callers must not race (documented).
        LIVE => Ok(&*h.client.get()),
        CLOSED => Err(ResultCode::LOGSTASH_ASYNC_CLOSED),
        _ => Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT),
    }
}

/// Shuts the handle's client down, closes the fences and frees the client,
/// leaving the tombstone.
///
/// # Safety
/// `h` is a non-NULL pointer returned by a create function, used by no
/// other thread during the call.
pub(super) unsafe fn shutdown(h: *mut logstash_async_handle, timeout: Duration) -> ResultCode {
    let handle = &*h;
    match handle.state.load(Ordering::Acquire) {
        LIVE => {}
        CLOSED => return ResultCode::LOGSTASH_ASYNC_CLOSED,
        _ => return ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT,
    }
    let client: &Client = &*handle.client.get();
    let result = match client.shutdown(timeout) {
        Ok(()) => ResultCode::LOGSTASH_ASYNC_OK,
        // The child of a fork must not free (or drop) state its parent owns.
        Err(ResultCode::LOGSTASH_ASYNC_FORKED) => return ResultCode::LOGSTASH_ASYNC_FORKED,
        Err(code) => code,
    };
    handle.state.store(CLOSED, Ordering::Release);
    // A worker left running after the timeout calls the host no more (and
    // nothing of the host's runs once these return).
    if let Some(fence) = &handle.fences.notice {
        fence.close(true);
    }
    if let Some((fence, wait)) = &handle.fences.transport {
        fence.close(*wait);
    }
    // SAFETY: the state is CLOSED: nothing reads the client any more.
    ManuallyDrop::drop(&mut *handle.client.get());
    TOMBSTONES.lock().push(h as usize);
    result
}
