//! Faults that must lose nothing, limits that must hold, and fork safety.
//! Child processes are this test binary re-executed with LOGSTASH_ASYNC_CHILD set.

mod support;

use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const LONG: Duration = Duration::from_secs(60);

/// Runs `child_entry` below in a new process with the given role and arguments.
fn spawn_child(role: &str, args: &[&str]) -> std::process::Child {
    child_command(role, args).spawn().unwrap()
}

/// The command `spawn_child` runs (stdout piped, stderr inherited).
fn child_command(role: &str, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("LOGSTASH_ASYNC_CHILD", role)
        .env("LOGSTASH_ASYNC_CHILD_ARGS", args.join("\u{1f}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// A full disk for this process: files may not grow past `bytes` (raised
/// again later with RLIM_INFINITY), and writing past it fails with EFBIG
/// instead of killing the process with SIGXFSZ.
fn set_file_size_limit(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscalls with a valid struct.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
    }
}

/// The entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var("LOGSTASH_ASYNC_CHILD") else {
        return;
    };
    let args: Vec<String> = std::env::var("LOGSTASH_ASYNC_CHILD_ARGS")
        .unwrap()
        .split('\u{1f}')
        .map(String::from)
        .collect();
    match role.as_str() {
        // Buffer events in a file while the receiver is down, say so, then wait to be killed.
        "buffer_then_wait" => {
            let (cfg, n): (&str, u64) = (&args[0], args[1].parse().unwrap());
            let client = Client::from_json(cfg.as_bytes()).unwrap();
            emit_seq(&client, 0..n);
            let r = client.flush(Duration::from_secs(30));
            println!("CHILD: flushed {r:?}");
            std::mem::forget(client);
            std::thread::sleep(Duration::from_secs(60));
        }
        // Hold the database file open until killed.
        "hold_database" => {
            let client = Client::from_json(args[0].as_bytes()).unwrap();
            println!("CHILD: holding");
            std::mem::forget(client);
            std::thread::sleep(Duration::from_secs(60));
        }
        // Emit under a tiny file-size limit (a full disk) and report what happened.
        "full_disk" => {
            set_file_size_limit(64 * 1024);
            let client = Client::from_json(args[0].as_bytes()).unwrap();
            emit_seq(&client, 0..2_000);
            let r = client.flush(Duration::from_secs(30));
            let stats = client.stats();
            println!(
                "CHILD: flushed {r:?} sent {} database_errors {}",
                stats.sent, stats.database_errors
            );
            let _ = client.shutdown(Duration::from_secs(10));
        }
        // A full disk while the receiver is down, then room again: the
        // handle goes back to its file and says so through flush.
        "full_disk_then_room" => {
            set_file_size_limit(args[1].parse().unwrap());
            let client = Client::from_json(args[0].as_bytes()).unwrap();
            emit_seq(&client, 0..2_000);
            let full = client.flush(Duration::from_millis(500));
            set_file_size_limit(libc::RLIM_INFINITY);
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut room = client.flush(Duration::from_millis(500));
            while room != Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
                && Instant::now() < deadline
            {
                room = client.flush(Duration::from_millis(500));
            }
            println!(
                "CHILD: full {full:?} room {room:?} database_errors {}",
                client.stats().database_errors
            );
            let _ = client.shutdown(Duration::from_millis(200));
        }
        // The same with the receiver up and a steady stream of events: the
        // retry waits for in-flight writes, then the file is used again.
        "full_disk_then_room_receiver_up" => {
            set_file_size_limit(400 << 10);
            let client = Client::from_json(args[0].as_bytes()).unwrap();
            emit_seq(&client, 0..2_000);
            let full = client.flush(Duration::from_secs(10));
            set_file_size_limit(libc::RLIM_INFINITY);
            for burst in 0..300u64 {
                emit_seq(&client, 2_000 + burst * 100..2_000 + (burst + 1) * 100);
                std::thread::sleep(Duration::from_millis(10));
            }
            let done = client.flush(Duration::from_secs(10));
            println!("CHILD: full {full:?} done {done:?}");
            let _ = client.shutdown(Duration::from_secs(10));
        }
        // Keep a few events buffered while the receiver is down and report
        // the process's CPU time over three seconds.
        "cpu_while_failing" => {
            let client = Client::from_json(args[0].as_bytes()).unwrap();
            emit_seq(&client, 0..10);
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(3));
            println!("CHILD: cpu_ms {}", (cpu_time() - before).as_millis());
            let _ = client.shutdown(Duration::from_millis(100));
        }
        other => panic!("unknown child role {other}"),
    }
}

