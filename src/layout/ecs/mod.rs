//! The Elastic Common Schema layout (ECS 8.11), like python-logstash-async's
//! LogstashEcsFormatter: the fields the Logstash layout has are moved to their
//! ECS names (`log.level`, `log.logger`, `process.pid`, ...), whatever has no
//! ECS name stays under `extra_prefix`, and dotted names are expanded into
//! nested objects at every level. Top level: `@timestamp`, `@version`,
//! `@metadata`, `message`, `labels`, `tags` and the ECS objects.
//!
//! Two writers produce it: `fast.rs` in one pass for the usual shapes,
//! `tree.rs` through a serde_json tree for the rest; `fields.rs` names the
//! fields, `dotted.rs` expands dotted names, `canonical.rs` tells when a value
//! can be copied as it stood.

mod canonical;
mod dotted;
mod fast;
mod fields;
mod tree;

use super::defaults::Defaults;
use super::extra::ExtraFields;
use super::json::json_string;
use crate::config::Config;
use crate::event::EventRef;
use fields::{ECS_VERSION, SLOT_NAMES};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;

/// Turns accepted events into ECS JSON lines. Lives on the worker thread.
pub struct EcsLayout {
    extras: ExtraFields,
    /// The one-pass writer, for no extra prefix or a plain one (else every
    /// event takes the general path).
    fast: Option<fast::FastWriter>,
    tree: tree::TreeWriter,
}

impl EcsLayout {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> EcsLayout {
        let d = Defaults::new(config, host, program);
        let process_name = std::path::Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_owned());
        // The constants, serialised once, in SLOT_NAMES order.
        let defaults: Vec<Option<String>> = SLOT_NAMES
            .iter()
            .map(|name| match *name {
                "@version" => Some(d.version.clone()),
                "@metadata" => d.metadata.clone(),
                "message" => Some(d.message.clone()),
                "tags" => d.tags.clone(),
                "ecs.version" => Some(json_string(ECS_VERSION)),
                "event.module" => Some(d.message_type.clone()),
                "host.hostname" | "log.syslog.hostname" => Some(d.host.clone()),
                "log.level" => Some(d.level.clone()),
                "process.executable" => Some(d.program.clone()),
                "process.name" => Some(json_string(&process_name)),
                "process.pid" => Some(d.pid.clone()),
                // The timestamp and thread name come with each event.
                _ => None,
            })
            // As the layout writes values (`@metadata` and `tags` may hold
            // dotted names).
            .map(|value: Option<String>| {
                value.map(|v| {
                    let mut out = Vec::new();
                    canonical::write_value(&mut out, &v);
                    String::from_utf8(out).expect("serde_json writes UTF-8")
                })
            })
            .collect();
        let prefix = config.extra_prefix.as_deref();
        let mut layout = EcsLayout {
            extras: ExtraFields::new(config),
            fast: fast::applies_to(prefix).then(|| fast::FastWriter::new(prefix, &defaults)),
            tree: tree::TreeWriter::new(prefix, &defaults),
        };
        layout.rebuild_base_extra();
        layout
    }

    /// Hands the merged extras to both writers.
    fn rebuild_base_extra(&mut self) {
        let merged: BTreeMap<String, Value> = self
            .extras
            .merged()
            .into_iter()
            .filter_map(|(k, v)| {
                Some((k.to_owned(), dotted::expand(serde_json::from_str(v).ok()?)))
            })
            .collect();
        if let Some(fast) = &mut self.fast {
            fast.set_base_extra(&merged);
        }
        self.tree.set_base_extra(merged);
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        self.extras.set(key, value);
        self.rebuild_base_extra();
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub fn format(&self, ev: EventRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
        if let Some(fast) = &self.fast {
            if fast.format(ev, out) {
                return Ok(());
            }
        }
        self.tree.format(ev, out)
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::testing::{layout, line, parsed};
    use crate::layout::Layout;
    use serde_json::value::RawValue;
    use serde_json::{json, Value};

    fn ecs_layout(mut config: Value) -> Layout {
        config["formatter"] = json!("ecs");
        layout(&config)
    }

    fn format_with(f: &Layout, event: &str) -> Value {
        parsed(f, 1_635_082_335_024, event)
    }

    fn fmt(config: Value, event: &str) -> Value {
        format_with(&ecs_layout(config), event)
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
        // Not an ECS field this layout knows: under the prefix, expanded too.
        assert_eq!(v["extra"]["service"], json!({"name": "api"}));
    }

    #[test]
    fn dotted_names_are_expanded_at_every_level_like_normalize_ecs_dict() {
        let f = ecs_layout(json!({"host":"x","extra":{"app.name":"a","app":{"v":1}}}));
        let v = format_with(
            &f,
            r#"{"labels":{"a.b":1},"user_data":{"x.y":[{"p.q":1}]},"odd..name":2,"app":{"w":2}}"#,
        );
        assert_eq!(v["labels"], json!({"a": {"b": 1}}));
        assert_eq!(
            v["extra"]["user_data"],
            json!({"x": {"y": [{"p": {"q": 1}}]}})
        );
        // The event's `app` replaces the configuration's, then `app.name` merges in.
        assert_eq!(v["extra"]["app"], json!({"name": "a", "w": 2}));
        // An empty segment would make an empty field name: kept as it is.
        assert_eq!(v["extra"]["odd..name"], 2);
    }

    #[test]
    fn extras_nested_under_the_prefix_rank_below_the_events_other_keys() {
        // python-logstash-async moves the top-level keys into the event's
        // own prefix object, over what it holds; before, the key order
        // decided (`a` lost to the nested one, `z` won).
        let v = fmt(
            json!({"host":"x"}),
            r#"{"a":1,"extra":{"a":2,"z":2,"level":"E"},"z":1}"#,
        );
        assert_eq!(v["extra"]["a"], 1);
        assert_eq!(v["extra"]["z"], 1);
        assert_eq!(v["log"]["level"], "E", "nested names are renamed too");
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
        let mut f = ecs_layout(json!({"host":"x","extra":{"logger_name":"static"}}));
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
        let s = line(
            &ecs_layout(json!({"host":"x"})),
            0,
            "{\"message\":\"caf\u{e9}\"}",
        );
        assert!(s.contains(r#""message":"caf\u00e9""#), "{s}");
    }
}
