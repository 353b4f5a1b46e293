//! The shipped ECS layout (src/layout/ecs/: the one-pass writer and the
//! tree-building general path) writes exactly the bytes of the independent
//! definition in tests/reference/ecs.rs: hand-written edge cases and many
//! generated events (keys that are top-level, ECS, renamed, dotted, escaped,
//! empty or duplicated; values in every JSON form), under configurations
//! with and without a prefix, ensure_ascii, metadata, tags, extras and
//! set_extra calls.

use logstash_async::event::{validate, validate_value, AcceptedEvent};
use logstash_async::layout::Layout;
use logstash_async::Config;
use serde_json::value::RawValue;
use std::sync::Arc;

#[path = "reference/ecs.rs"]
mod reference;

use reference::ReferenceEcsLayout;

/// xorshift64*: reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const CONFIGS: &[&str] = &[
    r#"{"host":"h","formatter":"ecs"}"#,
    r#"{"host":"h","formatter":"ecs","ensure_ascii":false}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":""}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"","ensure_ascii":false,"extra":{"message":"static message","log.level":"S","app":1,"zz":2,"":0,"tags":["s"],"loga":1,"log-x":2,"lo":3,"é":4,"logger_name":"L"}}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"","extra":{"a.b":1}}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"","extra":{"host":"x"}}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"dev","tags":["a",1,null,"\u00e9"],"metadata":{"z":1,"a":[1.0,{"k":"v"}]}}"#,
    r#"{"host":"h","formatter":"ecs","extra":{"logger_name":"static","req_user":{"id":1},"app":"x","zz":[1,2],"log.level":"x","\u00e9t\u00e9":"\u00e9","q\"k":1},"message_type":"svc\u00e9"}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"log","extra":{"a":1}}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"a.b"}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"message"}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"level"}"#,
    r#"{"host":"h","formatter":"ecs","extra_prefix":"\u00e9x","ensure_ascii":false,"extra":{"thread_name":"static-thread","file":"f","path":"p"}}"#,
    r#"{"host":"h","formatter":"ecs","extra":{"a.b":1,"a":{"z":0},"service.name":"s","x..y":3},"metadata":{"m.n":1},"tags":[{"t.u":1}]}"#,
];

