//! Logging from C without writing JSON: typed fields, a record with the
//! caller's location (what the header's LOGSTASH_ASYNC_INFO... macros and
//! the C++ wrapper fill in), and the level check.

use super::boundary::guard;
use super::handle::{handle, logstash_async_handle};
use crate::event::build::{self, EventWriter, FieldValue, Location, Record};
use crate::level::Level;
use crate::result::{logstash_async_result, ResultCode};
use std::ffi::{c_char, c_int, CStr};

/// The levels (Python's numbers), for the `level` arguments.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum logstash_async_level {
    LOGSTASH_ASYNC_LEVEL_DEBUG = 10,
    LOGSTASH_ASYNC_LEVEL_INFO = 20,
    LOGSTASH_ASYNC_LEVEL_WARNING = 30,
    LOGSTASH_ASYNC_LEVEL_ERROR = 40,
    LOGSTASH_ASYNC_LEVEL_CRITICAL = 50,
}

/// The type of a field's value (`logstash_async_field.type`).
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum logstash_async_field_type {
    /// `value.string`: UTF-8 text (escaped by the library).
    LOGSTASH_ASYNC_FIELD_STRING = 1,
    /// `value.integer`.
    LOGSTASH_ASYNC_FIELD_INT = 2,
    /// `value.unsigned_integer`.
    LOGSTASH_ASYNC_FIELD_UINT = 3,
    /// `value.number`; NaN and the infinities are written as null.
    LOGSTASH_ASYNC_FIELD_DOUBLE = 4,
    /// `value.boolean`: 0 is false, anything else true.
    LOGSTASH_ASYNC_FIELD_BOOL = 5,
    /// null (no value member is read).
    LOGSTASH_ASYNC_FIELD_NULL = 6,
    /// `value.string` holds any JSON value as text (an object or an array
    /// for nested data), checked as `logstash_async_emit_json` checks.
    LOGSTASH_ASYNC_FIELD_JSON = 7,
}

/// A length meaning "up to the terminating NUL" (as SQLite's -1).
pub const LOGSTASH_ASYNC_NUL_TERMINATED: usize = usize::MAX;

/// Most fields one call may carry; more are refused (TOO_MANY_FIELDS).
pub const LOGSTASH_ASYNC_MAX_FIELDS: usize = 256;
const _: () = assert!(LOGSTASH_ASYNC_MAX_FIELDS == build::MAX_FIELDS);

/// `logstash_async_record.flags`: the message was cut by a bounded
/// formatter; the library cuts it back to a whole UTF-8 character, appends
/// "…" (U+2026) and adds `"message_truncated": true`.
pub const LOGSTASH_ASYNC_RECORD_TRUNCATED: u32 = 1;

/// Text given as pointer and length (`LOGSTASH_ASYNC_NUL_TERMINATED`:
/// NUL-terminated). A NULL pointer with length 0 is the empty string.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct logstash_async_string {
    pub ptr: *const c_char,
    pub len: usize,
}

/// A field's value; which member is read depends on the field's type.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub union logstash_async_value {
    pub string: logstash_async_string,
    pub integer: i64,
    pub unsigned_integer: u64,
    pub number: f64,
    pub boolean: c_int,
}

/// One field of an event: a key (UTF-8, not empty; `key_len` may be
/// `LOGSTASH_ASYNC_NUL_TERMINATED`), its type (`logstash_async_field_type`)
/// and its value. The header's `logstash_async_field_*` functions make them.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct logstash_async_field {
    pub key: *const c_char,
    pub key_len: usize,
    pub r#type: u32,
    pub value: logstash_async_value,
}

/// Everything an event built by the library may hold. Strings are pointer
/// + length (`LOGSTASH_ASYNC_NUL_TERMINATED` allowed); `file` and `func`
///   are NUL-terminated (`__FILE__`, `__func__`). Zero-initialise it and set
///   what you need.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct logstash_async_record {
    /// A `logstash_async_level`.
    pub level: c_int,
    /// The `logger_name` field (NULL: none).
    pub logger_name: *const c_char,
    pub logger_name_len: usize,
    /// The `message` field.
    pub message: *const c_char,
    pub message_len: usize,
    /// `field_count` fields (NULL when 0).
    pub fields: *const logstash_async_field,
    pub field_count: usize,
    /// The caller's location: `path`, `line` (0: none), `func_name`.
    pub file: *const c_char,
    pub func: *const c_char,
    pub line: u32,
    /// `LOGSTASH_ASYNC_RECORD_TRUNCATED` or 0.
    pub flags: u32,
    /// When it happened, in milliseconds since the Unix epoch (0: now).
    pub unix_ms: i64,
}

