//! `logstash-async inspect` on a buffer file while the handle that owns it
//! runs (in this process): it reports what is stuck there, takes no lock,
//! changes nothing, and the owner goes on and delivers everything.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{client, emit_seq, free_port, TcpSink};

const BIN: &str = env!("CARGO_BIN_EXE_logstash-async");

fn inspect(db: &str, format: &str) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["inspect", "--database", db, "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn inspect_reads_a_buffer_in_use_without_disturbing_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let db = db.to_str().unwrap();
    let port = free_port();
    let c = client(
        port,
        serde_json::json!({"database_path": db, "stderr_errors": false}),
    );
    emit_seq(&c, 0..1000);
    assert!(
        c.flush(Duration::from_secs(10)).is_err(),
        "the receiver is down"
    );

    let (code, out, err) = inspect(db, "json");
    assert_eq!(code, 0, "{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found["format"], "logstash-async");
    assert_eq!(found["schema_version"], 1);
    assert_eq!(found["events"], 1000);
    assert!(found["bytes"].as_u64().unwrap() > 1000 * 200, "{found}");
    assert!(found["wal_bytes"].as_u64().unwrap() > 0, "the owner's WAL");
    let oldest = found["oldest"].as_str().unwrap();
    assert!(oldest.ends_with('Z') && oldest.len() == 24, "{oldest}");
    assert!(found["newest"].as_str().unwrap() >= oldest);

    let (code, out, err) = inspect(db, "text");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("schema version 1") && out.contains("events          1000"),
        "{out}"
    );

    // The owner's lock is intact: another process is still refused the file.
    let replay = Command::new(BIN)
        .args(["replay", "--database", db, "--port", "1", "--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&replay.stderr).contains("in use"));

    // And it delivers everything once the receiver is up.
    let sink = TcpSink::start_on(port);
    assert_eq!(c.flush(Duration::from_secs(30)), Ok(()));
    assert_eq!(sink.wait_for(1000, Duration::from_secs(30)).len(), 1000);
    assert_eq!(c.shutdown(Duration::from_secs(10)), Ok(()));
    let (_, out, _) = inspect(db, "json");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (found["events"].as_u64(), found["wal_bytes"].as_u64()),
        (Some(0), Some(0))
    );

    let (code, _, err) = inspect(&dir.path().join("none.db").to_string_lossy(), "text");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.starts_with("logstash-async: ") && err.contains("none.db"),
        "{err}"
    );
}
