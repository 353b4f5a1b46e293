//! Logging without hand-written JSON (issue 17), end to end over loopback:
//! typed fields and the caller's location in both layouts, the level set and
//! the `level` threshold, per-thread contexts (never mixed between threads,
//! below the event's own fields), and notices on a real refused connection
//! and its recovery.

mod support;

use logstash_async::event::build::{Field, FieldValue, Location, Record};
use logstash_async::notice::{Notice, NoticeKind, NoticeSink};
use logstash_async::result::ResultCode;
use logstash_async::{Client, Config, Level};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

fn record<'a>(level: Level, logger: &'a str, message: &'a str) -> Record<'a> {
    let mut r = Record::new(level, message);
    r.logger_name = Some(logger);
    r
}

#[test]
fn typed_fields_and_location_arrive_in_both_layouts() {
    for formatter in ["logstash", "ecs"] {
        let sink = TcpSink::start();
        let c = client(sink.port, json!({"formatter": formatter}));
        let mut r = record(Level::Warning, "app.db", "slow \"query\"\n\u{1}");
        r.location = Location {
            file: Some("src/db.c"),
            line: 42,
            function: Some("run_query"),
        };
        let fields = [
            Field::new("user", FieldValue::Str("ada \"the\" \\ first\t")),
            Field::new("user_id", FieldValue::Int(42)),
            Field::new("ok", FieldValue::Bool(true)),
            Field::new("ratio", FieldValue::Float(0.25)),
            Field::new("none", FieldValue::Null),
            Field::new("cart", FieldValue::Json(r#"{"items":[1,2]}"#)),
            Field::new("k\"ey", FieldValue::UInt(u64::MAX)),
        ];
        c.log_record(&r, &fields).unwrap();
        c.flush(WAIT).unwrap();
        let v = &parse(&sink.wait_for(1, WAIT))[0];
        let (extra, level, logger, file, line, func) = if formatter == "ecs" {
            let log = &v["log"];
            (
                &v["extra"],
                &log["level"],
                &log["logger"],
                &log["origin"]["file"]["name"],
                &log["origin"]["file"]["line"],
                &log["origin"]["function"],
            )
        } else {
            let x = &v["extra"];
            (
                x,
                &v["level"],
                &x["logger_name"],
                &x["path"],
                &x["line"],
                &x["func_name"],
            )
        };
        assert_eq!(v["message"], "slow \"query\"\n\u{1}", "{formatter}");
        assert_eq!((level, logger), (&json!("WARNING"), &json!("app.db")));
        assert_eq!(
            (file, line, func),
            (&json!("src/db.c"), &json!(42), &json!("run_query"))
        );
        assert_eq!(extra["user"], "ada \"the\" \\ first\t");
        assert_eq!(extra["user_id"], 42);
        assert_eq!(extra["ok"], true);
        assert_eq!(extra["ratio"], 0.25);
        assert_eq!(extra["none"], Value::Null);
        assert_eq!(extra["cart"], json!({"items":[1,2]}));
        assert_eq!(extra["k\"ey"], json!(u64::MAX));
        c.shutdown(WAIT).unwrap();
    }
}

#[test]
fn bad_fields_get_a_code_and_lose_nothing_else() {
    let sink = TcpSink::start();
    let c = client(sink.port, json!({}));
    let r = Record::new(Level::Info, "m");
    let bad = |value| c.log_record(&r, &[Field::new("k", value)]);
    assert_eq!(
        bad(FieldValue::Json("{\"a\":")),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    assert_eq!(
        bad(FieldValue::Json("[1] [2]")),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        bad(FieldValue::Json(&deep)),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON),
        "100 levels inside the event are 101"
    );
    assert_eq!(
        c.log_record(&r, &[Field::new("", FieldValue::Null)]),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT)
    );
    let many = vec![Field::new("k", FieldValue::Null); 257];
    assert_eq!(
        c.log_record(&r, &many),
        Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS)
    );
    assert_eq!(
        c.log(Some("NOTICE"), None, "m"),
        Err(ResultCode::LOGSTASH_ASYNC_UNKNOWN_LEVEL)
    );
    c.log(Some("warn"), None, "kept").unwrap();
    c.log(Some("Fatal"), None, "kept too").unwrap();
    c.flush(WAIT).unwrap();
    let events = parse(&sink.wait_for(2, WAIT));
    assert_eq!(events.len(), 2);
    assert_eq!(
        (&events[0]["level"], &events[1]["level"]),
        (&json!("WARNING"), &json!("CRITICAL"))
    );
    let stats = c.stats();
    assert_eq!((stats.emitted, stats.rejected), (2, 6));
}

