//! `logstash_async_create_with_options`: a handle with the callbacks a JSON
//! configuration cannot hold (a notice callback, a custom transport), and
//! the notices themselves: the callback's argument and the polled form.

use super::boundary::{guard, guard_value, opt_str, write_message};
use super::custom::HostTransport;
use super::custom::{logstash_async_close_fn, logstash_async_send_fn};
use super::handle::{handle, logstash_async_handle, new_handle, Fences};
use super::host::HostFence;
use crate::client::Options;
use crate::notice::{Notice, NoticeKind, NoticeSink};
use crate::result::{logstash_async_result, ResultCode};
use crate::{Client, Config};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

/// What a notice is about (`logstash_async_notice.kind`).
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum logstash_async_notice_kind {
    /// No notice (`logstash_async_poll_notice` found none).
    LOGSTASH_ASYNC_NOTICE_NONE = 0,
    /// Delivery started failing (once per outage); the message is the error.
    LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING = 1,
    /// Delivery works again; `count` is the failed attempts of the outage.
    LOGSTASH_ASYNC_NOTICE_DELIVERY_RECOVERED = 2,
    /// The database file stopped taking writes: events are buffered in memory.
    LOGSTASH_ASYNC_NOTICE_BUFFER_FALLBACK = 3,
    /// The database file is usable again and holds the buffered events.
    LOGSTASH_ASYNC_NOTICE_BUFFER_RECOVERED = 4,
    /// `count` events were dropped by a limit (the message names the limits).
    LOGSTASH_ASYNC_NOTICE_DROPPED = 5,
    /// The receiver rejected events for good (`count` rejections).
    LOGSTASH_ASYNC_NOTICE_REJECTED = 6,
    /// Any other error (`count` occurrences; the message is the last one).
    LOGSTASH_ASYNC_NOTICE_ERROR = 7,
}

/// One notice: its kind (a `logstash_async_notice_kind`), a count (see the
/// kinds) and a message, `message_len` bytes of UTF-8, NUL-terminated.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct logstash_async_notice {
    pub kind: u32,
    pub count: u64,
    pub message: *const c_char,
    pub message_len: usize,
}

/// Receives a notice (see `logstash_async_create_with_options`). `notice`
/// and its message are valid during the call only.
#[allow(non_camel_case_types)]
pub type logstash_async_notice_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, notice: *const logstash_async_notice)>;

/// The version of `logstash_async_options` this header describes.
pub const LOGSTASH_ASYNC_OPTIONS_VERSION: u32 = 1;

/// What `logstash_async_create_with_options` takes besides the
/// configuration. Initialise it with `LOGSTASH_ASYNC_OPTIONS_INIT` (every
/// callback NULL, `version` set), then set what you need.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct logstash_async_options {
    /// `LOGSTASH_ASYNC_OPTIONS_VERSION` (fields may be added in later versions).
    pub version: u32,
    /// Called on the worker thread with each notice (NULL: notices wait
    /// for `logstash_async_poll_notice`).
    pub notice_fn: logstash_async_notice_fn,
    pub notice_user_data: *mut c_void,
    /// A custom transport, as for `logstash_async_create_with_transport`
    /// (NULL `send_fn`: the configured network transport).
    pub send_fn: logstash_async_send_fn,
    pub close_fn: logstash_async_close_fn,
    pub transport_user_data: *mut c_void,
}

