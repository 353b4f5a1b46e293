//! The broker scenarios of the throughput benchmark: 1M events end to end to a
//! real Kafka broker (scripts/services/kafka.sh) and to a real redis-server,
//! acknowledged by them (flush returns once every delivery report or reply
//! is in), plus emit latency while a broker transport is delivering.

use super::{emit_latency, event, Row};
use logstash_async::Client;
use std::time::{Duration, Instant};

// The tests' support tree: its real broker and redis-server.
#[path = "../../tests/support/mod.rs"]
mod support;
#[cfg(feature = "kafka")]
use support::kafka;
use support::redis;

/// Emits `n` events (retrying a full queue), waits for delivery: events/s.
fn end_to_end(client: &Client, n: u64) -> (f64, String) {
    end_to_end_from(client, 0, n)
}

/// The same on a handle that has delivered `before` events already.
fn end_to_end_from(client: &Client, before: u64, n: u64) -> (f64, String) {
    let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
    let started = Instant::now();
    for i in 0..n {
        while client.emit_json(&events[(i % 1000) as usize]).is_err() {
            std::thread::yield_now();
        }
    }
    let flushed = client.flush(Duration::from_secs(300));
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let s = client.stats();
    let note = if flushed.is_ok() && s.sent == before + n {
        String::new()
    } else {
        format!("INCOMPLETE {flushed:?} {s:?}")
    };
    (rate, note)
}

fn rows(name: &str, rate: f64, note: String, p99: f64, p999: f64) -> Vec<Row> {
    vec![
        Row(
            format!("end to end, {name}, :memory: buffer"),
            rate,
            "events/s",
            note,
        ),
        Row(
            format!("emit p99 / p99.9, {name} delivering"),
            p99,
            "µs",
            format!("{p999:.2}"),
        ),
    ]
}

#[cfg(feature = "kafka")]
pub fn kafka(n: u64) -> Vec<Row> {
    let (broker, _turn) = kafka::Broker::shared();
    let topic = kafka::topic("bench");
    broker.create_topic(&topic, 1, &[]);
    let props = std::env::var("BENCH_KAFKA_PROPERTIES").unwrap_or_else(|_| "{}".into());
    let config = format!(
        r#"{{"transport":"kafka","kafka_brokers":["{}"],"kafka_topic":"{topic}","max_queue_events":2000000,"stderr_errors":false,"kafka_properties":{props}}}"#,
        broker.bootstrap
    );
    let client = Client::from_json(config.as_bytes()).unwrap();
    // A fresh broker spends its first seconds compiling itself (the JIT took
    // a third of the machine in a profile): warm it up first.
    let (warmup, _) = end_to_end(&client, n);
    eprintln!("kafka: warm-up {warmup:.0} events/s");
    let cpu_before = (
        super::thread_cpu_seconds("logstash-async"),
        process_cpu_seconds(),
    );
    let (rate, note) = end_to_end_from(&client, n, n);
    let worker = (super::thread_cpu_seconds("logstash-async") - cpu_before.0) * 1e9 / n as f64;
    let total = (process_cpu_seconds() - cpu_before.1) * 1e9 / n as f64;
    eprintln!("kafka: worker {worker:.0} ns/event, whole process {total:.0} ns/event");
    let (_, p99, p999, _) = emit_latency(&client, 200_000);
    let _ = client.shutdown(Duration::from_secs(30));
    rows("kafka (acks=all, idempotent)", rate, note, p99, p999)
}

#[cfg(not(feature = "kafka"))]
pub fn kafka(_: u64) -> Vec<Row> {
    panic!("built without the kafka feature")
}

pub fn redis(n: u64) -> Vec<Row> {
    let server = redis::RedisServer::start(&[]);
    let config = format!(
        r#"{{"transport":"redis","host":"127.0.0.1","port":{},"max_queue_events":2000000,"stderr_errors":false}}"#,
        server.port
    );
    let client = Client::from_json(config.as_bytes()).unwrap();
    let (rate, mut note) = end_to_end(&client, n);
    let (_, p99, p999, _) = emit_latency(&client, 200_000);
    let _ = client.shutdown(Duration::from_secs(30));
    let llen = server.cli(&["LLEN", "logstash"]).unwrap_or_default();
    if llen.trim().parse::<u64>().ok() < Some(n) {
        note.push_str(&format!(" LLEN {}", llen.trim()));
    }
    rows("redis (RPUSH, pipelined)", rate, note, p99, p999)
}

/// CPU seconds of this whole process so far (user + system).
#[cfg(feature = "kafka")]
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
