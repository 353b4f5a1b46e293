//! End-to-end benchmark: `cargo bench --bench throughput` (or `bash scripts/bench.sh`).
//!
//! Prints one table: the raw loopback-socket ceiling measured in the same run,
//! emit latency percentiles on the caller's thread (receiver up, down and
//! stalled), emits/s with 1 and 4 producers, end-to-end events/s with a
//! `:memory:` and a file (WAL) buffer, the drain rate after an outage and peak
//! RSS. Each scenario runs in a child process of its own so that peak RSS is
//! the scenario's. Figures vary with the machine: compare the ratios to the raw
//! ceiling, which are measured in the same run.
//!
//! The kafka and redis scenarios (benches/support/brokers.rs) start a real
//! broker and redis-server of their own.
//!
//! Environment: BENCH_EVENTS (default 1000000) events per end-to-end scenario.

#[path = "support/brokers.rs"]
mod brokers;

use logstash_async::Client;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A 200-byte event (the size the targets are stated for).
fn event(i: u64) -> Vec<u8> {
    let mut ev = format!(r#"{{"message":"benchmark event number {i:>10}","level":"INFO","logger_name":"bench","seq":{i},"pad":""}}"#)
        .into_bytes();
    let pad = 200usize.saturating_sub(ev.len());
    let insert_at = ev.len() - 2;
    ev.splice(insert_at..insert_at, std::iter::repeat_n(b'x', pad));
    ev
}

/// A counting sink on loopback: counts newlines as fast as the socket delivers.
struct Sink {
    port: u16,
    lines: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    fn start() -> Sink {
        Sink::serve(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn serve(listener: TcpListener) -> Sink {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let lines = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, s2) = (lines.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let (l3, s3) = (l2.clone(), s2.clone());
                        std::thread::spawn(move || {
                            stream.set_nonblocking(false).unwrap();
                            stream
                                .set_read_timeout(Some(Duration::from_millis(50)))
                                .unwrap();
                            let mut buf = vec![0u8; 1 << 20];
                            while !s3.load(Ordering::Relaxed) {
                                match stream.read(&mut buf) {
                                    Ok(0) => break,
                                    Ok(n) => {
                                        let count = memchr::memchr_iter(b'\n', &buf[..n]).count();
                                        l3.fetch_add(count as u64, Ordering::Relaxed);
                                    }
                                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                                    Err(_) => break,
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        Sink { port, lines, stop }
    }

    fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.lines.load(Ordering::Relaxed) < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU seconds this process's threads named `name` have run (from
/// /proc/self/task/*/schedstat): CPU per event is much less noisy on a shared
/// machine than wall-clock rates.
fn thread_cpu_seconds(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

fn config(port: u16, extra: &str) -> String {
    // A queue large enough that emit is never refused, unless the scenario sets its own.
    let queue = if extra.contains("max_queue_events") {
        ""
    } else {
        r#","max_queue_events":2000000"#
    };
    format!(
        r#"{{"host":"127.0.0.1","port":{port}{queue},"stderr_errors":false,"backoff_initial":0.05,"backoff_max":0.2{extra}}}"#
    )
}

/// One result line: name, value, unit, ratio-to-ceiling text.
struct Row(String, f64, &'static str, String);

fn print_row(r: &Row) {
    println!("RESULT\t{}\t{:.3}\t{}\t{}", r.0, r.1, r.2, r.3);
}

fn raw_ceiling(n: u64) -> f64 {
    let sink = Sink::start();
    let mut stream = TcpStream::connect(("127.0.0.1", sink.port)).unwrap();
    let mut line = event(0);
    line.push(b'\n');
    let mut batch = Vec::with_capacity(line.len() * 256);
    for _ in 0..256 {
        batch.extend_from_slice(&line);
    }
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        stream.write_all(&batch).unwrap();
        sent += 256;
    }
    sink.wait_for(sent, Duration::from_secs(60));
    sent as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

/// Emit latency on the caller's thread, in µs percentiles (p50, p99, p99.9, max).
fn emit_latency(client: &Client, n: u64) -> (f64, f64, f64, f64) {
    let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
    let mut samples = Vec::with_capacity(n as usize);
    for i in 0..n {
        let ev = &events[(i % 1000) as usize];
        let t = Instant::now();
        let _ = client.emit_json(ev);
        samples.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }
    samples.sort_unstable();
    (
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        *samples.last().unwrap() as f64 / 1000.0,
    )
}

/// Slow emits of the stall pass, split by whether the OS preempted the
/// producer during the emit (an involuntary context switch: 4 busy threads on
/// 2 cores get preempted whatever the library does) or not (then the time is
/// the library's: a wait on a lock or condvar, or plain work).
#[derive(Default)]
struct Stalls {
    worst_own_ns: u64,
    own_over_1ms: u64,
    worst_preempted_ns: u64,
    preempted_over_1ms: u64,
}

/// Involuntary context switches of the calling thread so far.
fn involuntary_switches() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    usage.ru_nivcsw
}

/// `threads` producers emit `per` events each, every emit bracketed by
/// getrusage(RUSAGE_THREAD) (two syscalls per emit: not a rate measurement).
fn stall_pass(client: &Arc<Client>, threads: u64, per: u64) -> Stalls {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let c = client.clone();
            std::thread::spawn(move || {
                let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
                let mut s = Stalls::default();
                for i in 0..per {
                    let before = involuntary_switches();
                    let t = Instant::now();
                    let _ = c.emit_json(&events[(i % 1000) as usize]);
                    let ns = t.elapsed().as_nanos() as u64;
                    if involuntary_switches() == before {
                        s.worst_own_ns = s.worst_own_ns.max(ns);
                        s.own_over_1ms += u64::from(ns > 1_000_000);
                    } else {
                        s.worst_preempted_ns = s.worst_preempted_ns.max(ns);
                        s.preempted_over_1ms += u64::from(ns > 1_000_000);
                    }
                }
                s
            })
        })
        .collect();
    let mut all = Stalls::default();
    for h in handles {
        let s = h.join().unwrap();
        all.worst_own_ns = all.worst_own_ns.max(s.worst_own_ns);
        all.own_over_1ms += s.own_over_1ms;
        all.worst_preempted_ns = all.worst_preempted_ns.max(s.worst_preempted_ns);
        all.preempted_over_1ms += s.preempted_over_1ms;
    }
    all
}

fn scenario(name: &str, n: u64) -> Vec<Row> {
    let dir = std::env::temp_dir().join(format!("logstash-async-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    let db_opt = format!(r#","database_path":"{}""#, db.display());
    let rows = match name {
        "ceiling" => vec![Row(
            "raw loopback socket ceiling".into(),
            raw_ceiling(n * 4),
            "lines/s",
            String::new(),
        )],
        "latency" => {
            let mut rows = Vec::new();
            let sink = Sink::start();
            let client = Client::from_json(config(sink.port, "").as_bytes()).unwrap();
            let (p50, p99, p999, max) = emit_latency(&client, 200_000);
            rows.push(Row(
                "emit p50, receiver up".into(),
                p50,
                "µs",
                String::new(),
            ));
            rows.push(Row(
                "emit p99, receiver up".into(),
                p99,
                "µs",
                String::new(),
            ));
            rows.push(Row(
                "emit p99.9, receiver up".into(),
                p999,
                "µs",
                String::new(),
            ));
            rows.push(Row(
                "emit max, receiver up".into(),
                max,
                "µs",
                String::new(),
            ));
            let _ = client.shutdown(Duration::from_secs(30));
            // Receiver down.
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let client = Client::from_json(config(port, "").as_bytes()).unwrap();
            let (p50, p99, p999, _) = emit_latency(&client, 200_000);
            rows.push(Row(
                "emit p50 / p99 / p99.9, receiver down".into(),
                p50,
                "µs",
                format!("{p99:.2} / {p999:.2}"),
            ));
            let _ = client.shutdown(Duration::from_millis(100));
            // Receiver stalled: accepts, never reads.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let client = Client::from_json(config(port, "").as_bytes()).unwrap();
            let (p50, p99, p999, _) = emit_latency(&client, 200_000);
            rows.push(Row(
                "emit p50 / p99 / p99.9, receiver stalled".into(),
                p50,
                "µs",
                format!("{p99:.2} / {p999:.2}"),
            ));
            let _ = client.shutdown(Duration::from_millis(100));
            drop(listener);
            rows
        }
        "producers" => {
            let mut rows = Vec::new();
            for threads in [1u64, 4] {
                let sink = Sink::start();
                let client = Arc::new(Client::from_json(config(sink.port, "").as_bytes()).unwrap());
                let per = n / threads;
                // Pass 1, the rate: no syscalls around the emits.
                let started = Instant::now();
                let worst = Arc::new(AtomicU64::new(0));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let (c, w) = (client.clone(), worst.clone());
                        std::thread::spawn(move || {
                            let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
                            let mut mine = 0u64;
                            for i in 0..per {
                                let t = Instant::now();
                                let _ = c.emit_json(&events[(i % 1000) as usize]);
                                mine = mine.max(t.elapsed().as_nanos() as u64);
                            }
                            w.fetch_max(mine, Ordering::Relaxed);
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().unwrap();
                }
                let rate = (per * threads) as f64 / started.elapsed().as_secs_f64();
                let worst_ms = worst.load(Ordering::Relaxed) as f64 / 1e6;
                // Pass 2, the stalls: which slow emits the library caused.
                let s = stall_pass(&client, threads, per);
                rows.push(Row(
                    format!("emits/s, {threads} producer(s)"),
                    rate,
                    "emits/s",
                    format!(
                        "worst emit {worst_ms:.2} ms; stall pass: worst not preempted {:.3} ms \
                         ({} > 1 ms), worst preempted {:.2} ms ({} > 1 ms)",
                        s.worst_own_ns as f64 / 1e6,
                        s.own_over_1ms,
                        s.worst_preempted_ns as f64 / 1e6,
                        s.preempted_over_1ms,
                    ),
                ));
                let _ = client.shutdown(Duration::from_secs(60));
            }
            rows
        }
        "memory" | "file" => {
            let sink = Sink::start();
            let opts = if name == "file" {
                db_opt.clone()
            } else {
                String::new()
            };
            let client = Client::from_json(config(sink.port, &opts).as_bytes()).unwrap();
            let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
            let started = Instant::now();
            for i in 0..n {
                while client.emit_json(&events[(i % 1000) as usize]).is_err() {
                    std::thread::yield_now();
                }
            }
            let flushed = client.flush(Duration::from_secs(300));
            let ok = sink.wait_for(n, Duration::from_secs(60));
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let worker_ns = thread_cpu_seconds("logstash-async") * 1e9 / n as f64;
            let _ = client.shutdown(Duration::from_secs(10));
            let label = if name == "file" {
                "end to end, file buffer (WAL)"
            } else {
                "end to end, :memory: buffer"
            };
            let note = if ok && flushed.is_ok() {
                String::new()
            } else {
                format!("INCOMPLETE {flushed:?}")
            };
            vec![
                Row(label.into(), rate, "events/s", note),
                Row(
                    format!("worker CPU per event, {name}"),
                    worker_ns,
                    "ns/event",
                    String::new(),
                ),
                Row(
                    format!("peak RSS, {name}"),
                    peak_rss_mb(),
                    "MB",
                    String::new(),
                ),
            ]
        }
        "outage" => {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            // The library's default queue bound (100k events): the emit loop
            // retries on QUEUE_FULL, so the database, not RAM, holds the backlog.
            let opts = format!(r#"{db_opt},"max_queue_events":100000"#);
            let client = Client::from_json(config(port, &opts).as_bytes()).unwrap();
            let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
            for i in 0..n {
                while client.emit_json(&events[(i % 1000) as usize]).is_err() {
                    std::thread::yield_now();
                }
            }
            let _ = client.flush(Duration::from_secs(300)); // STORED_NOT_SENT once all are in the file
            let sink = Sink::start_on(port);
            let started = Instant::now();
            let flushed = client.flush(Duration::from_secs(300));
            let ok = sink.wait_for(n, Duration::from_secs(60));
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let _ = client.shutdown(Duration::from_secs(10));
            let note = if ok && flushed.is_ok() {
                String::new()
            } else {
                format!("INCOMPLETE {flushed:?}")
            };
            vec![
                Row(
                    "drain after an outage, file buffer".into(),
                    rate,
                    "events/s",
                    note,
                ),
                Row(
                    "peak RSS, 1M events buffered while receiver down".into(),
                    peak_rss_mb(),
                    "MB",
                    String::new(),
                ),
            ]
        }
        "format" => [("Logstash", ""), ("ECS", r#","formatter":"ecs""#)]
            .into_iter()
            .map(|(name, opts)| {
                Row(
                    format!("format, {name} layout (worker CPU)"),
                    format_cost(opts, n),
                    "ns/event",
                    String::new(),
                )
            })
            .collect(),
        "shaping" => {
            // The same, with event shaping (issue 19): none, a typical set
            // of fields, and the fields plus two patterns over every string.
            let mut rows = Vec::new();
            for (name, layout) in [("Logstash", ""), ("ECS", r#","formatter":"ecs""#)] {
                for (what, shaping) in [
                    ("no shaping", ""),
                    ("rename 1, drop 1, mask 1 field", SHAPING_FIELDS),
                    ("... and 2 mask_patterns", SHAPING_PATTERNS),
                ] {
                    let opts = format!("{layout}{shaping}");
                    rows.push(Row(
                        format!("format, {name} layout, {what}"),
                        format_cost(&opts, n),
                        "ns/event",
                        String::new(),
                    ));
                }
            }
            // The caller's side is untouched: emit with and without shaping.
            for (what, shaping) in [("no shaping", ""), ("shaping", SHAPING_PATTERNS)] {
                let sink = Sink::start();
                let client = Client::from_json(config(sink.port, shaping).as_bytes()).unwrap();
                let (p50, p99, p999, _) = emit_latency(&client, 200_000);
                rows.push(Row(
                    format!("emit p50 / p99 / p99.9, {what}"),
                    p50,
                    "µs",
                    format!("{p99:.2} / {p999:.2}"),
                ));
                let _ = client.shutdown(Duration::from_secs(30));
            }
            rows
        }
        "validate" => {
            // Caller CPU per event for emit's validation (UTF-8, JSON syntax,
            // depth, surrogates, number range), no queue: the best of 5 rounds.
            let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
            let mut best = f64::MAX;
            for _ in 0..5 {
                let started = Instant::now();
                for i in 0..n {
                    let ev = std::hint::black_box(&events[(i % 1000) as usize]);
                    logstash_async::event::validate(ev, 1 << 20).unwrap();
                }
                best = best.min(started.elapsed().as_secs_f64() * 1e9 / n as f64);
            }
            vec![Row(
                "validate, 200-byte event (caller CPU)".into(),
                best,
                "ns/event",
                String::new(),
            )]
        }
        "kafka" => brokers::kafka(n),
        "redis" => brokers::redis(n),
        other => panic!("unknown scenario {other}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

/// Shaping options of the `shaping` scenario: paths of the bench event in
/// both layouts (`extra.*`).
const SHAPING_FIELDS: &str = r#","rename_fields":{"extra.seq":"sequence"},"drop_fields":["extra.pad"],"mask_fields":["extra.logger_name"]"#;
const SHAPING_PATTERNS: &str = r#","rename_fields":{"extra.seq":"sequence"},"drop_fields":["extra.pad"],"mask_fields":["extra.logger_name"],"mask_patterns":["\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b","[\\w.+-]+@[\\w-]+\\.[\\w.]+"]"#;

/// Worker CPU per event of the layout `opts` configures, no I/O: the best
/// of 5 rounds (the machine is shared).
fn format_cost(opts: &str, n: u64) -> f64 {
    let thread: Arc<str> = Arc::from("main");
    let events: Vec<logstash_async::event::AcceptedEvent> = (0..1000)
        .map(|i| logstash_async::event::AcceptedEvent {
            unix_ms: 1_700_000_000_000 + i as i64,
            thread_name: thread.clone(),
            json: event(i).into(),
        })
        .collect();
    let config = logstash_async::Config::from_json(config(1, opts).as_bytes()).unwrap();
    let layout = logstash_async::layout::Layout::new(&config, "host", "bench");
    let mut out = Vec::with_capacity(1 << 20);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for i in 0..n {
            if out.len() > 1 << 19 {
                out.clear();
            }
            layout
                .format(&events[(i % 1000) as usize], &mut out)
                .unwrap();
            out.push(b'\n');
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    best
}

impl Sink {
    /// Listens on a given port once it is free (bounded wait).
    fn start_on(port: u16) -> Sink {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => return Sink::serve(listener),
                Err(e) => assert!(Instant::now() < deadline, "port {port}: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(pos) = args.iter().position(|a| a == "--scenario") {
        for row in scenario(&args[pos + 1], n) {
            print_row(&row);
        }
        return;
    }
    let only: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let names = [
        "ceiling",
        "latency",
        "producers",
        "memory",
        "file",
        "kafka",
        "redis",
        "outage",
        "format",
        "shaping",
        "validate",
    ];
    let mut rows: Vec<(String, f64, String, String)> = Vec::new();
    for name in names {
        if !only.is_empty() && !only.iter().any(|o| o.as_str() == name) {
            continue;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--scenario", name])
            .output()
            .expect("run scenario");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() == 5 && f[0] == "RESULT" {
                rows.push((
                    f[1].into(),
                    f[2].parse().unwrap_or(0.0),
                    f[3].into(),
                    f[4].into(),
                ));
            }
        }
        if !out.status.success() {
            eprintln!(
                "scenario {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let ceiling = rows
        .iter()
        .find(|r| r.0.starts_with("raw loopback"))
        .map(|r| r.1)
        .unwrap_or(0.0);
    println!();
    println!(
        "logstash-async benchmark ({n} events per end-to-end scenario, 200-byte events, {} CPUs)",
        num_cpus()
    );
    println!(
        "{:<52} {:>14} {:<9} {:>9}  notes",
        "figure", "value", "unit", "÷ceiling"
    );
    for (name, value, unit, note) in &rows {
        let ratio = if unit == "events/s" || unit == "emits/s" || unit == "lines/s" {
            if ceiling > 0.0 {
                format!("{:.3}", value / ceiling)
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        println!(
            "{:<52} {:>14} {:<9} {:>9}  {}",
            name,
            human(*value, unit),
            unit,
            ratio,
            note
        );
    }
}

fn human(v: f64, unit: &str) -> String {
    if unit.ends_with("/s") {
        format!("{:.0}", v)
    } else {
        format!("{:.2}", v)
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
