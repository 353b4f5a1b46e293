//! The C ABI's entry points with arbitrary bytes: the first byte picks the
//! call, the rest are its arguments (strings NUL-terminated there; buffers
//! exactly as long as the call is told, so AddressSanitizer sees a write one
//! byte past). No call may crash, hang or return a code its documentation
//! does not list; strings written back are NUL-terminated UTF-8 within the
//! buffer.
//!
//! The calls with typed fields and records get fields decoded from the
//! bytes (see `Fields`): strings NULL, NUL-terminated or given with an
//! exact length in a buffer of exactly that length, so a read past it is
//! AddressSanitizer's to see.
//!
//! One handle lives for the whole run (UDP to a closed loopback port: the
//! worker sends and forgets, so memory stays flat); `create` gets the
//! fuzzer's configuration with the database and the hosts pinned (see
//! `pinned`), and its handle is shut down at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::ffi::*;
use logstash_async::ResultCode;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

struct Handle(*mut logstash_async_handle);
// SAFETY: handles are documented as safe to use from any thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

fn shared() -> *mut logstash_async_handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let config = c"{\"host\":\"127.0.0.1\",\"port\":9,\"transport\":\"udp\",\"stderr_errors\":false,\"queue_check_interval\":0.05}";
            // SAFETY: a NUL-terminated configuration; no error buffer.
            let h = unsafe { logstash_async_create(config.as_ptr(), std::ptr::null_mut(), 0) };
            assert!(!h.is_null());
            Handle(h)
        })
        .0
}

/// Up to `n` NUL-terminated strings cut from `bytes` at NUL bytes; a part
/// that is missing is NULL.
fn c_strings(bytes: &[u8], n: usize) -> Vec<Option<CString>> {
    let mut parts = bytes.split(|&b| b == 0).map(|p| CString::new(p).unwrap());
    (0..n).map(|_| parts.next()).collect()
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// A caller's buffer of exactly `len` bytes (NULL when len is 0 and `null`).
fn buffer(len: usize) -> Vec<c_char> {
    vec![0x55; len]
}

/// What a call wrote to a buffer: NUL-terminated inside it, UTF-8.
fn written(buf: &[c_char]) -> &str {
    // SAFETY: the slice is the buffer; the NUL is searched for within it.
    let bytes: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), buf.len()) };
    let end = bytes.iter().position(|&b| b == 0).expect("NUL-terminated");
    std::str::from_utf8(&bytes[..end]).expect("UTF-8")
}

