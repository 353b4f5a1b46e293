//! A C host compiled with `cc -Wall -Wextra -Werror` against the generated
//! header and the shared library delivers events through its own function
//! (logstash_async_create_with_transport). Needs `cargo build` first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

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

/// The freshly built shared library, or a clear failure (as tests/c_consumer.rs).
fn shared_library_dir() -> PathBuf {
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
fn c_host_delivers_through_its_own_send_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = shared_library_dir();
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("custom_transport");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
        .arg(&exe)
        .arg(root.join("tests/c/custom_transport.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&lib)
        .arg("-llogstash_async")
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "the C host compiles cleanly");
    let run = Command::new(&exe)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.trim() == "ok",
        "C host failed: {stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
