//! Events built from typed parts on the caller's thread, for callers that
//! should not write JSON: fields of a few types, the caller's location, a
//! level, a logger name and a message become one JSON object. Strings and
//! keys are escaped as serde_json escapes them; the object is valid by
//! construction, so only raw JSON values need the scan that emit_json runs.
//! It is written into a buffer kept per thread: after a thread's first
//! event, building one allocates nothing.
//!
//! Members are written fields first, then the location, logger name, level
//! and message: the layouts keep the last of duplicate keys, so the explicit
//! arguments win over a field of the same name.

use crate::level::Level;
use crate::result::ResultCode;
use serde_json::ser::{CompactFormatter, Formatter};
use std::cell::RefCell;

/// Most fields one call may carry (`LOGSTASH_ASYNC_MAX_FIELDS`): a bound on
/// the caller's work, and a guard against a garbage count from C.
pub const MAX_FIELDS: usize = 256;

/// What a truncated message ends with (a horizontal ellipsis); the event
/// also gets `"message_truncated": true`.
pub const TRUNCATION_MARK: &str = "\u{2026}";

/// A field's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Int(i64),
    UInt(u64),
    /// A non-finite number is written as null (JSON has no NaN).
    Float(f64),
    Bool(bool),
    Null,
    /// Any JSON value as text, for nested objects and arrays (checked like
    /// emit_json checks an event).
    Json(&'a str),
}

/// One field of an event: a key (any non-empty UTF-8) and its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field<'a> {
    pub key: &'a str,
    pub value: FieldValue<'a>,
}

impl<'a> Field<'a> {
    pub fn new(key: &'a str, value: FieldValue<'a>) -> Field<'a> {
        Field { key, value }
    }
}

/// Where the event was logged from: python-logstash-async's `path`, `line`
/// and `func_name` (the ECS layout's `log.origin.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location<'a> {
    pub file: Option<&'a str>,
    /// 0: none.
    pub line: u32,
    pub function: Option<&'a str>,
}

/// The fixed parts of an event built from typed parts.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub level: Level,
    pub logger_name: Option<&'a str>,
    pub message: &'a str,
    pub location: Location<'a>,
    /// The message was cut by a bounded formatter: mark it.
    pub truncated: bool,
    /// When it happened (Unix ms); None: now.
    pub unix_ms: Option<i64>,
}

impl<'a> Record<'a> {
    /// A record of `level` with `message`, no logger name or location, now.
    pub fn new(level: Level, message: &'a str) -> Record<'a> {
        Record {
            level,
            logger_name: None,
            message,
            location: Location::default(),
            truncated: false,
            unix_ms: None,
        }
    }
}

/// Writes an event's members into its buffer: the fields, then `end`.
pub struct EventWriter<'b> {
    out: &'b mut Vec<u8>,
    fields: usize,
    /// A raw JSON value was written: the event needs emit_json's scan.
    has_raw: bool,
}

impl<'b> EventWriter<'b> {
    /// Starts an event in `out` (emptied).
    pub(crate) fn new(out: &'b mut Vec<u8>) -> EventWriter<'b> {
        out.clear();
        out.push(b'{');
        EventWriter {
            out,
            fields: 0,
            has_raw: false,
        }
    }

    /// Writes one field. An empty key is refused (INVALID_ARGUMENT), the
    /// field after MAX_FIELDS too (TOO_MANY_FIELDS).
    pub fn field(&mut self, key: &str, value: FieldValue<'_>) -> Result<(), ResultCode> {
        if key.is_empty() {
            return Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT);
        }
        self.fields += 1;
        if self.fields > MAX_FIELDS {
            return Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS);
        }
        self.key(key);
        self.has_raw |= write_value(self.out, value)?;
        Ok(())
    }

    /// Writes the location, logger name, level and message and closes the
    /// object; returns the event and whether it needs a scan.
    pub(crate) fn end(self, record: &Record<'_>) -> (&'b [u8], bool) {
        let mut this = self;
        let loc = record.location;
        if let Some(file) = loc.file {
            this.static_key(b"\"path\":");
            write_string(this.out, file, "");
        }
        if loc.line > 0 {
            this.static_key(b"\"line\":");
            let _ = CompactFormatter.write_u32(this.out, loc.line);
        }
        if let Some(function) = loc.function {
            this.static_key(b"\"func_name\":");
            write_string(this.out, function, "");
        }
        if let Some(name) = record.logger_name {
            this.static_key(b"\"logger_name\":");
            write_string(this.out, name, "");
        }
        if record.truncated {
            this.static_key(b"\"message_truncated\":true");
        }
        this.static_key(b"\"level\":");
        this.out.extend_from_slice(record.level.json().as_bytes());
        this.static_key(b"\"message\":");
        let mark = if record.truncated {
            TRUNCATION_MARK
        } else {
            ""
        };
        write_string(this.out, record.message, mark);
        this.out.push(b'}');
        (&this.out[..], this.has_raw)
    }

    /// Writes a member's start written out in advance (`"level":`), after a
    /// comma when a member precedes it.
    #[inline]
    fn static_key(&mut self, json: &[u8]) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        self.out.extend_from_slice(json);
    }

    /// Writes `"key":` after a comma when a member precedes it.
    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        write_string(self.out, key, "");
        self.out.push(b':');
    }
}

