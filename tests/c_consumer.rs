//! A C program compiled with `cc -Wall -Wextra -Werror` against the generated
//! header and the shared library emits events that arrive at a loopback receiver.
//! Needs the cdylib built first (`cargo build`; the README's test command does it).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

fn newest_source_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_source_mtime(&path)
        } else {
            entry.metadata().unwrap().modified().unwrap()
        };
        newest = newest.max(t);
    }
    newest
}

/// The freshly built shared library, or a clear failure.
pub fn shared_library_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("LOGSTASH_ASYNC_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/debug"));
    let so = dir.join("liblogstash_async.so");
    let built = std::fs::metadata(&so)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `cargo build` first", so.display()));
    assert!(
        built >= newest_source_mtime(&root.join("src")),
        "{} is older than src/: run `cargo build` first",
        so.display()
    );
    dir
}

#[test]
fn c_program_emits_events_that_arrive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = shared_library_dir();
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("emit_basic");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(root.join("tests/c/emit_basic.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&lib)
        .arg("-llogstash_async")
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "the C consumer compiles cleanly");

    let sink = TcpSink::start();
    let run = Command::new(&exe)
        .arg(sink.port.to_string())
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "C consumer failed: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let events = parse(&sink.wait_for(2, Duration::from_secs(10)));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"], "from C");
    assert_eq!(events[0]["extra"]["seq"], 1);
    assert_eq!(events[0]["extra"]["lang"], "c");
    assert!(events[0]["extra"].get("request_id").is_none());
    assert_eq!(events[1]["message"], "second from C");
    assert_eq!(events[1]["level"], "ERROR");
    assert_eq!(events[1]["extra"]["logger_name"], "c.consumer");
    assert_eq!(events[1]["extra"]["request_id"], "r-42");
    assert!(events[1]["program"]
        .as_str()
        .unwrap()
        .ends_with("emit_basic"));
}