/// Creates a handle like `logstash_async_create` (or, with a `send_fn`,
/// like `logstash_async_create_with_transport`) with the callbacks of
/// `options` (NULL: none).
///
/// Notices tell the application what the library otherwise only prints on
/// stderr (which `"stderr_errors": false` turns off): delivery failing and
/// recovered, the buffer falling back to memory and recovering, events
/// dropped by a limit, events rejected by the receiver, other errors.
/// Transitions come once each; the other kinds at most once a second each,
/// with a count. With `notice_fn`, each notice is passed to it on the
/// handle's worker thread, never on a thread that emits and never while
/// the worker holds a lock that emit needs: the function may log through
/// this handle (emit, log...), but must not flush or shut it down, and
/// should return promptly (it delays delivery). A managed runtime that
/// cannot take calls on foreign threads leaves it NULL and polls with
/// `logstash_async_poll_notice`. After `logstash_async_shutdown` returned,
/// `notice_fn` is never called again (shutdown waits for a call in
/// progress), so `notice_user_data` need only live until then.
///
/// Returns the handle, or NULL with a message in `error_buf` (an
/// unknown `version` included).
///
/// # Safety
/// As for `logstash_async_create_with_transport`; `options` is NULL or
/// points to a `logstash_async_options` of its `version`.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_create_with_options(
    config_json: *const c_char,
    options: *const logstash_async_options,
    error_buf: *mut c_char,
    error_buf_len: usize,
) -> *mut logstash_async_handle {
    guard_value(std::ptr::null_mut(), || {
        let mut callbacks = Callbacks::default();
        if let Some(o) = options.as_ref() {
            if o.version != LOGSTASH_ASYNC_OPTIONS_VERSION {
                let message = format!(
                    "options: unknown version {} (this library knows {LOGSTASH_ASYNC_OPTIONS_VERSION})",
                    o.version
                );
                write_message(error_buf, error_buf_len, &message);
                return std::ptr::null_mut();
            }
            if o.send_fn.is_some() || o.close_fn.is_some() {
                callbacks.transport = Some(HostTransport {
                    send_fn: o.send_fn,
                    close_fn: o.close_fn,
                    user_data: o.transport_user_data,
                });
            }
            callbacks.notice = o.notice_fn.map(|f| (f, o.notice_user_data));
        }
        create(config_json, callbacks, error_buf, error_buf_len)
    })
}

/// Takes the oldest notice waiting for the application into `*notice`:
/// `kind`, `count`, and the message copied into `buf` (NUL-terminated;
/// `notice->message` points to it). With none waiting, `kind` is
/// LOGSTASH_ASYNC_NOTICE_NONE. The newest 64 notices are kept; with a
/// `notice_fn` registered, none wait here.
///
/// Returns LOGSTASH_ASYNC_OK, LOGSTASH_ASYNC_BUFFER_TOO_SMALL (the notice
/// stays; `notice->message_len` is its message's length: call again with
/// a buffer of at least that + 1 bytes), LOGSTASH_ASYNC_NULL_ARGUMENT (h,
/// notice), LOGSTASH_ASYNC_CLOSED. Never blocks. Thread-safety: safe from
/// any thread (each notice goes to one caller).
///
/// # Safety
/// `h` is NULL or a handle; `notice` is NULL or writable; `buf` is NULL or
/// writable for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_poll_notice(
    h: *mut logstash_async_handle,
    notice: *mut logstash_async_notice,
    buf: *mut c_char,
    buf_len: usize,
) -> logstash_async_result {
    guard(|| {
        let client = match handle(h) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let Some(out) = notice.as_mut() else {
            return ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT;
        };
        let room = if buf.is_null() { 0 } else { buf_len };
        *out = logstash_async_notice {
            kind: logstash_async_notice_kind::LOGSTASH_ASYNC_NOTICE_NONE as u32,
            count: 0,
            message: std::ptr::null(),
            message_len: 0,
        };
        match client.poll_notice(room) {
            Ok(None) => ResultCode::LOGSTASH_ASYNC_OK,
            Ok(Some(n)) => {
                write_message(buf, buf_len, &n.message);
                *out = logstash_async_notice {
                    kind: n.kind as u32,
                    count: n.count,
                    message: buf,
                    message_len: n.message.len(),
                };
                ResultCode::LOGSTASH_ASYNC_OK
            }
            Err(needed) => {
                out.message_len = needed;
                ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL
            }
        }
    })
}