/// set_extra calls applied to a second copy of every configuration.
const SET_EXTRA: &[(&str, Option<&str>)] = &[
    ("request_id", Some(r#""r-1""#)),
    ("app", Some(r#"{"b":2, "a":[1 ,2.50]}"#)),
    ("n", Some("1e2")),
    ("logger_name", None),
    ("status_code", Some("-0")),
    ("\u{e9}", Some(r#""\u00e9\/""#)),
    ("labels", Some(r#"{"l":1}"#)),
    ("@version", Some("2")),
    ("svc", Some(r#"{"x.y":1,"x":{"z":2}}"#)),
];

const KEYS: &[&str] = &[
    "message",
    "@timestamp",
    "@version",
    "@metadata",
    "labels",
    "tags",
    "level",
    "logger_name",
    "func_name",
    "path",
    "file",
    "line",
    "error_type",
    "stack_trace",
    "thread_name",
    "process_name",
    "pid",
    "program",
    "type",
    "req_useragent",
    "req_remote_address",
    "req_host",
    "req_uri",
    "req_user",
    "req_method",
    "req_referer",
    "request_id",
    "status_code",
    "logsource",
    "log.level",
    "log.logger",
    "log.origin.file.name",
    "host.hostname",
    "ecs.version",
    "process.thread.name",
    "http.request.id",
    "user.name",
    "user_agent.original",
    "service.name",
    "log",
    "log.custom",
    "host",
    "process",
    "extra",
    "dev",
    "\\u00e9x",
    "a.b",
    "a",
    "b",
    "z",
    "",
    ".",
    "x..y",
    ".z",
    "log.",
    "\\u006cevel",
    "\\u0065xtra",
    "caf\\u00e9",
    "caf\u{e9}",
    "lo",
    "loga",
    "log-x",
    "@",
    "~",
    "labels.x",
    "k\\\"q",
    "\\/",
    "user",
    "user.id",
    "zz",
    "app",
    "logstash_async_version",
    "service",
    "svc",
    "svc.x",
];

const VALUES: &[&str] = &[
    r#""plain""#,
    r#""""#,
    r#""caf\u00e9""#,
    "\"caf\u{e9} \u{1F600}\"",
    r#""a\nb\t\"c\"\\""#,
    r#""\/""#,
    r#""\u0001\u001f\b""#,
    r#""\ud83d\ude00""#,
    "0",
    "-0",
    "7",
    "-7",
    "1.0",
    "1.5",
    "1e2",
    "1E+2",
    "-1.5e-300",
    "1.7976931348623157e308",
    "0.1",
    "123456789012345678901234567890",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "9007199254740993",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    "[1,2]",
    "[ 1 , 2 ]",
    r#"{"b":1,"a":2}"#,
    r#"{"a":1,"a":2}"#,
    r#"{"a":{"level":"x"},"z":[{}]}"#,
    r#"{ "a" : 1 }"#,
    r#"{"custom":1,"level":"L"}"#,
    r#"{"k":"v","\u00e9":1}"#,
    r#"[{"b":1,"a":[1.0]}]"#,
    r#"{"origin":{"x":1}}"#,
    r#"{"x.y":1,"x":{"z":2},"a..b":[{"c.d":null}]}"#,
];

fn event(unix_ms: i64, json: &str) -> AcceptedEvent {
    AcceptedEvent {
        unix_ms,
        thread_name: Arc::from("main \u{e9}"),
        json: json.as_bytes().into(),
    }
}

/// Both layouts for every configuration, the second of each pair after the
/// set_extra calls.
fn layouts() -> Vec<(String, Layout, ReferenceEcsLayout)> {
    let mut all = Vec::new();
    for text in CONFIGS {
        let config = Config::from_json(text.as_bytes()).unwrap();
        for with_set_extra in [false, true] {
            let mut shipped = Layout::new(&config, "myhost", "/usr/bin/prog");
            let mut reference = ReferenceEcsLayout::new(&config, "myhost", "/usr/bin/prog");
            if with_set_extra {
                for (key, value) in SET_EXTRA {
                    let raw = || value.map(|v| RawValue::from_string(v.to_owned()).unwrap());
                    assert_eq!(
                        value.map_or(Ok(()), |v| validate_value(v.as_bytes(), 1 << 20)),
                        Ok(())
                    );
                    shipped.set_extra(key.to_string(), raw());
                    reference.set_extra(key.to_string(), raw());
                }
            }
            all.push((
                format!("{text} set_extra={with_set_extra}"),
                shipped,
                reference,
            ));
        }
    }
    all
}

fn assert_identical(layouts: &[(String, Layout, ReferenceEcsLayout)], ev: &AcceptedEvent) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (name, shipped, reference) in layouts {
        a.clear();
        b.clear();
        let fa = shipped.format(ev, &mut a);
        let fb = reference.format(ev, &mut b);
        assert_eq!(
            fa,
            fb,
            "result differs under {name} for {:?}",
            String::from_utf8_lossy(&ev.json)
        );
        assert!(
            a == b,
            "output differs under {name} for {:?}:\n shipped   {}\n reference {}",
            String::from_utf8_lossy(&ev.json),
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
}

#[test]
fn hand_written_edge_cases_are_identical() {
    let layouts = layouts();
    let cases = [
        "{}",
        " { } ",
        r#"{"message":"test","level":"INFO","func_name":"f","line":2,"logger_name":"foo","path":"a/b/c","process_name":"bar","thread_name":"baz","stack_trace":"Traceback ...","error_type":"ValueError"}"#,
        r#"{"log.level":"WARNING","error.type":"E","host.hostname":"h2","service.name":"api"}"#,
        r#"{"service.name":"api","log":{"custom":1},"k":true}"#,
        r#"{"extra":{"nested":true,"a":[1,{"b":null}]},"extra":{"dup":1},"tags":["x"],"@metadata":{"i":"x"}}"#,
        r#"{"extra":"not an object","a":1}"#,
        r#"{"a":1,"extra":{"a":2,"z":2},"z":1}"#,
        r#"{"error_type":"E","stack_trace":"a\nb","func_name":"f","path":"/p","line":3,"log.origin.file.name":"x"}"#,
        r#"{"file":"f","path":"p"}"#,
        r#"{"path":"p","file":"f"}"#,
        r#"{"level":"A","level":"B","log.level":"C"}"#,
        r#"{"log.level":"C","level":"A"}"#,
        r#"{"message":"a","message":"b","\u006dessage":"c"}"#,
        r#"{"":1,".":2,"a..b":3,"log.":4,".log":5}"#,
        r#"{"caf\u00e9":"caf\u00e9","café":"x"}"#,
        r#"{"n1":1.0,"n2":1e2,"n3":-0,"n4":0.1,"n5":123456789012345678901234567890,"n6":-0.0,"n7":1E-7}"#,
        "{\n \"message\" : \"spaced\" ,\n \"k\" : [ 1 , { \"b\" : 1 , \"a\" : 2 } ]\n}",
        r#"{"@timestamp":"2020-01-01T00:00:00.000Z","@version":2,"labels":{"env":"prod"},"tags":[]}"#,
        r#"{"thread_name":null,"pid":"p","program":{"a":1},"type":"t","logsource":"ls"}"#,
        r#"{"logstash_async_version":"0","app":"event"}"#,
        r#"{"dev":{"x":1},"log":{"y":2},"\u00e9x":{"z":3},"level":{"deep":{"er":[1]}}}"#,
        r#"{"k\"q":1,"\/":2,"\u0000":3,"a\u0009b":4}"#,
        r#"{"message":"\ud83d\ude00 caf\u00e9 \u2028"}"#,
    ];
    for (i, json) in cases.iter().enumerate() {
        assert_eq!(validate(json.as_bytes(), 1 << 20), Ok(()), "{json}");
        assert_identical(&layouts, &event(1_635_082_335_024 + i as i64 * 777, json));
    }
    // Timestamps around the epoch, before it and far away.
    for ms in [0, -1, -1001, 999, 253_402_300_799_999, -62_135_596_800_000] {
        assert_identical(&layouts, &event(ms, r#"{"message":"t"}"#));
    }
}

#[test]
fn generated_events_are_identical() {
    let layouts = layouts();
    let mut rng = Rng(0x5eed_ec50_0000_0001);
    let iterations: usize = std::env::var("LOGSTASH_ASYNC_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    for _ in 0..iterations {
        let members = (rng.next() % 12) as usize;
        let mut json = String::from("{");
        for m in 0..members {
            if m > 0 {
                json.push(',');
            }
            let key = rng.pick(KEYS);
            let value = match rng.next() % 8 {
                // A nested object of generated members now and then.
                0 => format!(
                    r#"{{"{}":{},"{}":{}}}"#,
                    rng.pick(KEYS),
                    rng.pick(VALUES),
                    rng.pick(KEYS),
                    rng.pick(VALUES)
                ),
                1 => format!("[{},{}]", rng.pick(VALUES), rng.pick(VALUES)),
                _ => rng.pick(VALUES).to_owned(),
            };
            json.push_str(&format!("\"{key}\":{value}"));
        }
        json.push('}');
        assert_eq!(validate(json.as_bytes(), 1 << 20), Ok(()), "{json}");
        let unix_ms = 1_700_000_000_000 + (rng.next() % 5_000) as i64;
        assert_identical(&layouts, &event(unix_ms, &json));
    }
}