/// The event `record` and `fields` make, as `Client::log_record` queues it
/// (without a size limit): for tests, benchmarks and Rust callers that want
/// the JSON itself.
pub fn build_event(record: &Record<'_>, fields: &[Field<'_>]) -> Result<Vec<u8>, ResultCode> {
    let mut buf = Vec::new();
    let mut writer = EventWriter::new(&mut buf);
    for f in fields {
        writer.field(f.key, f.value)?;
    }
    let (json, has_raw) = writer.end(record);
    if has_raw {
        super::validate(json, usize::MAX)?;
    }
    Ok(json.to_vec())
}

/// Appends a field's value; true for a raw JSON value (not checked here).
fn write_value(out: &mut Vec<u8>, value: FieldValue<'_>) -> Result<bool, ResultCode> {
    let mut f = CompactFormatter;
    // Writing to a Vec never fails.
    let _ = match value {
        FieldValue::Str(s) => {
            write_string(out, s, "");
            Ok(())
        }
        FieldValue::Int(n) => f.write_i64(out, n),
        FieldValue::UInt(n) => f.write_u64(out, n),
        FieldValue::Float(x) if x.is_finite() => f.write_f64(out, x),
        FieldValue::Float(_) | FieldValue::Null => f.write_null(out),
        FieldValue::Bool(b) => f.write_bool(out, b),
        FieldValue::Json(text) => {
            let text = text.trim_matches([' ', '\t', '\n', '\r']);
            if text.is_empty() {
                return Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON);
            }
            out.extend_from_slice(text.as_bytes());
            return Ok(true);
        }
    };
    Ok(false)
}

/// A field's value alone as JSON text (raw JSON is not checked here).
pub fn value_json(value: FieldValue<'_>) -> Result<Vec<u8>, ResultCode> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

/// Runs `f` with this thread's event buffer (a fresh one if it is in use,
/// which only a re-entrant call could cause). A buffer that grew past
/// KEEP_BYTES for a large event is not kept.
pub(crate) fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    const KEEP_BYTES: usize = 64 << 10;
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let mut f = Some(f);
    let kept = BUFFER.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        let r = (f.take().expect("called once"))(&mut buf);
        if buf.capacity() > KEEP_BYTES {
            *buf = Vec::new();
        }
        Some(r)
    });
    match kept {
        Ok(Some(r)) => r,
        // The thread is exiting, or the buffer is busy.
        _ => (f.take().expect("not called yet"))(&mut Vec::new()),
    }
}

/// What each byte becomes in a JSON string (serde_json's table): 0 stays,
/// `u` is written `\u00XX`, any other is the letter after a backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `s` and then `suffix` as one JSON string.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str, suffix: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + suffix.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        // The plain run up to the next byte to escape, found 8 bytes at a time.
        let i = super::scan::skip_plain(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        let Some(&b) = bytes.get(i) else { break };
        let escape = ESCAPE[b as usize];
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(suffix.as_bytes());
    out.push(b'"');
}

