//! `logstash_async_create_with_transport`: a handle whose events are delivered
//! by the host's own function (see src/transport/callback.rs), through the
//! handle's fence (`host.rs`): once shutdown returned, `send_fn` is never
//! called again, and without `close_fn` shutdown waits for a call in progress.

use super::boundary::guard_value;
use super::handle::logstash_async_handle;
use super::host::HostFence;
use super::options::{create, Callbacks};
use crate::transport::callback::CallbackTransport;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

/// Delivers a batch of events (see `logstash_async_create_with_transport`):
/// `events[i]` points to `lens[i]` bytes of one JSON object (not
/// NUL-terminated), `i` in `0..count`, valid during the call only. Returns 0
/// when delivered, non-zero to have the batch retried later.
#[allow(non_camel_case_types)]
pub type logstash_async_send_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        events: *const *const c_char,
        lens: *const usize,
        count: usize,
    ) -> c_int,
>;

/// Releases `user_data` at shutdown (see `logstash_async_create_with_transport`).
#[allow(non_camel_case_types)]
pub type logstash_async_close_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Creates a handle that delivers events through the host's own function
/// instead of a network transport (to Redis, Kafka, a file, ...), keeping the
/// queue, the SQLite buffer, batching and retries with backoff.
///
/// `config_json` is the same JSON object as for `logstash_async_create`, except
/// that `host` is not required and `transport` (and the options of the network
/// transports) are not accepted; e.g. `{"database_path": "/var/lib/app/q.db"}`.
///
/// `send_fn` (required) is called with a batch of formatted events, oldest
/// first: `events[i]` points to `lens[i]` bytes of one JSON object, NOT
/// NUL-terminated, valid only during the call. It returns 0 when the whole batch
/// was delivered (the events are then deleted from the buffer), or non-zero to
/// have the whole batch retried later, after the backoff (`backoff_initial`,
/// doubling up to `backoff_max`): a failing batch is sent again, in order,
/// before anything newer, so a function that fails and then succeeds delivers
/// each event once. Batches hold up to `queued_events_batch_size` events.
///
/// `close_fn` (may be NULL) is called exactly once, after the last `send_fn`
/// call, when the worker ends; release `user_data` there. Neither function is
/// called when create fails, nor with `"enable": false`.
///
/// Threads: both functions are called on the handle's worker thread only,
/// one call at a time, never on the thread that emits. They may block (that
/// delays delivery, never the emitting threads). A Ruby, Go, Python or other
/// managed host must not re-enter its runtime from them (no Ruby method
/// calls, no Go callbacks into goroutine-scheduled code, no GIL-taking Python
/// calls): the worker thread is not one of the runtime's threads. Copy the
/// bytes into a native queue, or deliver with plain C calls. The functions
/// must not call back into this library on the same handle (no emit, flush or
/// shutdown from inside them).
///
/// Lifetime of `user_data` (never dereferenced by the library; it must be
/// usable from the worker thread): after `logstash_async_shutdown` returned,
/// `send_fn` is never called again, whatever the timeout. With `close_fn`,
/// `user_data` must stay valid until `close_fn` was called: normally before
/// shutdown returns, but when the timeout passed while `send_fn` was running,
/// the worker calls `close_fn` once that call has returned, after shutdown
/// returned (shutdown stays bounded by its timeout). Without `close_fn`,
/// `user_data` need only stay valid until shutdown returned: shutdown then
/// also waits for a `send_fn` call in progress to return, beyond its
/// timeout if need be. A slow `send_fn` delays `logstash_async_flush` too
/// (its timeout holds).
///
/// Returns the handle, or NULL with a message in `error_buf` (as
/// `logstash_async_create`; a NULL `send_fn` is refused). Release the handle
/// with `logstash_async_shutdown`. `logstash_async_create_with_options` also
/// takes a notice callback.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `error_buf` is NULL or
/// writable for `error_buf_len` bytes; `send_fn` and `close_fn` are NULL or
/// functions with these signatures; `user_data` follows the contract above.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_create_with_transport(
    config_json: *const c_char,
    send_fn: logstash_async_send_fn,
    close_fn: logstash_async_close_fn,
    user_data: *mut c_void,
    error_buf: *mut c_char,
    error_buf_len: usize,
) -> *mut logstash_async_handle {
    guard_value(std::ptr::null_mut(), || {
        let callbacks = Callbacks {
            transport: Some(HostTransport {
                send_fn,
                close_fn,
                user_data,
            }),
            notice: None,
        };
        create(config_json, callbacks, error_buf, error_buf_len)
    })
}

