//! The beats transport against a Lumberjack v2 test receiver, and several hosts
//! (failover, load balancing) for beats and tcp, over real loopback sockets:
//! pipelined windows against a receiver that answers late, partial and
//! keepalive ACKs, connections killed mid-window, a receiver restarted.

mod support;

use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::time::{Duration, Instant};
use support::beats_server::{BeatsServer, Behaviour};
use support::tls_relay::TlsRelay;
use support::*;

const LONG: Duration = Duration::from_secs(30);

fn beats(port: u16, extra: serde_json::Value) -> Client {
    client(port, merged(json!({"transport": "beats"}), extra))
}

/// A client for several loopback hosts.
fn several(transport: &str, ports: &[u16], extra: serde_json::Value) -> Client {
    Client::from_json(hosts_config(transport, ports, extra).as_bytes()).unwrap()
}

#[test]
fn beats_with_and_without_compression_delivers_exactly_once() {
    for level in [0, 3, 9] {
        let server = BeatsServer::start(Behaviour::default());
        let client = beats(server.port, json!({"compression_level": level}));
        emit_seq(&client, 0..3_000);
        assert_eq!(client.flush(LONG), Ok(()), "level {level}");
        assert_exactly_once(&server.acked(), 3_000);
        assert_eq!(buffered_after_flush(&client), 0);
        let stats = client.stats();
        assert_eq!((stats.sent, stats.send_errors), (3_000, 0));
        let compressed = server.with(|r| r.compressed_frames);
        assert_eq!(
            compressed > 0,
            level > 0,
            "level {level}: {compressed} C frames"
        );
        let sample: serde_json::Value =
            serde_json::from_str(&server.with(|r| r.sample.clone()).unwrap()).unwrap();
        assert_eq!(sample["@version"], "1");
        assert_eq!(server.with(|r| r.connections), 1, "one connection, reused");
        client.shutdown(LONG).unwrap();
    }
}

