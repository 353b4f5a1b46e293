//! The ECS layout defined once more, independently and for clarity rather
//! than speed: the oracle the shipped layout (src/layout/ecs/) must equal
//! byte for byte in tests/ecs_identity.rs and tests/fuzz.rs.
//!
//! Written from python-logstash-async 4.x's LogstashEcsFormatter (formatter.py
//! and utils.normalize_ecs_dict) and the README, not from the shipped code:
//! a message is built as a serde_json tree the way the Python formatter
//! builds its dict, then serialised (sorted keys, as serde_json's maps).
//!
//! This library takes events instead of LogRecords, so the Python schema
//! becomes a table from event key to ECS field, and it departs from Python
//! where the README says so: the event's own keys win over set_extra and
//! `extra` (in Python, `extra` wins over everything); and a name with an
//! empty segment (`a..b`, `.a`, `a.`) is not expanded (Python would make an
//! empty field name, which Elasticsearch refuses).

#![allow(dead_code)]

use logstash_async::event::EventRef;
use logstash_async::Config;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Event key → ECS field: python-logstash-async's ECS schema (its Python
/// field names are this library's event keys, `file` an alias of `path`),
/// then the request fields of its Django and Flask ECS formatters. Where two
/// keys name one field, the later row wins.
const RENAMED: [(&str, &str); 23] = [
    ("type", "event.module"),
    ("level", "log.level"),
    ("logger_name", "log.logger"),
    ("logsource", "log.syslog.hostname"),
    ("line", "log.origin.file.line"),
    ("path", "log.origin.file.name"),
    ("file", "log.origin.file.name"),
    ("func_name", "log.origin.function"),
    ("stack_trace", "error.stack_trace"),
    ("error_type", "error.type"),
    ("program", "process.executable"),
    ("process_name", "process.name"),
    ("pid", "process.pid"),
    ("thread_name", "process.thread.name"),
    ("status_code", "http.response.status_code"),
    ("req_useragent", "user_agent.original"),
    ("req_remote_address", "client.ip"),
    ("req_host", "client.domain"),
    ("req_uri", "url.original"),
    ("req_user", "user.name"),
    ("req_method", "http.request.method"),
    ("req_referer", "http.request.referrer"),
    ("request_id", "http.request.id"),
];

/// Whether an event key stays on the top level as it is: Python's
/// FORMATTER_LOGSTASH_ECS_MESSAGE_FIELD_LIST, and every ECS field the layout
/// fills (Python's top-level set adds its schema's fields).
fn stays_on_top(key: &str) -> bool {
    [
        "@timestamp",
        "@version",
        "@metadata",
        "message",
        "labels",
        "tags",
        "ecs.version",
        "host.hostname",
    ]
    .contains(&key)
        || RENAMED.iter().any(|(_, field)| *field == key)
}

pub struct ReferenceEcsLayout {
    config: Config,
    host: String,
    program: String,
    set_extra: Map<String, Value>,
}

impl ReferenceEcsLayout {
    pub fn new(config: &Config, host: &str, program: &str) -> ReferenceEcsLayout {
        ReferenceEcsLayout {
            config: config.clone(),
            host: host.to_owned(),
            program: program.to_owned(),
            set_extra: Map::new(),
        }
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        match value {
            Some(v) => self
                .set_extra
                .insert(key, serde_json::from_str(v.get()).unwrap()),
            None => self.set_extra.remove(&key),
        };
    }

