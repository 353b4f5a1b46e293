//! The Logstash layout, python-logstash-async's LogstashFormatter: eleven
//! top-level fields (`@timestamp`, `host`, `level`, `message`...) and every
//! other key under `extra_prefix`, written in one pass over the event
//! without building a tree.

use super::defaults::Defaults;
use super::extra::{
    sort_last_wins, BaseExtra, ExtraField, ExtraFields, ExtraScratch, MergedExtras,
};
use super::json::{write_key, ThreadNameJson};
use super::timestamp::TimestampWriter;
use crate::config::Config;
use crate::event::{scan, EventRef};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The top-level fields of the Logstash layout as JSON keys, in the order
/// they are written; every other key of an event moves under `extra_prefix`
/// (python-logstash-async's FORMATTER_LOGSTASH_MESSAGE_FIELD_LIST).
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

/// The index of `@timestamp` in TOP_LEVEL_KEYS.
const TIMESTAMP: usize = 0;

/// The index of a key in TOP_LEVEL_KEYS (a match, not 11 comparisons: it
/// runs for every member of every event; a unit test checks it).
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
pub struct LogstashLayout {
    /// The top-level defaults as JSON, in TOP_LEVEL_KEYS order (None: the
    /// field is absent unless the event gives it).
    defaults: [Option<String>; 11],
    extra_prefix: Option<String>,
    extras: ExtraFields,
    /// `extras` merged and serialised, sorted by key; rebuilt only when
    /// set_extra changes something.
    base_extra: Vec<BaseExtra>,
    thread_names: ThreadNameJson,
    timestamps: TimestampWriter,
    scratch: ExtraScratch,
}

impl LogstashLayout {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> LogstashLayout {
        let d = Defaults::new(config, host, program);
        // In TOP_LEVEL_KEYS order.
        let defaults = [
            None, // @timestamp: from the event's emit time
            Some(d.version),
            Some(d.host.clone()),
            Some(d.level),
            Some(d.host), // logsource
            Some(d.message),
            Some(d.pid),
            Some(d.program),
            Some(d.message_type),
            d.metadata,
            d.tags,
        ];
        let mut layout = LogstashLayout {
            defaults,
            extra_prefix: config.extra_prefix.clone(),
            extras: ExtraFields::new(config),
            base_extra: Vec::new(),
            thread_names: ThreadNameJson::default(),
            timestamps: TimestampWriter::default(),
            scratch: ExtraScratch::default(),
        };
        layout.rebuild_base_extra();
        layout
    }

    fn rebuild_base_extra(&mut self) {
        self.base_extra = self
            .extras
            .merged()
            .into_iter()
            .map(|(k, v)| BaseExtra::new(k, v.to_owned()))
            .collect();
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        self.extras.set(key, value);
        self.rebuild_base_extra();
    }