/// The fuzzer's configuration with what could touch the machine outside the
/// run pinned: no database file (it would be created wherever the text
/// says, as root) and loopback hosts only (no name lookups). Text that is
/// not a JSON object goes in as it is: the library parses configurations
/// with serde_json too, so it refuses it as well.
fn pinned(config: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(config) else {
        return config.to_vec();
    };
    map.remove("database_path");
    if map.contains_key("hosts") {
        map.insert("hosts".into(), serde_json::json!(["127.0.0.1:9"]));
    }
    if map.contains_key("host") {
        map.insert("host".into(), "127.0.0.1".into());
    }
    serde_json::to_vec(&map).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&op, args)) = data.split_first() else {
        return;
    };
    // The second byte sizes buffers (and picks NULL for some).
    let size = args.first().map_or(0, |&b| b as usize);
    let h = if op & 0x80 != 0 {
        std::ptr::null_mut()
    } else {
        shared()
    };
    // SAFETY: every pointer passed is NULL, a live handle, a NUL-terminated
    // string or a buffer of the length passed with it.
    unsafe {
        match op % 16 {
            0 => {
                let config = CString::new(pinned(args).split(|&b| b == 0).next().unwrap()).unwrap();
                let mut err = buffer(size % 96);
                let err_ptr = if err.is_empty() {
                    std::ptr::null_mut()
                } else {
                    err.as_mut_ptr()
                };
                let created = logstash_async_create(config.as_ptr(), err_ptr, err.len());
                if !err.is_empty() {
                    let message = written(&err);
                    // Truncated on a character boundary: room for one at least.
                    if err.len() > 4 || !created.is_null() {
                        assert_eq!(message.is_empty(), !created.is_null(), "{message}");
                    }
                }
                if !created.is_null() {
                    let event = br#"{"message":"m"}"#;
                    logstash_async_emit_json(created, event.as_ptr().cast(), event.len());
                    assert!(logstash_async_shutdown(created, 0).is_ok_or_stored());
                    // A closed handle stays a tombstone: every call says so.
                    let closed = ResultCode::LOGSTASH_ASYNC_CLOSED;
                    assert_eq!(
                        logstash_async_emit_json(created, event.as_ptr().cast(), event.len()),
                        closed
                    );
                    assert_eq!(logstash_async_flush(created, 0), closed);
                    assert_eq!(logstash_async_shutdown(created, 0), closed);
                }
            }
            1 => {
                let r = logstash_async_emit_json(h, args.as_ptr().cast(), args.len());
                assert!(emit_codes(r), "{r:?}");
            }
            2 => {
                let s = c_strings(args, 3);
                let message = if size % 5 == 0 { &None } else { &s[2] };
                let r = logstash_async_log(h, ptr(&s[0]), ptr(&s[1]), ptr(message));
                assert!(log_codes(r), "{r:?}");
            }
            3 => {
                let s = c_strings(args, 2);
                let r = logstash_async_set_extra(h, ptr(&s[0]), ptr(&s[1]));
                if r == ResultCode::LOGSTASH_ASYNC_OK {
                    // Used by one event, then removed: extras must not pile
                    // up over the run.
                    let event = br#"{"message":"with extra"}"#;
                    logstash_async_emit_json(h, event.as_ptr().cast(), event.len());
                    let removed = logstash_async_set_extra(h, ptr(&s[0]), std::ptr::null());
                    assert_eq!(removed, ResultCode::LOGSTASH_ASYNC_OK);
                    // Until the worker takes them, the set_extra entries'
                    // boxes are pointed to only from the queue's slab (an
                    // anonymous mapping LeakSanitizer does not scan): the
                    // input's leak check would report them.
                    logstash_async_flush(h, 5000);
                }
            }
            4 => {
                let mut buf = buffer(size * 2);
                let buf_ptr = if size % 3 == 0 {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut needed = usize::MAX;
                let r = logstash_async_stats_json(h, buf_ptr, buf.len(), &mut needed);
                match r {
                    ResultCode::LOGSTASH_ASYNC_OK => {
                        let json = written(&buf);
                        assert_eq!(json.len(), needed);
                        serde_json::from_str::<serde_json::Value>(json).unwrap();
                    }
                    ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL => {
                        assert!(buf_ptr.is_null() || buf.len() <= needed);
                    }
                    ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT => assert!(h.is_null()),
                    other => panic!("stats_json: {other:?}"),
                }
            }
            5 => {
                let mut mark = 0u64;
                let mark_ptr = if size % 4 == 0 {
                    std::ptr::null_mut()
                } else {
                    &mut mark as *mut u64
                };
                logstash_async_flush_mark(h, mark_ptr);
                let to = u64::from_le_bytes(std::array::from_fn(|i| {
                    args.get(1 + i).copied().unwrap_or(0)
                }));
                logstash_async_flush_to(h, to.min(mark.saturating_add(size as u64)), 0);
                logstash_async_flush(h, 0);
            }
            6 => {
                let raw =
                    i32::from_le_bytes(std::array::from_fn(|i| args.get(i).copied().unwrap_or(0)));
                let text = CStr::from_ptr(logstash_async_result_str(raw));
                assert!(!text.to_bytes().is_empty());
                CStr::from_ptr(logstash_async_version()).to_str().unwrap();
            }
            7 => {
                // A NULL handle to every call that takes one.
                let null = std::ptr::null_mut();
                let event = b"{}";
                let null_argument = ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
                assert_eq!(
                    logstash_async_emit_json(null, event.as_ptr().cast(), 2),
                    null_argument
                );
                assert_eq!(
                    logstash_async_shutdown(null, 0),
                    ResultCode::LOGSTASH_ASYNC_OK
                );
                assert_eq!(logstash_async_flush(null, 0), null_argument);
                assert_eq!(logstash_async_context_clear(null), null_argument);
                assert_eq!(logstash_async_level_enabled(null, 20), 0);
                let mut notice = no_notice();
                assert_eq!(
                    logstash_async_poll_notice(null, &mut notice, std::ptr::null_mut(), 0),
                    null_argument
                );
            }
            8 => {
                let mut fields = Fields::default();
                let (level, list) = fields.decode(args);
                let logger = fields.c_string(args.get(1).copied().unwrap_or(0), b"fuzz");
                let r = logstash_async_log_fields(
                    h,
                    level,
                    logger,
                    c"m".as_ptr(),
                    list.as_ptr(),
                    list.len(),
                );
                assert!(field_codes(r), "{r:?}");
            }
            9 => {
                let mut fields = Fields::default();
                let (level, list) = fields.decode(args);
                let message = fields.string(size as u8);
                let logger = fields.string(size.rotate_left(3) as u8);
                let record = logstash_async_record {
                    level,
                    logger_name: logger.ptr,
                    logger_name_len: logger.len,
                    message: message.ptr,
                    message_len: message.len,
                    fields: if list.is_empty() && size % 2 == 0 {
                        std::ptr::null()
                    } else {
                        list.as_ptr()
                    },
                    field_count: list.len(),
                    file: if size % 3 == 0 {
                        std::ptr::null()
                    } else {
                        c"src/fuzz.c".as_ptr()
                    },
                    func: if size % 5 == 0 {
                        std::ptr::null()
                    } else {
                        c"main".as_ptr()
                    },
                    line: size as u32 * 7,
                    flags: (size % 4) as u32,
                    unix_ms: if size % 2 == 0 {
                        0
                    } else {
                        i64::from(size as u8) * 1_000_000_000
                    },
                };
                let r = logstash_async_log_record(h, &record);
                assert!(field_codes(r), "{r:?}");
            }
            10 | 11 => {
                // The thread's context: set (JSON text or a typed field),
                // used by one event, removed; cleared at the end so that no
                // input sees another's.
                let r = if op % 16 == 10 {
                    let s = c_strings(args, 2);
                    logstash_async_context_set(h, ptr(&s[0]), ptr(&s[1]))
                } else {
                    let mut fields = Fields::default();
                    let (_, list) = fields.decode(args);
                    let field = list.first().map_or(std::ptr::null(), |f| f as *const _);
                    logstash_async_context_set_field(h, field)
                };
                assert!(context_codes(r), "{r:?}");
                let event = br#"{"message":"in a context"}"#;
                assert!(emit_codes(logstash_async_emit_json(
                    h,
                    event.as_ptr().cast(),
                    event.len()
                )));
                let key = c_strings(args, 1);
                assert!(context_codes(logstash_async_context_remove(
                    h,
                    ptr(&key[0])
                )));
                let cleared = logstash_async_context_clear(h);
                assert!(
                    h.is_null() || cleared == ResultCode::LOGSTASH_ASYNC_OK,
                    "{cleared:?}"
                );
                // The event's context snapshot is pointed to from the queue's
                // slab only (see set_extra above) until the worker takes it.
                logstash_async_flush(h, 5000);
            }
            12 => {
                let level =
                    i32::from_le_bytes(std::array::from_fn(|i| args.get(i).copied().unwrap_or(0)));
                let enabled = logstash_async_level_enabled(h, level);
                assert!(enabled == 0 || enabled == 1);
                let kind = CStr::from_ptr(logstash_async_notice_kind_str(level));
                assert!(!kind.to_bytes().is_empty());
            }
            13 => {
                let mut buf = buffer(size * 16);
                let buf_ptr = if size % 3 == 0 {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut needed = usize::MAX;
                match logstash_async_stats_prometheus(h, buf_ptr, buf.len(), &mut needed) {
                    ResultCode::LOGSTASH_ASYNC_OK => assert_eq!(written(&buf).len(), needed),
                    ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL => {
                        assert!(buf_ptr.is_null() || buf.len() <= needed)
                    }
                    ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT => assert!(h.is_null()),
                    other => panic!("stats_prometheus: {other:?}"),
                }
            }
            _ => {
                let mut buf = buffer(size % 64);
                let buf_ptr = if size % 3 == 0 {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut notice = no_notice();
                match logstash_async_poll_notice(h, &mut notice, buf_ptr, buf.len()) {
                    ResultCode::LOGSTASH_ASYNC_OK if notice.kind != 0 => {
                        assert_eq!(written(&buf).len(), notice.message_len);
                        assert_eq!(notice.message, buf_ptr.cast_const());
                    }
                    ResultCode::LOGSTASH_ASYNC_OK => assert!(notice.message.is_null()),
                    ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL => {
                        assert!(notice.message_len >= buf.len())
                    }
                    ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT => assert!(h.is_null()),
                    other => panic!("poll_notice: {other:?}"),
                }
            }
        }
    }
});

fn no_notice() -> logstash_async_notice {
    logstash_async_notice {
        kind: u32::MAX,
        count: 0,
        message: std::ptr::null(),
        message_len: 0,
    }
}

/// Fields decoded from fuzzer bytes, with the buffers their pointers point
/// into (each exactly as long as the length given with it).
#[derive(Default)]
struct Fields {
    buffers: Vec<Box<[u8]>>,
}

impl Fields {
    /// A level (the first byte picks a known one or any number) and up to
    /// 300 fields (over LOGSTASH_ASYNC_MAX_FIELDS is refused): per field a
    /// type byte (0 and 8 are no type), a key and a value.
    fn decode(&mut self, bytes: &[u8]) -> (c_int, Vec<logstash_async_field>) {
        let mut input = bytes.iter().copied();
        let mut next = move || input.next();
        let level = match next().unwrap_or(0) {
            b @ 0..=4 => 10 * (c_int::from(b) + 1),
            b => c_int::from(b) - 100,
        };
        let mut list = Vec::new();
        while let (Some(t), true) = (next(), list.len() < 300) {
            let key_mode = next().unwrap_or(1);
            let key = self.text(key_mode, &mut next);
            let value = match u32::from(t % 9) {
                1 | 7 => logstash_async_value {
                    string: self.text(next().unwrap_or(1), &mut next),
                },
                4 => logstash_async_value {
                    number: f64::from_le_bytes(std::array::from_fn(|_| next().unwrap_or(0))),
                },
                _ => logstash_async_value {
                    unsigned_integer: u64::from_le_bytes(std::array::from_fn(|_| {
                        next().unwrap_or(0)
                    })),
                },
            };
            list.push(logstash_async_field {
                key: key.ptr,
                key_len: key.len,
                r#type: u32::from(t % 9),
                value,
            });
        }
        (level, list)
    }

    /// Text up to the next NUL of the input, given as `mode` says.
    fn text(&mut self, mode: u8, next: &mut impl FnMut() -> Option<u8>) -> logstash_async_string {
        let mut bytes = Vec::new();
        while let Some(b) = next().filter(|&b| b != 0) {
            bytes.push(b);
        }
        self.given(mode, bytes)
    }

    /// A string made from `mode` alone (for records' message and logger).
    fn string(&mut self, mode: u8) -> logstash_async_string {
        let text = ["", "message", "é…", "\"q\"\n", "\u{1F600}"][usize::from(mode / 4) % 5];
        self.given(mode, text.as_bytes().to_vec())
    }

    /// A NUL-terminated copy (for a logger name argument), or NULL.
    fn c_string(&mut self, mode: u8, text: &[u8]) -> *const c_char {
        if mode % 2 == 0 {
            return std::ptr::null();
        }
        self.given(1, text.to_vec()).ptr
    }

    /// mode % 4: 0 NULL (length 0, or 1: refused), 1 NUL-terminated,
    /// otherwise the exact length (no NUL after it).
    fn given(&mut self, mode: u8, mut bytes: Vec<u8>) -> logstash_async_string {
        let len = match mode % 4 {
            0 => {
                return logstash_async_string {
                    ptr: std::ptr::null(),
                    len: usize::from(mode / 4 % 2),
                }
            }
            1 => {
                bytes.push(0);
                LOGSTASH_ASYNC_NUL_TERMINATED
            }
            _ => bytes.len(),
        };
        let buffer = bytes.into_boxed_slice();
        let ptr = buffer.as_ptr().cast();
        self.buffers.push(buffer);
        logstash_async_string { ptr, len }
    }
}

/// The codes emit_json and log document.
fn emit_codes(r: ResultCode) -> bool {
    use logstash_async::result::logstash_async_result::*;
    matches!(
        r,
        LOGSTASH_ASYNC_OK
            | LOGSTASH_ASYNC_NULL_ARGUMENT
            | LOGSTASH_ASYNC_INVALID_UTF8
            | LOGSTASH_ASYNC_INVALID_JSON
            | LOGSTASH_ASYNC_NOT_AN_OBJECT
            | LOGSTASH_ASYNC_EVENT_TOO_LARGE
            | LOGSTASH_ASYNC_QUEUE_FULL
    )
}

/// The codes log documents: emit_json's and an unknown level name.
fn log_codes(r: ResultCode) -> bool {
    emit_codes(r) || r == ResultCode::LOGSTASH_ASYNC_UNKNOWN_LEVEL
}

/// The codes log_fields and log_record document.
fn field_codes(r: ResultCode) -> bool {
    use logstash_async::result::logstash_async_result::*;
    log_codes(r)
        || matches!(
            r,
            LOGSTASH_ASYNC_TOO_MANY_FIELDS
                | LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE
                | LOGSTASH_ASYNC_INVALID_ARGUMENT
        )
}

/// The codes the context calls document.
fn context_codes(r: ResultCode) -> bool {
    use logstash_async::result::logstash_async_result::*;
    matches!(
        r,
        LOGSTASH_ASYNC_OK
            | LOGSTASH_ASYNC_NULL_ARGUMENT
            | LOGSTASH_ASYNC_INVALID_ARGUMENT
            | LOGSTASH_ASYNC_INVALID_UTF8
            | LOGSTASH_ASYNC_INVALID_JSON
            | LOGSTASH_ASYNC_TOO_MANY_FIELDS
            | LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE
    )
}

trait Shutdown {
    fn is_ok_or_stored(self) -> bool;
}

impl Shutdown for ResultCode {
    /// What shutdown may return for a handle that may not have sent yet.
    fn is_ok_or_stored(self) -> bool {
        use logstash_async::result::logstash_async_result::*;
        matches!(
            self,
            LOGSTASH_ASYNC_OK | LOGSTASH_ASYNC_STORED_NOT_SENT | LOGSTASH_ASYNC_TIMEOUT
        )
    }
}