    /// Appends one formatted event to `out`.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev = ev.into();
        let event: Map<String, Value> =
            serde_json::from_slice(ev.json).map_err(|e| e.to_string())?;
        let message = expand(self.message(ev.unix_ms, ev.thread_name, event));
        let text = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        match self.config.ensure_ascii {
            true => out.extend_from_slice(ascii_only(&text).as_bytes()),
            false => out.extend_from_slice(text.as_bytes()),
        }
        Ok(())
    }

    /// The message with dotted names, as the Python formatter's dict before
    /// normalize_ecs_dict.
    fn message(&self, unix_ms: i64, thread: &str, event: Map<String, Value>) -> Value {
        let config = &self.config;
        let process_name = Path::new(&self.program)
            .file_name()
            .map_or(self.program.clone(), |n| n.to_string_lossy().into_owned());
        // What the layout fills itself (Python's primary fields and record
        // fields, under their ECS names).
        let mut message = json!({
            "@timestamp": utc(unix_ms),
            "@version": "1",
            "message": "",
            "ecs.version": "8.11.0",
            "event.module": config.message_type,
            "host.hostname": self.host,
            "log.level": "INFO",
            "log.syslog.hostname": self.host,
            "process.executable": self.program,
            "process.name": process_name,
            "process.pid": std::process::id(),
            "process.thread.name": thread,
        });
        let top = message.as_object_mut().unwrap();
        if let Some(metadata) = &config.metadata {
            top.insert("@metadata".into(), metadata.clone());
        }
        if !config.tags.is_empty() {
            top.insert("tags".into(), Value::Array(config.tags.clone()));
        }

        // The extras, in rising precedence: the built-in, `extra`,
        // set_extra, then the event's own: first those it nests under the
        // prefix itself, then its other keys (Python moves the top-level
        // keys into an existing prefix object, over what it holds).
        let prefix = config.extra_prefix.as_deref();
        let mut extras = Map::new();
        extras.insert(
            "logstash_async_version".into(),
            json!(logstash_async::VERSION),
        );
        extras.extend(config.extra.clone());
        extras.extend(self.set_extra.clone());
        let mut own = Map::new();
        for (key, value) in event {
            match value {
                _ if stays_on_top(&key) => {
                    top.insert(key, value);
                }
                Value::Object(nested) if Some(key.as_str()) == prefix => extras.extend(nested),
                value => {
                    own.insert(key, value);
                }
            }
        }
        extras.extend(own);

        // Known keys become their ECS fields, over the same field given by
        // its ECS name.
        for (key, field) in RENAMED {
            if let Some(value) = extras.remove(key) {
                top.insert(field.into(), value);
            }
        }

        // The rest under the prefix, or, without one, on the top level over
        // same-named fields (Python's message.update).
        match prefix {
            Some(prefix) => {
                top.insert(prefix.into(), Value::Object(extras));
            }
            None => top.extend(extras),
        }
        message
    }
}

/// Dotted names become nested objects at every level, inside values and
/// arrays too (python-logstash-async's normalize_ecs_dict), except a name
/// with an empty segment. Names are taken in key order; where two meet,
/// objects merge and anything else gives way to the later one.
fn expand(value: Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut out = Map::new();
            for (name, value) in members {
                let segments: Vec<&str> = name.split('.').collect();
                let path = match segments.contains(&"") {
                    true => vec![name.as_str()],
                    false => segments,
                };
                place(&mut out, &path, expand(value));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(expand).collect()),
        other => other,
    }
}

fn place(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [name] => merge(map, name, value),
        [parent, rest @ ..] => {
            let slot = map.entry(*parent).or_insert_with(|| json!({}));
            if !slot.is_object() {
                *slot = json!({});
            }
            place(slot.as_object_mut().unwrap(), rest, value);
        }
        [] => unreachable!("a name has one segment at least"),
    }
}

fn merge(map: &mut Map<String, Value>, name: &str, value: Value) {
    let merged = match (map.remove(name), value) {
        (Some(Value::Object(mut here)), Value::Object(new)) => {
            new.into_iter().for_each(|(k, v)| merge(&mut here, &k, v));
            Value::Object(here)
        }
        (_, value) => value,
    };
    map.insert(name.to_owned(), merged);
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds truncated), counted the long
/// way: whole days through years and months.
fn utc(unix_ms: i64) -> String {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let (days, ms) = (
        unix_ms.div_euclid(86_400_000),
        unix_ms.rem_euclid(86_400_000),
    );
    // The calendar repeats every 400 years (146,097 days).
    let mut year = 1970 + 400 * days.div_euclid(146_097);
    let mut day = days.rem_euclid(146_097);
    while day >= if leap(year) { 366 } else { 365 } {
        day -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let february = if leap(year) { 29 } else { 28 };
    let mut month = 0;
    for length in [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if day < length {
            break;
        }
        day -= length;
        month += 1;
    }
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        month + 1,
        day + 1,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Python's `json.dumps(ensure_ascii=True)`: what is not ASCII as `\uXXXX`
/// UTF-16 units.
fn ascii_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match char::from_u32(unit as u32).filter(char::is_ascii) {
            Some(c) => out.push(c),
            None => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out
}