/// The child's first line starting with "CHILD:" (the test harness prints its own lines too).
fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    Duration::new(
        usage.ru_utime.tv_sec as u64,
        usage.ru_utime.tv_usec as u32 * 1000,
    ) + Duration::new(
        usage.ru_stime.tv_sec as u64,
        usage.ru_stime.tv_usec as u32 * 1000,
    )
}

fn read_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("CHILD:") {
            break;
        }
    }
    // Keep draining in the background so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    line
}

#[test]
fn sigkill_of_the_host_process_loses_no_stored_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let port = free_port();
    let cfg = config(
        port,
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": false}),
    );
    let mut child = spawn_child("buffer_then_wait", &[&cfg, "5000"]);
    let said = read_line(&mut child);
    assert!(said.contains("STORED_NOT_SENT"), "child: {said}");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let sink = TcpSink::start_on(port);
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let lines = sink.wait_for(5000, LONG);
    assert_eq!(seqs(&lines), (0..5000).collect::<Vec<_>>());
    assert_eq!(client.shutdown(LONG), Ok(()));
}

#[test]
fn a_second_process_on_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        free_port(),
        json!({"database_path": dir.path().join("two.db").to_str().unwrap()}),
    );
    let mut child = spawn_child("hold_database", &[&cfg]);
    assert!(read_line(&mut child).contains("holding"));
    let err = Client::from_json(cfg.as_bytes()).err().expect("refused");
    assert!(err.contains("in use by another"), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    // Once the other process is gone, the file is free again.
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let _ = client.shutdown(Duration::from_millis(100));
}

#[test]
fn a_full_disk_is_reported_and_events_still_arrive_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"database_path": dir.path().join("full.db").to_str().unwrap(), "stderr_errors": false,
               "queued_events_flush_count": 100000, "queued_events_flush_interval": 3600}),
    );
    let mut child = spawn_child("full_disk", &[&cfg]);
    let said = read_line(&mut child);
    assert!(child.wait().unwrap().success());
    assert!(said.contains("Ok(())"), "child: {said}");
    let errors: u64 = said.split_whitespace().last().unwrap().parse().unwrap();
    assert!(errors >= 1, "the database error was counted: {said}");
    let got: BTreeSet<u64> = seqs(&sink.wait_for(2000, LONG)).into_iter().collect();
    assert_eq!(got, (0..2000).collect());
}

#[test]
fn after_a_full_disk_the_handle_goes_back_to_its_file_when_there_is_room() {
    // 64 KiB: the file cannot even be created (create falls back to
    // memory); 400 KiB: some rows are stored before inserts start failing.
    for limit in [64 << 10, 400 << 10] {
        full_disk_then_room(limit);
    }
}

fn full_disk_then_room(file_size_limit: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    let port = free_port();
    let cfg = config(
        port,
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": false,
               "backoff_initial": 0.05, "backoff_max": 0.2, "queued_events_flush_count": 200}),
    );
    let mut child = spawn_child("full_disk_then_room", &[&cfg, &file_size_limit.to_string()]);
    let said = read_line(&mut child);
    assert!(child.wait().unwrap().success());
    assert!(
        said.contains("database_errors 1"),
        "one failure, no more: {said}"
    );
    // In memory while the disk was full (flush can only time out), then
    // every event is in the file again (stored, not sent: receiver down).
    assert!(
        said.contains("full Err(LOGSTASH_ASYNC_TIMEOUT)"),
        "child: {said}"
    );
    assert!(
        said.contains("room Err(LOGSTASH_ASYNC_STORED_NOT_SENT)"),
        "child: {said}"
    );
    // The next handle on the file delivers all of them, once.
    let sink = TcpSink::start_on(port);
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    let lines = sink.wait_for(2000, LONG);
    let got: BTreeSet<u64> = seqs(&lines).into_iter().collect();
    assert_eq!((got.len(), lines.len()), (2000, 2000));
    client.shutdown(LONG).unwrap();
}