#[test]
fn windows_larger_than_beats_window_size_are_split() {
    let server = BeatsServer::start(Behaviour::default());
    let client = beats(
        server.port,
        json!({"queued_events_batch_size": 500, "beats_window_size": 64}),
    );
    emit_seq(&client, 0..2_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_exactly_once(&server.acked(), 2_000);
    assert!(server.with(|r| r.windows) >= 2_000 / 64);
    client.shutdown(LONG).unwrap();
}

#[test]
fn partial_acks_complete_windows_without_errors() {
    let server = BeatsServer::start(Behaviour {
        partial_acks: true,
        ..Behaviour::default()
    });
    let client = beats(server.port, json!({}));
    emit_seq(&client, 0..1_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_exactly_once(&server.acked(), 1_000);
    assert_eq!(client.stats().send_errors, 0);
    client.shutdown(LONG).unwrap();
}

#[test]
fn keepalives_extend_a_short_ack_timeout() {
    let server = BeatsServer::start(Behaviour {
        keepalive_windows: 2,
        slow: Duration::from_millis(1_000),
        interval: Duration::from_millis(50),
        ..Behaviour::default()
    });
    // Each of the first two windows takes 1 s, over three times the timeout.
    let client = beats(server.port, json!({"beats_ack_timeout": 0.3}));
    emit_seq(&client, 0..200);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_exactly_once(&server.acked(), 200);
    assert_eq!(client.stats().send_errors, 0, "keepalives kept it waiting");
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_connection_dropped_mid_window_loses_nothing_and_acks_nothing_twice() {
    let server = BeatsServer::start(Behaviour {
        drop_windows: vec![(2, true), (4, false), (5, true), (9, true)],
        ..Behaviour::default()
    });
    let client = beats(server.port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..2_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_exactly_once(&server.acked(), 2_000);
    let received = server.with(|r| r.received.len());
    assert!(
        received > 2_000,
        "unacknowledged events were resent ({received})"
    );
    assert_eq!(buffered_after_flush(&client), 0);
    let stats = client.stats();
    assert_eq!(stats.sent, 2_000);
    assert_eq!(stats.send_errors, 4);
    assert!(server.with(|r| r.connections) >= 5);
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_receiver_that_never_acks_keeps_the_events() {
    let server = BeatsServer::start(Behaviour {
        never_ack: true,
        ..Behaviour::default()
    });
    let quick = json!({"beats_ack_timeout": 0.2, "stderr_errors": false});
    let mem = beats(server.port, quick.clone());
    emit_seq(&mem, 0..10);
    assert_eq!(
        mem.flush(Duration::from_millis(800)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    let stats = mem.stats();
    assert_eq!((stats.sent, stats.buffered), (0, 10));
    assert!(stats.send_errors > 0);
    assert!(stats.last_error.unwrap().contains("acknowledgement"));
    let started = Instant::now();
    assert_ne!(mem.shutdown(Duration::from_millis(200)), Ok(()));
    assert!(started.elapsed() < Duration::from_secs(2));

    let dir = tempfile::tempdir().unwrap();
    let mut file = quick;
    file["database_path"] = json!(dir.path().join("b.db").to_str().unwrap());
    let client = beats(server.port, file);
    emit_seq(&client, 0..10);
    assert_eq!(
        client.flush(Duration::from_secs(10)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    assert_eq!(client.stats().buffered, 10);
    assert!(server.acked().is_empty());
    let _ = client.shutdown(Duration::from_millis(200));
}

#[test]
fn beats_failover_kill_one_host_mid_stream_exactly_once_at_the_other() {
    let a = BeatsServer::start(Behaviour::default());
    let b = BeatsServer::start(Behaviour::default());
    let client = several("beats", &[a.port, b.port], json!({}));
    emit_seq(&client, 0..5_000);
    a.wait_acked(1_000, LONG);
    let from_a = a.kill();
    emit_seq(&client, 5_000..10_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let from_b = b.acked();
    assert!(!from_b.is_empty(), "the second host took over");
    let mut all = from_a;
    all.extend(from_b);
    assert_exactly_once(&all, 10_000);
    client.shutdown(LONG).unwrap();
}

#[test]
fn failover_returns_to_the_first_host_once_it_is_back() {
    let a = BeatsServer::start(Behaviour::default());
    let port_a = a.port;
    let b = BeatsServer::start(Behaviour::default());
    let client = several("beats", &[port_a, b.port], json!({}));
    emit_seq(&client, 0..500);
    assert_eq!(client.flush(LONG), Ok(()));
    let mut all = a.kill();
    assert_eq!(all.len(), 500, "the first host is preferred");
    emit_seq(&client, 500..1_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(b.acked().len(), 500, "the second host took over");
    let a = BeatsServer::start_on(port_a, Behaviour::default());
    // The first host's own delay (at most backoff_max, 0.5 s here) runs out.
    std::thread::sleep(Duration::from_millis(800));
    emit_seq(&client, 1_000..1_500);
    assert_eq!(client.flush(LONG), Ok(()));
    let back = a.acked();
    assert_eq!(back.len(), 500, "back on the first host");
    all.extend(back);
    all.extend(b.acked());
    assert_exactly_once(&all, 1_500);
    client.shutdown(LONG).unwrap();
}

#[test]
fn tcp_failover_kill_one_host_mid_stream_at_least_once_with_duplicates_counted() {
    let a = TcpSink::start();
    let b = TcpSink::start();
    let client = several("tcp", &[a.port, b.port], json!({}));
    emit_seq(&client, 0..5_000);
    a.wait_for(1_000, LONG);
    let from_a = a.kill();
    emit_seq(&client, 5_000..10_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let mut all = seqs(&from_a);
    all.extend(seqs(&b.lines()));
    assert_at_least_once(&all, 0..10_000, client.stats().resent);
    client.shutdown(LONG).unwrap();
}

#[test]
fn loadbalance_spreads_batches_over_both_hosts() {
    let a = BeatsServer::start(Behaviour::default());
    let b = BeatsServer::start(Behaviour::default());
    let client = several("beats", &[a.port, b.port], json!({"loadbalance": true}));
    emit_seq(&client, 0..4_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let (from_a, from_b) = (a.acked(), b.acked());
    let mut all = from_a.clone();
    all.extend(&from_b);
    assert_exactly_once(&all, 4_000);
    for (name, got) in [("a", from_a.len()), ("b", from_b.len())] {
        assert!(
            (1_000..=3_000).contains(&got),
            "host {name} got {got} of 4000: not spread evenly"
        );
    }
    client.shutdown(LONG).unwrap();

    let (a, b) = (TcpSink::start(), TcpSink::start());
    let client = several("tcp", &[a.port, b.port], json!({"loadbalance": true}));
    emit_seq(&client, 0..4_000);
    assert_eq!(client.flush(LONG), Ok(()));
    client.shutdown(LONG).unwrap();
    let (na, nb) = (a.count(), b.count());
    assert_eq!(na + nb, 4_000);
    assert!((1_000..=3_000).contains(&na), "tcp: {na} / {nb}");
}

#[test]
fn all_hosts_down_then_one_comes_up_and_the_backlog_drains() {
    for transport in ["beats", "tcp"] {
        let (p1, p2) = (free_port(), free_port());
        let client = several(transport, &[p1, p2], json!({}));
        emit_seq(&client, 0..1_000);
        std::thread::sleep(Duration::from_millis(600));
        assert!(client.stats().send_errors > 0, "{transport}: it tried");
        assert_eq!(client.stats().buffered, 1_000);
        if transport == "beats" {
            let server = BeatsServer::start_on(p2, Behaviour::default());
            assert_eq!(client.flush(LONG), Ok(()));
            assert_exactly_once(&server.acked(), 1_000);
        } else {
            let sink = TcpSink::start_on(p2);
            assert_eq!(client.flush(LONG), Ok(()));
            let lines = sink.wait_for(1_000, LONG);
            assert_eq!(seqs(&lines), (0..1_000).collect::<Vec<_>>());
        }
        assert_eq!(buffered_after_flush(&client), 0);
        client.shutdown(LONG).unwrap();
    }
}

/// Throughput of beats vs tcp to a loopback receiver. Run with
/// `cargo test --release --test beats -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput_beats_vs_tcp() {
    const N: u64 = 200_000;
    let run = |client: &Client| {
        let started = Instant::now();
        emit_seq(client, 0..N);
        assert_eq!(client.flush(Duration::from_secs(300)), Ok(()));
        N as f64 / started.elapsed().as_secs_f64()
    };
    let big = json!({"queued_events_batch_size": 500, "max_queue_events": 1_000_000});
    let sink = TcpSink::start();
    let tcp = Client::from_json(config(sink.port, big.clone()).as_bytes()).unwrap();
    let tcp_rate = run(&tcp);
    tcp.shutdown(LONG).unwrap();
    println!("tcp:                         {tcp_rate:>10.0} events/s");
    for (level, window) in [(0, 500), (3, 500), (3, 256)] {
        let server = BeatsServer::start(Behaviour::default());
        let mut extra = big.clone();
        extra["compression_level"] = json!(level);
        extra["beats_window_size"] = json!(window);
        let client = beats(server.port, extra);
        let rate = run(&client);
        client.shutdown(LONG).unwrap();
        assert_eq!(server.acked().len() as u64, N);
        println!("beats level {level} window {window:>3}:   {rate:>10.0} events/s");
    }
}

#[test]
fn beats_over_tls_delivers_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::create(dir.path());
    let server = BeatsServer::start(Behaviour::default());
    let relay = TlsRelay::start(&pki, server.port);
    let client = beats(
        relay.port,
        json!({"ssl_enable": true, "ca_certs": pki.path("ca.crt"), "stderr_errors": false}),
    );
    emit_seq(&client, 0..5_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let acked = server.wait_acked(5_000, LONG);
    assert_eq!(acked, (0..5_000).collect::<Vec<_>>());
    client.shutdown(LONG).unwrap();
    drop(relay);
}

#[test]
fn delayed_acks_overlap_with_pipelined_windows() {
    for pipelining in [1, 2, 4] {
        let server = BeatsServer::start(Behaviour {
            ack_delay: Duration::from_millis(50),
            ..Behaviour::default()
        });
        let client = beats(
            server.port,
            json!({"beats_pipelining": pipelining, "max_queue_events": 100_000}),
        );
        let started = Instant::now();
        emit_seq(&client, 0..20_000);
        assert_eq!(client.flush(LONG), Ok(()));
        let took = started.elapsed();
        assert_exactly_once(&server.acked(), 20_000);
        let waiting = server.with(|r| r.max_waiting);
        println!("pipelining {pipelining}: 20000 events with ACKs after 50 ms in {took:?}");
        assert_eq!(waiting, pipelining, "windows awaiting their ACK at once");
        let stats = client.stats();
        assert_eq!(
            (stats.sent, stats.send_errors, stats.resent),
            (20_000, 0, 0)
        );
        assert_eq!(server.with(|r| r.connections), 1);
        client.shutdown(LONG).unwrap();
    }
}

#[test]
fn a_receiver_that_acks_after_seconds_does_not_make_the_queue_overflow() {
    // The issue's case: a receiver that ACKs each window after 5 s, an
    // application emitting 25k events/s into a file buffer with a queue of
    // 20,000: the worker goes on storing while windows wait.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let slow = BeatsServer::start(Behaviour {
        ack_delay: Duration::from_secs(5),
        ..Behaviour::default()
    });
    let port = slow.port;
    let options = json!({
        "database_path": db.to_str().unwrap(),
        "max_queue_events": 20_000,
        "stderr_errors": false,
    });
    let client = beats(port, options.clone());
    emit_paced(&client, 50_000, 25_000);
    let stats = client.stats();
    assert_eq!(stats.dropped_queue_full, 0, "{stats:?}");
    assert!(wait_until(LONG, || client.stats().buffered == 50_000));
    assert!(slow.with(|r| r.windows) >= 1, "windows went out meanwhile");
    let _ = client.shutdown(Duration::from_millis(200));
    // Killed before its ACKs are due: nothing was acknowledged.
    assert!(slow.kill().is_empty());
    let server = BeatsServer::start_on(port, Behaviour::default());
    let client = beats(port, options);
    wait_drained(&client, 50_000, LONG);
    assert_exactly_once(&server.acked(), 50_000);
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_connection_killed_mid_window_with_two_windows_out_resends_exactly_the_rest() {
    let server = BeatsServer::start(Behaviour {
        ack_delay: Duration::from_millis(30),
        partial_acks: true,
        kill_mid_window: vec![(4, 10), (9, 1)],
        ..Behaviour::default()
    });
    let client = beats(server.port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..10_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_exactly_once(&server.acked(), 10_000);
    let stats = client.stats();
    assert_eq!(stats.sent, 10_000);
    assert_eq!(stats.send_errors, 2, "{stats:?}");
    assert!(stats.resent > 0, "the windows cut short went out again");
    assert!(server.with(|r| r.connections) >= 3);
    assert!(server.with(|r| r.max_waiting) >= 2);
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_receiver_restarted_mid_stream_gets_each_event_exactly_once() {
    let server = BeatsServer::start(Behaviour {
        ack_delay: Duration::from_millis(10),
        ..Behaviour::default()
    });
    let port = server.port;
    let client = beats(port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..20_000);
    server.wait_acked(2_000, LONG);
    let mut all = server.kill();
    emit_seq(&client, 20_000..30_000);
    std::thread::sleep(Duration::from_millis(300));
    let server = BeatsServer::start_on(port, Behaviour::default());
    assert_eq!(client.flush(LONG), Ok(()));
    all.extend(server.acked());
    assert_exactly_once(&all, 30_000);
    assert!(client.stats().send_errors > 0);
    client.shutdown(LONG).unwrap();
}

#[test]
fn loadbalance_keeps_windows_out_on_every_host_at_once() {
    let slow = || {
        BeatsServer::start(Behaviour {
            ack_delay: Duration::from_millis(100),
            ..Behaviour::default()
        })
    };
    let (a, b) = (slow(), slow());
    let client = several(
        "beats",
        &[a.port, b.port],
        json!({"loadbalance": true, "max_queue_events": 100_000}),
    );
    emit_seq(&client, 0..30_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let mut all = a.acked();
    all.extend(b.acked());
    assert_exactly_once(&all, 30_000);
    for (name, server) in [("a", &a), ("b", &b)] {
        let (windows, waiting) = server.with(|r| (r.windows, r.max_waiting));
        assert!(windows >= 3, "host {name}: {windows} windows");
        assert_eq!(waiting, 2, "host {name}: its own pipeline");
    }
    client.shutdown(LONG).unwrap();
}

#[test]
fn shutdown_is_bounded_with_windows_that_are_never_acked() {
    let server = BeatsServer::start(Behaviour {
        never_ack: true,
        ..Behaviour::default()
    });
    let client = beats(server.port, json!({"stderr_errors": false}));
    emit_seq(&client, 0..5_000);
    assert!(wait_until(LONG, || server.with(|r| r.windows) >= 2));
    let started = Instant::now();
    assert_ne!(client.shutdown(Duration::from_millis(300)), Ok(()));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300 + 250 + 200), "{took:?}");
    assert_eq!(client.stats().sent, 0);
}

#[test]
fn beats_options_are_refused_with_other_transports() {
    let err = |json: &str| logstash_async::Config::from_json(json.as_bytes()).unwrap_err();
    for option in [
        r#""compression_level":3"#,
        r#""beats_window_size":64"#,
        r#""beats_pipelining":2"#,
        r#""beats_ack_timeout":5"#,
    ] {
        let name = option.split('"').nth(1).unwrap();
        for transport in ["tcp", "udp", "http"] {
            let e = err(&format!(
                r#"{{"host":"h","transport":"{transport}",{option}}}"#
            ));
            assert_eq!(
                e,
                format!("{name}: only used with the beats transport"),
                "{transport}"
            );
        }
    }
    let e = err(r#"{"host":"h","transport":"beats","beats_pipelining":0}"#);
    assert!(e.starts_with("beats_pipelining: 0 is out of range"), "{e}");
    let c = logstash_async::Config::from_json(br#"{"host":"h","transport":"beats"}"#).unwrap();
    assert_eq!((c.beats_window_size, c.beats_pipelining), (2048, 2));
}

#[test]
fn events_acknowledged_inside_a_stored_row_are_not_sent_again_by_the_next_handle() {
    // Window 1 (16 events of the first 50-event row) is half acknowledged,
    // then the connection closes and the receiver goes away; shutdown's last
    // attempt fails: the row keeps only its unacknowledged events for the
    // next handle.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let first = BeatsServer::start(Behaviour {
        drop_windows: vec![(1, true)],
        ..Behaviour::default()
    });
    let options = |port| {
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": false,
               "backoff_initial": 30.0, "backoff_max": 30.0, "port": port})
    };
    let client = beats(first.port, options(first.port));
    emit_seq(&client, 0..100);
    assert!(wait_until(LONG, || client.stats().send_errors > 0));
    assert_eq!(client.stats().sent, 8);
    let mut all = first.kill();
    assert_eq!(all, (0..8).collect::<Vec<_>>());
    assert_eq!(
        client.shutdown(Duration::from_millis(200)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    let second = BeatsServer::start(Behaviour::default());
    let client = beats(second.port, options(second.port));
    wait_drained(&client, 92, LONG);
    let again = second.acked();
    assert_eq!(again.len(), 92, "only what was not acknowledged");
    all.extend(again);
    assert_exactly_once(&all, 100);
    client.shutdown(LONG).unwrap();
}
