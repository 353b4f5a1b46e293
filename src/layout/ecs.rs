//! The Elastic Common Schema layout (ECS 8.11), like python-logstash-async's
//! LogstashEcsFormatter: the fields the Logstash layout has are moved to their
//! ECS names (`log.level`, `log.logger`, `process.pid`, ...), dotted names
//! are expanded into nested objects, and whatever has no ECS name stays under
//! `extra_prefix`. Top level: `@timestamp`, `@version`, `@metadata`,
//! `message`, `labels`, `tags` and the ECS objects.

mod canonical;
mod fast;

use crate::config::Config;
use crate::event::{escape_non_ascii, json_string, EventRef};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

pub struct EcsFormatter {
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
    /// The one-pass writer, for no extra prefix or a plain one (else every
    /// event takes the general path below, which builds a tree).
    fast: Option<fast::FastLayout>,
}

impl EcsFormatter {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> EcsFormatter {
        let process_name = std::path::Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_owned());
        let fast = fast::applies_to(config.extra_prefix.as_deref()).then(|| {
            // The constants, serialised once, in fast::SLOT_NAMES order.
            let host = json_string(host);
            let defaults = fast::SLOT_NAMES
                .iter()
                .map(|name| match *name {
                    "@version" => Some("\"1\"".to_owned()),
                    "@metadata" => config.metadata.as_ref().map(Value::to_string),
                    "message" => Some("\"\"".to_owned()),
                    "tags" => (!config.tags.is_empty())
                        .then(|| Value::Array(config.tags.clone()).to_string()),
                    "ecs.version" => Some(json_string(ECS_VERSION)),
                    "event.module" => Some(json_string(&config.message_type)),
                    "host.hostname" | "log.syslog.hostname" => Some(host.clone()),
                    "log.level" => Some("\"INFO\"".to_owned()),
                    "process.executable" => Some(json_string(program)),
                    "process.name" => Some(json_string(&process_name)),
                    "process.pid" => Some(std::process::id().to_string()),
                    // The timestamp and thread name come with each event.
                    _ => None,
                })
                .collect();
            fast::FastLayout::new(
                config.extra_prefix.as_deref(),
                defaults,
                config.ensure_ascii,
            )
        });
        let mut f = EcsFormatter {
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
            fast,
        };
        f.rebuild_base_extra();
        f
    }

    /// Hands the merged extras (lowest precedence first: built-ins, static
    /// extra, set_extra keys) to the fast writer.
    fn rebuild_base_extra(&mut self) {
        let Some(fast) = &mut self.fast else { return };
        let version = Value::from(crate::VERSION);
        let mut merged: BTreeMap<&str, &Value> = BTreeMap::new();
        merged.insert("logstash_async_version", &version);
        for (k, v) in self.static_extra.iter().chain(self.dynamic_extra.iter()) {
            merged.insert(k, v);
        }
        fast.set_base_extra(&merged);
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
        self.rebuild_base_extra();
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev: EventRef<'a> = ev.into();
        if let Some(fast) = &self.fast {
            if fast.format(ev, out) {
                return Ok(());
            }
        }
        self.format_tree(ev, out)
    }

    /// The general path: the event parsed into a tree, merged and serialised
    /// (the first implementation, still exact for every event; the fast
    /// writer must produce the same bytes, as tests/ecs_identity.rs checks).
    fn format_tree(&self, ev: EventRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
        let fields: Map<String, Value> =
            serde_json::from_slice(ev.json).map_err(|e| e.to_string())?;

        let mut timestamp = Vec::with_capacity(24);
        crate::sys::format_timestamp(ev.unix_ms, &mut timestamp);
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
            Value::from(crate::VERSION),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AcceptedEvent;
    use serde_json::json;
    use std::sync::Arc;

    fn formatter(config: Value) -> EcsFormatter {
        let config = Config::from_json(config.to_string().as_bytes()).unwrap();
        EcsFormatter::new(&config, "myhost", "/usr/bin/prog")
    }

    fn format_with(f: &EcsFormatter, event: &str) -> Value {
        let ev = AcceptedEvent {
            unix_ms: 1_635_082_335_024,
            thread_name: Arc::from("main"),
            json: event.as_bytes().into(),
        };
        let mut out = Vec::new();
        f.format(&ev, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn fmt(config: Value, event: &str) -> Value {
        format_with(&formatter(config), event)
    }

    /// The record of python-logstash-async's LogstashEcsFormatterTest.
    const RECORD: &str = r#"{"message":"test","level":"INFO","func_name":"f","line":2,
        "logger_name":"foo","path":"a/b/c","process_name":"bar","thread_name":"baz",
        "stack_trace":"Traceback ...","error_type":"ValueError"}"#;

    #[test]
    fn layout_field_by_field_like_the_python_ecs_formatter() {
        let v = fmt(json!({"host":"x","tags":["t1","t2"]}), RECORD);
        assert_eq!(v["@timestamp"], "2021-10-24T13:32:15.024Z");
        assert_eq!(v["@version"], "1");
        assert_eq!(v["ecs"], json!({"version": "8.11.0"}));
        assert_eq!(v["event"], json!({"module": "python-logstash"}));
        assert_eq!(v["host"], json!({"hostname": "myhost"}));
        assert_eq!(v["log"]["level"], "INFO");
        assert_eq!(v["log"]["logger"], "foo");
        assert_eq!(v["log"]["syslog"], json!({"hostname": "myhost"}));
        assert_eq!(
            v["log"]["origin"]["file"],
            json!({"line": 2, "name": "a/b/c"})
        );
        assert_eq!(v["log"]["origin"]["function"], "f");
        assert_eq!(v["log"].as_object().unwrap().len(), 4);
        assert_eq!(v["message"], "test");
        assert_eq!(v["process"]["thread"], json!({"name": "baz"}));
        assert_eq!(v["process"]["name"], "bar");
        assert_eq!(v["process"]["pid"], std::process::id());
        assert_eq!(v["process"]["executable"], "/usr/bin/prog");
        assert_eq!(
            v["error"],
            json!({"stack_trace": "Traceback ...", "type": "ValueError"})
        );
        assert_eq!(v["tags"], json!(["t1", "t2"]));
        assert_eq!(
            v["extra"],
            json!({"logstash_async_version": crate::VERSION})
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "@timestamp",
                "@version",
                "ecs",
                "error",
                "event",
                "extra",
                "host",
                "log",
                "message",
                "process",
                "tags"
            ]
        );
    }

    #[test]
    fn defaults_without_event_fields() {
        let v = fmt(json!({"host":"x"}), "{}");
        assert_eq!(v["log"]["level"], "INFO");
        assert_eq!(v["message"], "");
        assert_eq!(v["process"]["thread"]["name"], "main");
        assert_eq!(v["process"]["name"], "prog");
        assert!(v.get("tags").is_none());
        assert!(v.get("@metadata").is_none());
        assert!(v.get("error").is_none());
        assert!(v["log"].get("origin").is_none());
    }

    #[test]
    fn unknown_keys_go_to_extra_and_labels_metadata_stay_on_top() {
        let v = fmt(
            json!({"host":"x","extra":{"app":"demo"},"metadata":{"beat":"b"},"message_type":"svc"}),
            r#"{"message":"m","labels":{"env":"prod"},"user_id":7,"file":"main.c","req_method":"GET","status_code":500}"#,
        );
        assert_eq!(v["labels"], json!({"env": "prod"}));
        assert_eq!(v["@metadata"], json!({"beat": "b"}));
        assert_eq!(v["event"]["module"], "svc");
        assert_eq!(v["log"]["origin"]["file"]["name"], "main.c");
        assert_eq!(v["http"]["request"]["method"], "GET");
        assert_eq!(v["http"]["response"]["status_code"], 500);
        assert_eq!(v["extra"]["app"], "demo");
        assert_eq!(v["extra"]["user_id"], 7);
        assert!(v["extra"].get("file").is_none());
    }

    #[test]
    fn dotted_ecs_names_in_the_event_are_nested_and_win() {
        let v = fmt(
            json!({"host":"x"}),
            r#"{"log.level":"WARNING","error.type":"E","host.hostname":"h2","service.name":"api"}"#,
        );
        assert_eq!(v["log"]["level"], "WARNING");
        assert_eq!(v["error"]["type"], "E");
        assert_eq!(v["host"]["hostname"], "h2");
        // Not an ECS field this layout knows: kept under the prefix as given.
        assert_eq!(v["extra"]["service.name"], "api");
    }

    #[test]
    fn empty_prefix_expands_every_dotted_key_on_top() {
        let v = fmt(
            json!({"host":"x","extra_prefix":""}),
            r#"{"service.name":"api","log":{"custom":1},"k":true}"#,
        );
        assert_eq!(v["service"], json!({"name": "api"}));
        assert_eq!(v["log"]["custom"], 1, "merged with the ECS log fields");
        assert_eq!(v["log"]["level"], "INFO");
        assert_eq!(v["k"], true);
        assert_eq!(v["logstash_async_version"], crate::VERSION);
        assert!(v.get("extra").is_none());
    }

    #[test]
    fn set_extra_and_static_extra_are_mapped_too() {
        let mut f = formatter(json!({"host":"x","extra":{"logger_name":"static"}}));
        f.set_extra(
            "request_id".into(),
            Some(RawValue::from_string("\"r-1\"".into()).unwrap()),
        );
        let v = format_with(&f, "{}");
        assert_eq!(v["log"]["logger"], "static");
        assert_eq!(v["http"]["request"]["id"], "r-1");
        let v = format_with(&f, r#"{"logger_name":"event"}"#);
        assert_eq!(v["log"]["logger"], "event");
        f.set_extra("request_id".into(), None);
        assert!(format_with(&f, "{}").get("http").is_none());
    }

    #[test]
    fn ensure_ascii_escapes_like_python() {
        let f = formatter(json!({"host":"x"}));
        let ev = AcceptedEvent {
            unix_ms: 0,
            thread_name: Arc::from("m"),
            json: "{\"message\":\"caf\u{e9}\"}".as_bytes().into(),
        };
        let mut out = Vec::new();
        f.format(&ev, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains(r#""message":"caf\u00e9""#), "{s}");
    }

    #[test]
    fn expand_dotted_handles_conflicts_and_odd_keys() {
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), json!("scalar"));
        m.insert("a.b".to_owned(), json!(1));
        m.insert("x..y".to_owned(), json!(2));
        m.insert(".z".to_owned(), json!(3));
        let v = expand_dotted(m);
        assert_eq!(v, json!({"a": {"b": 1}, "x..y": 2, ".z": 3}));
    }
}
