//! The beats transport against a Lumberjack v2 test receiver, and several hosts
//! (failover, load balancing) for beats and tcp, over real loopback sockets.

mod common;
mod support;

use common::beats_server::{BeatsServer, Behaviour};
use common::*;
use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

fn emit_seq(client: &Client, range: std::ops::Range<u64>) {
    for i in range {
        let ev = format!(r#"{{"message":"event {i}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).expect("accepted");
    }
}

fn beats(port: u16, extra: serde_json::Value) -> Client {
    let mut cfg: serde_json::Value =
        serde_json::from_str(&config(port, json!({"transport": "beats"}))).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    Client::from_json(cfg.to_string().as_bytes()).unwrap()
}

/// A client for several loopback hosts (`hosts` instead of host/port).
fn several(transport: &str, ports: &[u16], extra: serde_json::Value) -> Client {
    let mut cfg: serde_json::Value = serde_json::from_str(&config(0, json!({}))).unwrap();
    let map = cfg.as_object_mut().unwrap();
    map.remove("host");
    map.remove("port");
    map.insert("transport".into(), json!(transport));
    map.insert(
        "hosts".into(),
        json!(ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()),
    );
    map.insert("stderr_errors".into(), json!(false));
    for (k, v) in extra.as_object().unwrap() {
        map.insert(k.clone(), v.clone());
    }
    Client::from_json(cfg.to_string().as_bytes()).unwrap()
}

/// `stats().buffered` once it reached 0 (bounded wait): the worker publishes
/// it just after completing the flush, so it may lag `flush` by a moment.
fn buffered_after_flush(client: &Client) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.stats().buffered > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    client.stats().buffered
}

/// Every event of `0..n` acknowledged exactly once.
fn assert_exactly_once(acked: &[u64], n: u64) {
    let mut sorted = acked.to_vec();
    sorted.sort_unstable();
    let unique: BTreeSet<u64> = sorted.iter().copied().collect();
    assert_eq!(
        unique,
        (0..n).collect::<BTreeSet<_>>(),
        "every event acknowledged"
    );
    assert_eq!(sorted.len() as u64, n, "no event acknowledged twice");
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
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique, (0..10_000).collect::<BTreeSet<_>>(), "nothing lost");
    let duplicates = (all.len() - unique.len()) as u64;
    let stats = client.stats();
    assert!(
        duplicates <= stats.resent,
        "duplicates ({duplicates}) are counted as resent ({})",
        stats.resent
    );
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

/// A TLS front for a plain server: accepts TLS on its own port (the test
/// PKI's server certificate) and relays bytes both ways to `backend`, as a
/// TLS-terminating load balancer in front of Logstash would.
struct TlsRelay {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TlsRelay {
    fn start(pki: &support::pki::Pki, backend: u16) -> TlsRelay {
        use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor
            .set_private_key_file(pki.path("server.key"), SslFiletype::PEM)
            .unwrap();
        acceptor
            .set_certificate_chain_file(pki.path("server.crt"))
            .unwrap();
        let acceptor = acceptor.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Acquire) {
                let Ok((tcp, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                tcp.set_nonblocking(false).unwrap();
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    continue;
                };
                let mut back = std::net::TcpStream::connect(("127.0.0.1", backend)).unwrap();
                // One thread, both directions: short read timeouts on each side.
                tls.get_ref()
                    .set_read_timeout(Some(Duration::from_millis(2)))
                    .unwrap();
                back.set_read_timeout(Some(Duration::from_millis(2)))
                    .unwrap();
                let stop3 = stop2.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    let timed_out = |e: &std::io::Error| {
                        matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    };
                    while !stop3.load(Ordering::Acquire) {
                        match tls.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => back.write_all(&buf[..n]).unwrap(),
                            Err(e) if timed_out(&e) => {}
                            Err(_) => break,
                        }
                        match back.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if tls.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            Err(e) if timed_out(&e) => {}
                            Err(_) => break,
                        }
                    }
                });
            }
        });
        TlsRelay { port, stop }
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
    }
}

#[test]
fn beats_over_tls_delivers_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let pki = support::pki::Pki::create(dir.path());
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
