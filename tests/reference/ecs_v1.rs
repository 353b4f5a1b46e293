//! The first ECS layout (src/layout/ecs.rs before it was made fast): it parses
//! each event into a serde_json tree, merges maps and serialises them. Kept
//! verbatim (only its imports changed) as the oracle the fast layout must
//! equal byte for byte: tests/fuzz.rs and tests/ecs_identity.rs compare them.
//!
//! The Elastic Common Schema layout (ECS 8.11), like python-logstash-async's
//! LogstashEcsFormatter: the fields the Logstash layout has are moved to their
//! ECS names (`log.level`, `log.logger`, `process.pid`, ...), dotted names
//! are expanded into nested objects, and whatever has no ECS name stays under
//! `extra_prefix`. Top level: `@timestamp`, `@version`, `@metadata`,
//! `message`, `labels`, `tags` and the ECS objects.

#![allow(dead_code)]

use logstash_async::event::EventRef;
use logstash_async::Config;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// The ECS version the layout follows (as the Python formatter).
pub const ECS_VERSION: &str = "8.11.0";

/// Event keys kept at the top level as they are.
pub const TOP_LEVEL_FIELDS: [&str; 6] = [
    "@timestamp",
    "@version",
    "@metadata",
    "message",
    "labels",
    "tags",
];

/// Input names (python-logstash-async's record and extra fields, and the
/// keys this library documents for events) and the ECS field each becomes.
pub const ECS_FIELDS: [(&str, &str); 23] = [
    ("level", "log.level"),
    ("logger_name", "log.logger"),
    ("func_name", "log.origin.function"),
    ("path", "log.origin.file.name"),
    ("file", "log.origin.file.name"),
    ("line", "log.origin.file.line"),
    ("error_type", "error.type"),
    ("stack_trace", "error.stack_trace"),
    ("thread_name", "process.thread.name"),
    ("process_name", "process.name"),
    ("pid", "process.pid"),
    ("program", "process.executable"),
    ("type", "event.module"),
    // The web framework fields of the Django and Flask formatters.
    ("req_useragent", "user_agent.original"),
    ("req_remote_address", "client.ip"),
    ("req_host", "client.domain"),
    ("req_uri", "url.original"),
    ("req_user", "user.name"),
    ("req_method", "http.request.method"),
    ("req_referer", "http.request.referrer"),
    ("request_id", "http.request.id"),
    ("status_code", "http.response.status_code"),
    ("logsource", "log.syslog.hostname"),
];

/// Dotted ECS names the layout writes itself; an event may set them directly.
const OWN_FIELDS: [&str; 2] = ["ecs.version", "host.hostname"];

fn is_ecs_name(key: &str) -> bool {
    OWN_FIELDS.contains(&key) || ECS_FIELDS.iter().any(|(_, ecs)| *ecs == key)
}

pub struct ReferenceEcsFormatter {
    host: String,
    program: String,
    process_name: String,
    message_type: String,
    metadata: Option<Value>,
    tags: Option<Value>,
    extra_prefix: Option<String>,
    static_extra: Map<String, Value>,
    dynamic_extra: BTreeMap<String, Value>,
    ensure_ascii: bool,
}

impl ReferenceEcsFormatter {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> ReferenceEcsFormatter {
        let process_name = std::path::Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_owned());
        ReferenceEcsFormatter {
            host: host.to_owned(),
            program: program.to_owned(),
            process_name,
            message_type: config.message_type.clone(),
            metadata: config.metadata.clone(),
            tags: (!config.tags.is_empty()).then(|| Value::Array(config.tags.clone())),
            extra_prefix: config.extra_prefix.clone(),
            static_extra: config.extra.clone(),
            dynamic_extra: BTreeMap::new(),
            ensure_ascii: config.ensure_ascii,
        }
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        match value.and_then(|v| serde_json::from_str::<Value>(v.get()).ok()) {
            Some(v) => {
                self.dynamic_extra.insert(key, v);
            }
            None => {
                self.dynamic_extra.remove(&key);
            }
        }
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev: EventRef<'a> = ev.into();
        let fields: Map<String, Value> =
            serde_json::from_slice(ev.json).map_err(|e| e.to_string())?;