#[test]
fn the_level_option_drops_below_it_on_the_callers_thread_and_counts() {
    let sink = TcpSink::start();
    let c = client(sink.port, json!({"level": "warning"}));
    assert!(!c.level_enabled(Level::Info) && c.level_enabled(Level::Warning));
    c.log(Some("DEBUG"), None, "no").unwrap();
    c.log(None, None, "no: INFO").unwrap();
    c.log_record(&Record::new(Level::Info, "no"), &[]).unwrap();
    c.emit_json(br#"{"message":"no","level":"INFO"}"#).unwrap();
    c.emit_json(br#"{"message":"no: INFO by default"}"#)
        .unwrap();
    c.emit_json(br#"{"message":"yes: an unknown level is not filtered","level":"NOTICE"}"#)
        .unwrap();
    c.emit_json(br#"{"message":"yes","level":"ERROR"}"#)
        .unwrap();
    c.log(Some("WARNING"), None, "yes").unwrap();
    assert_eq!(
        c.emit_json(br#"{"level":"DEBUG","x":"#),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON),
        "checked before the level is read"
    );
    c.flush(WAIT).unwrap();
    let messages: Vec<Value> = parse(&sink.wait_for(3, WAIT))
        .iter()
        .map(|e| e["message"].clone())
        .collect();
    assert!(
        messages
            .iter()
            .all(|m| m.as_str().unwrap().starts_with("yes")),
        "{messages:?}"
    );
    let stats = c.stats();
    assert_eq!(
        (stats.emitted, stats.below_level, stats.rejected),
        (3, 5, 1)
    );
}

#[test]
fn two_threads_contexts_never_mix_and_rank_between_event_and_set_extra() {
    let sink = TcpSink::start();
    let c = Arc::new(client(
        sink.port,
        json!({"extra": {"request_id": "static", "s": 0}}),
    ));
    c.set_extra("request_id", Some(b"\"set_extra\"")).unwrap();
    const N: u64 = 2000;
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    let id = format!("t{t}-{i}");
                    c.set_context("request_id", format!("\"{id}\"").as_bytes())
                        .unwrap();
                    if i % 2 == 0 {
                        let f = Field::new("thread", FieldValue::Int(t));
                        c.set_context_field(&f).unwrap();
                    } else {
                        c.remove_context("thread").unwrap();
                    }
                    let r = Record::new(Level::Info, &id);
                    c.log_record(&r, &[Field::new("i", FieldValue::UInt(i))])
                        .unwrap();
                }
                c.clear_context().unwrap();
                c.log(None, None, "after clear").unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    // The event's own field wins over the context.
    c.set_context("request_id", b"\"ctx\"").unwrap();
    c.emit_json(br#"{"message":"own","request_id":"event"}"#)
        .unwrap();
    c.log(None, None, "ctx only").unwrap();
    c.flush(WAIT).unwrap();
    let events = parse(&sink.wait_for(2 * N as usize + 4, WAIT));
    assert_eq!(events.len(), 2 * N as usize + 4);
    for e in &events {
        let (message, x) = (e["message"].as_str().unwrap(), &e["extra"]);
        match message {
            "after clear" => assert_eq!(x["request_id"], "set_extra"),
            "own" => assert_eq!(x["request_id"], "event"),
            "ctx only" => assert_eq!(x["request_id"], "ctx"),
            id => {
                assert_eq!(x["request_id"], id, "the thread's own context");
                let (t, i) = id[1..].split_once('-').unwrap();
                assert_eq!(x["i"].to_string(), i);
                if i.parse::<u64>().unwrap() % 2 == 0 {
                    assert_eq!(x["thread"].to_string(), t);
                } else {
                    assert!(x.get("thread").is_none(), "removed: {e}");
                }
                assert_eq!(x["s"], 0, "the configuration's extra is still there");
            }
        }
    }
}

#[test]
fn the_context_is_merged_in_the_ecs_layout_too() {
    let sink = TcpSink::start();
    let c = client(sink.port, json!({"formatter": "ecs"}));
    c.set_context("request_id", b"\"r-7\"").unwrap();
    c.set_context("tenant", b"{\"id\":3}").unwrap();
    c.set_context("service.name", b"\"dotted: the general path\"")
        .unwrap();
    c.log(None, None, "m").unwrap();
    c.remove_context("service.name").unwrap();
    c.log(None, None, "m2").unwrap();
    c.flush(WAIT).unwrap();
    let events = parse(&sink.wait_for(2, WAIT));
    for e in &events {
        assert_eq!(e["http"]["request"]["id"], "r-7", "{e}");
        assert_eq!(e["extra"]["tenant"], json!({"id": 3}));
    }
    assert_eq!(
        events[0]["extra"]["service"]["name"],
        "dotted: the general path"
    );
    assert!(events[1]["extra"].get("service").is_none());
}

#[test]
fn context_values_are_checked() {
    let c = Client::new(Config::new("127.0.0.1")).unwrap();
    assert_eq!(
        c.set_context("k", b"{"),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    assert_eq!(
        c.set_context("k", b"\"\xff\""),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)
    );
    assert_eq!(
        c.set_context("", b"1"),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT)
    );
    assert_eq!(c.context(), None, "nothing was set");
    c.set_context("k", b" 1 ").unwrap();
    assert_eq!(c.context().as_deref(), Some(r#"{"k":1}"#));
    c.shutdown(Duration::from_millis(100)).ok();
}

/// Collects notices with the thread they came on.
#[derive(Default)]
struct Collected(Mutex<Vec<(Notice, Option<String>)>>);

impl Collected {
    fn sink(self: &Arc<Self>) -> Box<dyn NoticeSink> {
        let collected = self.clone();
        Box::new(move |notice: &Notice| {
            let thread = std::thread::current().name().map(str::to_owned);
            collected.0.lock().unwrap().push((notice.clone(), thread));
        })
    }

    fn kinds(&self) -> Vec<NoticeKind> {
        self.0.lock().unwrap().iter().map(|n| n.0.kind).collect()
    }
}

#[test]
fn notices_come_on_a_refused_connection_and_its_recovery_by_callback_and_by_poll() {
    let port = free_port();
    let options = json!({"stderr_errors": false, "backoff_initial": 0.05, "backoff_max": 0.1});
    let collected = Arc::new(Collected::default());
    let with_sink = Client::with_options(
        Config::from_json(config(port, options.clone()).as_bytes()).unwrap(),
        logstash_async::client::Options {
            notice_sink: Some(collected.sink()),
            ..Default::default()
        },
    )
    .unwrap();
    let polled = client(port, options);
    for c in [&with_sink, &polled] {
        c.log(None, None, "while down").unwrap();
    }
    assert!(wait_until(WAIT, || collected
        .kinds()
        .contains(&NoticeKind::DeliveryFailing)));
    let mut seen = Vec::new();
    let mut poll_until = |kind| {
        wait_until(WAIT, || {
            while let Ok(Some(n)) = polled.poll_notice(4096) {
                seen.push(n);
            }
            seen.iter().any(|n| n.kind == kind)
        })
    };
    assert!(poll_until(NoticeKind::DeliveryFailing));
    assert_eq!(
        with_sink.poll_notice(4096),
        Ok(None),
        "the sink takes them all"
    );
    let sink = TcpSink::start_on(port);
    assert!(wait_until(WAIT, || collected
        .kinds()
        .contains(&NoticeKind::DeliveryRecovered)));
    assert!(poll_until(NoticeKind::DeliveryRecovered));
    with_sink.flush(WAIT).unwrap();
    polled.flush(WAIT).unwrap();
    assert_eq!(sink.wait_for(2, WAIT).len(), 2);
    let got = collected.0.lock().unwrap().clone();
    assert_eq!(
        got.iter().map(|n| n.0.kind).collect::<Vec<_>>(),
        [NoticeKind::DeliveryFailing, NoticeKind::DeliveryRecovered]
    );
    assert!(got[0].0.message.contains("cannot deliver"), "{:?}", got[0]);
    assert!(got[1].0.count >= 1);
    assert!(
        got.iter().all(|n| n.1.as_deref() == Some("logstash-async")),
        "on the worker thread: {got:?}"
    );
    let failing = seen
        .iter()
        .find(|n| n.kind == NoticeKind::DeliveryFailing)
        .unwrap();
    assert!(failing.message.contains("cannot deliver"));
}

#[test]
fn drops_by_a_limit_are_noticed_with_their_count() {
    let port = free_port(); // nobody listens: the buffer fills up
    let c = client(
        port,
        json!({"stderr_errors": false, "max_database_events": 5, "queued_events_batch_size": 1}),
    );
    for _ in 0..20 {
        c.log(None, None, "m").unwrap();
    }
    let mut dropped = 0;
    assert!(wait_until(WAIT, || {
        c.flush(Duration::from_millis(1)).ok(); // wakes the worker
        while let Ok(Some(n)) = c.poll_notice(4096) {
            if n.kind == NoticeKind::Dropped {
                assert!(n.message.contains("database full"), "{n:?}");
                dropped += n.count;
            }
        }
        dropped > 0 && dropped == c.stats().dropped_database_full
    }));
    assert_eq!(dropped, 15, "{:?}", c.stats());
}
