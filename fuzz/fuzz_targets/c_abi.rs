//! The C ABI's entry points with arbitrary bytes: the first byte picks the
//! call, the rest are its arguments (strings NUL-terminated there; buffers
//! exactly as long as the call is told, so AddressSanitizer sees a write one
//! byte past). No call may crash, hang or return a code its documentation
//! does not list; strings written back are NUL-terminated UTF-8 within the
//! buffer.
//!
//! One handle lives for the whole run (UDP to a closed loopback port: the
//! worker sends and forgets, so memory stays flat); `create` gets the
//! fuzzer's configuration with the database and the hosts pinned (see
//! `pinned`), and its handle is shut down at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::ffi::*;
use logstash_async::ResultCode;
use std::ffi::{c_char, CStr, CString};
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
    let h = if op & 0x80 != 0 { std::ptr::null_mut() } else { shared() };
    // SAFETY: every pointer passed is NULL, a live handle, a NUL-terminated
    // string or a buffer of the length passed with it.
    unsafe {
        match op % 8 {
            0 => {
                let config = CString::new(pinned(args).split(|&b| b == 0).next().unwrap()).unwrap();
                let mut err = buffer(size % 96);
                let err_ptr = if err.is_empty() { std::ptr::null_mut() } else { err.as_mut_ptr() };
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
                    assert_eq!(logstash_async_shutdown(created, 0).is_ok_or_stored(), true);
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
                // An unknown level name: INVALID_ARGUMENT.
                assert!(emit_codes(r) || r == ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT, "{r:?}");
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
                let buf_ptr = if size % 3 == 0 { std::ptr::null_mut() } else { buf.as_mut_ptr() };
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
                let mark_ptr = if size % 4 == 0 { std::ptr::null_mut() } else { &mut mark as *mut u64 };
                logstash_async_flush_mark(h, mark_ptr);
                let to = u64::from_le_bytes(std::array::from_fn(|i| args.get(1 + i).copied().unwrap_or(0)));
                logstash_async_flush_to(h, to.min(mark.saturating_add(size as u64)), 0);
                logstash_async_flush(h, 0);
            }
            6 => {
                let raw = i32::from_le_bytes(std::array::from_fn(|i| args.get(i).copied().unwrap_or(0)));
                let text = CStr::from_ptr(logstash_async_result_str(raw));
                assert!(!text.to_bytes().is_empty());
                CStr::from_ptr(logstash_async_version()).to_str().unwrap();
            }
            _ => {
                // A NULL handle to every call that takes one.
                let null = std::ptr::null_mut();
                let event = b"{}";
                assert_eq!(
                    logstash_async_emit_json(null, event.as_ptr().cast(), 2),
                    ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
                );
                assert_eq!(logstash_async_shutdown(null, 0), ResultCode::LOGSTASH_ASYNC_OK);
                assert_eq!(
                    logstash_async_flush(null, 0),
                    ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
                );
            }
        }
    }
});

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
