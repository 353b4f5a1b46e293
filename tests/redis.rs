//! The redis transport against Debian's redis-server (started by the tests on
//! free loopback ports), read back with redis-cli: every event at least once
//! (exactly once, in order, when nothing fails), through a server down at
//! start, killed and restarted mid-stream (with an fsync'ed append-only file),
//! an oversized event, a wrong password, failover between hosts, and TLS.

mod support;

use logstash_async::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::redis::RedisServer;
use support::{
    assert_at_least_once, assert_ingest_goes_on, checked_seqs, emit_seq, free_port, silent_receiver,
};

const LONG: Duration = Duration::from_secs(60);

fn config(port: u16, extra: Value) -> String {
    let mut c = json!({
        "transport": "redis",
        "host": "127.0.0.1",
        "port": port,
        "queued_events_flush_interval": 0.05,
        "backoff_initial": 0.1,
        "backoff_max": 0.5,
        "stderr_errors": false,
    });
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c.to_string()
}

/// Waits until a send failed and every emitted event is buffered or sent.
fn wait_for_errors(client: &Client) -> logstash_async::Stats {
    let deadline = Instant::now() + Duration::from_secs(20);
    let settled = |s: &logstash_async::Stats| {
        s.send_errors > 0 && s.queued == 0 && s.buffered + s.sent + s.dropped() == s.emitted
    };
    while !settled(&client.stats()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    client.stats()
}

#[test]
fn every_event_arrives_once_in_order_in_the_configured_list_and_database() {
    let server = RedisServer::start(&[]);
    let n = 20_000;
    let cfg = config(server.port, json!({"redis_key": "app-logs", "redis_db": 2}));
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..n);
    client.flush(LONG).expect("flushed");
    let s = client.stats();
    assert_eq!((s.sent, s.resent, s.connects), (n, 0, 1), "{s:?}");
    client.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        checked_seqs(&server.list(2, "app-logs")),
        (0..n).collect::<Vec<_>>()
    );
    assert!(
        server.list(0, "app-logs").is_empty(),
        "database 0 untouched"
    );
}

#[test]
fn a_server_down_at_start_then_started_gets_everything() {
    let mut server = RedisServer::configure(free_port(), &[]);
    let client = Client::from_json(config(server.port, json!({})).as_bytes()).unwrap();
    emit_seq(&client, 0..1_000);
    let s = wait_for_errors(&client);
    let error = s.last_error.clone().unwrap_or_default();
    assert!(error.contains("Connection refused"), "{error}");
    assert_eq!((s.sent, s.dropped(), s.buffered), (0, 0, 1_000));
    server.start_again();
    client.flush(LONG).expect("delivered once the server is up");
    client.shutdown(Duration::from_secs(5)).unwrap();
    let all = checked_seqs(&server.list(0, "logstash"));
    assert_eq!(assert_at_least_once(&all, 0..1_000, 0), 0, "no duplicates");
}

