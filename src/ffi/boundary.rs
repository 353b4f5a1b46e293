//! The panic boundary and pointer helpers shared by every export.

use crate::result::ResultCode;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into `LOGSTASH_ASYNC_INTERNAL_ERROR`: unwinding
/// into C is undefined behaviour, so no panic may leave an export.
pub fn guard(f: impl FnOnce() -> ResultCode) -> ResultCode {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(ResultCode::LOGSTASH_ASYNC_INTERNAL_ERROR)
}

/// Like `guard` for exports that return a value; `fallback` on panic.
pub fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Collapses a Rust result into the C result code.
pub fn code(r: Result<(), ResultCode>) -> ResultCode {
    match r {
        Ok(()) => ResultCode::LOGSTASH_ASYNC_OK,
        Err(c) => c,
    }
}

/// A NUL-terminated UTF-8 string argument. NULL gives `Ok(None)`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub unsafe fn opt_str<'a>(p: *const c_char) -> Result<Option<&'a str>, ResultCode> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p)
        .to_str()
        .map(Some)
        .map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)
}

/// Copies `message` into a caller's buffer, NUL-terminated, truncated to fit
/// on a UTF-8 character boundary. Does nothing if `buf` is NULL or `len` is 0.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
pub unsafe fn write_message(buf: *mut c_char, len: usize, message: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let mut n = message.len().min(len - 1);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
    *buf.add(n) = 0;
}

/// Copies `text` whole into a caller's buffer (NUL-terminated) and its
/// length into `*out_len` (if not NULL): BUFFER_TOO_SMALL, with an empty
/// string, when it does not fit, never a cut text.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_len` is NULL or writable.
pub unsafe fn write_whole(
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    text: &str,
) -> ResultCode {
    if !out_len.is_null() {
        *out_len = text.len();
    }
    if buf.is_null() || len <= text.len() {
        write_message(buf, len, "");
        return ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL;
    }
    write_message(buf, len, text);
    ResultCode::LOGSTASH_ASYNC_OK
}
