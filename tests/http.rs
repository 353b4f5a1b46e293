//! The http transport against a real HTTP/1.1 server on loopback (plain and
//! TLS with a test CA): batching, keep-alive, several requests in flight
//! against a slow receiver, splitting by size, Basic auth and extra headers,
//! gzip, retries on 5xx/429 (with Retry-After), rejection on other 4xx,
//! several hosts.

mod support;

use logstash_async::Client;
use serde_json::json;
use std::time::{Duration, Instant};
use support::http_server::{Answer, HttpBehaviour, HttpServer};
use support::pki::Pki;
use support::{
    assert_exactly_once, client, emit_paced, emit_seq, event_seqs as seqs, free_port, hosts_config,
    merged,
};

const LONG: Duration = Duration::from_secs(30);

fn http_client(server: &HttpServer, extra: serde_json::Value) -> Client {
    client(server.port, merged(json!({"transport": "http"}), extra))
}

/// Every event of `0..n` accepted exactly once (in any order: requests in
/// flight at once are answered in any order).
fn assert_each_once(server: &HttpServer, n: u64) {
    let events = server.wait_for_events(n as usize, LONG);
    assert_exactly_once(&seqs(&events), n);
}

#[test]
fn batches_arrive_as_json_arrays_on_kept_alive_connections() {
    let server = HttpServer::start(&[], None);
    let client = http_client(&server, json!({"path": "/logs/in"}));
    for round in 0..3u64 {
        emit_seq(&client, round * 50..round * 50 + 50);
        assert_eq!(client.flush(LONG), Ok(()));
    }
    assert_each_once(&server, 150);
    let requests = server.requests();
    assert!(requests.len() >= 3, "a request per flush at least");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/logs/in");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("authorization").is_none());
        assert!(r.header("content-encoding").is_none());
    }
    assert!(
        server.connections() < requests.len() || requests.len() == 1,
        "keep-alive: {} connections for {} requests",
        server.connections(),
        requests.len()
    );
    assert_eq!(requests[0].events()[0]["message"], "event 0");
    let stats = client.stats();
    assert_eq!(
        (stats.sent, stats.dropped(), stats.send_errors),
        (150, 0, 0)
    );
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn one_request_in_flight_keeps_the_order() {
    let server = HttpServer::start_with(HttpBehaviour {
        delay: Duration::from_millis(5),
        ..HttpBehaviour::default()
    });
    let client = http_client(&server, json!({"http_max_in_flight": 1}));
    emit_seq(&client, 0..5_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let events = server.wait_for_events(5_000, LONG);
    assert_eq!(seqs(&events), (0..5_000).collect::<Vec<_>>());
    assert_eq!(server.max_in_flight(), 1);
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn a_slow_receiver_gets_several_requests_at_once_and_each_event_once() {
    let delay = Duration::from_millis(200);
    let server = HttpServer::start_with(HttpBehaviour {
        delay,
        ..HttpBehaviour::default()
    });
    let client = http_client(&server, json!({"max_queue_events": 100_000}));
    let started = Instant::now();
    emit_seq(&client, 0..20_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let took = started.elapsed();
    assert_each_once(&server, 20_000);
    let requests = server.requests();
    let most = requests.iter().map(|r| r.events().len()).max().unwrap();
    assert!(most <= 2048, "{most} events in one request");
    let in_flight = server.max_in_flight();
    assert!((2..=4).contains(&in_flight), "{in_flight} requests at once");
    // 20,000 events need 10 requests of 2,048: one at a time that is 2 s of
    // answers alone; four at a time about 0.6 s.
    println!("20000 events, answers after {delay:?}: {took:?}, {in_flight} requests at once");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.send_errors), (20_000, 0));
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn a_batch_is_split_to_fit_max_content_length_and_an_oversized_event_is_dropped() {
    let server = HttpServer::start(&[], None);
    let client = http_client(&server, json!({"max_content_length": 2048}));
    let pad = "p".repeat(300);
    for i in 0..20u64 {
        let ev = format!(r#"{{"message":"{pad}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).unwrap();
        if i == 7 {
            let huge = format!(r#"{{"message":"{}","seq":999}}"#, "h".repeat(4000));
            client.emit_json(huge.as_bytes()).unwrap();
        }
    }
    assert_eq!(client.flush(LONG), Ok(()));
    assert_each_once(&server, 20);
    let requests = server.requests();
    assert!(
        requests.len() >= 4,
        "20 events of ~600 bytes need several 2 KiB requests"
    );
    for r in &requests {
        assert!(r.body.len() <= 2048, "body of {} bytes", r.body.len());
    }
    let stats = client.stats();
    assert_eq!(stats.sent, 20);
    assert_eq!(stats.dropped_undeliverable, 1);
    assert_eq!(stats.send_errors, 0, "an oversized event is not retried");
    let last = stats.last_error.unwrap_or_default();
    assert!(last.contains("max_content_length"), "{last}");
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn basic_auth_header_is_sent_and_the_password_never_shows() {
    // The 401 body echoes the password: it must not reach stats or stderr.
    let server = HttpServer::start(&[(401, "wrong password s3cr3t-pw for logstash")], None);
    let client = http_client(
        &server,
        json!({"username": "logstash", "password": "s3cr3t-pw"}),
    );
    emit_seq(&client, 0..3);
    assert_eq!(client.flush(LONG), Ok(()));
    emit_seq(&client, 3..5);
    assert_eq!(client.flush(LONG), Ok(()));
    let events = server.wait_for_events(2, LONG);
    assert_eq!(seqs(&events), vec![3, 4]);
    for r in server.requests() {
        // base64("logstash:s3cr3t-pw")
        assert_eq!(
            r.header("authorization"),
            Some("Basic bG9nc3Rhc2g6czNjcjN0LXB3")
        );
    }
    let stats = client.stats();
    assert_eq!(stats.dropped_undeliverable, 3, "401 rejects the batch");
    let last = stats.last_error.clone().unwrap_or_default();
    assert!(last.contains("HTTP 401"), "{last}");
    assert!(last.contains("<redacted>"), "{last}");
    let all = serde_json::to_string(&stats).unwrap();
    assert!(!all.contains("s3cr3t-pw"), "{all}");
    let config = logstash_async::Config::from_json(
        br#"{"host":"h","transport":"http","username":"u","password":"s3cr3t-pw"}"#,
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("s3cr3t-pw"));
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn server_error_then_success_is_retried_and_nothing_is_lost() {
    let server = HttpServer::start(&[(500, "busy"), (503, "still busy")], None);
    let client = http_client(&server, json!({}));
    emit_seq(&client, 0..10);
    assert_eq!(client.flush(LONG), Ok(()));
    let events = server.wait_for_events(10, LONG);
    assert_eq!(
        seqs(&events),
        (0..10).collect::<Vec<_>>(),
        "each once, in order"
    );
    let requests = server.requests();
    assert_eq!(requests[0].status, 500);
    assert_eq!(requests[0].body, requests[2].body, "the same batch again");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped(), stats.send_errors), (10, 0, 2));
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn too_many_requests_is_retried() {
    let server = HttpServer::start(&[(429, "slow down")], None);
    let client = http_client(&server, json!({}));
    emit_seq(&client, 0..5);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(seqs(&server.wait_for_events(5, LONG)), vec![0, 1, 2, 3, 4]);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.send_errors), (5, 1));
    assert!(stats.last_error.unwrap().contains("HTTP 429"));
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn a_failed_request_among_several_resends_only_its_events() {
    // 12 events of ~270 bytes need several 1 KiB requests: the first is
    // accepted, the second fails, then everything is accepted.
    let server = HttpServer::start(&[(200, "ok"), (500, "oops")], None);
    let client = http_client(&server, json!({"max_content_length": 1024}));
    let pad = "p".repeat(200);
    for i in 0..12u64 {
        let ev = format!(r#"{{"message":"{pad}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).unwrap();
    }
    assert_eq!(client.flush(LONG), Ok(()));
    assert_each_once(&server, 12);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped(), stats.send_errors), (12, 0, 1));
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn bad_request_rejects_the_batch_counts_it_and_goes_on() {
    let server = HttpServer::start(&[(400, "{\"error\":\"bad json\"}")], None);
    let client = http_client(&server, json!({}));
    emit_seq(&client, 0..4);
    assert_eq!(
        client.flush(LONG),
        Ok(()),
        "rejected events are done, not pending"
    );
    emit_seq(&client, 4..6);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(seqs(&server.wait_for_events(2, LONG)), vec![4, 5]);
    assert_eq!(
        server.requests().len(),
        2,
        "the rejected batch is not retried"
    );
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped_undeliverable), (2, 4));
    assert_eq!(stats.send_errors, 0);
    let last = stats.last_error.unwrap();
    assert!(
        last.contains("HTTP 400") && last.contains("bad json"),
        "{last}"
    );
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn https_with_a_test_ca_delivers_and_an_unknown_ca_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(dir.path());
    let server = HttpServer::start(&[], Some(pki.acceptor()));
    let client = http_client(
        &server,
        json!({"ssl_enable": true, "ca_certs": pki.path("ca.crt")}),
    );
    emit_seq(&client, 0..5);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(seqs(&server.wait_for_events(5, LONG)), vec![0, 1, 2, 3, 4]);
    assert_eq!(client.shutdown(LONG), Ok(()));

    // The system roots do not know the test CA: the handshake fails, events stay.
    let client = http_client(&server, json!({"ssl_enable": true}));
    emit_seq(&client, 5..6);
    assert!(client.flush(Duration::from_secs(2)).is_err());
    let stats = client.stats();
    assert!(stats.send_errors >= 1);
    assert_eq!(stats.sent, 0);
    let _ = client.shutdown(Duration::from_millis(100));
    assert_eq!(server.accepted_events().len(), 5);
}

#[test]
fn http_options_are_checked() {
    let err = |json: &str| logstash_async::Config::from_json(json.as_bytes()).unwrap_err();
    assert!(err(r#"{"host":"h","path":"/x"}"#).starts_with("path: only used with the http"));
    assert!(err(r#"{"host":"h","transport":"http","path":"x y"}"#).starts_with("path:"));
    assert!(
        err(r#"{"host":"h","transport":"http","username":"u"}"#).starts_with("password: required")
    );
    assert!(
        err(r#"{"host":"h","transport":"http","password":"p"}"#).starts_with("username: required")
    );
    assert!(
        err(r#"{"host":"h","transport":"http","max_content_length":10}"#)
            .starts_with("max_content_length:")
    );
    let http = |extra: &str| err(&format!(r#"{{"host":"h","transport":"http",{extra}}}"#));
    assert!(http(r#""http_max_in_flight":0"#).starts_with("http_max_in_flight:"));
    assert!(http(r#""http_max_in_flight":65"#).starts_with("http_max_in_flight:"));
    let e = http(r#""http_compression":"br""#);
    assert!(
        e.starts_with("http_compression: unknown compression \"br\""),
        "{e}"
    );
    let e = http(r#""http_headers":["X-A: b"]"#);
    assert!(e.starts_with("http_headers: expected an object"), "{e}");
    let e = http(r#""http_headers":{"X A":"b"}"#);
    assert!(
        e.starts_with("http_headers: \"X A\" is not a valid header name"),
        "{e}"
    );
    let e = http(r#""http_headers":{"X-A":"b\r\nX-Injected: 1"}"#);
    assert!(
        e.starts_with("http_headers: the value of X-A contains a control"),
        "{e}"
    );
    let e = http(r#""http_headers":{"X-A":1}"#);
    assert!(
        e.starts_with("http_headers: the value of X-A must be a string"),
        "{e}"
    );
    let e = http(r#""http_headers":{"content-type":"text/plain"}"#);
    assert!(
        e.starts_with("http_headers: content-type is set by the transport"),
        "{e}"
    );
    let e = http(r#""http_headers":{"Authorization":"x"},"username":"u","password":"p""#);
    assert!(
        e.starts_with("http_headers: Authorization and username/password"),
        "{e}"
    );
    // Options of the other transports are refused, and these with them.
    let e = http(r#""beats_pipelining":2"#);
    assert!(
        e.starts_with("beats_pipelining: only used with the beats"),
        "{e}"
    );
    let e = err(r#"{"host":"h","http_compression":"gzip"}"#);
    assert!(
        e.starts_with("http_compression: only used with the http"),
        "{e}"
    );
    let e = err(r#"{"host":"h","transport":"http","username":"u","password":7}"#);
    assert!(e.starts_with("password: expected a string"), "{e}");
}

#[test]
fn ecs_layout_on_the_wire() {
    let server = HttpServer::start(&[], None);
    let client = http_client(&server, json!({"formatter": "ecs", "tags": ["t"]}));
    client.log(Some("ERROR"), Some("db"), "boom").unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    let events = server.wait_for_events(1, LONG);
    let ev = &events[0];
    assert_eq!(ev["message"], "boom");
    assert_eq!(ev["log"]["level"], "ERROR");
    assert_eq!(ev["log"]["logger"], "db");
    assert_eq!(ev["ecs"]["version"], "8.11.0");
    assert_eq!(ev["event"]["module"], "python-logstash");
    assert_eq!(ev["tags"], json!(["t"]));
    assert!(ev["process"]["thread"]["name"].is_string());
    assert!(ev.get("level").is_none() && ev.get("type").is_none());
    assert_eq!(client.shutdown(LONG), Ok(()));
    let e = logstash_async::Config::from_json(br#"{"host":"h","formatter":"gelf"}"#).unwrap_err();
    assert!(e.starts_with("formatter: unknown formatter"), "{e}");
}

#[test]
fn retry_after_is_honoured_before_the_batch_is_sent_again() {
    let server = HttpServer::start_with(HttpBehaviour {
        script: vec![Answer::new(503, "busy").retry_after(1)],
        ..HttpBehaviour::default()
    });
    // The backoff alone would retry after 50 ms.
    let client = http_client(&server, json!({"backoff_max": 5.0, "stderr_errors": false}));
    emit_seq(&client, 0..10);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_each_once(&server, 10);
    let requests = server.requests();
    let pause = requests[1].received - requests[0].answered;
    assert!(
        pause >= Duration::from_millis(950),
        "retried after {pause:?}"
    );
    assert_eq!(requests[0].body, requests[1].body, "the same batch again");
    assert_eq!(client.stats().send_errors, 1);
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn gzip_bodies_and_extra_headers() {
    for gzip in [true, false] {
        let server = HttpServer::start(&[], None);
        let compression = if gzip { "gzip" } else { "none" };
        let client = http_client(
            &server,
            json!({
                "http_compression": compression,
                "http_headers": {"X-Api-Key": "k-1", "Authorization": "ApiKey c2VjcmV0"},
            }),
        );
        emit_seq(&client, 0..3_000);
        assert_eq!(client.flush(LONG), Ok(()));
        assert_each_once(&server, 3_000);
        for r in server.requests() {
            assert_eq!(r.header("x-api-key"), Some("k-1"));
            assert_eq!(r.header("authorization"), Some("ApiKey c2VjcmV0"));
            if gzip {
                assert_eq!(r.header("content-encoding"), Some("gzip"));
                assert!(
                    r.wire_len * 4 < r.body.len(),
                    "compressed: {} -> {}",
                    r.body.len(),
                    r.wire_len
                );
            } else {
                assert_eq!(r.header("content-encoding"), None);
                assert_eq!(r.wire_len, r.body.len());
            }
        }
        assert_eq!(client.shutdown(LONG), Ok(()));
    }
}

#[test]
fn refused_requests_among_several_in_flight_are_dropped_once_and_the_rest_delivered() {
    // Every third request is refused for good (400), every fifth asks for a
    // retry (503): answers arrive while other requests are out.
    let server = HttpServer::start_with(HttpBehaviour {
        delay: Duration::from_millis(20),
        every: vec![(3, Answer::new(400, "bad")), (5, Answer::new(503, "busy"))],
        ..HttpBehaviour::default()
    });
    let client = http_client(&server, json!({"stderr_errors": false}));
    emit_seq(&client, 0..10_000);
    assert_eq!(client.flush(LONG), Ok(()));
    let refused: usize = server
        .requests()
        .iter()
        .filter(|r| r.status == 400)
        .map(|r| r.events().len())
        .sum();
    let accepted = seqs(&server.accepted_events());
    let stats = client.stats();
    assert!(refused > 0);
    assert_eq!(stats.dropped_undeliverable as usize, refused);
    assert_eq!(stats.sent as usize, accepted.len());
    assert_eq!(accepted.len() + refused, 10_000, "each event once");
    let mut all = accepted;
    all.extend(
        server
            .requests()
            .iter()
            .filter(|r| r.status == 400)
            .flat_map(|r| seqs(&r.events())),
    );
    assert_exactly_once(&all, 10_000);
    assert!(stats.send_errors > 0, "the 503s");
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn several_hosts_failover_and_loadbalance() {
    // The first host is down: everything goes to the second at once.
    let dead = free_port();
    let live = HttpServer::start(&[], None);
    let client = Client::from_json(
        hosts_config("http", &[dead, live.port], json!({"backoff_max": 5.0})).as_bytes(),
    )
    .unwrap();
    let started = Instant::now();
    emit_seq(&client, 0..1_000);
    assert_eq!(client.flush(LONG), Ok(()));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no backoff: another host is up"
    );
    assert_each_once(&live, 1_000);
    assert!(client.stats().send_errors >= 1);
    assert_eq!(client.shutdown(LONG), Ok(()));

    let (a, b) = (HttpServer::start(&[], None), HttpServer::start(&[], None));
    let client = Client::from_json(
        hosts_config("http", &[a.port, b.port], json!({"loadbalance": true})).as_bytes(),
    )
    .unwrap();
    for round in 0..8u64 {
        emit_seq(&client, round * 500..round * 500 + 500);
        assert_eq!(client.flush(LONG), Ok(()));
    }
    let (na, nb) = (a.requests().len(), b.requests().len());
    assert!(na * 3 >= nb && nb * 3 >= na, "requests spread: {na} / {nb}");
    let mut all = seqs(&a.accepted_events());
    all.extend(seqs(&b.accepted_events()));
    assert_exactly_once(&all, 4_000);
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn a_receiver_restarted_mid_stream_loses_nothing() {
    let server = HttpServer::start_with(HttpBehaviour {
        delay: Duration::from_millis(20),
        ..HttpBehaviour::default()
    });
    let port = server.port;
    let client = http_client(&server, json!({"stderr_errors": false}));
    emit_seq(&client, 0..5_000);
    support::wait_until(LONG, || server.accepted_events().len() >= 1_000);
    let before = seqs(&server.kill());
    emit_seq(&client, 5_000..10_000);
    std::thread::sleep(Duration::from_millis(300));
    let server = HttpServer::start_on(port, HttpBehaviour::default());
    assert_eq!(client.flush(LONG), Ok(()));
    let mut all = before;
    all.extend(seqs(&server.accepted_events()));
    // At least once: a request answered as the server went away may come again.
    let unique: std::collections::BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), 10_000, "nothing lost");
    let duplicates = (all.len() - unique.len()) as u64;
    assert!(
        duplicates <= client.stats().resent,
        "{duplicates} duplicates"
    );
    assert!(
        client.stats().send_errors > 0,
        "the receiver was gone for a while"
    );
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn answers_seconds_late_neither_overflow_the_queue_nor_hold_up_shutdown() {
    let server = HttpServer::start_with(HttpBehaviour {
        delay: Duration::from_secs(3),
        ..HttpBehaviour::default()
    });
    let client = http_client(
        &server,
        json!({"max_queue_events": 20_000, "stderr_errors": false}),
    );
    emit_paced(&client, 50_000, 25_000);
    assert_eq!(client.stats().dropped_queue_full, 0);
    assert!(support::wait_until(LONG, || client.stats().buffered == 50_000));
    assert!(server.max_in_flight() >= 2, "requests went out meanwhile");
    let started = Instant::now();
    assert_ne!(client.shutdown(Duration::from_millis(300)), Ok(()));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300 + 250 + 200), "{took:?}");
}