#[test]
fn a_server_killed_and_restarted_mid_stream_loses_nothing() {
    // Acknowledged writes survive a crash only with an fsync'ed append-only file.
    let mut server = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let client = Client::from_json(config(server.port, json!({})).as_bytes()).unwrap();
    let n = 30_000;
    std::thread::scope(|s| {
        s.spawn(|| {
            for step in 0..30 {
                emit_seq(&client, step * 1_000..(step + 1) * 1_000);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(Duration::from_millis(800));
        server.kill();
        std::thread::sleep(Duration::from_millis(700));
        server.start_again();
    });
    client
        .flush(LONG)
        .expect("everything delivered after the restart");
    let s = client.stats();
    assert!(s.send_errors >= 1 && s.dropped() == 0, "{s:?}");
    client.shutdown(Duration::from_secs(5)).unwrap();
    let all = checked_seqs(&server.list(0, "logstash"));
    let dups = assert_at_least_once(&all, 0..n, s.resent);
    eprintln!("restart: {} resent, {dups} duplicates", s.resent);
}

#[test]
fn an_event_over_the_servers_bulk_limit_is_dropped_and_the_others_delivered() {
    let server = RedisServer::start(&["--proto-max-bulk-len", "1mb"]);
    let cfg = config(server.port, json!({"max_event_bytes": 3_000_000}));
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let big = "x".repeat(1_500_000);
    for i in 0..10u64 {
        let mut ev = json!({"message": format!("event {i}"), "seq": i});
        if i == 5 {
            ev["pad"] = json!(big);
        }
        client.emit_json(ev.to_string().as_bytes()).unwrap();
    }
    client.flush(LONG).expect("flushed");
    let s = client.stats();
    assert_eq!((s.sent, s.dropped_undeliverable), (9, 1), "{s:?}");
    assert!(s
        .last_error
        .unwrap_or_default()
        .contains("proto-max-bulk-len"));
    client.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        checked_seqs(&server.list(0, "logstash")),
        [0, 1, 2, 3, 4, 6, 7, 8, 9]
    );
}

#[test]
fn a_wrong_password_gives_a_clear_rate_limited_error_and_keeps_the_events() {
    let server = RedisServer::start(&["--requirepass", "s3cret"]);
    let wrong =
        Client::from_json(config(server.port, json!({"password": "guess"})).as_bytes()).unwrap();
    emit_seq(&wrong, 0..100);
    wait_for_errors(&wrong);
    std::thread::sleep(Duration::from_secs(2));
    let s = wrong.stats();
    let error = s.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("authentication refused") && error.contains("WRONGPASS"),
        "{error}"
    );
    assert!(
        !error.contains("guess"),
        "the password is never shown: {error}"
    );
    assert_eq!((s.sent, s.dropped(), s.buffered), (0, 0, 100), "{s:?}");
    // The backoff (0.1 s doubling to 0.5 s) paces the attempts: a few in 2 s.
    assert!((1..=10).contains(&s.send_errors), "{s:?}");
    assert!(wrong.shutdown(Duration::from_millis(300)).is_err());

    let none = Client::from_json(config(server.port, json!({})).as_bytes()).unwrap();
    emit_seq(&none, 0..10);
    let e = wait_for_errors(&none).last_error.unwrap_or_default();
    assert!(
        e.contains("authentication required") || e.contains("NOAUTH"),
        "{e}"
    );
    let _ = none.shutdown(Duration::from_millis(300));

    let right =
        Client::from_json(config(server.port, json!({"password": "s3cret"})).as_bytes()).unwrap();
    emit_seq(&right, 0..100);
    right
        .flush(LONG)
        .expect("delivered with the right password");
    right.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        checked_seqs(&server.list(0, "logstash")),
        (0..100).collect::<Vec<_>>()
    );
}

#[test]
fn hosts_fail_over_to_the_next_server() {
    let server = RedisServer::start(&[]);
    let dead = free_port();
    let cfg = json!({
        "transport": "redis",
        "hosts": [format!("127.0.0.1:{dead}"), format!("127.0.0.1:{}", server.port)],
        "queued_events_flush_interval": 0.05,
        "stderr_errors": false,
    });
    let client = Client::from_json(cfg.to_string().as_bytes()).unwrap();
    emit_seq(&client, 0..500);
    client.flush(LONG).expect("delivered by the second host");
    client.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        checked_seqs(&server.list(0, "logstash")),
        (0..500).collect::<Vec<_>>()
    );
}

#[test]
fn tls_with_a_verified_server_certificate() {
    let server = RedisServer::configure(free_port(), &[]).with_tls();
    let mut server = server;
    server.start_again();
    let cfg = config(
        server.port,
        json!({"ssl_enable": true, "ca_certs": server.ca().to_str().unwrap()}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..1_000);
    client.flush(LONG).expect("delivered over TLS");
    client.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        checked_seqs(&server.list(0, "logstash")),
        (0..1_000).collect::<Vec<_>>()
    );
    // Without the CA the certificate is refused and nothing is delivered.
    let untrusted =
        Client::from_json(config(server.port, json!({"ssl_enable": true})).as_bytes()).unwrap();
    emit_seq(&untrusted, 0..10);
    let s = wait_for_errors(&untrusted);
    assert!(s.sent == 0 && s.buffered == 10, "{s:?}");
    let _ = untrusted.shutdown(Duration::from_millis(300));
}

#[test]
fn the_command_line_tool_sends_lines_to_a_redis_list() {
    let server = RedisServer::start(&[]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_logstash-async"))
        .args([
            "send",
            "--transport",
            "redis",
            "--port",
            &server.port.to_string(),
        ])
        .args(["--list", "cli"])
        .stdin(std::process::Stdio::piped())
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
    let messages: Vec<String> = server
        .list(0, "cli")
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
}

#[test]
fn a_server_that_never_answers_the_greeting_does_not_stop_ingest() {
    // A listener that never accepts: the TCP connect succeeds (the kernel's
    // backlog), the greeting's first command then waits socket_timeout.
    let (port, silent) = silent_receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buffer.db");
    let cfg = config(
        port,
        json!({"socket_timeout": 10.0, "max_queue_events": 2_000,
               "database_path": db.to_str().unwrap()}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    assert_ingest_goes_on(&client);
    let _ = client.shutdown(Duration::from_millis(500));
    drop(silent);
}