/// The host's transport functions and their `user_data`.
pub(super) struct HostTransport {
    pub send_fn: logstash_async_send_fn,
    pub close_fn: logstash_async_close_fn,
    pub user_data: *mut c_void,
}

/// What the trampolines get as `user_data`: the host's functions behind the
/// fence. The worker's transport holds one reference (released by the close
/// trampoline), the handle another.
struct Fenced {
    fence: Arc<HostFence>,
    send_fn: unsafe extern "C" fn(*mut c_void, *const *const c_char, *const usize, usize) -> c_int,
    close_fn: logstash_async_close_fn,
    user_data: *mut c_void,
}

// SAFETY: the host guarantees `user_data` may be used from the worker
// thread (the documented contract); the rest is plain data and a fence.
unsafe impl Send for Fenced {}
unsafe impl Sync for Fenced {}

impl HostTransport {
    /// The transport for the worker behind a new fence. Err when `send_fn`
    /// is NULL.
    pub(super) fn fenced(self) -> Result<FencedTransport, String> {
        let send_fn = self
            .send_fn
            .ok_or("send_fn: required (the function that delivers events)")?;
        let fence = Arc::new(HostFence::default());
        let wait = self.close_fn.is_none();
        let fenced = Arc::new(Fenced {
            fence: fence.clone(),
            send_fn,
            close_fn: self.close_fn,
            user_data: self.user_data,
        });
        let raw = Arc::into_raw(fenced);
        // SAFETY: the trampolines have the documented signatures and get
        // the `Fenced` they expect; it lives until `close_trampoline`.
        let transport = unsafe {
            CallbackTransport::new(send_trampoline, Some(close_trampoline), raw as *mut c_void)
        };
        Ok(FencedTransport {
            transport,
            fence: (fence, wait),
            unused: Unused(raw),
        })
    }
}

/// A host's transport for the worker, and what the handle keeps of it.
pub(super) struct FencedTransport {
    pub transport: CallbackTransport,
    /// The fence, and whether shutdown waits for a call in progress.
    pub fence: (Arc<HostFence>, bool),
    /// Should the handle not be made: `Unused::release` the transport's
    /// reference (its close function never runs then).
    pub unused: Unused,
}

/// The transport's reference to its `Fenced`, for a create that failed.
pub(super) struct Unused(*const Fenced);

impl Unused {
    /// The handle was not made: the transport, dropped unused, never
    /// called the close trampoline.
    ///
    /// # Safety
    /// Only when the transport was dropped without being closed.
    pub(super) unsafe fn release(self) {
        drop(Arc::from_raw(self.0));
    }
}

unsafe extern "C" fn send_trampoline(
    fenced: *mut c_void,
    events: *const *const c_char,
    lens: *const usize,
    count: usize,
) -> c_int {
    // SAFETY: the pointer made in `fenced`, alive until close_trampoline.
    let fenced = &*(fenced as *const Fenced);
    fenced
        .fence
        .call(|| (fenced.send_fn)(fenced.user_data, events, lens, count))
        // After shutdown: the batch stays buffered (the worker is ending).
        .unwrap_or(-1)
}

unsafe extern "C" fn close_trampoline(fenced: *mut c_void) {
    // SAFETY: the reference `fenced` handed to the transport, taken back
    // once (the transport calls close once).
    let fenced = Arc::from_raw(fenced as *const Fenced);
    if let Some(close) = fenced.close_fn {
        // Not fenced: `user_data` lives until this call, by contract.
        close(fenced.user_data);
    }
}
