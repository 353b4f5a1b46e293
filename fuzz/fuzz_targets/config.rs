//! The configuration parser on arbitrary bytes: no panic, an error that says
//! why, nothing accepted that is not a JSON object, and a configuration it
//! accepts builds a layout that formats an event into a JSON object.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::event::AcceptedEvent;
use logstash_async::layout::Layout;
use logstash_async::Config;
use serde_json::Value;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let parsed = Config::from_json(data);
    let is_object = matches!(serde_json::from_slice(data), Ok(Value::Object(_)));
    match parsed {
        Err(message) => assert!(!message.is_empty(), "an error says why"),
        Ok(config) => {
            assert!(is_object, "accepted: {:?}", String::from_utf8_lossy(data));
            let layout = Layout::new(&config, "host", "prog");
            let event = AcceptedEvent {
                unix_ms: 0,
                thread_name: Arc::from("fuzz"),
                json: br#"{"message":"m","extra":{"k":1},"a.b":2}"#.as_slice().into(),
            };
            let mut out = Vec::new();
            layout.format(&event, &mut out).unwrap();
            assert!(
                matches!(serde_json::from_slice(&out), Ok(Value::Object(_))),
                "config {:?} formats {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&out)
            );
        }
    }
});
