//! `connection_ttl`: tcp (plain and TLS) and beats connections renewed
//! between batches while events keep flowing, nothing lost or duplicated;
//! with `hosts` and `loadbalance` each host's connection renewed in turn.
//! (The option's refusals are in the config's unit tests.)

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::beats_server::{BeatsServer, Behaviour};
use support::pki::Pki;
use support::tls_relay::TlsRelay;
use support::*;

const LONG: Duration = Duration::from_secs(30);
/// Short enough for several renewals while the events flow (about 2 s).
const TTL: f64 = 0.2;
const EVENTS: u64 = 4_000;

/// Emits `0..EVENTS` over about two seconds, in 20 steps: traffic that
/// spans several TTLs, with batches before and after each renewal.
fn emit_for_two_seconds(client: &logstash_async::Client) {
    for step in 0..20 {
        emit_seq(client, step * EVENTS / 20..(step + 1) * EVENTS / 20);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client of `config(port, extra)` with the TTL.
fn with_ttl(port: u16, extra: Value) -> logstash_async::Client {
    client(port, merged(json!({"connection_ttl": TTL}), extra))
}

/// What a tcp receiver got: every event once (in any order: the old and
/// the new connection are read by separate threads).
fn assert_each_line_once(lines: &[String]) {
    assert_exactly_once(&seqs(lines), EVENTS);
}

#[test]
fn tcp_connections_are_renewed_between_batches_nothing_lost_or_sent_twice() {
    let sink = TcpSink::start();
    let renewing = with_ttl(sink.port, json!({}));
    emit_for_two_seconds(&renewing);
    assert_eq!(renewing.flush(LONG), Ok(()));
    assert_each_line_once(&sink.wait_for(EVENTS as usize, LONG));
    let stats = renewing.stats();
    assert_eq!((stats.resent, stats.send_errors), (0, 0), "{stats:?}");
    assert!(
        stats.connects >= 3,
        "2 s of traffic, a 0.2 s TTL: {stats:?}"
    );
    assert_eq!(sink.connections() as u64, stats.connects);
    assert_eq!(renewing.shutdown(LONG), Ok(()));

    // Without the option the same traffic keeps one connection.
    let sink = TcpSink::start();
    let kept = client(sink.port, json!({}));
    emit_for_two_seconds(&kept);
    assert_eq!(kept.shutdown(LONG), Ok(()));
    assert_each_line_once(&sink.wait_for(EVENTS as usize, LONG));
    assert_eq!(sink.connections(), 1);
}

#[test]
fn tls_connections_are_renewed_too() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(dir.path());
    let sink = TcpSink::start();
    let relay = TlsRelay::start(&pki, sink.port);
    let client = with_ttl(
        relay.port,
        json!({"ssl_enable": true, "ca_certs": pki.path("ca.crt")}),
    );
    emit_for_two_seconds(&client);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_each_line_once(&sink.wait_for(EVENTS as usize, LONG));
    let stats = client.stats();
    assert_eq!((stats.resent, stats.send_errors), (0, 0), "{stats:?}");
    assert!(stats.connects >= 3, "{stats:?}");
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn beats_connections_are_renewed_with_windows_in_flight_never_mid_window() {
    // ACKs 50 ms late: windows are out whenever a renewal comes.
    let server = BeatsServer::start(Behaviour {
        ack_delay: Duration::from_millis(50),
        ..Behaviour::default()
    });
    let client = with_ttl(server.port, json!({"transport": "beats"}));
    emit_for_two_seconds(&client);
    assert_eq!(client.flush(LONG), Ok(()));
    let acked = server.wait_acked(EVENTS as usize, LONG);
    assert_exactly_once(&acked, EVENTS);
    let (received, connections, errors) =
        server.with(|r| (r.received.clone(), r.connections, r.errors.clone()));
    assert_exactly_once(&received, EVENTS);
    assert!(errors.is_empty(), "{errors:?}");
    let stats = client.stats();
    assert_eq!((stats.resent, stats.send_errors), (0, 0), "{stats:?}");
    assert!(connections >= 3, "{connections} connections: {stats:?}");
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn with_loadbalance_every_hosts_connection_is_renewed() {
    let sinks = [TcpSink::start(), TcpSink::start()];
    let ports: Vec<u16> = sinks.iter().map(|s| s.port).collect();
    let config = hosts_config(
        "tcp",
        &ports,
        json!({"loadbalance": true, "connection_ttl": TTL}),
    );
    let client = logstash_async::Client::from_json(config.as_bytes()).unwrap();
    emit_for_two_seconds(&client);
    assert_eq!(client.flush(LONG), Ok(()));
    assert!(wait_until(LONG, || sinks
        .iter()
        .map(TcpSink::count)
        .sum::<usize>()
        >= EVENTS as usize));
    let all: Vec<String> = sinks.iter().flat_map(TcpSink::lines).collect();
    assert_each_line_once(&all);
    for sink in &sinks {
        assert!(sink.count() > 0, "both hosts take batches");
        assert!(
            sink.connections() >= 2,
            "{} connections",
            sink.connections()
        );
    }
    let stats = client.stats();
    assert_eq!((stats.resent, stats.send_errors), (0, 0), "{stats:?}");
    assert_eq!(client.shutdown(LONG), Ok(()));
}
