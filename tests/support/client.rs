//! Clients for loopback receivers: configurations with quick timers, and
//! bounded waits on a client's statistics.

use super::wait_until;
use logstash_async::Client;
use serde_json::{json, Value};
use std::time::Duration;

/// A configuration for a loopback receiver with quick timers for tests;
/// `extra` adds or overrides options.
pub fn config(port: u16, extra: Value) -> String {
    let mut c = json!({
        "host": "127.0.0.1",
        "port": port,
        "queue_check_interval": 0.05,
        "queued_events_flush_interval": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
        "socket_timeout": 2.0,
    });
    merge(&mut c, extra);
    c.to_string()
}

/// A configuration for several loopback hosts (`hosts` instead of host/port),
/// errors off stderr.
pub fn hosts_config(transport: &str, ports: &[u16], extra: Value) -> String {
    let mut c: Value = serde_json::from_str(&config(0, json!({}))).unwrap();
    let map = c.as_object_mut().unwrap();
    map.remove("host");
    map.remove("port");
    let hosts: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    merge(
        &mut c,
        json!({"transport": transport, "hosts": hosts, "stderr_errors": false}),
    );
    merge(&mut c, extra);
    c.to_string()
}

/// `base` with every option of `extra` added or replaced.
pub fn merged(mut base: Value, extra: Value) -> Value {
    merge(&mut base, extra);
    base
}

fn merge(base: &mut Value, extra: Value) {
    let Value::Object(extra) = extra else {
        panic!("options must be a JSON object: {extra}");
    };
    for (k, v) in extra {
        base[k] = v;
    }
}

/// A client of `config(port, extra)`.
pub fn client(port: u16, extra: Value) -> Client {
    Client::from_json(config(port, extra).as_bytes()).unwrap_or_else(|e| panic!("create: {e}"))
}

/// `stats().buffered` once it reached 0 (bounded wait): the worker publishes
/// it just after completing the flush, so it may lag `flush` by a moment.
pub fn buffered_after_flush(client: &Client) -> u64 {
    wait_until(Duration::from_secs(5), || client.stats().buffered == 0);
    client.stats().buffered
}

/// Waits (bounded) until a handle has delivered `n` events and has none left,
/// counting rows an earlier handle left in the file (flush covers only the
/// events accepted by this handle, and `buffered` is 0 until the worker has
/// opened the file, so neither alone says the file was drained).
pub fn wait_drained(client: &Client, n: u64, timeout: Duration) {
    let drained = |s: &logstash_async::Stats| s.sent >= n && s.buffered == 0;
    wait_until(timeout, || drained(&client.stats()));
    assert!(drained(&client.stats()), "{:?}", client.stats());
}

/// Waits (bounded) until the worker has reported at least one send error;
/// returns the last error.
pub fn wait_for_error(client: &Client) -> String {
    wait_until(Duration::from_secs(20), || client.stats().send_errors > 0);
    let stats = client.stats();
    assert!(stats.send_errors > 0, "an error is counted: {stats:?}");
    stats.last_error.expect("last_error is set")
}

/// A receiver that never answers: a listener that never accepts (the
/// kernel completes TCP connects into its backlog; nothing is ever read or
/// written). Its port, and the listener to keep alive meanwhile.
pub fn silent_receiver() -> (u16, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (listener.local_addr().unwrap().port(), listener)
}

/// With a receiver that never answers and `max_queue_events` 2,000, the
/// worker goes on moving events into its file: 40,000 events at 20,000/s
/// (20 times the queue), none refused, all buffered, no connection made.
pub fn assert_ingest_goes_on(client: &Client) {
    super::emit_paced(client, 40_000, 20_000); // fails on any refusal
    wait_until(Duration::from_secs(60), || {
        client.stats().buffered == 40_000
    });
    let s = client.stats();
    assert_eq!((s.dropped_queue_full, s.buffered), (0, 40_000), "{s:?}");
    assert_eq!(s.connects, 0, "no connection completed: {s:?}");
}