/// The longest prefix of `bytes` that is valid UTF-8 when only its end may
/// be cut inside a character (a bounded formatter's truncation): None when
/// invalid UTF-8 occurs before that.
pub fn cut_to_char_boundary(bytes: &[u8]) -> Option<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(s),
        // An incomplete character at the very end: drop it.
        Err(e) if e.error_len().is_none() => {
            Some(std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to there"))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn build(record: &Record, fields: &[Field]) -> Result<Value, ResultCode> {
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf);
        for f in fields {
            w.field(f.key, f.value)?;
        }
        let (json, _) = w.end(record);
        Ok(serde_json::from_slice(json).expect("valid JSON"))
    }

    #[test]
    fn every_type_and_the_fixed_parts() {
        let mut record = Record::new(Level::Warning, "disk \"almost\" full\n");
        record.logger_name = Some("app.db");
        record.location = Location {
            file: Some("src/a.c"),
            line: 42,
            function: Some("main"),
        };
        let v = build(
            &record,
            &[
                Field::new("s", FieldValue::Str("x\u{1}\u{7f}é")),
                Field::new("i", FieldValue::Int(-7)),
                Field::new("u", FieldValue::UInt(u64::MAX)),
                Field::new("f", FieldValue::Float(1.5)),
                Field::new("nan", FieldValue::Float(f64::NAN)),
                Field::new("b", FieldValue::Bool(true)),
                Field::new("n", FieldValue::Null),
                Field::new("j", FieldValue::Json(" {\"a\":[1,2]} ")),
                Field::new("k\"ey\\", FieldValue::Int(1)),
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"s":"x\u{1}\u{7f}é","i":-7,"u":u64::MAX,"f":1.5,"nan":null,"b":true,"n":null,
                   "j":{"a":[1,2]},"k\"ey\\":1,"path":"src/a.c","line":42,"func_name":"main",
                   "logger_name":"app.db","level":"WARNING","message":"disk \"almost\" full\n"})
        );
    }

    #[test]
    fn the_explicit_parts_come_last_and_win() {
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf);
        w.field("message", FieldValue::Str("field")).unwrap();
        w.field("level", FieldValue::Str("x")).unwrap();
        let (json, raw) = w.end(&Record::new(Level::Info, "explicit"));
        let text = std::str::from_utf8(json).unwrap();
        assert!(!raw);
        assert!(
            text.ends_with(r#""level":"INFO","message":"explicit"}"#),
            "{text}"
        );
    }

    #[test]
    fn refusals() {
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf);
        assert_eq!(
            w.field("", FieldValue::Null),
            Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT)
        );
        assert_eq!(
            w.field("j", FieldValue::Json("  ")),
            Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
        );
        let mut w = EventWriter::new(&mut buf);
        for _ in 0..MAX_FIELDS {
            w.field("k", FieldValue::Null).unwrap();
        }
        assert_eq!(
            w.field("k", FieldValue::Null),
            Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS)
        );
    }

    #[test]
    fn truncation_is_marked_on_a_character_boundary() {
        let cut = "caf\u{e9}".as_bytes();
        assert_eq!(cut_to_char_boundary(&cut[..4]), Some("caf"));
        assert_eq!(cut_to_char_boundary(cut), Some("caf\u{e9}"));
        assert_eq!(cut_to_char_boundary(b"a\xffb"), None);
        let mut record = Record::new(Level::Info, cut_to_char_boundary(&cut[..4]).unwrap());
        record.truncated = true;
        let v = build(&record, &[]).unwrap();
        assert_eq!(v["message"], "caf\u{2026}");
        assert_eq!(v["message_truncated"], true);
    }

    #[test]
    fn strings_escape_exactly_as_serde_json() {
        let all: String = (0u32..0x250).filter_map(char::from_u32).collect();
        let mut out = Vec::new();
        write_string(&mut out, &all, "");
        assert_eq!(out, serde_json::to_vec(&all).unwrap());
    }

    #[test]
    fn the_buffer_is_kept_per_thread_and_reentrancy_gets_a_fresh_one() {
        let first = with_buffer(|b| {
            b.extend_from_slice(b"abc");
            b.as_ptr() as usize
        });
        let again = with_buffer(|b| b.as_ptr() as usize);
        assert_eq!(first, again);
        let inner = with_buffer(|outer| {
            outer.push(1);
            with_buffer(|inner| inner.capacity())
        });
        assert_eq!(inner, 0);
    }
}
