//! A file buffer gives the space of an outage back: 1M events (the issue's
//! figure; LOGSTASH_ASYNC_OUTAGE_EVENTS sets another) pile up while the
//! receiver is down, then drain; the file (database and WAL) is measured
//! idle, at the peak and after the drain, and printed.

mod support;

use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{config, emit_seq, TcpSink};

const LONG: Duration = Duration::from_secs(600);

/// The database file and its WAL, in bytes.
fn file_bytes(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(p).ok()
        })
        .map(|m| m.len())
        .sum()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[test]
fn a_file_buffer_returns_close_to_its_idle_size_after_a_1m_event_outage() {
    let n: u64 = std::env::var("LOGSTASH_ASYNC_OUTAGE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outage.db");
    let sink = TcpSink::start();
    let port = sink.port;
    let options = json!({
        "database_path": db.to_str().unwrap(),
        "stderr_errors": false,
        // Every event is kept: emit waits for room instead of refusing.
        "overflow_policy": "block",
        "block_timeout_ms": 60_000,
    });
    let client = Client::from_json(config(port, options).as_bytes()).unwrap();

    // Idle: a few events delivered.
    emit_seq(&client, 0..100);
    assert_eq!(client.flush(LONG), Ok(()));
    sink.wait_for(100, LONG);
    let idle = file_bytes(&db);

    // The outage.
    drop(sink.kill());
    let started = Instant::now();
    emit_seq(&client, 100..100 + n);
    support::wait_until(LONG, || client.stats().buffered == n);
    assert_eq!(
        client.flush(Duration::from_secs(5)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    let stored_in = started.elapsed();
    let during = file_bytes(&db);
    assert_eq!(client.stats().buffered, n, "{:?}", client.stats());

    // The receiver is back: everything drains, then the file shrinks.
    let sink = TcpSink::start_on(port);
    let started = Instant::now();
    assert_eq!(client.flush(LONG), Ok(()), "{:?}", client.stats());
    let drained_in = started.elapsed();
    let shrunk = support::wait_until(Duration::from_secs(30), || {
        file_bytes(&db) < idle + (4 << 20)
    });
    let after = file_bytes(&db);
    println!(
        "buffer file (database + WAL), {n} events: idle {}, during the outage {}, after the drain {} \
         (stored in {:.1}s, drained in {:.1}s)",
        mib(idle),
        mib(during),
        mib(after),
        stored_in.as_secs_f64(),
        drained_in.as_secs_f64()
    );
    assert!(
        during > idle + n * 200,
        "the outage filled the file: {during}"
    );
    assert!(
        shrunk,
        "the file did not shrink back: idle {idle}, after {after}"
    );
    let stats = client.stats();
    assert_eq!(
        (stats.sent, stats.dropped(), stats.database_errors),
        (n + 100, 0, 0),
        "{stats:?}"
    );
    assert_eq!(client.shutdown(LONG), Ok(()));
    // The first 100 went to the receiver before the outage.
    let got = sink.wait_for(n as usize, LONG);
    assert!(got.len() as u64 >= n, "{}", got.len());
}
