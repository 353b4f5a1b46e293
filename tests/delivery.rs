//! End-to-end delivery over real loopback sockets and real SQLite files.

mod support;

use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::tcp_sink::Close;
use support::*;

const LONG: Duration = Duration::from_secs(30);

#[test]
fn tcp_10k_events_arrive_exactly_once_in_order() {
    let sink = TcpSink::start();
    let client = Client::from_json(config(sink.port, json!({})).as_bytes()).unwrap();
    emit_seq(&client, 0..10_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let lines = sink.wait_for(10_000, LONG);
    assert_eq!(seqs(&lines), (0..10_000).collect::<Vec<_>>());
    let stats = client.stats();
    assert_eq!(
        (stats.emitted, stats.sent, stats.dropped()),
        (10_000, 10_000, 0)
    );
    assert_eq!(client.shutdown(LONG), Ok(()));
    assert_eq!(sink.connections(), 1, "one connection, reused");
}

#[test]
fn udp_10k_events_arrive() {
    let sink = UdpSink::start();
    let client =
        Client::from_json(config(sink.port, json!({"transport":"udp"})).as_bytes()).unwrap();
    // Paced in bursts: a loopback receive buffer holds a few thousand datagrams.
    for burst in 0..10 {
        emit_seq(&client, burst * 1000..(burst + 1) * 1000);
        assert_eq!(client.flush(LONG), Ok(()));
        sink.wait_for(((burst + 1) * 1000) as usize, Duration::from_secs(2));
    }
    let lines = sink.wait_for(10_000, Duration::from_secs(5));
    let got: BTreeSet<u64> = seqs(&lines).into_iter().collect();
    // UDP may lose datagrams under load (documented); on loopback with an 8 MB
    // receive buffer and paced bursts we expect (nearly) all of them.
    assert!(
        got.len() >= 9_900,
        "only {} of 10000 datagrams arrived",
        got.len()
    );
    assert_eq!(lines.len(), got.len(), "no datagram duplicated");
    client.shutdown(LONG).unwrap();
}

#[test]
fn udp_event_larger_than_a_datagram_is_counted_not_fatal() {
    let sink = UdpSink::start();
    let client =
        Client::from_json(config(sink.port, json!({"transport":"udp"})).as_bytes()).unwrap();
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(70_000));
    client.emit_json(big.as_bytes()).unwrap();
    client.emit_json(br#"{"message":"small","seq":1}"#).unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    let lines = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(seqs(&lines), vec![1]);
    let stats = client.stats();
    assert_eq!((stats.dropped_undeliverable, stats.sent), (1, 1));
    let error = stats.last_error.unwrap_or_default();
    assert!(error.contains("larger than a UDP datagram"), "{error}");
}

#[test]
fn receiver_down_at_start_and_up_two_seconds_later_gets_everything() {
    let port = free_port();
    let client =
        Client::from_json(config(port, json!({"stderr_errors": false})).as_bytes()).unwrap();
    emit_seq(&client, 0..1000);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        client.stats().send_errors > 0,
        "it tried while the receiver was down"
    );
    let sink = TcpSink::start_on(port);
    assert_eq!(client.flush(LONG), Ok(()));
    let lines = sink.wait_for(1000, LONG);
    assert_eq!(seqs(&lines), (0..1000).collect::<Vec<_>>());
    client.shutdown(LONG).unwrap();
}

#[test]
fn receiver_killed_mid_stream_and_restarted_loses_nothing() {
    let sink = TcpSink::start();
    let port = sink.port;
    let client =
        Client::from_json(config(port, json!({"stderr_errors": false})).as_bytes()).unwrap();
    emit_seq(&client, 0..5_000);
    sink.wait_for(2_000, LONG);
    let before = sink.kill(); // mid-stream: connections reset, unread data lost
    emit_seq(&client, 5_000..10_000);
    std::thread::sleep(Duration::from_millis(300));
    let sink = TcpSink::start_on(port);
    assert_eq!(client.flush(LONG), Ok(()));
    let after = sink.wait_to_complete(&seqs(&before), 0..10_000, LONG);
    let mut all: Vec<u64> = seqs(&before);
    all.extend(seqs(&after));
    assert_at_least_once(&all, 0..10_000, client.stats().resent);
    client.shutdown(LONG).unwrap();
}

