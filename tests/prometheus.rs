//! `logstash_async_stats_prometheus` through the C ABI: the buffer protocol
//! of the stats functions, the `handle` label, and the text read back by
//! prometheus_client's parser (PyPI), an independent implementation of the
//! format.

mod support;

use logstash_async::ffi::{
    logstash_async_create, logstash_async_emit_json, logstash_async_flush, logstash_async_shutdown,
    logstash_async_stats_prometheus,
};
use logstash_async::{Client, ResultCode};
use serde_json::{json, Value};
use std::ffi::CString;
use support::{config, TcpSink};

/// prometheus_client's reading of `text`: [[family, type, [[sample, labels, value]]]].
fn parsed(text: &str) -> Value {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([[f.name, f.type, [[s.name, s.labels, s.value] for s in f.samples]]
                  for f in text_string_to_metric_families(sys.argv[1])]))
"#;
    let out = support::python::run_script(script, &[text]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `name` with exactly `labels`.
fn sample(families: &Value, name: &str, labels: Value) -> f64 {
    families
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f[2].as_array().unwrap())
        .find(|s| s[0] == name && s[1] == labels)
        .unwrap_or_else(|| panic!("no sample {name} {labels} in {families}"))[2]
        .as_f64()
        .unwrap()
}

#[test]
fn the_c_export_writes_the_text_format_that_prometheus_client_parses() {
    let sink = TcpSink::start();
    let options = config(sink.port, json!({"handle_name": "checkout \"eu\""}));
    let cfg = CString::new(options).unwrap();
    let mut err = [0 as std::ffi::c_char; 256];
    // SAFETY: valid pointers for the duration of each call; h is live until shutdown.
    unsafe {
        let h = logstash_async_create(cfg.as_ptr(), err.as_mut_ptr(), err.len());
        assert!(!h.is_null());
        for i in 0..10 {
            let ev = format!(r#"{{"message":"m{i}"}}"#);
            assert_eq!(
                logstash_async_emit_json(h, ev.as_ptr().cast(), ev.len()),
                ResultCode::LOGSTASH_ASYNC_OK
            );
        }
        let bad = b"{";
        assert_ne!(
            logstash_async_emit_json(h, bad.as_ptr().cast(), 1),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        assert_eq!(
            logstash_async_flush(h, 30_000),
            ResultCode::LOGSTASH_ASYNC_OK
        );

        // The buffer protocol: too small says how much is needed.
        let mut need = 0usize;
        let mut small = [0 as std::ffi::c_char; 16];
        assert_eq!(
            logstash_async_stats_prometheus(h, small.as_mut_ptr(), small.len(), &mut need),
            ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL
        );
        assert_eq!(small[0], 0, "an empty string, not a cut exposition");
        assert!(need > 1000, "{need}");
        assert_eq!(
            logstash_async_stats_prometheus(h, std::ptr::null_mut(), 0, &mut need),
            ResultCode::LOGSTASH_ASYNC_BUFFER_TOO_SMALL
        );
        let mut buf = vec![0 as std::ffi::c_char; need + 1];
        let mut len = 0usize;
        assert_eq!(
            logstash_async_stats_prometheus(h, buf.as_mut_ptr(), buf.len(), &mut len),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        let text = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(text.len(), len);
        assert!(
            text.contains("logstash_async_events_sent_total{handle=\"checkout \\\"eu\\\"\"} 10\n"),
            "{text}"
        );
        assert_eq!(
            logstash_async_stats_prometheus(
                std::ptr::null_mut(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_shutdown(h, 5_000),
            ResultCode::LOGSTASH_ASYNC_OK
        );

        let families = parsed(&text);
        let handle = "checkout \"eu\"";
        assert_eq!(
            sample(
                &families,
                "logstash_async_events_emitted_total",
                json!({"handle": handle})
            ),
            10.0
        );
        assert_eq!(
            sample(
                &families,
                "logstash_async_events_sent_total",
                json!({"handle": handle})
            ),
            10.0
        );
        assert_eq!(
            sample(
                &families,
                "logstash_async_events_rejected_total",
                json!({"handle": handle})
            ),
            1.0
        );
        assert_eq!(
            sample(
                &families,
                "logstash_async_events_dropped_total",
                json!({"handle": handle, "reason": "queue_full"})
            ),
            0.0
        );
        assert_eq!(
            sample(
                &families,
                "logstash_async_events_buffered",
                json!({"handle": handle})
            ),
            0.0
        );
        let types: Vec<(String, String)> = families
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f[0].as_str().unwrap().to_owned(),
                    f[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            types.contains(&("logstash_async_events_sent".into(), "counter".into())),
            "{types:?}"
        );
        assert!(
            types.contains(&("logstash_async_events_queued".into(), "gauge".into())),
            "{types:?}"
        );
        assert!(types
            .iter()
            .all(|(name, _)| name.starts_with("logstash_async_")));
    }
}

#[test]
fn handles_without_a_name_are_numbered_and_merge_into_one_exposition() {
    let a = Client::from_json(config(1, json!({"stderr_errors": false})).as_bytes()).unwrap();
    let b = Client::from_json(config(1, json!({"stderr_errors": false})).as_bytes()).unwrap();
    let (la, lb) = (a.handle_label().to_owned(), b.handle_label().to_owned());
    assert!(
        la.parse::<u64>().is_ok() && lb.parse::<u64>().is_ok() && la != lb,
        "{la} {lb}"
    );
    a.emit_json(br#"{"message":"x"}"#).unwrap();
    let text = logstash_async::prometheus::render(&[(&la, &a.stats()), (&lb, &b.stats())]);
    let families = parsed(&text);
    assert_eq!(
        sample(
            &families,
            "logstash_async_events_emitted_total",
            json!({"handle": la})
        ),
        1.0
    );
    assert_eq!(
        sample(
            &families,
            "logstash_async_events_emitted_total",
            json!({"handle": lb})
        ),
        0.0
    );
    // A bad name is refused at create.
    let e = Client::from_json(config(1, json!({"handle_name": ""})).as_bytes())
        .err()
        .unwrap();
    assert!(e.starts_with("handle_name:"), "{e}");
}
