//! The calling thread's context on a handle (see src/context.rs): keys and
//! values added to every later event of that thread only, e.g. the id of
//! the request the thread serves.

use super::boundary::{code, guard, opt_str};
use super::fields::{self, logstash_async_field};
use super::handle::{handle, logstash_async_handle};
use crate::event::build::Field;
use crate::result::{logstash_async_result, ResultCode};
use std::ffi::c_char;

/// Sets `key` in the calling thread's context on `h`: every event this
/// thread emits on `h` from now on carries it (other threads never see it),
/// until it is removed or changed. `value_json` is any JSON value as
/// NUL-terminated text (`"\"r-7\""`, `"42"`); NULL removes the key.
/// `logstash_async_context_set_field` takes a typed value instead.
///
/// Precedence, highest first: the event's own fields, the thread's context,
/// `logstash_async_set_extra`, the configuration's `extra`. The context
/// acts as fields of the event (a key named like a top-level field, e.g.
/// `tags`, sets it unless the event has its own). A thread holds at most
/// `LOGSTASH_ASYNC_MAX_FIELDS` keys per handle. Costs the emitting thread
/// nothing per event beyond emit's own (the context is merged on the
/// worker); setting a key copies the thread's context once.
///
/// Errors: LOGSTASH_ASYNC_NULL_ARGUMENT (h, key), LOGSTASH_ASYNC_INVALID_ARGUMENT
/// (empty key), LOGSTASH_ASYNC_INVALID_UTF8, LOGSTASH_ASYNC_INVALID_JSON,
/// LOGSTASH_ASYNC_TOO_MANY_FIELDS, LOGSTASH_ASYNC_CLOSED, LOGSTASH_ASYNC_FORKED.
/// Thread-safety: changes the calling thread's context only. Never blocks.
///
/// # Safety
/// `h` is NULL or a handle; `key` and `value_json` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_context_set(
    h: *mut logstash_async_handle,
    key: *const c_char,
    value_json: *const c_char,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let (key, value) = match (opt_str(key), opt_str(value_json)) {
            (Ok(Some(k)), Ok(v)) => (k, v),
            (Ok(None), _) => return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT,
            (Err(e), _) | (_, Err(e)) => return e,
        };
        code(match value {
            Some(v) => client.set_context(key, v.as_bytes()),
            None => client.remove_context(key),
        })
    })
}

/// `logstash_async_context_set` with a typed value: `field` holds the key
/// and the value as for `logstash_async_log_fields` (e.g.
/// `logstash_async_field_str("request_id", id)`: no JSON to write).
/// Same errors, plus LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE.
///
/// # Safety
/// `h` is NULL or a handle; `field` is NULL or a field with valid pointers.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_context_set_field(
    h: *mut logstash_async_handle,
    field: *const logstash_async_field,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let Some(f) = field.as_ref() else {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        };
        if f.key.is_null() {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        }
        let field = fields::text(f.key, f.key_len).and_then(|key| {
            let value = fields::value(f)?;
            Ok(Field { key, value })
        });
        code(field.and_then(|field| client.set_context_field(&field)))
    })
}

/// Removes `key` from the calling thread's context on `h` (nothing happens
/// when it is not set). Errors: LOGSTASH_ASYNC_NULL_ARGUMENT,
/// LOGSTASH_ASYNC_INVALID_UTF8, LOGSTASH_ASYNC_CLOSED, LOGSTASH_ASYNC_FORKED.
///
/// # Safety
/// `h` is NULL or a handle; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_context_remove(
    h: *mut logstash_async_handle,
    key: *const c_char,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        match opt_str(key) {
            Ok(Some(key)) => code(client.remove_context(key)),
            Ok(None) => ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT,
            Err(e) => e,
        }
    })
}

/// Empties the calling thread's context on `h` (e.g. when a pooled thread
/// is done with a request). Errors: LOGSTASH_ASYNC_NULL_ARGUMENT,
/// LOGSTASH_ASYNC_CLOSED, LOGSTASH_ASYNC_FORKED.
///
/// # Safety
/// `h` is NULL or a handle.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_context_clear(
    h: *mut logstash_async_handle,
) -> logstash_async_result {
    guard(|| match handle(h) {
        Ok(client) => code(client.clear_context()),
        Err(e) => e,
    })
}
