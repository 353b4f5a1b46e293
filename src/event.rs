//! The event: what emit accepts (validated on the caller's thread) and the
//! Logstash layout it becomes (formatted on the worker thread).
//!
//! The split is deliberate: the caller pays only for UTF-8 and JSON validation
//! and one copy; parsing into fields, merging extras and serialising happen on
//! the worker, so the network, the disk and the formatter never slow the caller.

use crate::config::Config;
use crate::result::ResultCode;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

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

/// An event as the formatters read it: borrowed from an `AcceptedEvent` or
/// from the queue's blocks (where emit copied it without an allocation).
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    pub unix_ms: i64,
    pub thread_name: &'a Arc<str>,
    pub json: &'a [u8],
}

impl<'a> From<&'a AcceptedEvent> for EventRef<'a> {
    fn from(ev: &'a AcceptedEvent) -> EventRef<'a> {
        EventRef {
            unix_ms: ev.unix_ms,
            thread_name: &ev.thread_name,
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

/// Top-level field names of the Logstash layout; every other key of an event
/// moves under `extra_prefix` (python-logstash-async's FORMATTER_LOGSTASH_MESSAGE_FIELD_LIST).
pub const TOP_LEVEL_FIELDS: [&str; 11] = [
    "@timestamp",
    "@version",
    "host",
    "level",
    "logsource",
    "message",
    "pid",
    "program",
    "type",
    "@metadata",
    "tags",
];

/// TOP_LEVEL_FIELDS written as JSON keys, in the same order.
const TOP_LEVEL_KEYS: [&[u8]; 11] = [
    b"\"@timestamp\":",
    b"\"@version\":",
    b"\"host\":",
    b"\"level\":",
    b"\"logsource\":",
    b"\"message\":",
    b"\"pid\":",
    b"\"program\":",
    b"\"type\":",
    b"\"@metadata\":",
    b"\"tags\":",
];

/// The index of a key in TOP_LEVEL_FIELDS (a match, not 11 comparisons: it
/// runs for every member of every event).
fn top_level_index(key: &str) -> Option<usize> {
    Some(match key {
        "@timestamp" => 0,
        "@version" => 1,
        "host" => 2,
        "level" => 3,
        "logsource" => 4,
        "message" => 5,
        "pid" => 6,
        "program" => 7,
        "type" => 8,
        "@metadata" => 9,
        "tags" => 10,
        _ => return None,
    })
}

/// Turns accepted events into Logstash JSON lines. Lives on the worker thread.
pub struct Formatter {
    /// Pre-serialised JSON values of the top-level defaults, in TOP_LEVEL_FIELDS order
    /// (None: the field is absent unless the event gives it).
    defaults: [Option<String>; 11],
    extra_prefix: Option<String>,
    /// Static `extra` from the configuration, pre-serialised.
    static_extra: BTreeMap<String, Box<RawValue>>,
    /// Keys set with set_extra, applied in queue order.
    dynamic_extra: BTreeMap<String, Box<RawValue>>,
    /// Built-ins, static extra and set_extra merged (later wins), sorted by key;
    /// rebuilt only when set_extra changes something.
    base_extra: Vec<BaseExtra>,
    ensure_ascii: bool,
    /// The last thread name seen and its JSON form (events come in runs from
    /// one thread, so escaping it once per run is enough).
    thread_cache: RefCell<(Option<Arc<str>>, String)>,
    timestamps: TimestampWriter,
    /// The event's extra fields of the last call, emptied: its allocation is
    /// reused, so that formatting an event allocates nothing.
    scratch: RefCell<Vec<ExtraField<'static>>>,
}

/// One merged extra field of the configuration and set_extra.
struct BaseExtra {
    key: String,
    /// `"key":`, serialised once.
    json_key: String,
    value: String,
}

/// One extra field of an event: its key (decoded only when it holds
/// escapes) and its value's JSON text, both borrowed from the event.
pub(crate) type ExtraField<'a> = (Cow<'a, str>, &'a str);

/// Empties a vector and hands its allocation on to a vector of another
/// lifetime (collecting a vec::IntoIter into elements of the same size and
/// alignment reuses its buffer; nothing is ever mapped).
pub(crate) fn recycle<'b>(mut fields: Vec<ExtraField<'_>>) -> Vec<ExtraField<'b>> {
    fields.clear();
    fields.into_iter().map(|_| unreachable!()).collect()
}

/// Index of `message`, `level` and `@timestamp` in TOP_LEVEL_FIELDS.
const TIMESTAMP: usize = 0;

pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A member's key: borrowed unless it holds escapes (then decoded, like any
/// JSON parser would; None if that fails, which scan's check rules out).
pub(crate) fn member_key<'a>(member: &scan::Member<'a>) -> Option<Cow<'a, str>> {
    if member.key_escaped {
        serde_json::from_str::<String>(member.key_json)
            .ok()
            .map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(member.key()))
    }
}

