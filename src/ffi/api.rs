//! The exported functions. Their doc comments become the C header's
//! documentation (cbindgen), so they state ownership, thread-safety, blocking
//! behaviour and errors for C programmers.

use super::boundary::{code, guard, guard_value, opt_str, write_message, write_whole};
use super::handle::{self, handle, logstash_async_handle, new_handle, Fences};
use crate::result::logstash_async_result;
use crate::result::ResultCode;
use crate::Client;
use std::ffi::{c_char, c_int};
use std::time::Duration;

/// Creates a handle from a JSON configuration object (a NUL-terminated UTF-8
/// string) with python-logstash-async's option names, e.g.
/// `{"host": "127.0.0.1", "port": 5959, "database_path": "/var/lib/app/logstash.db"}`.
///
/// Returns the new handle, or NULL on failure. On failure a message naming the
/// offending option and the reason is written to `error_buf` (NUL-terminated,
/// truncated to `error_buf_len`); `error_buf` may be NULL. On success
/// `error_buf` is set to the empty string.
///
/// Ownership: the caller owns the handle and must release it with
/// `logstash_async_shutdown`. `config_json` is only read during the call.
///
/// Blocking: opens the database file and reads TLS certificate files; never
/// touches the network (connections are made by the worker thread).
///
/// Thread-safety: may be called from any thread; handles are independent
/// (several per process are fine).
///
/// Fork: a handle belongs to the process that created it. In a child created
/// by fork(), calls on an inherited handle return LOGSTASH_ASYNC_FORKED and
/// events are never sent twice; create a new handle in the child (with its own
/// `database_path` when a file is used).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `error_buf` is NULL or
/// writable for `error_buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_create(
    config_json: *const c_char,
    error_buf: *mut c_char,
    error_buf_len: usize,
) -> *mut logstash_async_handle {
    guard_value(std::ptr::null_mut(), || {
        let result = match opt_str(config_json) {
            Err(_) => Err("configuration is not valid UTF-8".to_owned()),
            Ok(None) => Err("configuration is NULL".to_owned()),
            Ok(Some(text)) => Client::from_json(text.as_bytes()),
        };
        match result {
            Ok(client) => {
                write_message(error_buf, error_buf_len, "");
                new_handle(client, Fences::default())
            }
            Err(message) => {
                write_message(error_buf, error_buf_len, &message);
                std::ptr::null_mut()
            }
        }
    })
}

/// Emits one event: `event_json` points to `len` bytes holding a JSON object
/// (not necessarily NUL-terminated). The object's `message`, `level` and
/// `@timestamp` become the top-level fields of the Logstash event; every other
/// key goes under `extra_prefix`.
///
/// The event is validated and copied before the call returns: the caller may
/// reuse its buffer at once. It returns without waiting for the network, the
/// disk or the worker (typically well under a microsecond), unless
/// `overflow_policy` is "block" and the queue is full.
///
/// Errors (nothing is queued, the handle keeps working):
/// LOGSTASH_ASYNC_NULL_ARGUMENT, LOGSTASH_ASYNC_INVALID_UTF8,
/// LOGSTASH_ASYNC_INVALID_JSON, LOGSTASH_ASYNC_NOT_AN_OBJECT,
/// LOGSTASH_ASYNC_EVENT_TOO_LARGE (over `max_event_bytes`),
/// LOGSTASH_ASYNC_QUEUE_FULL (over `max_queue_events`; counted as dropped),
/// LOGSTASH_ASYNC_SHUTTING_DOWN, LOGSTASH_ASYNC_CLOSED, LOGSTASH_ASYNC_FORKED.
/// With a `level` option above DEBUG, an event whose own `level` names a
/// lower level (INFO when it has none) is discarded after the checks and
/// before the copy (OK; counted in `below_level`).
///
/// Thread-safety: safe to call from any number of threads at once.
///
/// # Safety
/// `h` is NULL or a live handle; `event_json` is NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_emit_json(
    h: *mut logstash_async_handle,
    event_json: *const c_char,
    len: usize,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        if event_json.is_null() {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        }
        // A slice longer than isize::MAX is undefined behaviour to even make
        // (e.g. -1 passed as size_t); no event can be that large anyway.
        if len > isize::MAX as usize {
            return ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE;
        }
        let bytes = std::slice::from_raw_parts(event_json.cast::<u8>(), len);
        code(client.emit_json(bytes))
    })
}

