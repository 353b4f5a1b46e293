//! The lifetime promises of the C surface, through the exported functions:
//! a shut-down handle is a tombstone (a second shutdown and later calls get
//! LOGSTASH_ASYNC_CLOSED), a custom transport's `user_data` and a notice
//! callback's are never touched after shutdown returned, whatever the
//! timeout, and bad arguments to the new calls get their codes.

use logstash_async::ffi::*;
use logstash_async::result::logstash_async_result::{self, *};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the host keeps behind `user_data`; `freed` marks the moment the
/// host would free it (any call after that would be a use after free).
#[derive(Default)]
struct Host {
    in_send: AtomicBool,
    sends: AtomicU32,
    closes: AtomicU32,
    freed: AtomicBool,
    touched_after_free: AtomicU32,
    /// How long each send blocks.
    send_ms: AtomicU32,
}

impl Host {
    fn touch(&self) {
        if self.freed.load(SeqCst) {
            self.touched_after_free.fetch_add(1, SeqCst);
        }
    }
}

unsafe extern "C" fn slow_send(
    user_data: *mut c_void,
    _events: *const *const c_char,
    _lens: *const usize,
    _count: usize,
) -> c_int {
    let host = &*(user_data as *const Host);
    host.touch();
    host.in_send.store(true, SeqCst);
    host.sends.fetch_add(1, SeqCst);
    std::thread::sleep(Duration::from_millis(u64::from(host.send_ms.load(SeqCst))));
    host.touch();
    host.in_send.store(false, SeqCst);
    -1 // failed: retried later
}

unsafe extern "C" fn close(user_data: *mut c_void) {
    let host = &*(user_data as *const Host);
    host.touch();
    host.closes.fetch_add(1, SeqCst);
}