impl Formatter {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> Formatter {
        let static_extra = config
            .extra
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
            .collect();
        let host = json_string(host);
        // In TOP_LEVEL_FIELDS order: @timestamp, @version, host, level,
        // logsource, message, pid, program, type, @metadata, tags.
        let defaults = [
            None, // @timestamp: from the event's emit time
            Some("\"1\"".to_owned()),
            Some(host.clone()),
            Some("\"INFO\"".to_owned()),
            Some(host),
            Some("\"\"".to_owned()),
            Some(std::process::id().to_string()),
            Some(json_string(program)),
            Some(json_string(&config.message_type)),
            config.metadata.as_ref().map(|m| m.to_string()),
            (!config.tags.is_empty())
                .then(|| serde_json::Value::Array(config.tags.clone()).to_string()),
        ];
        let mut f = Formatter {
            defaults,
            extra_prefix: config.extra_prefix.clone(),
            static_extra,
            dynamic_extra: BTreeMap::new(),
            base_extra: Vec::new(),
            ensure_ascii: config.ensure_ascii,
            thread_cache: RefCell::new((None, String::new())),
            timestamps: TimestampWriter::default(),
            scratch: RefCell::new(Vec::new()),
        };
        f.rebuild_base_extra();
        f
    }

    fn rebuild_base_extra(&mut self) {
        let mut merged: BTreeMap<&str, &str> = BTreeMap::new();
        let version = json_string(crate::VERSION);
        merged.insert("logstash_async_version", &version);
        for (k, v) in self.static_extra.iter().chain(self.dynamic_extra.iter()) {
            merged.insert(k, v.get());
        }
        self.base_extra = merged
            .into_iter()
            .map(|(k, v)| {
                let mut json_key = Vec::new();
                write_key(&mut json_key, k);
                BaseExtra {
                    key: k.to_owned(),
                    json_key: String::from_utf8(json_key).expect("serialised key is UTF-8"),
                    value: v.to_owned(),
                }
            })
            .collect();
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        match value {
            Some(v) => {
                self.dynamic_extra.insert(key, v);
            }
            None => {
                self.dynamic_extra.remove(&key);
            }
        }
        self.rebuild_base_extra();
    }

    /// Appends one formatted event (no trailing newline) to `out`. The event
    /// must pass `validate` (every queued event did); any other input is
    /// refused with an error and nothing appended.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev: EventRef<'a> = ev.into();
        let text = std::str::from_utf8(ev.json).map_err(|e| e.to_string())?;
        {
            let mut cache = self.thread_cache.borrow_mut();
            if !cache
                .0
                .as_ref()
                .is_some_and(|t| Arc::ptr_eq(t, ev.thread_name))
            {
                *cache = (Some(ev.thread_name.clone()), json_string(ev.thread_name));
            }
        }
        // Borrowed for the rest of the call: no copy of the name per event.
        let thread_cache = self.thread_cache.borrow();