/// Logs a message with typed fields, without JSON written by the caller:
/// `level` is a `logstash_async_level`, `logger_name` the `logger_name` field
/// (NULL: none), `message` the message, `fields` an array of `field_count`
/// fields (NULL when 0). Strings are NUL-terminated UTF-8, only read during
/// the call. Keys and strings are escaped by the library; a field named
/// `level`, `logger_name` or `message` is overridden by the argument.
///
/// An event below the `level` option is discarded before anything is read
/// (OK; counted in `below_level`). Otherwise the event is built, checked and
/// copied, like `logstash_async_emit_json`, and it returns as quickly.
///
/// Errors (nothing is queued, the handle keeps working):
/// LOGSTASH_ASYNC_NULL_ARGUMENT (h, message, a field's key or string, or
/// `fields` with a count), LOGSTASH_ASYNC_UNKNOWN_LEVEL,
/// LOGSTASH_ASYNC_TOO_MANY_FIELDS (over `LOGSTASH_ASYNC_MAX_FIELDS`),
/// LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE, LOGSTASH_ASYNC_INVALID_UTF8,
/// LOGSTASH_ASYNC_INVALID_JSON (a JSON field), LOGSTASH_ASYNC_INVALID_ARGUMENT
/// (an empty key), LOGSTASH_ASYNC_EVENT_TOO_LARGE, LOGSTASH_ASYNC_QUEUE_FULL,
/// LOGSTASH_ASYNC_SHUTTING_DOWN, LOGSTASH_ASYNC_CLOSED, LOGSTASH_ASYNC_FORKED.
///
/// Thread-safety: safe to call from any number of threads at once.
///
/// # Safety
/// `h` is NULL or a handle; each string is NULL or NUL-terminated; `fields`
/// is NULL or points to `field_count` fields whose pointers are valid.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_log_fields(
    h: *mut logstash_async_handle,
    level: c_int,
    logger_name: *const c_char,
    message: *const c_char,
    fields: *const logstash_async_field,
    field_count: usize,
) -> logstash_async_result {
    if message.is_null() {
        return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
    }
    let record = logstash_async_record {
        level,
        logger_name,
        logger_name_len: LOGSTASH_ASYNC_NUL_TERMINATED,
        message,
        message_len: LOGSTASH_ASYNC_NUL_TERMINATED,
        fields,
        field_count,
        file: std::ptr::null(),
        func: std::ptr::null(),
        line: 0,
        flags: 0,
        unix_ms: 0,
    };
    logstash_async_log_record(h, &record)
}

/// Logs a record (see `logstash_async_record`): what
/// `logstash_async_log_fields` does, with the caller's location (the
/// `path`, `line` and `func_name` fields, the ECS layout's `log.origin.*`),
/// strings given by pointer and length, a truncation mark and a time of its
/// own. The header's LOGSTASH_ASYNC_INFO(h, logger, message) macros (one per
/// level, `...F` for printf-style formatting) fill it in.
///
/// Same cost, errors and thread-safety as `logstash_async_log_fields`
/// (a NULL `message` with length 0 is the empty message).
///
/// # Safety
/// `h` is NULL or a handle; `record` is NULL or a record whose pointers
/// are valid for their lengths.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_log_record(
    h: *mut logstash_async_handle,
    record: *const logstash_async_record,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let Some(r) = record.as_ref() else {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        };
        let Some(level) = Level::from_number(i64::from(r.level)) else {
            return ResultCode::LOGSTASH_ASYNC_UNKNOWN_LEVEL;
        };
        if !client.level_enabled(level) {
            // Discarded (and counted) before anything is read.
            return code(client.log_record(&Record::new(level, ""), &[]));
        }
        match read_record(r, level) {
            Ok(record) => {
                code(client.log_record_with(&record, |w| write_fields(w, r.fields, r.field_count)))
            }
            Err(e) => e,
        }
    })
}

