//! The http transport against a real HTTP/1.1 server on loopback (plain and
//! TLS with a test CA): batching, keep-alive, splitting by size, Basic auth,
//! retries on 5xx/429, rejection on other 4xx.

mod support;

use logstash_async::Client;
use serde_json::json;
use std::time::Duration;
use support::http_server::HttpServer;
use support::pki::Pki;
use support::{client, emit_seq, event_seqs as seqs, merged};

const LONG: Duration = Duration::from_secs(30);

fn http_client(server: &HttpServer, extra: serde_json::Value) -> Client {
    client(server.port, merged(json!({"transport": "http"}), extra))
}

#[test]
fn batches_arrive_as_json_arrays_on_one_kept_alive_connection() {
    let server = HttpServer::start(&[], None);
    let client = http_client(
        &server,
        json!({"path": "/logs/in", "queued_events_batch_size": 20}),
    );
    for round in 0..3u64 {
        emit_seq(&client, round * 50..round * 50 + 50);
        assert_eq!(client.flush(LONG), Ok(()));
    }
    let events = server.wait_for_events(150, LONG);
    assert_eq!(seqs(&events), (0..150).collect::<Vec<_>>());
    let requests = server.requests();
    assert!(
        requests.len() >= 3 * 3,
        "50 events in batches of 20: 3 requests per round"
    );
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/logs/in");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("authorization").is_none());
        assert!(r.events().len() <= 20);
        assert_eq!(
            r.connection, 1,
            "keep-alive: one connection for every request"
        );
    }
    assert_eq!(requests[0].events()[0]["message"], "event 0");
    let stats = client.stats();
    assert_eq!(
        (stats.sent, stats.dropped(), stats.send_errors),
        (150, 0, 0)
    );
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
    let events = server.wait_for_events(20, LONG);
    assert_eq!(seqs(&events), (0..20).collect::<Vec<_>>());
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
fn a_failure_after_part_of_a_split_batch_resends_only_the_rest() {
    // First part accepted, second part fails, then everything is accepted.
    let server = HttpServer::start(&[(200, "ok"), (500, "oops")], None);
    let client = http_client(&server, json!({"max_content_length": 1024}));
    let pad = "p".repeat(200);
    for i in 0..12u64 {
        let ev = format!(r#"{{"message":"{pad}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).unwrap();
    }
    assert_eq!(client.flush(LONG), Ok(()));
    let events = server.wait_for_events(12, LONG);
    assert_eq!(
        seqs(&events),
        (0..12).collect::<Vec<_>>(),
        "no duplicates, no gaps"
    );
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
