//! The kafka transport against a real broker (Apache Kafka, KRaft, started by
//! scripts/services/kafka.sh), read back with kcat: every event exactly once
//! and in order per partition, through a broker down at start, a broker killed
//! and restarted mid-stream, a missing topic, an oversized event, wrong SASL
//! credentials, and the host process killed with a file buffer.
//! Child processes are this test binary re-executed with LOGSTASH_ASYNC_CHILD set.
#![cfg(feature = "kafka")]

mod support;

use logstash_async::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::kafka::{self, Broker};

const LONG: Duration = Duration::from_secs(90);
/// Events the killed child emits.
const CHILD_EVENTS: u64 = 300_000;

fn config(broker: &Broker, topic: &str, extra: Value) -> String {
    let mut c = json!({
        "transport": "kafka",
        "kafka_brokers": [broker.bootstrap],
        "kafka_topic": topic,
        "queued_events_flush_interval": 0.05,
        "backoff_initial": 0.1,
        "backoff_max": 1.0,
        "stderr_errors": false,
    });
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c.to_string()
}

/// Emits numbered events (`support::emit_seq`'s) with a key field `k`, one
/// of seven values.
fn emit_keyed(client: &Client, range: std::ops::Range<u64>) {
    for i in range {
        let ev = format!(r#"{{"message":"event {i}","seq":{i},"k":"key-{}"}}"#, i % 7);
        client.emit_json(ev.as_bytes()).expect("accepted");
    }
}

/// The seq of each message, per partition in offset order.
fn seqs_by_partition(messages: &[(i32, i64, String)]) -> BTreeMap<i32, Vec<u64>> {
    let mut by: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
    for (p, o, payload) in messages {
        let v: Value = serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}"));
        let seq = v["extra"]["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("seq: {payload}"));
        assert_eq!(v["message"], format!("event {seq}"));
        by.entry(*p).or_default().push((*o, seq));
    }
    by.into_iter()
        .map(|(p, mut v)| {
            v.sort();
            (p, v.into_iter().map(|(_, s)| s).collect())
        })
        .collect()
}

/// Exactly the events `0..n`, once each, in order within each partition.
fn assert_exactly_once_in_order(messages: &[(i32, i64, String)], n: u64) {
    let by = seqs_by_partition(messages);
    let mut all: Vec<u64> = Vec::new();
    for (p, seqs) in &by {
        if let Some(w) = seqs.windows(2).find(|w| w[0] >= w[1]) {
            panic!(
                "partition {p}: {} after {} (out of order or duplicate)",
                w[1], w[0]
            );
        }
        all.extend(seqs);
    }
    all.sort();
    let dups = all.windows(2).filter(|w| w[0] == w[1]).count();
    all.dedup();
    assert_eq!(dups, 0, "{dups} duplicates");
    assert_eq!(
        all.len() as u64,
        n,
        "distinct events (missing {})",
        n - all.len() as u64
    );
    assert_eq!(all.last().copied(), n.checked_sub(1));
}

#[test]
fn every_event_arrives_exactly_once_in_order_per_partition_keyed_by_a_field() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("keyed");
    broker.create_topic(&topic, 3, &[]);
    let n = 20_000;
    let client = Client::from_json(
        config(
            broker,
            &topic,
            json!({"kafka_key_field": "extra.k", "kafka_compression": "lz4"}),
        )
        .as_bytes(),
    )
    .unwrap();
    emit_keyed(&client, 0..n);
    client.flush(LONG).expect("flushed");
    let s = client.stats();
    assert_eq!(
        (s.sent, s.kafka_delivered, s.kafka_produced, s.resent),
        (n, n, n, 0),
        "{s:?}"
    );
    client.shutdown(Duration::from_secs(10)).unwrap();
    let got = broker.consume(&topic, n as usize, LONG);
    assert_exactly_once_in_order(&got, n);
    // The same key always lands in the same partition.
    let mut partition_of_key: BTreeMap<u64, i32> = BTreeMap::new();
    for (p, _, payload) in &got {
        let seq: u64 = serde_json::from_str::<Value>(payload).unwrap()["extra"]["seq"]
            .as_u64()
            .unwrap();
        let prev = partition_of_key.insert(seq % 7, *p);
        assert!(
            prev.is_none_or(|q| q == *p),
            "key-{} in two partitions",
            seq % 7
        );
    }
}