/// Whether an event of `level` (a `logstash_async_level`) would be kept by
/// the handle's `level` option: 1, or 0 (also for an unknown level or a
/// closed or NULL handle). Lets a caller skip formatting a message that
/// would be discarded. Never blocks; safe from any thread.
///
/// # Safety
/// `h` is NULL or a handle.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_level_enabled(
    h: *mut logstash_async_handle,
    level: c_int,
) -> c_int {
    match (handle(h), Level::from_number(i64::from(level))) {
        (Ok(client), Some(level)) => c_int::from(client.level_enabled(level)),
        _ => 0,
    }
}

fn code(r: Result<(), ResultCode>) -> ResultCode {
    super::boundary::code(r)
}

/// The fixed parts of a C record.
unsafe fn read_record(r: &logstash_async_record, level: Level) -> Result<Record<'_>, ResultCode> {
    let truncated = r.flags & LOGSTASH_ASYNC_RECORD_TRUNCATED != 0;
    let message = match (r.message.is_null(), r.message_len) {
        (true, 0) => "",
        (true, _) => return Err(ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT),
        (false, len) if truncated => build::cut_to_char_boundary(bytes(r.message, len)?)
            .ok_or(ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?,
        (false, len) => text(r.message, len)?,
    };
    let optional = |p: *const c_char, len: usize| match p.is_null() {
        true => Ok(None),
        false => text(p, len).map(Some),
    };
    let mut record = Record::new(level, message);
    record.logger_name = optional(r.logger_name, r.logger_name_len)?;
    record.location = Location {
        file: optional(r.file, LOGSTASH_ASYNC_NUL_TERMINATED)?,
        line: r.line,
        function: optional(r.func, LOGSTASH_ASYNC_NUL_TERMINATED)?,
    };
    record.truncated = truncated;
    record.unix_ms = (r.unix_ms != 0).then_some(r.unix_ms);
    Ok(record)
}

/// Converts the C fields on the way into the event.
unsafe fn write_fields(
    w: &mut EventWriter<'_>,
    fields: *const logstash_async_field,
    count: usize,
) -> Result<(), ResultCode> {
    if count == 0 {
        return Ok(());
    }
    if count > LOGSTASH_ASYNC_MAX_FIELDS {
        return Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS);
    }
    if fields.is_null() {
        return Err(ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT);
    }
    for f in std::slice::from_raw_parts(fields, count) {
        if f.key.is_null() {
            return Err(ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT);
        }
        let key = text(f.key, f.key_len)?;
        w.field(key, value(f)?)?;
    }
    Ok(())
}

/// A C field's value.
pub(super) unsafe fn value(f: &logstash_async_field) -> Result<FieldValue<'_>, ResultCode> {
    use logstash_async_field_type::*;
    let string = || {
        let s = f.value.string;
        match (s.ptr.is_null(), s.len) {
            (true, 0) => Ok(""),
            (true, _) => Err(ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT),
            (false, len) => text(s.ptr, len),
        }
    };
    Ok(match f.r#type {
        t if t == LOGSTASH_ASYNC_FIELD_STRING as u32 => FieldValue::Str(string()?),
        t if t == LOGSTASH_ASYNC_FIELD_INT as u32 => FieldValue::Int(f.value.integer),
        t if t == LOGSTASH_ASYNC_FIELD_UINT as u32 => FieldValue::UInt(f.value.unsigned_integer),
        t if t == LOGSTASH_ASYNC_FIELD_DOUBLE as u32 => FieldValue::Float(f.value.number),
        t if t == LOGSTASH_ASYNC_FIELD_BOOL as u32 => FieldValue::Bool(f.value.boolean != 0),
        t if t == LOGSTASH_ASYNC_FIELD_NULL as u32 => FieldValue::Null,
        t if t == LOGSTASH_ASYNC_FIELD_JSON as u32 => FieldValue::Json(string()?),
        _ => return Err(ResultCode::LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE),
    })
}

/// UTF-8 text at `p` (non-NULL), `len` bytes or NUL-terminated.
pub(super) unsafe fn text<'a>(p: *const c_char, len: usize) -> Result<&'a str, ResultCode> {
    std::str::from_utf8(bytes(p, len)?).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)
}

unsafe fn bytes<'a>(p: *const c_char, len: usize) -> Result<&'a [u8], ResultCode> {
    if len == LOGSTASH_ASYNC_NUL_TERMINATED {
        return Ok(CStr::from_ptr(p).to_bytes());
    }
    // A slice longer than isize::MAX is undefined behaviour to even make.
    if len > isize::MAX as usize {
        return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
    }
    Ok(std::slice::from_raw_parts(p.cast::<u8>(), len))
}