#[test]
fn shutdown_with_receiver_down_keeps_events_in_the_file_for_the_next_handle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buffer.db");
    let port = free_port();
    let cfg = config(
        port,
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..500);
    let started = Instant::now();
    assert_eq!(
        client.shutdown(Duration::from_millis(500)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    assert!(
        started.elapsed() < Duration::from_millis(500 + 500),
        "shutdown honours its timeout"
    );
    drop(client);

    let sink = TcpSink::start_on(port);
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let lines = sink.wait_for(500, LONG);
    assert_eq!(seqs(&lines), (0..500).collect::<Vec<_>>());
    assert_eq!(client.shutdown(LONG), Ok(()));
    assert_eq!(client.stats().buffered, 0);
}

#[test]
fn flush_reports_stored_not_sent_with_a_file_and_timeout_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file_cfg = config(
        port,
        json!({"database_path": dir.path().join("f.db").to_str().unwrap(), "stderr_errors": false}),
    );
    let client = Client::from_json(file_cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..10);
    assert_eq!(
        client.flush(Duration::from_secs(10)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    assert_eq!(client.stats().buffered, 10);

    let mem = Client::from_json(config(port, json!({"stderr_errors": false})).as_bytes()).unwrap();
    emit_seq(&mem, 0..10);
    let started = Instant::now();
    assert_eq!(
        mem.flush(Duration::from_millis(300)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        mem.shutdown(Duration::from_millis(100)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    assert_eq!(
        mem.stats().dropped_at_shutdown,
        10,
        "in-memory events lost at shutdown are counted"
    );
}

#[test]
fn bad_input_gets_its_code_and_the_next_event_still_arrives() {
    let sink = TcpSink::start();
    let client =
        Client::from_json(config(sink.port, json!({"max_event_bytes": 1000})).as_bytes()).unwrap();
    use logstash_async::result::logstash_async_result::*;
    let cases: Vec<(&[u8], ResultCode)> = vec![
        (b"{\"message\":\"\xff\"}", LOGSTASH_ASYNC_INVALID_UTF8),
        (b"{\"message\":", LOGSTASH_ASYNC_INVALID_JSON),
        (b"", LOGSTASH_ASYNC_INVALID_JSON),
        (b"{\"a\":\"\0\"}", LOGSTASH_ASYNC_INVALID_JSON),
        (b"[1,2]", LOGSTASH_ASYNC_NOT_AN_OBJECT),
        (b"42", LOGSTASH_ASYNC_NOT_AN_OBJECT),
    ];
    for (bytes, expected) in &cases {
        assert_eq!(
            client.emit_json(bytes),
            Err(*expected),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(2000));
    assert_eq!(
        client.emit_json(big.as_bytes()),
        Err(LOGSTASH_ASYNC_EVENT_TOO_LARGE)
    );
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    assert_eq!(
        client.emit_json(deep.as_bytes()),
        Err(LOGSTASH_ASYNC_INVALID_JSON)
    );
    assert_eq!(
        client.set_extra("", Some(b"1")),
        Err(LOGSTASH_ASYNC_INVALID_ARGUMENT)
    );
    assert_eq!(
        client.set_extra("k", Some(b"{")),
        Err(LOGSTASH_ASYNC_INVALID_JSON)
    );
    client.emit_json(br#"{"message":"valid","seq":7}"#).unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(seqs(&sink.wait_for(1, LONG)), vec![7]);
    assert_eq!(client.stats().rejected, cases.len() as u64 + 2);
    client.shutdown(LONG).unwrap();
    assert_eq!(client.emit_json(b"{}"), Err(LOGSTASH_ASYNC_SHUTTING_DOWN));
}

#[test]
fn layout_on_the_wire_with_set_extra_tags_and_log() {
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"tags":["t1"],"extra":{"app":"demo","env":"dev"},"message_type":"mytype"}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    client.set_extra("env", Some(br#""prod""#)).unwrap();
    client.set_extra("request", Some(br#"{"id":1}"#)).unwrap();
    client
        .log(Some("WARNING"), Some("db.pool"), "pool exhausted")
        .unwrap();
    client.set_extra("request", None).unwrap();
    client
        .emit_json(br#"{"message":"second","level":"ERROR","user":"u"}"#)
        .unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    let events = parse(&sink.wait_for(2, LONG));
    let first = &events[0];
    assert_eq!(first["message"], "pool exhausted");
    assert_eq!(first["level"], "WARNING");
    assert_eq!(first["type"], "mytype");
    assert_eq!(first["tags"], json!(["t1"]));
    assert_eq!(first["@version"], "1");
    assert_eq!(first["pid"], std::process::id());
    assert_eq!(first["host"], first["logsource"]);
    assert!(first["program"].as_str().unwrap().contains("delivery"));
    assert_eq!(first["extra"]["logger_name"], "db.pool");
    assert_eq!(first["extra"]["app"], "demo");
    assert_eq!(first["extra"]["env"], "prod");
    assert_eq!(first["extra"]["request"], json!({"id":1}));
    assert_eq!(
        first["extra"]["logstash_async_version"],
        logstash_async::VERSION
    );
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    let sent_thread = first["extra"]["thread_name"].as_str().unwrap().to_owned();
    assert!(
        !sent_thread.is_empty() && thread.starts_with(&sent_thread[..sent_thread.len().min(15)])
    );
    let ts = first["@timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.');
    let second = &events[1];
    assert_eq!(second["level"], "ERROR");
    assert_eq!(second["extra"]["user"], "u");
    assert!(
        second["extra"].get("request").is_none(),
        "removed by set_extra(NULL)"
    );
    client.shutdown(LONG).unwrap();
}

#[test]
fn several_handles_are_independent() {
    let (a, b) = (TcpSink::start(), TcpSink::start());
    let ca = Client::from_json(config(a.port, json!({"extra":{"h":"a"}})).as_bytes()).unwrap();
    let cb = Client::from_json(config(b.port, json!({"extra":{"h":"b"}})).as_bytes()).unwrap();
    emit_seq(&ca, 0..100);
    emit_seq(&cb, 0..50);
    ca.shutdown(LONG).unwrap();
    assert_eq!(cb.flush(LONG), Ok(()));
    assert_eq!(seqs(&a.wait_for(100, LONG)).len(), 100);
    assert_eq!(seqs(&b.wait_for(50, LONG)).len(), 50);
    assert!(parse(&b.lines()).iter().all(|e| e["extra"]["h"] == "b"));
    cb.shutdown(LONG).unwrap();
}

#[test]
fn many_threads_emit_concurrently_and_nothing_is_lost() {
    let sink = TcpSink::start();
    let client =
        std::sync::Arc::new(Client::from_json(config(sink.port, json!({})).as_bytes()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = client.clone();
            std::thread::spawn(move || emit_seq(&c, t * 1000..(t + 1) * 1000))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(client.flush(LONG), Ok(()));
    let got: BTreeSet<u64> = seqs(&sink.wait_for(8000, LONG)).into_iter().collect();
    assert_eq!(got.len(), 8000);
    client.shutdown(LONG).unwrap();
}

#[test]
fn disabled_handle_accepts_and_discards() {
    let sink = TcpSink::start();
    let client = Client::from_json(config(sink.port, json!({"enable": false})).as_bytes()).unwrap();
    client.emit_json(br#"{"message":"x"}"#).unwrap();
    assert_eq!(
        client.emit_json(b"[]"),
        Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT)
    );
    assert_eq!(client.flush(LONG), Ok(()));
    client.shutdown(LONG).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sink.lines().len(), 0);
}

#[test]
fn queue_full_is_reported_and_counted() {
    let port = free_port();
    let cfg = config(
        port,
        json!({"max_queue_events": 10, "queue_check_interval": 3600, "queued_events_flush_count": 1000, "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let mut full = 0;
    for _ in 0..100 {
        if client.emit_json(b"{}") == Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL) {
            full += 1;
        }
    }
    assert!(full > 0);
    assert_eq!(client.stats().dropped_queue_full, full);
    let _ = client.shutdown(Duration::from_millis(100));
}

#[test]
fn a_second_handle_on_the_same_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        free_port(),
        json!({"database_path": dir.path().join("x.db").to_str().unwrap()}),
    );
    let first = Client::from_json(cfg.as_bytes()).unwrap();
    let err = Client::from_json(cfg.as_bytes()).err().unwrap();
    assert!(
        err.contains("database_path") && err.contains("in use"),
        "{err}"
    );
    let _ = first.shutdown(Duration::from_millis(100));
}

#[test]
fn shutdown_returns_within_its_timeout_when_the_receiver_is_stalled() {
    // A receiver that accepts but never reads: the worker blocks in send().
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(s);
    });
    let client = Client::from_json(
        config(
            port,
            json!({"socket_timeout": 30.0, "stderr_errors": false}),
        )
        .as_bytes(),
    )
    .unwrap();
    let payload = format!(r#"{{"message":"{}"}}"#, "y".repeat(10_000));
    let started = Instant::now();
    for _ in 0..5_000 {
        let _ = client.emit_json(payload.as_bytes());
    }
    // Emit never waits for the network (generous bound: a loaded debug build).
    assert!(started.elapsed() < Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let r = client.shutdown(Duration::from_millis(300));
    assert_ne!(r, Ok(()));
    assert!(
        started.elapsed() < Duration::from_millis(300 + 2000),
        "took {:?}",
        started.elapsed()
    );
    accepted.join().unwrap();
}

#[test]
fn memory_buffer_outgrowing_its_tail_during_an_outage_delivers_everything_in_order() {
    // ~60 MB of formatted events: beyond the 32 MiB a `:memory:` buffer holds
    // outside SQLite, so the oldest chunks go through SQLite and back.
    let port = free_port();
    let client = Client::from_json(
        config(
            port,
            json!({"stderr_errors": false, "max_queue_events": 200_000}),
        )
        .as_bytes(),
    )
    .unwrap();
    let pad = "p".repeat(300);
    for i in 0..120_000u64 {
        let ev = format!(r#"{{"message":"event {i}","seq":{i},"pad":"{pad}"}}"#);
        client.emit_json(ev.as_bytes()).expect("accepted");
    }
    // Everything reaches the buffer while the receiver is down.
    let deadline = Instant::now() + LONG;
    while client.stats().buffered < 120_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.stats().buffered, 120_000);
    let sink = TcpSink::start_on(port);
    assert_eq!(client.flush(LONG), Ok(()));
    let lines = sink.wait_for(120_000, LONG);
    assert_eq!(seqs(&lines), (0..120_000).collect::<Vec<_>>());
    let stats = client.stats();
    assert_eq!(
        (stats.sent, stats.dropped(), stats.database_errors),
        (120_000, 0, 0)
    );
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_receiver_that_reads_everything_and_closes_confirms_it_all_without_resending() {
    // Reads 100 lines, then closes (a FIN): the first connection; the next
    // ones read until the client closes.
    let sink = TcpSink::closing_after(100, Close::Fin, 1);
    let client = client(sink.port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..100);
    assert_eq!(client.flush(LONG), Ok(()));
    assert!(wait_until(LONG, || sink.connections() == 1 && sink.count() == 100));
    // The next batch finds the connection closed and opens another.
    emit_seq(&client, 100..200);
    let started = Instant::now();
    assert_eq!(client.shutdown(Duration::from_secs(5)), Ok(()));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    assert_exactly(&sink.lines(), 0..200);
    let stats = client.stats();
    assert_eq!(
        (stats.sent, stats.resent, stats.send_errors),
        (200, 0, 0),
        "{stats:?}"
    );
    assert_eq!(sink.connections(), 2);
}

#[test]
fn a_receiver_that_closes_at_once_after_the_last_line_makes_shutdown_return_ok() {
    // The C consumer's case: 100 events, a receiver that reads 100 lines and closes.
    let sink = TcpSink::closing_after(100, Close::Fin, 1);
    let client = client(sink.port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..100);
    let started = Instant::now();
    assert_eq!(client.shutdown(Duration::from_secs(5)), Ok(()));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    assert_exactly(&sink.lines(), 0..100);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.resent, stats.send_errors), (100, 0, 0));
}

#[test]
fn a_receiver_that_resets_or_closes_with_unread_data_gets_everything_again() {
    // Reset after 10 lines; or a plain close after 10 lines with more unread
    // (10 KiB events: they cannot all have been read at once), which Linux
    // turns into a reset as well.
    let pad = "r".repeat(10_000);
    for close in [Close::Reset, Close::Fin] {
        let sink = TcpSink::closing_after(10, close, 1);
        let client = client(sink.port, json!({"stderr_errors": false}));
        for i in 0..200u64 {
            let ev = format!(r#"{{"message":"event {i}","seq":{i},"pad":"{pad}"}}"#);
            client.emit_json(ev.as_bytes()).unwrap();
        }
        assert_eq!(client.flush(LONG), Ok(()), "{close:?}");
        let stats = client.stats();
        let all = seqs(&sink.wait_for(200, LONG));
        let duplicates = assert_at_least_once(&all, 0..200, stats.resent);
        if stats.send_errors == 0 {
            // A close can still be graceful when the receiver happened to
            // read all that had been written (a slow sender): then its FIN
            // proved delivery, and nothing may come twice.
            assert!(matches!(close, Close::Fin), "{stats:?}");
            assert_eq!((stats.resent, duplicates), (0, 0), "{stats:?}");
        } else {
            assert!(stats.resent >= 10, "{close:?}: what was read is resent too");
            assert!(duplicates >= 10, "{close:?}: {duplicates}");
        }
        assert_eq!(client.shutdown(LONG), Ok(()));
    }
}