#[test]
fn after_a_full_disk_a_busy_handle_also_goes_back_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": true,
               "backoff_initial": 0.05, "backoff_max": 0.2}),
    );
    // Its stderr too: the fallback and the recovery are reported there.
    let child = child_command("full_disk_then_room_receiver_up", &[&cfg])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    // Rows stored before the disk filled are stranded in the file until it
    // is back in use (flush says so), then delivered: the last flush is Ok.
    assert!(stdout.contains("done Ok(())"), "{stdout}");
    assert!(stderr.contains("not writable"), "it fell back: {stderr}");
    assert!(stderr.contains("usable again"), "it went back: {stderr}");
    let lines = sink.wait_for(32_000, LONG);
    let got: BTreeSet<u64> = seqs(&lines).into_iter().collect();
    assert_eq!(got, (0..32_000).collect(), "every event, once or more");
}

#[test]
fn a_corrupt_database_is_moved_aside_and_the_handle_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("corrupt.db");
    std::fs::write(
        &db,
        b"this is not a database, just garbage bytes".repeat(200),
    )
    .unwrap();
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"database_path": db.to_str().unwrap(), "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let stats = client.stats();
    assert_eq!(stats.database_errors, 1);
    assert!(stats.last_error.unwrap().contains("moved aside"));
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "the corrupt file is kept, renamed");
    emit_seq(&client, 0..10);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(seqs(&sink.wait_for(10, LONG)).len(), 10);
    client.shutdown(LONG).unwrap();
}

#[test]
fn an_unusable_database_path_falls_back_to_memory_with_an_error() {
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"database_path": "/proc/no/such/dir/x.db", "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    assert!(client
        .stats()
        .last_error
        .unwrap()
        .contains("buffering in memory"));
    emit_seq(&client, 0..5);
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(sink.wait_for(5, LONG).len(), 5);
    client.shutdown(LONG).unwrap();
}

#[test]
fn receiver_killed_and_restarted_during_100k_events() {
    let sink = TcpSink::start();
    let port = sink.port;
    let client =
        Client::from_json(config(port, json!({"stderr_errors": false})).as_bytes()).unwrap();
    let started = Instant::now();
    emit_seq(&client, 0..50_000);
    sink.wait_for(20_000, LONG);
    let before = sink.kill();
    emit_seq(&client, 50_000..100_000);
    std::thread::sleep(Duration::from_millis(200));
    let sink = TcpSink::start_on(port);
    assert_eq!(client.flush(LONG), Ok(()));
    let after = sink.wait_to_complete(&seqs(&before), 0..100_000, LONG);
    let mut all = seqs(&before);
    all.extend(seqs(&after));
    let stats = client.stats();
    let duplicates = assert_at_least_once(&all, 0..100_000, stats.resent);
    eprintln!(
        "100k with a receiver restart: {} received, {duplicates} duplicates, {} resent, {:?}",
        all.len(),
        stats.resent,
        started.elapsed()
    );
    client.shutdown(LONG).unwrap();
}

