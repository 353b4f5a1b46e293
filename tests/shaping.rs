//! Event shaping end to end: the README's example configuration, a sample
//! with personal data, both layouts, a buffer file that never holds the
//! data, and what the receiver gets.

mod support;

use logstash_async::Client;
use serde_json::{json, Value};
use std::time::Duration;
use support::{config, merged, parse, TcpSink};

const LONG: Duration = Duration::from_secs(30);

/// The README's example configuration (the first JSON block of "Event shaping").
fn readme_shaping() -> Value {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("\n## Event shaping\n").expect("section")..];
    let block = &section[section.find("```json\n").expect("a json block") + 8..];
    let block = &block[..block.find("```").expect("closed")];
    let mut options: Value = serde_json::from_str(block).expect("the README's JSON");
    options.as_object_mut().unwrap().remove("host");
    options
}

const SAMPLE: &str = r#"{"message":"paid with 4111 1111 1111 1111","user":{"id":7,"email":"alice@example.com"},"password":"x","auth":"Bearer eyJhbGciOi.payload.sig"}"#;

/// Every secret of SAMPLE, as bytes that must appear nowhere.
const SECRETS: [&str; 4] = ["4111", "alice@example.com", "\"x\"", "eyJhbGciOi"];

#[test]
fn the_readme_example_masks_personal_data_in_both_layouts_before_it_is_stored() {
    for formatter in ["logstash", "ecs"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("buffer.db");
        let port = support::free_port();
        let options = merged(
            readme_shaping(),
            json!({"formatter": formatter, "database_path": db.to_str().unwrap(), "stderr_errors": false}),
        );
        let client = Client::from_json(config(port, options).as_bytes()).unwrap();
        for _ in 0..3 {
            client.emit_json(SAMPLE.as_bytes()).unwrap();
        }
        // The receiver is down: the events wait in the file, already shaped.
        assert_eq!(
            client.flush(Duration::from_millis(500)),
            Err(logstash_async::ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
        );
        let mut stored = std::fs::read(&db).unwrap();
        stored.extend(std::fs::read(dir.path().join("buffer.db-wal")).unwrap_or_default());
        let stored = String::from_utf8_lossy(&stored);
        assert!(
            stored.contains("[card]"),
            "{formatter}: the events are in the file"
        );
        for secret in SECRETS {
            assert!(
                !stored.contains(secret),
                "{formatter}: {secret} reached the file"
            );
        }

        let sink = TcpSink::start_on(port);
        assert_eq!(client.flush(LONG), Ok(()), "{formatter}");
        let lines = sink.wait_for(3, LONG);
        assert_eq!(client.shutdown(LONG), Ok(()));
        for line in &lines {
            for secret in SECRETS {
                assert!(!line.contains(secret), "{formatter}: {secret} in {line}");
            }
        }
        let ev = &parse(&lines)[0];
        assert_eq!(ev["message"], "paid with [card]", "{formatter}");
        assert_eq!(ev["user_id"], 7, "{formatter}: renamed to the top level");
        let extra = &ev["extra"];
        assert_eq!(extra["user"], json!({"email": "sha256:ff8d9819fc0e12bf"}));
        assert!(extra.get("password").is_none(), "{formatter}: dropped");
        let auth = extra["auth"].as_str().unwrap();
        assert!(auth.starts_with("sha256:") && auth.len() == 23, "{auth}");
        // Untouched fields are the layout's own.
        match formatter {
            "logstash" => assert_eq!(ev["level"], "INFO"),
            _ => assert_eq!(ev["log"]["level"], "INFO"),
        }
    }
}

#[test]
fn a_bad_pattern_or_path_fails_create_naming_it() {
    for (options, expected) in [
        (
            json!({"mask_patterns": ["ok", "a(b"]}),
            "mask_patterns[1]: invalid regular expression \"a(b\"",
        ),
        (json!({"drop_fields": ["extra..x"]}), "drop_fields[0]:"),
        (
            json!({"rename_fields": {"a": "b", "c": "b.d"}}),
            "rename_fields:",
        ),
        (json!({"mask_mode": "md5"}), "mask_mode:"),
        (
            json!({"mask_patterns": [{"pattern": "(x)", "replacement": "$9"}]}),
            "mask_patterns[0].replacement:",
        ),
    ] {
        let err = Client::from_json(config(1, options.clone()).as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{options} was accepted"));
        assert!(err.starts_with(expected), "{options}: {err}");
    }
}