        // Top-level fields: the defaults, overridden by the event (the last
        // of duplicate keys wins, as in most JSON parsers).
        let mut top: [Option<&str>; 11] = std::array::from_fn(|i| self.defaults[i].as_deref());
        // The event's extra fields, in text order, duplicates included.
        let mut event_extra: Vec<ExtraField> = recycle(self.scratch.take());
        let mut prefixed = None;
        let mut bad_key = false;
        // One pass checks the event and splits its members (no tree).
        let is_object = scan::scan(text, |m| {
            let Some(key) = member_key(&m) else {
                bad_key = true;
                return;
            };
            if let Some(i) = top_level_index(&key) {
                top[i] = Some(m.value);
            } else if Some(&*key) == self.extra_prefix.as_deref() {
                prefixed = Some((key, m.value));
            } else {
                event_extra.push((key, m.value));
            }
        })
        .map_err(|_| "not a valid JSON event".to_owned())?;
        if !is_object || bad_key {
            return Err("not a valid JSON object".to_owned());
        }
        if let Some((key, value)) = prefixed {
            if value.starts_with('{') {
                // An event that nests its extras under the prefix itself:
                // merge them (they win over the plain ones: pushed later).
                let _ = scan::scan(value, |m| {
                    if let Some(key) = member_key(&m) {
                        event_extra.push((key, m.value));
                    }
                });
            } else {
                event_extra.push((key, value));
            }
        }
        if !event_extra.iter().any(|(k, _)| k == "thread_name") {
            event_extra.push((Cow::Borrowed("thread_name"), &thread_cache.1));
        }
        sort_last_wins(&mut event_extra);

        let start = out.len();
        out.push(b'{');
        match &self.extra_prefix {
            Some(prefix) => {
                self.write_top(ev.unix_ms, &top, out);
                out.push(b',');
                write_key(out, prefix);
                out.push(b'{');
                let mut first = true;
                merge_sorted(&self.base_extra, &event_extra, |_, key, v| {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    key.write(out);
                    out.extend_from_slice(v.as_bytes());
                });
                out.push(b'}');
            }
            None => {
                // No prefix: extras join the top level and, as in Python's
                // message.update(extra), override same-named fields.
                merge_sorted(&self.base_extra, &event_extra, |name, _, v| {
                    if let Some(i) = top_level_index(name) {
                        top[i] = Some(v);
                    }
                });
                self.write_top(ev.unix_ms, &top, out);
                merge_sorted(&self.base_extra, &event_extra, |name, key, v| {
                    if top_level_index(name).is_none() {
                        out.push(b',');
                        key.write(out);
                        out.extend_from_slice(v.as_bytes());
                    }
                });
            }
        }
        out.push(b'}');
        if self.ensure_ascii {
            escape_non_ascii(out, start);
        }
        *self.scratch.borrow_mut() = recycle(event_extra);
        Ok(())
    }

    /// Writes the top-level members in the Python formatter's order.
    fn write_top(&self, unix_ms: i64, top: &[Option<&str>; 11], out: &mut Vec<u8>) {
        let mut first = true;
        for (i, value) in top.iter().enumerate() {
            if i == TIMESTAMP && value.is_none() {
                out.extend_from_slice(b"\"@timestamp\":");
                self.timestamps.write(unix_ms, out);
                first = false;
                continue;
            }
            let Some(value) = value else { continue };
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(TOP_LEVEL_KEYS[i]);
            out.extend_from_slice(value.as_bytes());
        }
    }
}

/// How a merged extra field's key is written.
#[derive(Clone, Copy)]
enum KeyOut<'a> {
    /// Already serialised with its colon (the configuration's extras).
    Serialised(&'a str),
    /// As it stood in the event, without escapes: valid between quotes.
    Plain(&'a str),
    /// Decoded from escapes: serialised again.
    Decoded(&'a str),
}

impl KeyOut<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            KeyOut::Serialised(json) => out.extend_from_slice(json.as_bytes()),
            KeyOut::Plain(key) => {
                out.reserve(key.len() + 3);
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
            }
            KeyOut::Decoded(key) => write_key(out, key),
        }
    }
}

