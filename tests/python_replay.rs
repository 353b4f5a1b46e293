//! `logstash-async replay --python-database`: a database file made by the
//! real python-logstash-async (PyPI) with its receiver down, some rows
//! marked pending_delete as its worker leaves them when the process dies
//! mid-send, delivered over TCP, Beats and HTTP; each row deleted only once
//! delivered. `inspect` reads the same file.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::beats_server::{BeatsServer, Behaviour};
use support::http_server::{Answer, HttpBehaviour, HttpServer};
use support::{free_port, python, TcpSink};

const BIN: &str = env!("CARGO_BIN_EXE_logstash-async");
const LONG: Duration = Duration::from_secs(60);

/// python-logstash-async's AsynchronousLogstashHandler logs `n` events
/// (extra.seq 0..n) to a receiver that is down: its worker stores them in
/// `db` and fails to send. Then, as its worker does before a send, a batch
/// (QUEUED_EVENTS_BATCH_SIZE rows) is marked pending_delete, and the
/// process dies before sending it: those rows stay marked.
const FIXTURE: &str = r#"
import logging, os, sqlite3, sys, time
from logstash_async.constants import constants
from logstash_async.database import DatabaseCache
from logstash_async.handler import AsynchronousLogstashHandler

path, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
constants.QUEUE_CHECK_INTERVAL = 0.05
handler = AsynchronousLogstashHandler("127.0.0.1", port, database_path=path,
                                      transport="logstash_async.transport.TcpTransport")
log = logging.getLogger("fixture")
log.addHandler(handler)
log.setLevel(logging.INFO)
for i in range(n):
    log.info("event %d", i, extra={"seq": i, "label": "caf\u00e9"})

def stored():
    # Before the handler's worker made its table (a loaded machine), none.
    try:
        with sqlite3.connect(path, timeout=5) as c:
            return c.execute("SELECT count(*) FROM event").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
deadline = time.time() + 30
while stored() < n and time.time() < deadline:
    time.sleep(0.05)
in_flight = DatabaseCache(path).get_queued_events()
print(stored(), len(in_flight))
sys.stdout.flush()
os._exit(0)
"#;

/// A python-logstash-async database with `n` events; returns how many rows
/// are marked pending_delete.
fn python_database(db: &Path, n: u64) -> u64 {
    let out = python::run_script(
        FIXTURE,
        &[
            db.to_str().unwrap(),
            &free_port().to_string(),
            &n.to_string(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(counts[0], n, "the handler stored every event: {text}");
    // Ours, and maybe the batch the worker itself had in flight at the exit.
    let marked = pending(db);
    assert!(
        counts[1] > 0 && marked >= counts[1],
        "some rows are in flight: {text}, {marked}"
    );
    marked
}

/// Rows of the Python file: all, and those marked pending_delete.
fn rows(db: &Path) -> u64 {
    count(db, "SELECT count(*) FROM event")
}

fn pending(db: &Path) -> u64 {
    count(db, "SELECT count(*) FROM event WHERE pending_delete = 1")
}

fn count(db: &Path, sql: &str) -> u64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `logstash-async replay --python-database DB --port PORT` with `more`
/// options: its exit code, stdout and stderr.
fn replay(db: &str, port: u16, more: &[&str]) -> (i32, String, String) {
    let port = port.to_string();
    let mut args = vec!["replay", "--python-database", db, "--port", &port];
    args.extend_from_slice(more);
    run(&args)
}

fn staging_files() -> usize {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("logstash-async-replay-{}-", std::process::id()))
        })
        .count()
}