/// A static name of a notice kind ("delivery_failing", ...; "none", or
/// "unknown" for another value). Never NULL; never free it.
#[no_mangle]
pub extern "C" fn logstash_async_notice_kind_str(kind: c_int) -> *const c_char {
    match NoticeKind::ALL.into_iter().find(|k| *k as c_int == kind) {
        Some(k) => NAMES[k as usize].as_ptr(),
        None if kind == 0 => c"none".as_ptr(),
        None => c"unknown".as_ptr(),
    }
}

/// The kinds' names, NUL-terminated, by number.
const NAMES: [&std::ffi::CStr; 8] = [
    c"none",
    c"delivery_failing",
    c"delivery_recovered",
    c"buffer_fallback",
    c"buffer_recovered",
    c"dropped",
    c"rejected",
    c"error",
];

/// The host's callbacks for a new handle.
#[derive(Default)]
pub(super) struct Callbacks {
    pub transport: Option<HostTransport>,
    pub notice: Option<(NoticeFn, *mut c_void)>,
}

type NoticeFn = unsafe extern "C" fn(*mut c_void, *const logstash_async_notice);

/// The host's notice callback behind its fence.
struct HostNoticeSink {
    fence: Arc<HostFence>,
    notice_fn: NoticeFn,
    user_data: *mut c_void,
}

// SAFETY: the host guarantees `user_data` may be used from the worker
// thread (the documented contract); the fence orders the calls with shutdown.
unsafe impl Send for HostNoticeSink {}
unsafe impl Sync for HostNoticeSink {}

impl NoticeSink for HostNoticeSink {
    fn notice(&self, notice: &Notice) {
        let message = CString::new(notice.message.replace('\0', " ")).unwrap_or_default();
        let c = logstash_async_notice {
            kind: notice.kind as u32,
            count: notice.count,
            message: message.as_ptr(),
            message_len: message.as_bytes().len(),
        };
        // SAFETY: the host's function and user_data, per the contract.
        self.fence
            .call(|| unsafe { (self.notice_fn)(self.user_data, &c) });
    }
}

/// Creates a handle from a configuration and the host's callbacks; NULL
/// with a message in `error_buf` on failure.
///
/// # Safety
/// As for the create functions.
pub(super) unsafe fn create(
    config_json: *const c_char,
    callbacks: Callbacks,
    error_buf: *mut c_char,
    error_buf_len: usize,
) -> *mut logstash_async_handle {
    let text = match opt_str(config_json) {
        Err(_) => Err("configuration is not valid UTF-8".to_owned()),
        Ok(None) => Err("configuration is NULL".to_owned()),
        Ok(Some(text)) => Ok(text),
    };
    let mut fences = Fences::default();
    let mut unused = None;
    let result = text.and_then(|text| {
        let mut options = Options::default();
        let config = match callbacks.transport {
            Some(host) => {
                let fenced = host.fenced()?;
                let config = Config::from_json_custom_transport(text.as_bytes());
                options.transport = Some(Box::new(fenced.transport));
                fences.transport = Some(fenced.fence);
                unused = Some(fenced.unused);
                config?
            }
            None => Config::from_json(text.as_bytes())?,
        };
        if let Some((notice_fn, user_data)) = callbacks.notice {
            let fence = Arc::new(HostFence::default());
            fences.notice = Some(fence.clone());
            options.notice_sink = Some(Box::new(HostNoticeSink {
                fence,
                notice_fn,
                user_data,
            }));
        }
        Client::with_options(config, options)
    });
    match result {
        Ok(client) => {
            write_message(error_buf, error_buf_len, "");
            new_handle(client, fences)
        }
        Err(message) => {
            if let Some(transport_ref) = unused {
                // SAFETY: the transport was dropped with the options, unclosed.
                transport_ref.release();
            }
            write_message(error_buf, error_buf_len, &message);
            std::ptr::null_mut()
        }
    }
}