/// Logs a plain message. `level` is a level name: "DEBUG", "INFO",
/// "WARNING", "ERROR", "CRITICAL" (Python's), or "WARN" and "FATAL" (sent as
/// WARNING and CRITICAL), in any case; NULL means "INFO"; another name is
/// refused with LOGSTASH_ASYNC_UNKNOWN_LEVEL. `logger_name` goes to the
/// `logger_name` extra field (NULL: omitted), `message` (required) to
/// `message`. All are NUL-terminated UTF-8, only read during the call.
/// `logstash_async_log_fields` adds typed fields; the LOGSTASH_ASYNC_INFO...
/// macros the caller's location.
///
/// Same cost, errors and thread-safety as `logstash_async_emit_json`; below
/// the `level` option the message is discarded (OK, counted).
///
/// # Safety
/// `h` is NULL or a live handle; each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_log(
    h: *mut logstash_async_handle,
    level: *const c_char,
    logger_name: *const c_char,
    message: *const c_char,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        if message.is_null() {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        }
        let args = (|| Ok((opt_str(level)?, opt_str(logger_name)?, opt_str(message)?)))();
        match args {
            Ok((level, logger, Some(message))) => code(client.log(level, logger, message)),
            Ok(_) => ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT,
            Err(e) => e,
        }
    })
}

/// Sets an extra field added to every event emitted after this call (until
/// changed): `key` is a NUL-terminated UTF-8 name, `value_json` any JSON value
/// as NUL-terminated text (`"\"prod\""`, `"42"`, `"{\"a\":1}"`). A NULL
/// `value_json` removes the key. Values given in an event win over these,
/// and these win over the static `extra` of the configuration.
///
/// Ordering: applies to events emitted after it returns, from any thread.
/// Errors: LOGSTASH_ASYNC_NULL_ARGUMENT (h or key), LOGSTASH_ASYNC_INVALID_ARGUMENT
/// (empty key), LOGSTASH_ASYNC_INVALID_UTF8, LOGSTASH_ASYNC_INVALID_JSON,
/// LOGSTASH_ASYNC_FORKED (in a forked child; nothing changes).
/// Thread-safety: safe from any thread. Never blocks on I/O.
///
/// # Safety
/// `h` is NULL or a live handle; `key` and `value_json` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_set_extra(
    h: *mut logstash_async_handle,
    key: *const c_char,
    value_json: *const c_char,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let key = match opt_str(key) {
            Ok(Some(k)) => k,
            Ok(None) => return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT,
            Err(e) => return e,
        };
        let value = match opt_str(value_json) {
            Ok(v) => v,
            Err(e) => return e,
        };
        code(client.set_extra(key, value.map(str::as_bytes)))
    })
}

/// Waits until every event accepted before this call has been delivered, or
/// `timeout_ms` milliseconds have passed. Asks the worker to send at once
/// (without waiting for `queued_events_flush_interval` or a backoff delay).
///
/// Returns LOGSTASH_ASYNC_OK (every earlier event is handled: delivered, or
/// dropped by a documented limit and counted in the stats), LOGSTASH_ASYNC_TIMEOUT,
/// LOGSTASH_ASYNC_STORED_NOT_SENT (all are safe in the database file but the
/// transport failed during the flush: they will be sent later, also by a later
/// handle on the same file), LOGSTASH_ASYNC_NULL_ARGUMENT, LOGSTASH_ASYNC_FORKED.
///
/// Blocking: yes, up to `timeout_ms`. Thread-safety: safe from any thread,
/// concurrently with emits (events emitted during the flush are not waited for).
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_flush(
    h: *mut logstash_async_handle,
    timeout_ms: u32,
) -> logstash_async_result {
    guard(|| match handle(h) {
        Ok(client) => code(client.flush(Duration::from_millis(u64::from(timeout_ms)))),
        Err(e) => e,
    })
}

/// Writes to `*mark` a mark of everything accepted so far (events and
/// set_extra calls), for `logstash_async_flush_to`. A caller that waits in
/// slices (to stay cancellable) keeps one target this way, instead of each
/// `logstash_async_flush` waiting also for what was emitted since.
///
/// Returns LOGSTASH_ASYNC_OK, LOGSTASH_ASYNC_NULL_ARGUMENT (h or mark),
/// LOGSTASH_ASYNC_FORKED. Never blocks. Thread-safety: safe from any thread.
///
/// # Safety
/// `h` is NULL or a live handle; `mark` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_flush_mark(
    h: *mut logstash_async_handle,
    mark: *mut u64,
) -> logstash_async_result {
    guard(|| {
        if mark.is_null() {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        }
        match handle(h).and_then(Client::flush_mark) {
            Ok(m) => {
                *mark = m;
                ResultCode::LOGSTASH_ASYNC_OK
            }
            Err(e) => e,
        }
    })
}

