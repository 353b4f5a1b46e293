//! Both layouts on every event emit accepts: the output is one JSON object
//! and holds the event's fields where the layout's documentation (README,
//! "The event layout") puts them; the ECS layout writes the same bytes as
//! its independent definition in tests/reference/ecs.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::event::{validate, AcceptedEvent};
use logstash_async::layout::Layout;
use logstash_async::Config;
use serde_json::{Map, Value};
use std::sync::Arc;

#[path = "../../tests/reference/ecs.rs"]
mod ecs_reference;

/// The Logstash layout's top-level fields (every other key is an extra).
const TOP_LEVEL: [&str; 11] = [
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

struct Layouts {
    /// extra_prefix "extra" (the default).
    prefixed: Layout,
    /// extra_prefix "": extras on the top level.
    flat: Layout,
    ecs: Vec<(Layout, ecs_reference::ReferenceEcsLayout)>,
}

fn layout(config: &str) -> Layout {
    Layout::new(
        &Config::from_json(config.as_bytes()).unwrap(),
        "host",
        "prog",
    )
}

impl Layouts {
    fn new() -> Layouts {
        let ecs = [
            r#"{"host":"h","formatter":"ecs"}"#,
            r#"{"host":"h","formatter":"ecs","ensure_ascii":false,"extra":{"logger_name":"s","app":{"b":1,"a":2}}}"#,
            r#"{"host":"h","formatter":"ecs","extra_prefix":"dev","tags":["t"],"metadata":{"m":1}}"#,
            r#"{"host":"h","formatter":"ecs","extra_prefix":""}"#,
        ]
        .iter()
        .map(|text| {
            let config = Config::from_json(text.as_bytes()).unwrap();
            (
                Layout::new(&config, "host", "prog"),
                ecs_reference::ReferenceEcsLayout::new(&config, "host", "prog"),
            )
        })
        .collect();
        Layouts {
            prefixed: layout(r#"{"host":"h"}"#),
            flat: layout(r#"{"host":"h","extra_prefix":"","ensure_ascii":false}"#),
            ecs,
        }
    }
}

thread_local! {
    static LAYOUTS: Layouts = Layouts::new();
}

fuzz_target!(|data: &[u8]| {
    if validate(data, usize::MAX).is_err() {
        return;
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(data) else {
        panic!(
            "validate accepted what serde_json refuses: {:?}",
            String::from_utf8_lossy(data)
        )
    };
    let event = AcceptedEvent {
        unix_ms: 1_700_000_000_123,
        thread_name: Arc::from("fuzz"),
        json: data.into(),
    };
    LAYOUTS.with(|layouts| {
        let prefixed = formatted(&layouts.prefixed, &event);
        check_prefixed(&fields, &prefixed);
        let flat = formatted(&layouts.flat, &event);
        check_flat(&fields, &flat);
        let (mut out, mut expected) = (Vec::new(), Vec::new());
        for (shipped, reference) in &layouts.ecs {
            out.clear();
            expected.clear();
            let got = shipped.format(&event, &mut out);
            let want = reference.format(&event, &mut expected);
            assert!(
                got == want && out == expected,
                "the ECS layout differs from its definition on {:?}:\n shipped   {}\n reference {}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
            assert!(
                matches!(serde_json::from_slice(&out), Ok(Value::Object(_))),
                "not a JSON object: {}",
                String::from_utf8_lossy(&out)
            );
        }
    });
});

fn formatted(layout: &Layout, event: &AcceptedEvent) -> Map<String, Value> {
    let mut out = Vec::new();
    layout
        .format(event, &mut out)
        .unwrap_or_else(|e| panic!("an accepted event failed to format: {e}"));
    match serde_json::from_slice(&out) {
        Ok(Value::Object(map)) => map,
        other => panic!(
            "not a JSON object ({other:?}): {}",
            String::from_utf8_lossy(&out)
        ),
    }
}

/// The extras every event gets, below its own keys.
fn base_extras() -> Map<String, Value> {
    let mut extras = Map::new();
    extras.insert(
        "logstash_async_version".into(),
        logstash_async::VERSION.into(),
    );
    extras
}

fn with_thread_name(mut extras: Map<String, Value>) -> Map<String, Value> {
    extras.entry("thread_name").or_insert("fuzz".into());
    extras
}

/// extra_prefix "extra": the top-level fields as given, every other key
/// under "extra" (an object the event gives as "extra" merged there, below
/// the event's other keys), nothing else on the top level.
fn check_prefixed(fields: &Map<String, Value>, out: &Map<String, Value>) {
    let mut extras = base_extras();
    if let Some(Value::Object(nested)) = fields.get("extra") {
        extras.extend(nested.clone());
    }
    for (key, value) in fields {
        if TOP_LEVEL.contains(&key.as_str()) {
            assert_eq!(out.get(key), Some(value), "top-level {key}");
        } else if !(key == "extra" && value.is_object()) {
            extras.insert(key.clone(), value.clone());
        }
    }
    for key in out.keys() {
        assert!(
            key == "extra" || TOP_LEVEL.contains(&key.as_str()),
            "unexpected top-level key {key}"
        );
    }
    assert!(out.contains_key("@timestamp"));
    assert_eq!(
        out.get("extra"),
        Some(&Value::Object(with_thread_name(extras))),
        "extras"
    );
}

/// extra_prefix "": every key of the event on the top level as given, with
/// the built-in extras.
fn check_flat(fields: &Map<String, Value>, out: &Map<String, Value>) {
    let mut expected = base_extras();
    expected.extend(fields.clone());
    for (key, value) in with_thread_name(expected) {
        assert_eq!(out.get(&key), Some(&value), "{key}");
    }
    assert!(out.contains_key("@timestamp"));
}
