//! How `listen` shows an event: as received (json), or as one readable line
//! (pretty): `timestamp level logger: message {extra}`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pretty,
    Json,
}

/// Top-level fields of the Logstash layout that the pretty line shows in its
/// own place, or leaves out as noise (host, pid... are the same on every line).
const LAYOUT_FIELDS: &[&str] = &[
    "@timestamp",
    "@version",
    "host",
    "level",
    "logsource",
    "message",
    "pid",
    "program",
    "type",
    "extra",
];
/// Extra fields shown elsewhere on the line, or the same on every event.
const QUIET_EXTRA: &[&str] = &["logger_name", "logstash_async_version", "thread_name"];

impl Format {
    pub fn render(self, event: &[u8]) -> String {
        match self {
            Format::Json => String::from_utf8_lossy(event).into_owned(),
            Format::Pretty => match serde_json::from_slice::<Value>(event) {
                Ok(Value::Object(map)) => pretty(&map),
                _ => format!("(not a JSON object) {}", String::from_utf8_lossy(event)),
            },
        }
    }
}

fn pretty(event: &Map<String, Value>) -> String {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    let extra = event.get("extra").and_then(Value::as_object);
    let logger = extra
        .and_then(|e| e.get("logger_name"))
        .or_else(|| event.get("logger_name"));
    let mut fields = Map::new();
    if let Some(extra) = extra {
        for (k, v) in extra {
            if !QUIET_EXTRA.contains(&k.as_str()) {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in event {
        if !LAYOUT_FIELDS.contains(&k.as_str()) && !QUIET_EXTRA.contains(&k.as_str()) {
            fields.insert(k.clone(), v.clone());
        }
    }
    let mut line = format!(
        "{} {:<7} {}: {}",
        text(event.get("@timestamp")),
        text(event.get("level")),
        text(logger),
        text(event.get("message"))
    );
    if !fields.is_empty() {
        line.push(' ');
        line.push_str(&Value::Object(fields).to_string());
    }
    // One event, one line: a multi-line message must not look like several.
    line.replace('\n', "\\n").replace('\r', "\\r")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_line_shows_the_essentials_and_the_extra_fields() {
        let event = br#"{"@timestamp":"2026-01-02T03:04:05.678Z","@version":"1","host":"h","level":"WARNING","message":"disk\nfull","pid":1,"type":"python-logstash","extra":{"logger_name":"app.db","logstash_async_version":"0.1.0","request_id":"r-7"}}"#;
        assert_eq!(
            Format::Pretty.render(event),
            r#"2026-01-02T03:04:05.678Z WARNING app.db: disk\nfull {"request_id":"r-7"}"#
        );
    }

    #[test]
    fn top_level_extra_fields_and_odd_input_are_shown() {
        let event = br#"{"message":"hi","user":42}"#;
        assert_eq!(
            Format::Pretty.render(event),
            r#"- -       -: hi {"user":42}"#
        );
        assert_eq!(Format::Pretty.render(b"[1]"), "(not a JSON object) [1]");
        assert_eq!(Format::Json.render(b"{\"a\":1}"), "{\"a\":1}");
    }
}
