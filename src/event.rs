//! The event as emit accepts it: validated on the caller's thread (size,
//! UTF-8, JSON, an object) and kept as the caller's bytes until the worker
//! hands it to the layout (`crate::layout`).
//!
//! The caller pays only for the one-pass check and one copy; splitting into
//! fields, merging extras and serialising happen on the worker, so the
//! network, the disk and the layout never slow the caller.

use crate::context::Context;
use crate::result::ResultCode;
use std::sync::Arc;

pub mod build;
pub(crate) mod scan;

/// An event accepted by emit, waiting in the in-memory queue.
#[derive(Debug)]
pub struct AcceptedEvent {
    /// When emit was called (Unix ms), used unless the event has `@timestamp`.
    pub unix_ms: i64,
    /// The emitting thread's name, used unless the event has `thread_name`.
    pub thread_name: Arc<str>,
    /// The event object exactly as the caller gave it (validated JSON).
    pub json: Box<[u8]>,
}

/// An event as the layouts read it: borrowed from an `AcceptedEvent` or
/// from the queue's blocks (where emit copied it without an allocation).
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    pub unix_ms: i64,
    pub thread_name: &'a Arc<str>,
    /// The emitting thread's context on the handle: members merged below
    /// the event's own (see `crate::context`).
    pub context: Option<&'a Context>,
    pub json: &'a [u8],
}

impl<'a> From<&'a AcceptedEvent> for EventRef<'a> {
    fn from(ev: &'a AcceptedEvent) -> EventRef<'a> {
        EventRef {
            unix_ms: ev.unix_ms,
            thread_name: &ev.thread_name,
            context: None,
            json: &ev.json,
        }
    }
}

/// Validates any JSON value (an event, or a set_extra value that joins every
/// later event): size, UTF-8, syntax, depth, surrogates and number range.
pub fn validate_value(bytes: &[u8], max_bytes: usize) -> Result<(), ResultCode> {
    check(bytes, max_bytes).map(|_| ())
}

/// Validates an event on the caller's thread: size, UTF-8, JSON, object.
/// Each failure has its own result code; nothing is allocated on success.
pub fn validate(bytes: &[u8], max_event_bytes: usize) -> Result<(), ResultCode> {
    match check(bytes, max_event_bytes)? {
        true => Ok(()),
        false => Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT),
    }
}

/// `validate`, also reading the event's own `level` member (the last one,
/// as the layouts read it) for the `level` threshold: its JSON text, None
/// when the event has none.
pub(crate) fn validate_with_level(
    bytes: &[u8],
    max_event_bytes: usize,
) -> Result<Option<&str>, ResultCode> {
    if bytes.len() > max_event_bytes {
        return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
    let mut level = None;
    let is_object = scan::scan(text, |m| {
        if m.key_json == "\"level\"" {
            level = Some(m.value);
        }
    })
    .map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)?;
    match is_object {
        true => Ok(level),
        false => Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT),
    }
}

/// Two passes: the standard UTF-8 check, then scan's one pass over the JSON
/// (syntax, depth, surrogates, numbers). Returns whether it is an object.
fn check(bytes: &[u8], max_bytes: usize) -> Result<bool, ResultCode> {
    if bytes.len() > max_bytes {
        return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
    scan::scan(text, |_| {}).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
}

/// Deepest nesting of arrays and objects accepted in an event. The layout adds
/// a level or two (the extra prefix; ECS nests dotted names), and the result
/// must stay within the 128 levels that common JSON parsers (serde_json's
/// default, many receivers) accept. Found by tests/fuzz.rs.
pub const MAX_DEPTH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_codes() {
        use crate::result::logstash_async_result::*;
        assert_eq!(validate(b"{}", 10), Ok(()));
        assert_eq!(validate(b" {\"a\":1} ", 100), Ok(()));
        assert_eq!(validate(b"[1]", 10), Err(LOGSTASH_ASYNC_NOT_AN_OBJECT));
        assert_eq!(validate(b"\"s\"", 10), Err(LOGSTASH_ASYNC_NOT_AN_OBJECT));
        assert_eq!(validate(b"{\"a\":", 10), Err(LOGSTASH_ASYNC_INVALID_JSON));
        assert_eq!(validate(b"", 10), Err(LOGSTASH_ASYNC_INVALID_JSON));
        assert_eq!(
            validate(b"{\"a\":\"\xff\"}", 10),
            Err(LOGSTASH_ASYNC_INVALID_UTF8)
        );
        assert_eq!(
            validate(b"{\"a\":\"\0\"}", 10),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        assert_eq!(
            validate(b"{\"a\":1}", 3),
            Err(LOGSTASH_ASYNC_EVENT_TOO_LARGE)
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            validate(deep.as_bytes(), usize::MAX),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(99), "]".repeat(99));
        assert_eq!(validate(ok.as_bytes(), usize::MAX), Ok(()));
        // Brackets inside strings do not nest.
        let quoted = format!("{{\"a\":\"{}\"}}", "[{".repeat(200));
        assert_eq!(validate(quoted.as_bytes(), usize::MAX), Ok(()));
        assert_eq!(validate(br#"{"a":"\ud83d\ude00 ok"}"#, 100), Ok(()));
        assert_eq!(
            validate(br#"{"a":"\ud83d alone"}"#, 100),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        assert_eq!(
            validate(br#"{"a":"\ude00 low"}"#, 100),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        assert_eq!(
            validate(br#"{"a":"\ud83d\u0041"}"#, 100),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        assert_eq!(
            validate(br#"{"a":1e999}"#, 100),
            Err(LOGSTASH_ASYNC_INVALID_JSON)
        );
        assert_eq!(validate(br#"{"a":[-1.5e-300,1e308,0]}"#, 100), Ok(()));
    }

    #[test]
    fn the_level_member_is_read_on_the_way() {
        fn level(json: &str) -> Result<Option<&str>, ResultCode> {
            validate_with_level(json.as_bytes(), 1000)
        }
        assert_eq!(level(r#"{"a":{"level":"x"}}"#), Ok(None));
        assert_eq!(
            level(r#"{"level":"INFO","level": "ERROR" }"#),
            Ok(Some("\"ERROR\""))
        );
        assert_eq!(level("[1]"), Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT));
        assert_eq!(level("{"), Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON));
    }
}