/// Writes `"YYYY-MM-DDTHH:MM:SS.mmmZ"` (JSON string, UTC) for a Unix time in
/// ms. Events come in runs within one second: the date and time up to the
/// second are formatted once per second, only the milliseconds per event.
#[derive(Default)]
pub(crate) struct TimestampWriter {
    /// The last second formatted ("YYYY-MM-DDTHH:MM:SS.") and its Unix second.
    second: RefCell<Option<(i64, Vec<u8>)>>,
}

impl TimestampWriter {
    pub(crate) fn write(&self, unix_ms: i64, out: &mut Vec<u8>) {
        let second = unix_ms.div_euclid(1000);
        let mut cache = self.second.borrow_mut();
        if cache.as_ref().is_none_or(|c| c.0 != second) {
            let mut text = Vec::with_capacity(24);
            crate::sys::format_timestamp(second * 1000, &mut text);
            text.truncate(text.len() - 4); // keep "YYYY-MM-DDTHH:MM:SS."
            *cache = Some((second, text));
        }
        let ms = unix_ms.rem_euclid(1000) as u32;
        out.push(b'"');
        out.extend_from_slice(&cache.as_ref().expect("set above").1);
        out.extend_from_slice(&[
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
            b'"',
        ]);
    }
}

/// Sorts fields by key, keeping of equal keys the one pushed last (a later
/// field overrides an earlier one, as in a JSON object or a Python dict).
pub(crate) fn sort_last_wins<K: Ord, V>(fields: &mut Vec<(K, V)>) {
    // Stable: equal keys stay in push order; then the last of each run wins.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
}

/// Visits the union of two key-sorted lists in key order (name, key, value);
/// `b` wins on equal keys.
fn merge_sorted<'a>(
    a: &'a [BaseExtra],
    b: &'a [ExtraField<'a>],
    mut visit: impl FnMut(&'a str, KeyOut<'a>, &'a str),
) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_b = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => match x.key.as_str().cmp(&y.0) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => {
                    i += 1;
                    true
                }
            },
            (Some(_), None) => false,
            _ => true,
        };
        if take_b {
            let (key, value) = &b[j];
            let out = match key {
                Cow::Borrowed(k) => KeyOut::Plain(k),
                Cow::Owned(k) => KeyOut::Decoded(k),
            };
            visit(key, out, value);
            j += 1;
        } else {
            let x = &a[i];
            visit(&x.key, KeyOut::Serialised(&x.json_key), &x.value);
            i += 1;
        }
    }
}

pub(crate) fn write_key(out: &mut Vec<u8>, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(key.len() + 3);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    } else {
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
    }
}

