//! The test receivers themselves, driven by raw loopback clients: the answer
//! delays are latencies (windows and requests waiting at once overlap), and
//! the scripted behaviours (partial and keepalive ACKs, resets, HTTP status
//! scripts, gzip bodies, closing after N lines) do what they say.

mod support;

use flate2::write::GzEncoder;
use logstash_async::lumberjack::{decode_ack, AckFrame, WindowEncoder};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::beats_server::{BeatsServer, Behaviour, Tally};
use support::http_server::{Answer, HttpBehaviour, HttpServer};
use support::tcp_sink::{Close, TcpSink};
use support::wait_until;

const LONG: Duration = Duration::from_secs(10);

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(LONG)).unwrap();
    stream
}

/// A window of events numbered `seqs` (with `extra.seq`, as the server wants).
fn window(seqs: std::ops::Range<u64>, level: u32) -> Vec<u8> {
    let events: Vec<String> = seqs
        .map(|i| format!(r#"{{"message":"event {i}","extra":{{"seq":{i}}}}}"#))
        .collect();
    let mut out = Vec::new();
    WindowEncoder::new(level)
        .encode(events.iter().map(|e| e.as_bytes()), &mut out)
        .unwrap();
    out
}

/// The next ACK's sequence; `None` when the connection ended.
fn read_ack(stream: &mut TcpStream) -> Option<u32> {
    let mut frame = AckFrame::default();
    stream.read_exact(&mut frame).ok()?;
    Some(decode_ack(&frame).expect("an ACK frame"))
}

#[test]
fn lumberjack_ack_delay_overlaps_pipelined_windows() {
    let delay = Duration::from_millis(300);
    let server = BeatsServer::start(Behaviour {
        ack_delay: delay,
        ..Behaviour::default()
    });
    let mut stream = connect(server.port);
    let started = Instant::now();
    let mut both = window(0..3, 0);
    both.extend(window(3..5, 3));
    stream.write_all(&both).unwrap();
    assert_eq!(read_ack(&mut stream), Some(3));
    assert_eq!(read_ack(&mut stream), Some(2));
    let elapsed = started.elapsed();
    println!("two pipelined windows, each ACKed after {delay:?}: both ACKed in {elapsed:?}");
    assert!(elapsed >= delay, "{elapsed:?}");
    assert!(elapsed < 2 * delay, "the delays overlap: {elapsed:?}");
    assert_eq!(server.with(|r| r.max_waiting), 2);
    assert_eq!(server.acked(), (0..5).collect::<Vec<_>>());
    assert_eq!(server.with(|r| r.compressed_frames), 1);
}

#[test]
fn lumberjack_partial_and_keepalive_acks_and_counts_per_connection() {
    let server = BeatsServer::start(Behaviour {
        keepalive_windows: 1,
        slow: Duration::from_millis(200),
        interval: Duration::from_millis(50),
        partial_acks: true,
        ..Behaviour::default()
    });
    let mut first = connect(server.port);
    first.write_all(&window(0..4, 0)).unwrap();
    let mut keepalives = 0;
    let last = loop {
        match read_ack(&mut first) {
            Some(0) => keepalives += 1,
            other => break other,
        }
    };
    assert!(
        keepalives >= 2,
        "ACK 0 every 50 ms for 200 ms: {keepalives}"
    );
    assert_eq!(last, Some(2), "half of the window first");
    assert_eq!(read_ack(&mut first), Some(4), "then the rest");

    let mut second = connect(server.port);
    second.write_all(&window(4..6, 0)).unwrap();
    second.write_all(&window(6..9, 0)).unwrap();
    let acks: Vec<_> = (0..4).map(|_| read_ack(&mut second)).collect();
    assert_eq!(acks, [Some(1), Some(2), Some(1), Some(3)]);
    assert_eq!(server.acked(), (0..9).collect::<Vec<_>>());
    let tallies = server.with(|r| r.per_connection.clone());
    let tally = |windows, events| Tally { windows, events };
    assert_eq!(tallies, [tally(1, 4), tally(2, 5)]);
    assert!(server.with(|r| r.errors.is_empty()));
}

#[test]
fn lumberjack_connection_killed_mid_window_or_closed_after_half_a_window() {
    let server = BeatsServer::start(Behaviour {
        ack_delay: Duration::from_millis(200),
        kill_mid_window: vec![(2, 3)],
        drop_windows: vec![(3, true)],
        ..Behaviour::default()
    });
    // Window 1 waits for its ACK while window 2 is read: the reset comes first.
    let mut stream = connect(server.port);
    let mut both = window(0..5, 0);
    both.extend(window(5..10, 0));
    stream.write_all(&both).unwrap();
    let mut frame = AckFrame::default();
    let err = stream.read_exact(&mut frame).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(server.acked().is_empty(), "window 1 was never ACKed");
    assert_eq!(server.with(|r| r.received.len()), 8);

    // Window 3: half of it ACKed, then a graceful close.
    let mut stream = connect(server.port);
    stream.write_all(&window(0..4, 0)).unwrap();
    assert_eq!(read_ack(&mut stream), Some(2));
    assert_eq!(read_ack(&mut stream), None, "closed");
    assert_eq!(server.acked(), [0, 1]);
}

/// A minimal HTTP/1.1 client: one request, written at once.
fn request(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads one response: (status, head, body).
fn response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

#[test]
fn http_answer_delay_overlaps_requests_on_two_connections_and_pipelined_on_one() {
    let delay = Duration::from_millis(300);
    let server = HttpServer::start_with(HttpBehaviour {
        delay,
        ..HttpBehaviour::default()
    });
    let started = Instant::now();
    let mut streams = [connect(server.port), connect(server.port)];
    for (i, s) in streams.iter_mut().enumerate() {
        s.write_all(&request("/", &[], format!("[{i}]").as_bytes()))
            .unwrap();
    }
    for s in &mut streams {
        assert_eq!(response(s).0, 200);
    }
    let two_connections = started.elapsed();

    let started = Instant::now();
    let mut stream = connect(server.port);
    let mut two = request("/a", &[], b"[1]");
    two.extend(request("/b", &[], b"[2]"));
    stream.write_all(&two).unwrap();
    assert_eq!(response(&mut stream).0, 200);
    assert_eq!(response(&mut stream).0, 200);
    let pipelined = started.elapsed();
    println!(
        "two requests, each answered after {delay:?}: {two_connections:?} on two \
         connections, {pipelined:?} pipelined on one"
    );
    for elapsed in [two_connections, pipelined] {
        assert!(elapsed >= delay, "{elapsed:?}");
        assert!(elapsed < 2 * delay, "the delays overlap: {elapsed:?}");
    }
    assert_eq!(server.max_in_flight(), 2);
    assert_eq!(server.connections(), 3);
    let paths: Vec<String> = server.requests()[2..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/a", "/b"], "answers keep the request order");
}

#[test]
fn http_scripted_answers_headers_and_gzip_bodies() {
    let server = HttpServer::start_with(HttpBehaviour {
        script: vec![
            Answer::new(429, "slow down").retry_after(2),
            Answer::new(503, "busy"),
        ],
        every: vec![(4, Answer::new(400, "bad").header("X-Why", "fourth"))],
        ..HttpBehaviour::default()
    });
    let mut stream = connect(server.port);
    let mut answers = Vec::new();
    for i in 0..8 {
        stream
            .write_all(&request(
                "/",
                &[("X-Api-Key", "k-1")],
                format!("[{i}]").as_bytes(),
            ))
            .unwrap();
        answers.push(response(&mut stream));
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [429, 503, 200, 400, 200, 200, 200, 400]);
    assert!(
        answers[0].1.contains("Retry-After: 2\r\n"),
        "{}",
        answers[0].1
    );
    assert!(
        answers[3].1.contains("X-Why: fourth\r\n"),
        "{}",
        answers[3].1
    );
    assert_eq!(answers[1].2, "busy");
    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|r| r.header("x-api-key") == Some("k-1")));
    let numbers: Vec<usize> = requests.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    assert_eq!(server.accepted_events().len(), 4);

    let events = format!("[{}]", vec![r#"{"message":"m"}"#; 100].join(","));
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(events.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap();
    stream
        .write_all(&request("/", &[("Content-Encoding", "gzip")], &gzipped))
        .unwrap();
    assert_eq!(response(&mut stream).0, 200);
    stream
        .write_all(&request("/", &[("Content-Encoding", "gzip")], b"not gzip"))
        .unwrap();
    assert_eq!(response(&mut stream).0, 400, "a bad gzip body is refused");
    let gzip = &server.requests()[8];
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.body, events.as_bytes(), "decoded");
    assert_eq!(gzip.wire_len, gzipped.len());
    assert_eq!(gzip.events().len(), 100);
}

#[test]
fn tcp_sink_closes_after_n_lines_with_a_fin_or_a_reset() {
    let lines = |n: usize| "{}\n".repeat(n);
    let fin = TcpSink::closing_after(10, Close::Fin, 1);
    let mut stream = connect(fin.port);
    stream.write_all(lines(10).as_bytes()).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(stream.read(&mut buf).unwrap(), 0, "a FIN: end of stream");
    assert_eq!(fin.count(), 10);
    // Later connections read until the peer closes.
    let mut stream = connect(fin.port);
    stream.write_all(lines(20).as_bytes()).unwrap();
    drop(stream);
    assert!(wait_until(LONG, || fin.count() == 30));

    let reset = TcpSink::closing_after(10, Close::Reset, 1);
    let mut stream = connect(reset.port);
    stream.write_all(lines(10).as_bytes()).unwrap();
    let err = stream.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert_eq!(reset.count(), 10);
    assert_eq!(reset.connections(), 1);
}