fn create_custom(host: &Arc<Host>, with_close: bool) -> *mut logstash_async_handle {
    let config = c"{\"backoff_initial\":0.01,\"backoff_max\":0.01,\"queue_check_interval\":0.01,\"queued_events_flush_interval\":0,\"stderr_errors\":false}";
    let mut err = [0 as c_char; 256];
    let close_fn: logstash_async_close_fn = if with_close { Some(close) } else { None };
    let h = unsafe {
        logstash_async_create_with_transport(
            config.as_ptr(),
            Some(slow_send),
            close_fn,
            Arc::as_ptr(host) as *mut c_void,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    assert!(!h.is_null(), "{:?}", unsafe {
        CStr::from_ptr(err.as_ptr())
    });
    h
}

fn emit(h: *mut logstash_async_handle) -> logstash_async_result {
    let ev = b"{\"message\":\"m\"}";
    unsafe { logstash_async_emit_json(h, ev.as_ptr().cast(), ev.len()) }
}

fn wait_for(mut what: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !what() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn without_close_fn_shutdown_waits_for_a_running_send_and_none_follows() {
    let host = Arc::new(Host::default());
    host.send_ms.store(600, SeqCst);
    let h = create_custom(&host, false);
    assert_eq!(emit(h), LOGSTASH_ASYNC_OK);
    wait_for(|| host.in_send.load(SeqCst));
    let started = Instant::now();
    let r = unsafe { logstash_async_shutdown(h, 20) };
    // The host may free user_data now: mark it.
    host.freed.store(true, SeqCst);
    assert_eq!(r, LOGSTASH_ASYNC_TIMEOUT);
    assert!(
        !host.in_send.load(SeqCst),
        "shutdown returned while send_fn ran"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it waited for send_fn"
    );
    let sends = host.sends.load(SeqCst);
    // The worker, left running, makes no more calls (several backoffs pass).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.sends.load(SeqCst), sends);
    assert_eq!(host.touched_after_free.load(SeqCst), 0);
}

#[test]
fn with_close_fn_shutdown_stays_bounded_and_close_fn_comes_after_the_running_send() {
    let host = Arc::new(Host::default());
    host.send_ms.store(1500, SeqCst);
    let h = create_custom(&host, true);
    assert_eq!(emit(h), LOGSTASH_ASYNC_OK);
    wait_for(|| host.in_send.load(SeqCst));
    let started = Instant::now();
    let r = unsafe { logstash_async_shutdown(h, 50) };
    let took = started.elapsed();
    assert_eq!(r, LOGSTASH_ASYNC_TIMEOUT);
    assert!(
        took < Duration::from_millis(1000),
        "bounded by the timeout: {took:?}"
    );
    assert!(host.in_send.load(SeqCst), "send_fn still runs");
    assert_eq!(
        host.closes.load(SeqCst),
        0,
        "user_data lives until close_fn"
    );
    let sends = host.sends.load(SeqCst);
    wait_for(|| host.closes.load(SeqCst) == 1);
    // The host frees user_data in close_fn: nothing may follow.
    host.freed.store(true, SeqCst);
    assert!(!host.in_send.load(SeqCst));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        host.sends.load(SeqCst),
        sends,
        "no send after shutdown returned"
    );
    assert_eq!(host.closes.load(SeqCst), 1);
    assert_eq!(host.touched_after_free.load(SeqCst), 0);
}

#[test]
fn a_shut_down_handle_is_closed_not_freed() {
    let h = unsafe {
        logstash_async_create(
            c"{\"host\":\"127.0.0.1\",\"port\":9,\"stderr_errors\":false}".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    assert!(!h.is_null());
    unsafe {
        logstash_async_context_set(h, c"k".as_ptr(), c"1".as_ptr());
        assert_ne!(logstash_async_shutdown(h, 100), LOGSTASH_ASYNC_CLOSED);
        assert_eq!(logstash_async_shutdown(h, 100), LOGSTASH_ASYNC_CLOSED);
        assert_eq!(emit(h), LOGSTASH_ASYNC_CLOSED);
        assert_eq!(
            logstash_async_log(h, std::ptr::null(), std::ptr::null(), c"m".as_ptr()),
            LOGSTASH_ASYNC_CLOSED
        );
        assert_eq!(logstash_async_flush(h, 10), LOGSTASH_ASYNC_CLOSED);
        assert_eq!(
            logstash_async_set_extra(h, c"k".as_ptr(), std::ptr::null()),
            LOGSTASH_ASYNC_CLOSED
        );
        assert_eq!(
            logstash_async_context_set(h, c"k".as_ptr(), c"1".as_ptr()),
            LOGSTASH_ASYNC_CLOSED
        );
        assert_eq!(logstash_async_context_clear(h), LOGSTASH_ASYNC_CLOSED);
        assert_eq!(logstash_async_level_enabled(h, 50), 0);
        let mut n = std::mem::zeroed::<logstash_async_notice>();
        assert_eq!(
            logstash_async_poll_notice(h, &mut n, std::ptr::null_mut(), 0),
            LOGSTASH_ASYNC_CLOSED
        );
        let mut len = 0;
        assert_eq!(
            logstash_async_stats_json(h, std::ptr::null_mut(), 0, &mut len),
            LOGSTASH_ASYNC_CLOSED
        );
        assert_eq!(
            CStr::from_ptr(logstash_async_result_str(LOGSTASH_ASYNC_CLOSED as c_int)).to_str(),
            Ok("the handle was shut down")
        );
    }
}

unsafe extern "C" fn count_notice(user_data: *mut c_void, notice: *const logstash_async_notice) {
    let host = &*(user_data as *const Host);
    host.touch();
    let n = &*notice;
    let message = std::slice::from_raw_parts(n.message.cast::<u8>(), n.message_len);
    assert_eq!(*n.message.add(n.message_len), 0, "NUL-terminated");
    assert!(std::str::from_utf8(message).is_ok());
    assert_eq!(std::thread::current().name(), Some("logstash-async"));
    host.sends.fetch_add(1, SeqCst);
}

#[test]
fn the_notice_callback_runs_on_the_worker_and_never_after_shutdown() {
    let host = Arc::new(Host::default());
    let mut options = logstash_async_options {
        version: LOGSTASH_ASYNC_OPTIONS_VERSION,
        notice_fn: Some(count_notice),
        notice_user_data: Arc::as_ptr(&host) as *mut c_void,
        send_fn: None,
        close_fn: None,
        transport_user_data: std::ptr::null_mut(),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!("{{\"host\":\"127.0.0.1\",\"port\":{port},\"stderr_errors\":false,\"backoff_initial\":0.01,\"backoff_max\":0.02,\"queued_events_flush_interval\":0,\"queue_check_interval\":0.01}}\0");
    let mut err = [0 as c_char; 256];
    let h = unsafe {
        logstash_async_create_with_options(
            config.as_ptr().cast(),
            &options,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    assert!(!h.is_null());
    assert_eq!(emit(h), LOGSTASH_ASYNC_OK);
    wait_for(|| host.sends.load(SeqCst) >= 1);
    unsafe {
        let mut n = std::mem::zeroed::<logstash_async_notice>();
        let mut buf = [0 as c_char; 64];
        assert_eq!(
            logstash_async_poll_notice(h, &mut n, buf.as_mut_ptr(), buf.len()),
            LOGSTASH_ASYNC_OK
        );
        assert_eq!(n.kind, 0, "the callback takes them all");
        logstash_async_shutdown(h, 50);
    }
    host.freed.store(true, SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(host.touched_after_free.load(SeqCst), 0);
    // A version this library does not know is refused.
    options.version = 99;
    let h = unsafe {
        logstash_async_create_with_options(
            config.as_ptr().cast(),
            &options,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    assert!(h.is_null());
    let message = unsafe { CStr::from_ptr(err.as_ptr()) }.to_str().unwrap();
    assert!(
        message.starts_with("options: unknown version 99"),
        "{message}"
    );
}

#[test]
fn the_poll_form_copies_into_the_callers_buffer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!("{{\"host\":\"127.0.0.1\",\"port\":{port},\"stderr_errors\":false,\"queued_events_flush_interval\":0,\"queue_check_interval\":0.01}}\0");
    let h = unsafe { logstash_async_create(config.as_ptr().cast(), std::ptr::null_mut(), 0) };
    assert_eq!(emit(h), LOGSTASH_ASYNC_OK);
    let mut n = unsafe { std::mem::zeroed::<logstash_async_notice>() };
    let mut small = [0 as c_char; 4];
    wait_for(|| unsafe {
        logstash_async_poll_notice(h, &mut n, small.as_mut_ptr(), small.len())
            == LOGSTASH_ASYNC_BUFFER_TOO_SMALL
    });
    let needed = n.message_len;
    let mut buf = vec![0 as c_char; needed + 1];
    unsafe {
        assert_eq!(
            logstash_async_poll_notice(h, &mut n, buf.as_mut_ptr(), buf.len()),
            LOGSTASH_ASYNC_OK
        );
        assert_eq!(
            n.kind,
            logstash_async_notice_kind::LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING as u32
        );
        assert_eq!(n.message, buf.as_ptr());
        let text = CStr::from_ptr(n.message).to_str().unwrap();
        assert_eq!(text.len(), needed);
        assert!(text.starts_with("cannot deliver events"), "{text}");
        assert_eq!(
            CStr::from_ptr(logstash_async_notice_kind_str(1)).to_str(),
            Ok("delivery_failing")
        );
        assert_eq!(
            CStr::from_ptr(logstash_async_notice_kind_str(42)).to_str(),
            Ok("unknown")
        );
        assert_eq!(
            logstash_async_poll_notice(h, std::ptr::null_mut(), buf.as_mut_ptr(), 1),
            LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        logstash_async_shutdown(h, 50);
    }
}

fn field(key: &CStr, r#type: u32) -> logstash_async_field {
    logstash_async_field {
        key: key.as_ptr(),
        key_len: LOGSTASH_ASYNC_NUL_TERMINATED,
        r#type,
        value: logstash_async_value { integer: 0 },
    }
}

#[test]
fn bad_records_and_fields_get_their_codes() {
    let h = unsafe {
        logstash_async_create(
            c"{\"host\":\"127.0.0.1\",\"port\":9,\"stderr_errors\":false,\"level\":\"INFO\"}"
                .as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    let info = logstash_async_level::LOGSTASH_ASYNC_LEVEL_INFO as c_int;
    let log = |fields: *const logstash_async_field, n: usize| unsafe {
        logstash_async_log_fields(h, info, std::ptr::null(), c"m".as_ptr(), fields, n)
    };
    let string = |ptr: *const c_char, len: usize| {
        let mut f = field(
            c"s",
            logstash_async_field_type::LOGSTASH_ASYNC_FIELD_STRING as u32,
        );
        f.value.string = logstash_async_string { ptr, len };
        f
    };
    assert_eq!(log(std::ptr::null(), 0), LOGSTASH_ASYNC_OK);
    assert_eq!(log(std::ptr::null(), 1), LOGSTASH_ASYNC_NULL_ARGUMENT);
    assert_eq!(
        log([field(c"k", 0)].as_ptr(), 1),
        LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE
    );
    assert_eq!(
        log([field(c"k", 99)].as_ptr(), 1),
        LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE
    );
    let many = vec![field(c"k", 6); LOGSTASH_ASYNC_MAX_FIELDS + 1];
    assert_eq!(
        log(many.as_ptr(), many.len()),
        LOGSTASH_ASYNC_TOO_MANY_FIELDS
    );
    assert_eq!(
        log(many.as_ptr(), usize::MAX),
        LOGSTASH_ASYNC_TOO_MANY_FIELDS,
        "a garbage count"
    );
    assert_eq!(
        log(many.as_ptr(), LOGSTASH_ASYNC_MAX_FIELDS),
        LOGSTASH_ASYNC_OK
    );
    assert_eq!(
        log([string(b"\xff".as_ptr().cast(), 1)].as_ptr(), 1),
        LOGSTASH_ASYNC_INVALID_UTF8
    );
    assert_eq!(
        log([string(std::ptr::null(), 3)].as_ptr(), 1),
        LOGSTASH_ASYNC_NULL_ARGUMENT
    );
    assert_eq!(
        log([string(std::ptr::null(), 0)].as_ptr(), 1),
        LOGSTASH_ASYNC_OK,
        "empty"
    );
    let mut no_key = field(c"k", 6);
    no_key.key = std::ptr::null();
    assert_eq!(log([no_key].as_ptr(), 1), LOGSTASH_ASYNC_NULL_ARGUMENT);
    let mut bad_key = field(c"k", 6);
    bad_key.key = b"\xc3".as_ptr().cast();
    bad_key.key_len = 1;
    assert_eq!(log([bad_key].as_ptr(), 1), LOGSTASH_ASYNC_INVALID_UTF8);
    unsafe {
        assert_eq!(
            logstash_async_log_fields(h, 25, std::ptr::null(), c"m".as_ptr(), std::ptr::null(), 0),
            LOGSTASH_ASYNC_UNKNOWN_LEVEL
        );
        assert_eq!(
            logstash_async_log_fields(
                h,
                info,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                0
            ),
            LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_log_record(h, std::ptr::null()),
            LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        // Below the level option: discarded before anything is read.
        let debug = logstash_async_level::LOGSTASH_ASYNC_LEVEL_DEBUG as c_int;
        assert_eq!(
            logstash_async_log_fields(
                h,
                debug,
                std::ptr::null(),
                c"m".as_ptr(),
                std::ptr::null(),
                1
            ),
            LOGSTASH_ASYNC_OK
        );
        assert_eq!(logstash_async_level_enabled(h, debug), 0);
        assert_eq!(logstash_async_level_enabled(h, info), 1);
        assert_eq!(logstash_async_level_enabled(h, 7), 0);
        // A truncated message is cut to a whole character: the cut 'é' goes.
        let cut = "caf\u{e9}";
        let mut r = std::mem::zeroed::<logstash_async_record>();
        r.level = info;
        r.message = cut.as_ptr().cast();
        r.message_len = 4;
        assert_eq!(
            logstash_async_log_record(h, &r),
            LOGSTASH_ASYNC_INVALID_UTF8
        );
        r.flags = LOGSTASH_ASYNC_RECORD_TRUNCATED;
        assert_eq!(logstash_async_log_record(h, &r), LOGSTASH_ASYNC_OK);
        r.message = std::ptr::null();
        r.message_len = 0;
        assert_eq!(
            logstash_async_log_record(h, &r),
            LOGSTASH_ASYNC_OK,
            "the empty message"
        );
        // Typed context values.
        let mut id = string(c"r-7".as_ptr(), LOGSTASH_ASYNC_NUL_TERMINATED);
        assert_eq!(logstash_async_context_set_field(h, &id), LOGSTASH_ASYNC_OK);
        id.r#type = 0;
        assert_eq!(
            logstash_async_context_set_field(h, &id),
            LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE
        );
        assert_eq!(
            logstash_async_context_set_field(h, std::ptr::null()),
            LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_context_set(h, c"k".as_ptr(), c"{".as_ptr()),
            LOGSTASH_ASYNC_INVALID_JSON
        );
        assert_eq!(
            logstash_async_context_set(h, std::ptr::null(), c"1".as_ptr()),
            LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_context_set(h, c"k".as_ptr(), std::ptr::null()),
            LOGSTASH_ASYNC_OK,
            "removes"
        );
        assert_eq!(
            logstash_async_context_remove(h, c"s".as_ptr()),
            LOGSTASH_ASYNC_OK
        );
        let mut stats = [0 as c_char; 2048];
        assert_eq!(
            logstash_async_stats_json(h, stats.as_mut_ptr(), stats.len(), std::ptr::null_mut()),
            LOGSTASH_ASYNC_OK
        );
        let stats: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(stats.as_ptr()).to_str().unwrap()).unwrap();
        assert_eq!(
            (stats["emitted"].as_u64(), stats["below_level"].as_u64()),
            (Some(5), Some(1))
        );
        logstash_async_shutdown(h, 50);
    }
}
