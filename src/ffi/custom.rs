//! `logstash_async_create_with_transport`: a handle whose events are delivered
//! by the host's own function (see src/transport/callback.rs).

use super::api::{logstash_async_handle, new_handle};
use super::boundary::{guard_value, opt_str, write_message};
use crate::transport::callback::CallbackTransport;
use crate::{Client, Config};
use std::ffi::{c_char, c_int, c_void};

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
/// call, while the handle shuts down; release `user_data` there. Neither
/// function is called when create fails, nor with `"enable": false`.
///
/// Threads: both functions are called on the handle's worker thread only,
/// one call at a time, never on the thread that emits. They may block (that
/// delays delivery, never the emitting threads), but a slow `send_fn` also
/// delays `logstash_async_flush` and `logstash_async_shutdown`, whose timeouts
/// still hold (the worker is then left to finish on its own, and `close_fn`
/// runs when it does). A Ruby, Go, Python or other managed host must not
/// re-enter its runtime from them (no Ruby method calls, no Go callbacks into
/// goroutine-scheduled code, no GIL-taking Python calls): the worker thread is
/// not one of the runtime's threads. Copy the bytes into a native queue, or
/// deliver with plain C calls. The functions must not call back into this
/// library on the same handle (no emit, flush or shutdown from inside them).
///
/// `user_data` is passed unchanged to both functions and never dereferenced by
/// the library. The caller guarantees that it may be used from the worker
/// thread and stays valid until `close_fn` was called (or, without
/// `close_fn`, until `logstash_async_shutdown` returned).
///
/// Returns the handle, or NULL with a message in `error_buf` (as
/// `logstash_async_create`; a NULL `send_fn` is refused). Release the handle
/// with `logstash_async_shutdown`.
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
        let result = (|| {
            let send_fn = send_fn.ok_or("send_fn: required (the function that delivers events)")?;
            let text = match opt_str(config_json) {
                Err(_) => return Err("configuration is not valid UTF-8".to_owned()),
                Ok(None) => return Err("configuration is NULL".to_owned()),
                Ok(Some(text)) => text,
            };
            let config = Config::from_json_custom_transport(text.as_bytes())?;
            // SAFETY: the caller's contract, documented above.
            let transport = CallbackTransport::new(send_fn, close_fn, user_data);
            Client::with_transport(config, Box::new(transport))
        })();
        match result {
            Ok(client) => {
                write_message(error_buf, error_buf_len, "");
                new_handle(client)
            }
            Err(message) => {
                write_message(error_buf, error_buf_len, &message);
                std::ptr::null_mut()
            }
        }
    })
}