#[test]
fn a_python_database_is_replayed_over_tcp_every_row_once_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("python.db");
    let in_flight = python_database(&db, 500);

    // inspect reads it first, without changing it.
    let (code, out, err) = run(&[
        "inspect",
        "--database",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found["format"], "python-logstash-async");
    assert_eq!(
        (found["events"].as_u64(), found["pending_delete"].as_u64()),
        (Some(500), Some(in_flight))
    );

    let (code, out, err) = run(&["inspect", "--database", db.to_str().unwrap(), "--show", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("python-logstash-async database") && out.contains("events          500"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with('{')).count(),
        2,
        "{out}"
    );

    // The file's order (event_id), which Python itself may have shuffled
    // (it requeues an event at the back when the file was locked).
    let file_order: Vec<u64> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = c
            .prepare("SELECT event_text FROM event ORDER BY event_id")
            .unwrap();
        // Python's handler stores the UTF-8 bytes: a BLOB.
        let texts = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
        let texts: Vec<String> = texts
            .map(|t| String::from_utf8(t.unwrap()).unwrap())
            .collect();
        support::seqs(&texts)
    };
    let sink = TcpSink::start();
    let (code, out, err) = replay(db.to_str().unwrap(), sink.port, &["--host", "127.0.0.1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("replayed 500 events from") && out.contains("python-logstash-async"),
        "{out}"
    );
    let lines = sink.wait_for(500, LONG);
    assert_eq!(
        support::seqs(&lines),
        file_order,
        "once each, in the file's order"
    );
    let mut sorted = file_order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..500).collect::<Vec<u64>>());
    // As Python formatted them (its layout and its escaping), untouched.
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["message"], "event 0");
    assert_eq!(first["extra"]["label"], "café");
    assert!(
        lines[0].contains("caf\\u00e9"),
        "Python's ensure_ascii kept: {}",
        lines[0]
    );
    assert_eq!(rows(&db), 0, "every delivered row deleted");
    assert_eq!(staging_files(), 0, "the staging file is removed");
}

#[test]
fn a_receiver_that_is_down_or_refuses_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("python.db");
    python_database(&db, 200);
    let path = db.to_str().unwrap();

    // Down: nothing delivered, nothing deleted.
    let (code, _, err) = replay(path, free_port(), &["--timeout", "3"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("200 left in"), "{err}");
    assert_eq!(rows(&db), 200);

    // Refused for good (HTTP 400): the library drops them, the rows stay.
    let server = HttpServer::start_with(HttpBehaviour {
        every: vec![(1, Answer::new(400, "no"))],
        ..HttpBehaviour::default()
    });
    let config = dir.path().join("http.json");
    std::fs::write(
        &config,
        r#"{"transport": "logstash_async.transport.HttpTransport", "path": "logs"}"#,
    )
    .unwrap();
    let (code, _, err) = replay(
        path,
        server.port,
        &["--config", config.to_str().unwrap(), "--timeout", "10"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refused") && err.contains("200 left in"),
        "{err}"
    );
    assert!(!server.requests().is_empty());
    assert_eq!(rows(&db), 200, "no refused row deleted");
    assert_eq!(staging_files(), 0);
}

#[test]
fn any_transport_delivers_them_beats_and_http() {
    let dir = tempfile::tempdir().unwrap();
    for transport in ["beats", "http"] {
        let db = dir.path().join(format!("{transport}.db"));
        python_database(&db, 300);
        let path = db.to_str().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"transport": "logstash_async.transport.{}Transport", "path": "logs"}}"#,
                if transport == "beats" {
                    "Beats"
                } else {
                    "Http"
                }
            ),
        )
        .unwrap();
        let config = config.to_str().unwrap().to_owned();
        if transport == "beats" {
            // `path` is an http option: beats gets a config without it.
            std::fs::write(
                &config,
                r#"{"transport": "logstash_async.transport.BeatsTransport"}"#,
            )
            .unwrap();
            let server = BeatsServer::start(Behaviour::default());
            let (code, out, err) = replay(path, server.port, &["--config", &config]);
            assert_eq!(code, 0, "{out}{err}");
            let mut acked = server.wait_acked(300, LONG);
            acked.sort_unstable();
            assert_eq!(acked, (0..300).collect::<Vec<u64>>());
        } else {
            let server = HttpServer::start(&[], None);
            let (code, out, err) = replay(path, server.port, &["--config", &config]);
            assert_eq!(code, 0, "{out}{err}");
            let events = server.wait_for_events(300, LONG);
            let mut seqs = support::event_seqs(&events);
            seqs.sort_unstable();
            assert_eq!(seqs, (0..300).collect::<Vec<u64>>());
            assert!(
                server.requests().iter().all(|r| r.path == "/logs"),
                "path without its slash"
            );
        }
        assert_eq!(rows(&db), 0, "{transport}: every row deleted");
    }
}