        let mut timestamp = Vec::with_capacity(24);
        format_timestamp(ev.unix_ms, &mut timestamp);
        let timestamp = String::from_utf8_lossy(&timestamp).into_owned();

        // Dotted names first; expanded into objects at the end.
        let mut top: BTreeMap<String, Value> = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            top.insert(k.to_owned(), v);
        };
        put("@timestamp", Value::String(timestamp));
        put("@version", Value::from("1"));
        put("message", Value::from(""));
        put("ecs.version", Value::from(ECS_VERSION));
        put("event.module", Value::from(self.message_type.as_str()));
        put("host.hostname", Value::from(self.host.as_str()));
        put("log.level", Value::from("INFO"));
        put("log.syslog.hostname", Value::from(self.host.as_str()));
        put("process.executable", Value::from(self.program.as_str()));
        put("process.name", Value::from(self.process_name.as_str()));
        put("process.pid", Value::from(std::process::id()));
        put("process.thread.name", Value::from(&**ev.thread_name));
        if let Some(m) = &self.metadata {
            put("@metadata", m.clone());
        }
        if let Some(t) = &self.tags {
            put("tags", t.clone());
        }

        // Extra fields, lowest precedence first: built-ins, static extra,
        // set_extra keys, then the event's own keys.
        let mut extra: BTreeMap<String, Value> = BTreeMap::new();
        extra.insert(
            "logstash_async_version".to_owned(),
            Value::from(logstash_async::VERSION),
        );
        for (k, v) in self.static_extra.iter().chain(self.dynamic_extra.iter()) {
            extra.insert(k.clone(), v.clone());
        }
        for (k, v) in fields {
            if TOP_LEVEL_FIELDS.contains(&k.as_str()) || is_ecs_name(&k) {
                top.insert(k, v);
            } else if Some(k.as_str()) == self.extra_prefix.as_deref() && v.is_object() {
                // An event that nests its extras under the prefix itself: merge them.
                if let Value::Object(inner) = v {
                    extra.extend(inner);
                }
            } else {
                extra.insert(k, v);
            }
        }
        // Known names become their ECS fields.
        for (name, ecs) in ECS_FIELDS {
            if let Some(v) = extra.remove(name) {
                top.insert(ecs.to_owned(), v);
            }
        }
        match &self.extra_prefix {
            Some(prefix) => {
                top.insert(prefix.clone(), Value::Object(extra.into_iter().collect()));
            }
            None => top.extend(extra),
        }

        let message = expand_dotted(top);
        let start = out.len();
        serde_json::to_writer(&mut *out, &message).map_err(|e| e.to_string())?;
        if self.ensure_ascii {
            escape_non_ascii(out, start);
        }
        Ok(())
    }
}

/// Turns `{"log.level": x, "log.logger": y}` into `{"log": {"level": x, "logger": y}}`.
/// Keys are visited in sorted order, so `log` comes before `log.level`: an
/// object under `log` is merged with the dotted fields, and a non-object value
/// there gives way to them. A key with an empty segment stays as it is.
fn expand_dotted(fields: BTreeMap<String, Value>) -> Value {
    let mut root = Map::new();
    for (key, value) in fields {
        let segments: Vec<&str> = key.split('.').collect();
        if segments.len() == 1 || segments.iter().any(|s| s.is_empty()) {
            insert_merging(&mut root, &key, value);
            continue;
        }
        let (last, parents) = segments.split_last().expect("at least two segments");
        let mut node = &mut root;
        for segment in parents {
            let slot = node
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            node = slot.as_object_mut().expect("made an object above");
        }
        insert_merging(node, last, value);
    }
    Value::Object(root)
}

/// Inserts `value`, merging objects key by key with what is there.
fn insert_merging(map: &mut Map<String, Value>, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                insert_merging(existing, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// Python's `json.dumps(ensure_ascii=True)` (a copy of the crate's private one).
fn escape_non_ascii(out: &mut Vec<u8>, start: usize) {
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

fn format_timestamp(unix_ms: i64, out: &mut Vec<u8>) {
    let ms = unix_ms.rem_euclid(1000);
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z");
}
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