/// `logstash_async_flush` for what was accepted up to `mark` (from
/// `logstash_async_flush_mark`): waits until all of it is delivered, or
/// `timeout_ms` passed; events accepted after the mark are not waited for.
/// Same results, blocking and thread-safety as `logstash_async_flush`.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_flush_to(
    h: *mut logstash_async_handle,
    mark: u64,
    timeout_ms: u32,
) -> logstash_async_result {
    guard(|| match handle(h) {
        Ok(client) => code(client.flush_to(mark, Duration::from_millis(u64::from(timeout_ms)))),
        Err(e) => e,
    })
}

/// Delivers what it can within `timeout_ms`, closes the connection cleanly,
/// stops and joins the worker thread, and frees the handle's resources.
/// Events not delivered by then stay in the database file (when
/// `database_path` is a file) and are sent by the next handle that opens it;
/// with ":memory:" they are lost and counted.
///
/// Returns LOGSTASH_ASYNC_OK (everything delivered, or dropped by a documented
/// limit and counted), LOGSTASH_ASYNC_STORED_NOT_SENT
/// (some remain in the file), or LOGSTASH_ASYNC_TIMEOUT (some were lost).
/// NULL is accepted (OK).
///
/// After it returns, `h` is a closed handle: a second shutdown and every
/// other call on it return LOGSTASH_ASYNC_CLOSED and do nothing (the few
/// bytes of the handle itself are never freed, so such a call is harmless).
/// No callback of the handle (custom transport, notice callback) runs after
/// it returned, except a custom transport's `close_fn` (see
/// `logstash_async_create_with_transport`).
///
/// Blocking: at most about `timeout_ms` + 250 ms, whatever the network does (a
/// worker stuck in the kernel is interrupted, and left to exit on its own if
/// need be); with a custom transport without `close_fn`, also until a
/// `send_fn` call in progress has returned, and until a notice callback in
/// progress has returned. Thread-safety: must not race any other call on the
/// same handle; call it after the threads using the handle are done. In a
/// forked child it frees nothing of the parent's and returns
/// LOGSTASH_ASYNC_FORKED.
///
/// # Safety
/// `h` is NULL or a handle from a create function, not used by any other
/// thread during the call.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_shutdown(
    h: *mut logstash_async_handle,
    timeout_ms: u32,
) -> logstash_async_result {
    guard(|| {
        if h.is_null() {
            return ResultCode::LOGSTASH_ASYNC_OK;
        }
        handle::shutdown(h, Duration::from_millis(u64::from(timeout_ms)))
    })
}

/// Writes the handle's counters as a JSON object to `buf` (NUL-terminated):
/// emitted, rejected, below_level, queued, buffered, sent, resent, the
/// dropped_* counters by reason, expired, send_errors, connects,
/// database_errors and last_error.
/// `*out_len` (if not NULL) receives the length the JSON needs, without the NUL.
///
/// Returns LOGSTASH_ASYNC_OK, LOGSTASH_ASYNC_BUFFER_TOO_SMALL (nothing useful
/// written: call again with `*out_len + 1` bytes), LOGSTASH_ASYNC_NULL_ARGUMENT,
/// LOGSTASH_ASYNC_FORKED (in a forked child: the counters are the parent's).
/// Thread-safety: safe from any thread. Never blocks on I/O.
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is NULL or writable for `buf_len`
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_stats_json(
    h: *mut logstash_async_handle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let stats = match client.stats_checked() {
            Ok(stats) => stats,
            Err(e) => return e,
        };
        let json = serde_json::to_string(&stats).unwrap_or_else(|_| "{}".into());
        write_whole(buf, buf_len, out_len, &json)
    })
}

/// A static, NUL-terminated English description of a result code (an unknown
/// value gives "unknown result code"). Never NULL; never free it.
/// Thread-safety: safe from any thread.
#[no_mangle]
pub extern "C" fn logstash_async_result_str(r: c_int) -> *const c_char {
    match ResultCode::from_raw(r) {
        Some(code) => code.description_nul().as_ptr().cast(),
        None => c"unknown result code".as_ptr(),
    }
}

/// The library's version as a static NUL-terminated string, e.g. "0.1.0"
/// (compare with LOGSTASH_ASYNC_VERSION_STRING to detect a header/library
/// mismatch). Never NULL; never free it. Thread-safety: safe from any thread.
#[no_mangle]
pub extern "C" fn logstash_async_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