#[test]
fn stalled_receiver_keeps_emit_fast_memory_bounded_and_delivers_on_resume() {
    // A receiver that accepts and does not read for a while, then reads everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let resume = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let resume2 = resume.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let (stream, _) = listener.accept().unwrap();
        while !resume2.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(10));
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut seen = BTreeSet::new();
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            seen.insert(v["extra"]["seq"].as_u64().unwrap());
            if seen.len() == 20_000 {
                break;
            }
        }
        seen
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        port,
        json!({"database_path": dir.path().join("stall.db").to_str().unwrap(), "max_queue_events": 5000,
               "socket_timeout": 60.0, "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let payload = "z".repeat(400);
    let mut slowest = Duration::ZERO;
    for i in 0..20_000u64 {
        let ev = format!(r#"{{"message":"{payload}","seq":{i}}}"#);
        let t = Instant::now();
        // QUEUE_FULL is allowed (bounded memory); retry shortly so all get in.
        loop {
            match client.emit_json(ev.as_bytes()) {
                Ok(()) => break,
                Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        slowest = slowest.max(t.elapsed());
        assert!(
            client.stats().queued <= 5000,
            "memory stays under max_queue_events"
        );
    }
    let buffered = client.stats().buffered;
    assert!(
        buffered > 0,
        "the file buffer grew while the peer was stalled"
    );
    resume.store(true, std::sync::atomic::Ordering::Release);
    let seen = reader.join().unwrap();
    assert_eq!(
        seen.len(),
        20_000,
        "everything arrived after the peer resumed"
    );
    eprintln!("stalled peer: buffered {buffered} events; slowest emit incl. retries {slowest:?}");
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn a_receiver_that_never_answers_the_handshake_does_not_stop_ingest() {
    // A listener that never accepts: the kernel completes the TCP handshake,
    // the TLS handshake then waits socket_timeout (10 s) for an answer. The
    // worker must go on moving events from the small queue into the file.
    let (port, silent) = silent_receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buffer.db");
    let client = Client::from_json(
        config(
            port,
            json!({"ssl_enable": true, "socket_timeout": 10.0, "max_queue_events": 2_000,
                   "database_path": db.to_str().unwrap(), "stderr_errors": false}),
        )
        .as_bytes(),
    )
    .unwrap();
    assert_ingest_goes_on(&client);
    assert_eq!(
        client.shutdown(Duration::from_millis(500)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    drop(silent);
}

#[test]
fn database_limit_drop_newest_and_drop_oldest_count_what_they_drop() {
    for policy in ["drop_newest", "drop_oldest"] {
        let port = free_port();
        let cfg = config(
            port,
            json!({"max_database_events": 100, "overflow_policy": policy, "stderr_errors": false,
                   "queued_events_batch_size": 10, "backoff_initial": 30, "backoff_max": 30}),
        );
        let client = Client::from_json(cfg.as_bytes()).unwrap();
        emit_seq(&client, 0..300);
        // Let the worker ingest everything (the receiver is down).
        let deadline = Instant::now() + LONG;
        while client.stats().queued > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let stats = client.stats();
        assert!(
            stats.buffered <= 100,
            "{policy}: buffered {}",
            stats.buffered
        );
        assert_eq!(
            stats.buffered + stats.dropped(),
            300,
            "{policy}: every event counted: {stats:?}"
        );
        let sink = TcpSink::start_on(port);
        assert_eq!(client.flush(LONG), Ok(()), "{policy}");
        let got = seqs(&sink.wait_for(stats.buffered as usize, LONG));
        // Whole chunks are kept or dropped: the oldest (drop_newest) or the
        // newest (drop_oldest) `buffered` events arrive, in order.
        let kept = stats.buffered;
        match policy {
            "drop_newest" => assert_eq!(got, (0..kept).collect::<Vec<_>>()),
            _ => assert_eq!(got, (300 - kept..300).collect::<Vec<_>>()),
        }
        client.shutdown(LONG).unwrap();
    }
}

#[test]
fn expired_events_are_removed_and_counted() {
    let port = free_port();
    let cfg = config(
        port,
        json!({"event_ttl": 0.3, "stderr_errors": false, "backoff_initial": 30, "backoff_max": 30}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..50);
    let deadline = Instant::now() + LONG;
    while client.stats().expired < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = client.stats();
    assert_eq!((stats.expired, stats.buffered), (50, 0));
    assert_eq!(
        client.flush(Duration::from_secs(5)),
        Ok(()),
        "expired events count as handled"
    );
    client.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn block_policy_waits_for_room_then_gives_up() {
    let port = free_port();
    let cfg = config(
        port,
        json!({"max_queue_events": 5, "overflow_policy": "block", "block_timeout_ms": 50,
               "queue_check_interval": 3600, "queued_events_flush_count": 1000000, "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    let started = Instant::now();
    let results: Vec<_> = (0..20).map(|_| client.emit_json(b"{}")).collect();
    // The worker drains the queue when a blocked producer wakes it, so most
    // get in; none waits much longer than block_timeout_ms.
    assert!(results.iter().filter(|r| r.is_ok()).count() >= 5);
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = client.shutdown(Duration::from_millis(100));
}

#[test]
fn fork_child_gets_forked_code_and_never_resends_the_parents_events() {
    let sink = TcpSink::start();
    let client = Client::from_json(config(sink.port, json!({})).as_bytes()).unwrap();
    emit_seq(&client, 0..100);
    // SAFETY: the child only calls async-signal-safe-enough code of ours (an
    // atomic load and a comparison) and then _exit()s without unwinding.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match (
            client.emit_json(b"{}"),
            client.flush(Duration::from_millis(10)),
        ) {
            (Err(ResultCode::LOGSTASH_ASYNC_FORKED), Err(ResultCode::LOGSTASH_ASYNC_FORKED)) => 0,
            _ => 1,
        };
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child saw FORKED"
    );
    assert_eq!(client.flush(LONG), Ok(()));
    assert_eq!(
        seqs(&sink.wait_for(100, LONG)),
        (0..100).collect::<Vec<_>>()
    );
    client.shutdown(LONG).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.lines().len(), 100, "nothing sent twice");
}

#[test]
fn idle_handle_uses_no_cpu() {
    let sink = TcpSink::start();
    let client = Client::from_json(
        serde_json::json!({"host":"127.0.0.1","port":sink.port})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    client.log(None, None, "one").unwrap();
    assert_eq!(client.flush(LONG), Ok(()));
    let cpu = || {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        Duration::new(
            usage.ru_utime.tv_sec as u64,
            usage.ru_utime.tv_usec as u32 * 1000,
        ) + Duration::new(
            usage.ru_stime.tv_sec as u64,
            usage.ru_stime.tv_usec as u32 * 1000,
        )
    };
    let before = cpu();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu() - before;
    // Other tests run in this process too; an idle worker alone would use ~0.
    eprintln!("CPU over 2 s idle (whole test process): {used:?}");
    client.shutdown(LONG).unwrap();
}

#[test]
fn a_forked_child_does_not_keep_the_parents_database_locked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        free_port(),
        json!({"database_path": dir.path().join("fork.db").to_str().unwrap(), "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    // SAFETY: the child only sleeps and _exit()s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::sleep(3);
            libc::_exit(0)
        };
    }
    let _ = client.shutdown(Duration::from_millis(200));
    drop(client);
    // The child still lives, yet the file is free for the parent again.
    let again = Client::from_json(cfg.as_bytes());
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let again = again.expect("the parent can reopen its database while a child lives");
    let _ = again.shutdown(Duration::from_millis(100));
}

#[test]
fn stats_in_a_forked_child_return_forked() {
    let client =
        Client::from_json(config(free_port(), json!({"stderr_errors": false})).as_bytes()).unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = client.stats_checked() == Err(ResultCode::LOGSTASH_ASYNC_FORKED);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    let _ = client.shutdown(Duration::from_millis(100));
}

#[test]
fn a_failing_receiver_costs_no_cpu_between_retries() {
    // Fewer events than a batch, receiver down: the worker must sleep between
    // backoff attempts, not spin until the flush interval (a bug found in review).
    let cfg = config(
        free_port(),
        json!({"queued_events_flush_interval": 10.0, "backoff_initial": 0.2, "backoff_max": 0.4, "stderr_errors": false}),
    );
    let mut child = spawn_child("cpu_while_failing", &[&cfg]);
    let said = read_line(&mut child);
    let _ = child.wait();
    let ms: u64 = said.split_whitespace().last().unwrap().parse().unwrap();
    // A spinning worker burns ~3000 ms here; an idle one a few.
    assert!(
        ms < 1000,
        "worker used {ms} ms of CPU in 3 s while the receiver was down"
    );
}

#[test]
fn the_byte_limit_counts_only_what_is_buffered() {
    // Far more bytes flow through than max_database_bytes allows at once:
    // nothing may be dropped while the buffer is nearly empty.
    let sink = TcpSink::start();
    let cfg = config(
        sink.port,
        json!({"max_database_bytes": 65536, "queued_events_batch_size": 10}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    for round in 0..20 {
        emit_seq(&client, round * 100..(round + 1) * 100);
        assert_eq!(client.flush(LONG), Ok(()));
    }
    let stats = client.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(seqs(&sink.wait_for(2000, LONG)).len(), 2000);
    client.shutdown(LONG).unwrap();
}

#[test]
fn shutdown_makes_an_attempt_even_during_a_long_backoff() {
    let port = free_port();
    let cfg = config(
        port,
        json!({"backoff_initial": 60.0, "backoff_max": 60.0, "stderr_errors": false}),
    );
    let client = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&client, 0..10);
    // Let the first attempt fail: the next one is a minute away.
    let deadline = Instant::now() + LONG;
    while client.stats().send_errors == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sink = TcpSink::start_on(port);
    assert_eq!(client.shutdown(Duration::from_secs(10)), Ok(()));
    assert_eq!(seqs(&sink.wait_for(10, LONG)).len(), 10);
}

#[test]
fn set_extra_refuses_what_emit_refuses() {
    let client =
        Client::from_json(config(free_port(), json!({"stderr_errors": false})).as_bytes()).unwrap();
    assert_eq!(
        client.set_extra("k", Some(br#"1e999"#)),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    assert_eq!(
        client.set_extra("k", Some(br#""\ud800""#)),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    let deep = format!("{}{}", "[".repeat(150), "]".repeat(150));
    assert_eq!(
        client.set_extra("k", Some(deep.as_bytes())),
        Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
    );
    assert_eq!(client.set_extra("k", Some(br#"[1,{"a":"b"}]"#)), Ok(()));
    let _ = client.shutdown(Duration::from_millis(100));
}