    /// Appends one formatted event (no trailing newline) to `out`. The event
    /// must pass `validate` (every queued event did); any other input is
    /// refused with an error and nothing appended.
    pub fn format<'a>(&self, ev: EventRef<'a>, out: &mut Vec<u8>) -> Result<(), String> {
        let text = std::str::from_utf8(ev.json).map_err(|e| e.to_string())?;
        let thread_name = self.thread_names.get(ev.thread_name);

        // Top-level fields: the defaults, overridden by the event (the last
        // of duplicate keys wins, as in most JSON parsers).
        let mut top: [Option<&str>; 11] = std::array::from_fn(|i| self.defaults[i].as_deref());
        // The event's extra fields, in text order, duplicates included.
        let mut event_extra: Vec<ExtraField> = self.scratch.take();
        let mut prefixed = None;
        let mut bad_key = false;
        let mut member = |m: scan::Member<'a>| {
            let Some(key) = m.decoded_key() else {
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
        };
        // The thread's context first: the event's own members win over it.
        if let Some(context) = ev.context {
            context.members().for_each(&mut member);
        }
        // One pass checks the event and splits its members (no tree).
        let is_object =
            scan::scan(text, &mut member).map_err(|_| "not a valid JSON event".to_owned())?;
        if !is_object || bad_key {
            return Err("not a valid JSON object".to_owned());
        }
        if let Some((key, value)) = prefixed {
            if value.starts_with('{') {
                // An event that nests its extras under the prefix itself:
                // merge them, below its other keys (put first: the last
                // pushed wins), as python-logstash-async moves the top-level
                // keys into the event's prefix object.
                let plain = event_extra.len();
                let _ = scan::scan(value, |m| {
                    if let Some(key) = m.decoded_key() {
                        event_extra.push((key, m.value));
                    }
                });
                event_extra.rotate_left(plain);
            } else {
                event_extra.push((key, value));
            }
        }
        if !event_extra.iter().any(|(k, _)| k == "thread_name") {
            event_extra.push((Cow::Borrowed("thread_name"), &*thread_name));
        }
        sort_last_wins(&mut event_extra);

        out.push(b'{');
        match &self.extra_prefix {
            Some(prefix) => {
                self.write_top(ev.unix_ms, &top, out);
                out.push(b',');
                write_key(out, prefix);
                out.push(b'{');
                for (n, extra) in MergedExtras::new(&self.base_extra, &event_extra).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    extra.write_key(out);
                    out.extend_from_slice(extra.value().as_bytes());
                }
                out.push(b'}');
            }
            None => {
                // No prefix: extras join the top level and, as in Python's
                // message.update(extra), override same-named fields.
                for extra in MergedExtras::new(&self.base_extra, &event_extra) {
                    if let Some(i) = top_level_index(extra.key()) {
                        top[i] = Some(extra.value());
                    }
                }
                self.write_top(ev.unix_ms, &top, out);
                for extra in MergedExtras::new(&self.base_extra, &event_extra) {
                    if top_level_index(extra.key()).is_none() {
                        out.push(b',');
                        extra.write_key(out);
                        out.extend_from_slice(extra.value().as_bytes());
                    }
                }
            }
        }
        out.push(b'}');
        self.scratch.keep(event_extra);
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

#[cfg(test)]
mod tests {
    use crate::layout::testing::{layout, line, parsed};
    use serde_json::value::RawValue;
    use serde_json::{json, Value};

    fn fmt(config: Value, event: &str) -> Value {
        parsed(&layout(&config), 1_477_235_476_853, event)
    }

    #[test]
    fn top_level_index_matches_the_keys() {
        for (i, key) in super::TOP_LEVEL_KEYS.iter().enumerate() {
            let name = std::str::from_utf8(&key[1..key.len() - 2]).unwrap();
            assert_eq!(super::top_level_index(name), Some(i), "{name}");
        }
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
        let mut f = layout(&json!({"host":"x","extra":{"a":1,"b":1,"c":1}}));
        f.set_extra("b".into(), Some(RawValue::from_string("2".into()).unwrap()));
        f.set_extra("c".into(), Some(RawValue::from_string("2".into()).unwrap()));
        let v = parsed(&f, 0, r#"{"c":3}"#);
        assert_eq!(
            v["extra"],
            json!({"a":1,"b":2,"c":3,"thread_name":"main","logstash_async_version":crate::VERSION})
        );
        f.set_extra("b".into(), None);
        assert_eq!(parsed(&f, 0, r#"{"c":3}"#)["extra"]["b"], 1);
    }

    #[test]
    fn extras_nested_under_the_prefix_rank_below_the_events_other_keys() {
        // python-logstash-async moves the top-level keys into the event's
        // own prefix object, over what it holds.
        let v = fmt(
            json!({"host":"x","extra":{"s":0}}),
            r#"{"a":1,"extra":{"a":2,"z":2,"s":2},"z":1}"#,
        );
        assert_eq!(v["extra"]["a"], 1);
        assert_eq!(v["extra"]["z"], 1);
        assert_eq!(v["extra"]["s"], 2, "still over the configuration's extras");
    }

    #[test]
    fn ensure_ascii_escapes_like_python() {
        let s = line(
            &layout(&json!({"host":"x"})),
            0,
            "{\"message\":\"caf\u{e9} \u{1F600}\"}",
        );
        assert!(s.contains(r#""message":"caf\u00e9 \ud83d\ude00""#), "{s}");
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["message"], "caf\u{e9} \u{1F600}");
    }
}
