//! fork() while the parent's worker is busy in SQLite: the child must be able
//! to open handles of its own (in memory and on a file) without hanging on a
//! SQLite mutex the parent's worker held at the instant of the fork (seen in
//! the Ruby fork tests: a child stuck in sqlite3Malloc's mutex). The window is
//! narrow: this stress test guards the handlers (src/buffer/fork_safety.rs)
//! but does not reliably reproduce the hang without them.

mod support;

use logstash_async::Client;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::TcpSink;

const FORKS: usize = 60;

/// Waits (bounded) for a child; kills it and reports a hang after `limit`.
fn wait_child(pid: libc::pid_t, limit: Duration) -> Result<i32, String> {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: pid is our child; status is writable.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return Ok(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            });
        }
        if Instant::now() >= deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("child {pid} hung for {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_child_opens_new_handles_while_the_parent_worker_uses_sqlite() {
    let sink = TcpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let parent_db = dir.path().join("parent.db");
    let config = format!(
        r#"{{"host":"127.0.0.1","port":{},"database_path":{:?},"stderr_errors":false,
            "queued_events_flush_count":1,"queued_events_batch_size":1}}"#,
        sink.port,
        parent_db.to_str().unwrap()
    );
    let parent = Arc::new(Client::from_json(config.as_bytes()).unwrap());
    // Keep the parent's worker storing and deleting rows the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (parent, stop) = (parent.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                for _ in 0..20 {
                    let _ = parent.emit_json(br#"{"message":"parent"}"#);
                }
                let _ = parent.flush(Duration::from_millis(200));
            }
        })
    };

    let mut failures = Vec::new();
    for n in 0..FORKS {
        let child_db = dir.path().join(format!("child-{n}.db"));
        let child_config = format!(
            r#"{{"host":"127.0.0.1","port":{},"database_path":{:?},"stderr_errors":false}}"#,
            sink.port,
            child_db.to_str().unwrap()
        );
        let memory_config = format!(r#"{{"host":"127.0.0.1","port":{}}}"#, sink.port);
        // SAFETY: the child only opens and shuts down handles, then _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = [child_config, memory_config].iter().all(|c| {
                Client::from_json(c.as_bytes())
                    .map(|client| client.shutdown(Duration::from_secs(2)).is_ok())
                    .unwrap_or(false)
            });
            // SAFETY: leave at once, without the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        match wait_child(pid, Duration::from_secs(10)) {
            Ok(0) => {}
            Ok(code) => failures.push(format!("child {n} exited with {code}")),
            Err(e) => failures.push(e),
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(parent.flush(Duration::from_secs(20)).is_ok());
}
