//! The event: what emit accepts (validated on the caller's thread) and the
//! Logstash layout it becomes (formatted on the worker thread).
//!
//! The split is deliberate: the caller pays only for UTF-8 and JSON validation
//! and one copy; parsing into fields, merging extras and serialising happen on
//! the worker, so the network, the disk and the formatter never slow the caller.

use crate::config::Config;
use crate::result::ResultCode;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

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

/// Validates an event on the caller's thread: size, UTF-8, JSON, object.
/// Each failure has its own result code; nothing is allocated on success.
pub fn validate(bytes: &[u8], max_event_bytes: usize) -> Result<(), ResultCode> {
    if bytes.len() > max_event_bytes {
        return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_UTF8);
    }
    // IgnoredAny checks the syntax without building a tree (and without
    // recursion); the depth limit keeps absurd nesting away from receivers.
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err()
        || nesting_depth(bytes) > MAX_DEPTH
    {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON);
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT),
    }
}

/// Deepest nesting of arrays and objects accepted in an event (serde_json's
/// own recursion limit, which Logstash-side parsers also cope with).
pub const MAX_DEPTH: usize = 128;

/// The deepest nesting of `[`/`{` outside strings, in one pass without recursion.
fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

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

/// Turns accepted events into Logstash JSON lines. Lives on the worker thread.
pub struct Formatter {
    host: String,
    program: String,
    pid: String,
    message_type: String,
    metadata: Option<String>,
    tags: Option<String>,
    extra_prefix: Option<String>,
    /// Static `extra` from the configuration, pre-serialised.
    static_extra: BTreeMap<String, Box<RawValue>>,
    /// Keys set with set_extra, applied in queue order.
    dynamic_extra: BTreeMap<String, Box<RawValue>>,
    version: String,
    ensure_ascii: bool,
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

impl Formatter {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> Formatter {
        let static_extra = config
            .extra
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
            .collect();
        Formatter {
            host: json_string(host),
            program: json_string(program),
            pid: std::process::id().to_string(),
            message_type: json_string(&config.message_type),
            metadata: config.metadata.as_ref().map(|m| m.to_string()),
            tags: (!config.tags.is_empty())
                .then(|| serde_json::Value::Array(config.tags.clone()).to_string()),
            extra_prefix: config.extra_prefix.clone(),
            static_extra,
            dynamic_extra: BTreeMap::new(),
            version: json_string(crate::VERSION),
            ensure_ascii: config.ensure_ascii,
        }
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
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub fn format(&self, ev: &AcceptedEvent, out: &mut Vec<u8>) -> Result<(), String> {
        let fields: BTreeMap<String, &RawValue> =
            serde_json::from_slice(&ev.json).map_err(|e| e.to_string())?;

        let mut timestamp = Vec::with_capacity(26);
        timestamp.push(b'"');
        crate::sys::format_timestamp(ev.unix_ms, &mut timestamp);
        timestamp.push(b'"');
        let timestamp = std::str::from_utf8(&timestamp).unwrap_or("\"\"");
        let thread_name = json_string(&ev.thread_name);

        // Top-level fields in the Python formatter's order; the event overrides them.
        let mut top: Vec<(&str, &str)> = vec![
            ("@timestamp", timestamp),
            ("@version", "\"1\""),
            ("host", &self.host),
            ("level", "\"INFO\""),
            ("logsource", &self.host),
            ("message", "\"\""),
            ("pid", &self.pid),
            ("program", &self.program),
            ("type", &self.message_type),
        ];
        if let Some(m) = &self.metadata {
            top.push(("@metadata", m));
        }
        if let Some(t) = &self.tags {
            top.push(("tags", t));
        }

        // Extra fields, lowest precedence first: built-ins, static extra,
        // set_extra keys, then the event's own keys.
        let mut extra: BTreeMap<&str, &str> = BTreeMap::new();
        extra.insert("logstash_async_version", &self.version);
        extra.insert("thread_name", &thread_name);
        for (k, v) in self.static_extra.iter().chain(self.dynamic_extra.iter()) {
            extra.insert(k, v.get());
        }
        for (k, v) in &fields {
            if TOP_LEVEL_FIELDS.contains(&k.as_str()) {
                set_field(&mut top, k, v.get());
            } else if Some(k.as_str()) == self.extra_prefix.as_deref() && v.get().starts_with('{') {
                // An event that nests its extras under the prefix itself: merge them.
                if let Ok(inner) = serde_json::from_str::<BTreeMap<&str, &RawValue>>(v.get()) {
                    for (ik, iv) in inner {
                        extra.insert(ik, iv.get());
                    }
                }
            } else {
                extra.insert(k, v.get());
            }
        }

        let start = out.len();
        out.push(b'{');
        match &self.extra_prefix {
            Some(prefix) => {
                write_members(out, top.iter().copied());
                out.push(b',');
                write_key(out, prefix);
                out.push(b'{');
                write_members(out, extra.iter().map(|(k, v)| (*k, *v)));
                out.push(b'}');
            }
            None => {
                // No prefix: extras join the top level and, as in Python's
                // message.update(extra), override same-named fields.
                for (k, v) in &extra {
                    set_field(&mut top, k, v);
                }
                write_members(out, top.iter().copied());
            }
        }
        out.push(b'}');
        if self.ensure_ascii {
            escape_non_ascii(out, start);
        }
        Ok(())
    }
}

fn set_field<'a>(fields: &mut Vec<(&'a str, &'a str)>, key: &'a str, value: &'a str) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key, value)),
    }
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
}

fn write_members<'a>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'a str, &'a str)>) {
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, k);
        out.extend_from_slice(v.as_bytes());
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
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(127), "]".repeat(127));
        assert_eq!(validate(ok.as_bytes(), usize::MAX), Ok(()));
        assert_eq!(nesting_depth(br#"{"a":"[[[{{\"]]"}"#), 1);
    }
}