#[test]
fn a_broker_down_at_start_then_started_gets_everything_once() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("late");
    broker.create_topic(&topic, 1, &[]);
    broker.kill();
    let client = Client::from_json(config(broker, &topic, json!({})).as_bytes()).unwrap();
    emit_keyed(&client, 0..2_000);
    // The trouble is reported (counted, last_error) and nothing is lost meanwhile.
    let deadline = Instant::now() + Duration::from_secs(20);
    while (client.stats().send_errors == 0 || client.stats().buffered < 2_000)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = client.stats();
    assert!(s.send_errors >= 1, "{s:?}");
    assert!(
        s.last_error.as_deref().unwrap_or("").starts_with("kafka:"),
        "{s:?}"
    );
    assert_eq!((s.sent, s.dropped(), s.buffered), (0, 0, 2_000), "{s:?}");
    broker.start();
    client.flush(LONG).expect("delivered once the broker is up");
    let s = client.stats();
    assert_eq!((s.sent, s.resent), (2_000, 0), "{s:?}");
    client.shutdown(Duration::from_secs(10)).unwrap();
    assert_exactly_once_in_order(&broker.consume(&topic, 2_000, LONG), 2_000);
}

#[test]
fn a_broker_killed_and_restarted_mid_stream_loses_and_duplicates_nothing() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("restart");
    broker.create_topic(&topic, 1, &[]);
    let client = Client::from_json(config(broker, &topic, json!({})).as_bytes()).unwrap();
    let n = 30_000;
    std::thread::scope(|s| {
        s.spawn(|| {
            // 10k events/s for 3 s, before, during and after the crash.
            for step in 0..30 {
                emit_keyed(&client, step * 1_000..(step + 1) * 1_000);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(Duration::from_millis(800));
        broker.kill();
    });
    let during = client.stats();
    broker.start();
    client
        .flush(LONG)
        .expect("everything delivered after the restart");
    let s = client.stats();
    assert_eq!((s.sent, s.dropped(), s.resent), (n, 0, 0), "{s:?}");
    assert!(
        during.sent < n,
        "the crash came too late to matter: {during:?}"
    );
    client.shutdown(Duration::from_secs(10)).unwrap();
    assert_exactly_once_in_order(&broker.consume(&topic, n as usize, LONG), n);
}

#[test]
fn events_for_a_missing_topic_are_dropped_counted_and_reported() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("missing"); // never created; the broker does not auto-create
    let cfg = config(
        broker,
        &topic,
        json!({"kafka_properties": {"topic.metadata.propagation.max.ms": 1000}}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_keyed(&client, 0..10);
    client
        .flush(Duration::from_secs(60))
        .expect("done: dropped, not retried");
    let s = client.stats();
    assert_eq!(
        (s.sent, s.dropped_undeliverable, s.buffered),
        (0, 10, 0),
        "{s:?}"
    );
    let error = s.last_error.unwrap_or_default();
    assert!(
        error.contains("not retried") && error.contains(&topic),
        "{error}"
    );
    client.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_oversized_event_is_dropped_and_the_others_delivered_in_order() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("oversized");
    broker.create_topic(&topic, 1, &[]);
    let cfg = config(broker, &topic, json!({"max_event_bytes": 3_000_000}));
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let big = "x".repeat(1_500_000); // over librdkafka's message.max.bytes (1,000,000)
    for i in 0..10u64 {
        let ev = if i == 5 {
            json!({"message": format!("event {i}"), "seq": i, "pad": big})
        } else {
            json!({"message": format!("event {i}"), "seq": i})
        };
        client.emit_json(ev.to_string().as_bytes()).unwrap();
    }
    client.flush(LONG).expect("flushed");
    let s = client.stats();
    assert_eq!((s.sent, s.dropped_undeliverable), (9, 1), "{s:?}");
    assert!(s.last_error.unwrap_or_default().contains("too large"));
    client.shutdown(Duration::from_secs(5)).unwrap();
    let got = broker.consume(&topic, 9, LONG);
    let seqs = &seqs_by_partition(&got)[&0];
    assert_eq!(seqs, &[0, 1, 2, 3, 4, 6, 7, 8, 9]);
}

#[test]
fn wrong_credentials_give_a_clear_error_keep_the_events_and_shut_down_in_time() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("sasl");
    broker.create_topic(&topic, 1, &[]);
    let sasl = |password: &str| {
        let mut c: Value = serde_json::from_str(&config(broker, &topic, json!({}))).unwrap();
        c["kafka_brokers"] = json!([broker.sasl_bootstrap]);
        c["username"] = json!(broker.sasl_user);
        c["password"] = json!(password);
        c.to_string()
    };
    let wrong = Client::from_json(sasl("not-the-password").as_bytes()).unwrap();
    emit_keyed(&wrong, 0..100);
    let deadline = Instant::now() + Duration::from_secs(20);
    while wrong.stats().send_errors == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(3));
    let s = wrong.stats();
    let error = s.last_error.clone().unwrap_or_default();
    assert!(error.contains("Authentication failed"), "{s:?}");
    assert!(
        !error.contains("not-the-password"),
        "the password is never shown: {error}"
    );
    assert_eq!((s.sent, s.dropped(), s.buffered), (0, 0, 100), "{s:?}");
    // Rate-limited: one count per backoff, not one per reconnect attempt.
    assert!((1..=10).contains(&s.send_errors), "{s:?}");
    let started = Instant::now();
    let r = wrong.shutdown(Duration::from_secs(1));
    assert!(r.is_err(), "undelivered events are reported: {r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    let right = Client::from_json(sasl(&broker.sasl_password).as_bytes()).unwrap();
    emit_keyed(&right, 0..100);
    right
        .flush(LONG)
        .expect("delivered with the right password");
    right.shutdown(Duration::from_secs(5)).unwrap();
    assert_exactly_once_in_order(&broker.consume(&topic, 100, LONG), 100);
}

#[test]
fn after_the_host_process_is_killed_a_new_handle_delivers_the_rest_from_the_file() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("sigkill");
    broker.create_topic(&topic, 1, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buffer.db");
    let cfg = config(
        broker,
        &topic,
        json!({"database_path": db.to_str().unwrap(), "overflow_policy": "block", "block_timeout_ms": 30_000}),
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("LOGSTASH_ASYNC_CHILD", "emit_fast")
        .env("LOGSTASH_ASYNC_CHILD_ARGS", &cfg)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (progress_tx, progress_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(sent) = line.strip_prefix("CHILD: sent ") {
                let _ = progress_tx.send(sent.parse::<u64>().unwrap());
            }
        }
    });
    // Kill it mid-stream: once it has delivered some of its events.
    let deadline = Instant::now() + LONG;
    loop {
        let sent = progress_rx
            .recv_timeout(LONG)
            .expect("the child reports progress");
        if sent >= 5_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the child delivered nothing");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = broker.consume(&topic, 0, Duration::ZERO).len() as u64;
    assert!(
        before < CHILD_EVENTS,
        "killed too late: all {before} delivered"
    );

    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let deadline = Instant::now() + LONG;
    while (client.stats().sent == 0 || client.stats().buffered > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = client.stats();
    assert!(s.sent > 0 && s.buffered == 0, "{s:?}");
    client.shutdown(Duration::from_secs(10)).unwrap();
    let stored = before + s.sent; // rows in flight at the kill count twice

    // Every event the child had stored arrived, in order; the rows in flight
    // at the kill may arrive twice (delivered, not yet deleted).
    let seqs = seqs_by_partition(&broker.consume(&topic, stored as usize, LONG))[&0].clone();
    let mut distinct = seqs.clone();
    distinct.sort();
    distinct.dedup();
    let top = *distinct.last().unwrap();
    assert_eq!(distinct.len() as u64, top + 1, "a gap below {top}");
    assert!(top + 1 > before, "the new handle delivered nothing new");
    // In order: what the child delivered (0..a), then the new handle's resend
    // from its oldest row (b..=top, with b <= a).
    let a = seqs
        .iter()
        .enumerate()
        .take_while(|(i, s)| **s == *i as u64)
        .count();
    let resent = &seqs[a..];
    if let Some(&b) = resent.first() {
        assert!(b as usize <= a, "a gap: {a} then {b}");
        let expected: Vec<u64> = (b..=top).collect();
        assert_eq!(resent, &expected[..], "the rest, in order");
    }
    eprintln!(
        "sigkill: at most {stored} stored, {before} delivered before the kill, {} duplicates",
        seqs.len() - distinct.len()
    );
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var("LOGSTASH_ASYNC_CHILD") else {
        return;
    };
    let cfg = std::env::var("LOGSTASH_ASYNC_CHILD_ARGS").unwrap();
    match role.as_str() {
        // Events into a file buffer as fast as they are taken, then progress reports.
        "emit_fast" => {
            let client = Client::from_json(cfg.as_bytes()).unwrap();
            emit_keyed(&client, 0..CHILD_EVENTS);
            loop {
                println!("CHILD: sent {}", client.stats().sent);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn the_command_line_tool_sends_lines_to_a_topic() {
    let (broker, _turn) = Broker::shared();
    let topic = kafka::topic("cli");
    broker.create_topic(&topic, 1, &[]);
    let port = broker.bootstrap.rsplit_once(':').unwrap().1;
    let mut child = Command::new(env!("CARGO_BIN_EXE_logstash-async"))
        .args([
            "send",
            "--transport",
            "kafka",
            "--port",
            port,
            "--topic",
            &topic,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\nthree\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let messages: Vec<String> = broker
        .consume(&topic, 3, LONG)
        .iter()
        .map(|(_, _, e)| {
            serde_json::from_str::<Value>(e).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
}

#[test]
fn a_property_librdkafka_refuses_fails_create_with_its_message() {
    let cfg = r#"{"transport":"kafka","kafka_brokers":["127.0.0.1:9"],"kafka_properties":{"no.such.property":1}}"#;
    let err = Client::from_json(cfg.as_bytes()).err().expect("refused");
    assert!(err.contains("No such configuration property"), "{err}");
    assert!(err.contains("no.such.property"), "{err}");
}