/// Python's `json.dumps(ensure_ascii=True)`: every non-ASCII character as \uXXXX.
/// In JSON text non-ASCII bytes occur only inside strings, so a byte-level pass
/// over the serialised line is exact.
pub(crate) fn escape_non_ascii(out: &mut Vec<u8>, start: usize) {
    if out[start..].is_ascii() {
        return;
    }
    let tail = out.split_off(start);
    let text = String::from_utf8_lossy(&tail);
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch as u8);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn fmt(config: serde_json::Value, event: &str) -> Value {
        let config = Config::from_json(config.to_string().as_bytes()).unwrap();
        let f = Formatter::new(&config, "myhost", "/usr/bin/prog");
        let ev = AcceptedEvent {
            unix_ms: 1_477_235_476_853,
            thread_name: Arc::from("main"),
            json: event.as_bytes().into(),
        };
        let mut out = Vec::new();
        f.format(&ev, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn layout_field_by_field_with_prefix() {
        let v = fmt(
            json!({"host":"x","tags":["a","b"],"extra":{"app":"demo"},"metadata":{"beat":"x"}}),
            r#"{"message":"hello","level":"ERROR","logger_name":"db","user":{"id":7}}"#,
        );
        assert_eq!(v["@timestamp"], "2016-10-23T15:11:16.853Z");
        assert_eq!(v["@version"], "1");
        assert_eq!(v["host"], "myhost");
        assert_eq!(v["logsource"], "myhost");
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["message"], "hello");
        assert_eq!(v["pid"], std::process::id());
        assert_eq!(v["program"], "/usr/bin/prog");
        assert_eq!(v["type"], "python-logstash");
        assert_eq!(v["tags"], json!(["a", "b"]));
        assert_eq!(v["@metadata"], json!({"beat":"x"}));
        let extra = &v["extra"];
        assert_eq!(extra["app"], "demo");
        assert_eq!(extra["logger_name"], "db");
        assert_eq!(extra["user"], json!({"id":7}));
        assert_eq!(extra["thread_name"], "main");
        assert_eq!(extra["logstash_async_version"], crate::VERSION);
        assert_eq!(v.as_object().unwrap().len(), 12);
    }

    #[test]
    fn defaults_and_no_tags_or_metadata() {
        let v = fmt(json!({"host":"x"}), r#"{}"#);
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "");
        assert!(v.get("tags").is_none());
        assert!(v.get("@metadata").is_none());
    }

    #[test]
    fn empty_prefix_puts_extras_on_top_level() {
        let v = fmt(
            json!({"host":"x","extra_prefix":"","extra":{"app":"demo","type":"custom"}}),
            r#"{"message":"m","k":1}"#,
        );
        assert_eq!(v["app"], "demo");
        assert_eq!(v["k"], 1);
        assert_eq!(v["type"], "custom");
        assert!(v.get("extra").is_none());
    }

    #[test]
    fn custom_prefix_and_event_timestamp_and_thread() {
        let v = fmt(
            json!({"host":"x","extra_prefix":"dev"}),
            r#"{"@timestamp":"2020-01-01T00:00:00.000Z","thread_name":"t9","extra_field":true}"#,
        );
        assert_eq!(v["@timestamp"], "2020-01-01T00:00:00.000Z");
        assert_eq!(v["dev"]["thread_name"], "t9");
        assert_eq!(v["dev"]["extra_field"], true);
    }

    #[test]
    fn precedence_event_over_set_extra_over_static() {
        let config = Config::from_json(br#"{"host":"x","extra":{"a":1,"b":1,"c":1}}"#).unwrap();
        let mut f = Formatter::new(&config, "h", "p");
        f.set_extra("b".into(), Some(RawValue::from_string("2".into()).unwrap()));
        f.set_extra("c".into(), Some(RawValue::from_string("2".into()).unwrap()));
        let ev = AcceptedEvent {
            unix_ms: 0,
            thread_name: Arc::from("m"),
            json: br#"{"c":3}"#.to_vec().into(),
        };
        let mut out = Vec::new();
        f.format(&ev, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["extra"],
            json!({"a":1,"b":2,"c":3,"thread_name":"m","logstash_async_version":crate::VERSION})
        );
        f.set_extra("b".into(), None);
        out.clear();
        f.format(&ev, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["extra"]["b"], 1);
    }

    #[test]
    fn ensure_ascii_escapes_like_python() {
        let config = Config::from_json(br#"{"host":"x"}"#).unwrap();
        let f = Formatter::new(&config, "h", "p");
        let ev = AcceptedEvent {
            unix_ms: 0,
            thread_name: Arc::from("m"),
            json: "{\"message\":\"caf\u{e9} \u{1F600}\"}".as_bytes().into(),
        };
        let mut out = Vec::new();
        f.format(&ev, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains(r#""message":"caf\u00e9 \ud83d\ude00""#), "{s}");
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["message"], "caf\u{e9} \u{1F600}");
    }

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
}
