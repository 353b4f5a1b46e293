//! Acknowledged delivery (issue 16): one producer emits BENCH_EVENTS
//! 200-byte events into a `:memory:` buffer with `overflow_policy` "block"
//! (default options otherwise), to a Beats or HTTP receiver that answers at
//! once or after 20 ms (and, for comparison, to a TCP line counter); the
//! rate runs from the first emit to the return of the flush (every event
//! acknowledged). The producer is the C program
//! benches/c/producer.c when scripts/bench.sh built it (BENCH_C_PRODUCER),
//! else the same loop in Rust. With BENCH_OLD_LIB (a directory holding
//! another build of liblogstash_async.so) the C producer runs against that
//! build too, for before/after figures in one run (BENCH_OLD_SLOW_EVENTS
//! events with the 20 ms receivers, 20,000 by default: the old path took
//! minutes for more). `decode` measures what the Lumberjack server alone
//! decodes and ACKs, fed pre-encoded windows: the ceiling beats is held to.

pub mod receivers;

use super::{event, thread_cpu_seconds, Row};
use logstash_async::lumberjack::{decode_ack, WindowEncoder};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SCENARIOS: [&str; 6] = ["decode", "tcp", "beats", "beats-20ms", "http", "http-20ms"];

/// What one producer run measured.
struct Produced {
    rate: f64,
    /// CPU per event of the worker and of the transport's threads (the
    /// Rust producer only: the C one runs in another process).
    cpu_ns: Option<(f64, f64)>,
    p99_us: f64,
    max_us: f64,
    refused: u64,
    ok: bool,
}

pub fn scenario(name: &str, n: u64) -> Option<Vec<Row>> {
    if name == "decode" {
        return Some(vec![decode(n)]);
    }
    let (transport, delay) = match name {
        "tcp" => ("tcp", Duration::ZERO),
        "beats" => ("beats", Duration::ZERO),
        "beats-20ms" => ("beats", Duration::from_millis(20)),
        "http" => ("http", Duration::ZERO),
        "http-20ms" => ("http", Duration::from_millis(20)),
        _ => return None,
    };
    let when = if transport == "tcp" {
        "reading (nothing to acknowledge)"
    } else if delay.is_zero() {
        "answering at once"
    } else {
        "answering after 20 ms"
    };
    let mut rows = Vec::new();
    let c_producer = std::env::var("BENCH_C_PRODUCER").ok();
    let who = if c_producer.is_some() { "C" } else { "Rust" };
    let p = run(transport, delay, n, c_producer.as_deref(), None);
    rows.push(Row(
        format!("{transport}, receiver {when} (1 {who} producer)"),
        p.rate,
        "events/s",
        note(&p),
    ));
    if let (Some(c), Ok(old)) = (&c_producer, std::env::var("BENCH_OLD_LIB")) {
        let events = if delay.is_zero() {
            n
        } else {
            std::env::var("BENCH_OLD_SLOW_EVENTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(20_000)
        };
        let p = run(transport, delay, events, Some(c), Some(&old));
        rows.push(Row(
            format!("  before (old build, {events} events)"),
            p.rate,
            "events/s",
            note(&p),
        ));
    }
    Some(rows)
}

fn note(p: &Produced) -> String {
    let mut note = format!("emit p99 {:.2} µs, max {:.0} µs", p.p99_us, p.max_us);
    if p.refused > 0 {
        note.push_str(&format!(", {} refused", p.refused));
    }
    if let Some((worker, transport)) = p.cpu_ns {
        note.push_str(&format!(
            "; CPU/event: worker {worker:.0} ns, transport threads {transport:.0} ns"
        ));
    }
    if !p.ok {
        note.push_str(", INCOMPLETE");
    }
    note
}

fn run(
    transport: &str,
    delay: Duration,
    n: u64,
    c_producer: Option<&str>,
    lib_dir: Option<&str>,
) -> Produced {
    let (port, counts) = match transport {
        "beats" => receivers::lumberjack(delay),
        "http" => receivers::http(delay),
        _ => receivers::lines(),
    };
    let config = format!(
        r#"{{"host":"127.0.0.1","port":{port},"transport":"{transport}","overflow_policy":"block","stderr_errors":false}}"#
    );
    let mut p = match c_producer {
        Some(program) => run_c(program, lib_dir, &config, n),
        None => run_rust(&config, n),
    };
    p.ok &= counts.wait_for(n, Duration::from_secs(60));
    counts.stop();
    p
}

fn run_c(program: &str, lib_dir: Option<&str>, config: &str, n: u64) -> Produced {
    let mut command = Command::new(program);
    command.args([config, &n.to_string()]);
    if let Some(dir) = lib_dir {
        command.env("LD_LIBRARY_PATH", dir);
    }
    let out = command.output().expect("run the C producer");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> f64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    if !out.status.success() {
        eprintln!("producer: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    Produced {
        rate: n as f64 / field("seconds"),
        cpu_ns: None,
        p99_us: field("p99_us"),
        max_us: field("max_us"),
        refused: field("refused") as u64,
        ok: out.status.success(),
    }
}

fn run_rust(config: &str, n: u64) -> Produced {
    let client = logstash_async::Client::from_json(config.as_bytes()).unwrap();
    let events: Vec<Vec<u8>> = (0..1000).map(event).collect();
    let mut samples = Vec::with_capacity(n as usize);
    let mut refused = 0;
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        refused += u64::from(client.emit_json(&events[(i % 1000) as usize]).is_err());
        samples.push(t.elapsed().as_nanos() as u64);
    }
    let ok = client.flush(Duration::from_secs(600)).is_ok();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let per_event = |name| thread_cpu_seconds(name) * 1e9 / n as f64;
    let transport = per_event("logstash-beats") + per_event("logstash-http");
    let cpu_ns = Some((per_event("logstash-async"), transport));
    let _ = client.shutdown(Duration::from_secs(5));
    samples.sort_unstable();
    Produced {
        rate,
        cpu_ns,
        p99_us: samples[samples.len() * 99 / 100] as f64 / 1e3,
        max_us: *samples.last().unwrap() as f64 / 1e3,
        refused,
        ok,
    }
}

/// What the Lumberjack server decodes and ACKs when fed pre-encoded windows
/// of 2,048 events formatted by the library (zlib level 3, the defaults),
/// four windows out at a time.
fn decode(n: u64) -> Row {
    const WINDOW: u64 = 2048;
    let config = logstash_async::Config::from_json(br#"{"host":"h"}"#).unwrap();
    let layout = logstash_async::layout::Layout::new(&config, "host", "bench");
    let thread: Arc<str> = Arc::from("main");
    let windows: Vec<Vec<u8>> = (0..8u64)
        .map(|w| {
            let mut lines = Vec::new();
            for i in 0..WINDOW {
                let accepted = logstash_async::event::AcceptedEvent {
                    unix_ms: 1_700_000_000_000 + i as i64,
                    thread_name: thread.clone(),
                    json: event(w * WINDOW + i).into(),
                };
                let mut line = Vec::new();
                layout.format(&accepted, &mut line).unwrap();
                lines.push(line);
            }
            let mut out = Vec::new();
            WindowEncoder::new(3)
                .encode(lines.iter().map(|l| l.as_slice()), &mut out)
                .unwrap();
            out
        })
        .collect();
    let (port, counts) = receivers::lumberjack(Duration::ZERO);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut acks = stream.try_clone().unwrap();
    let acked_windows = Arc::new(AtomicU64::new(0));
    let seen = acked_windows.clone();
    let total = n.div_ceil(WINDOW);
    std::thread::spawn(move || {
        let mut frame = [0u8; 6];
        while acks.read_exact(&mut frame).is_ok() {
            if decode_ack(&frame) == Some(WINDOW as u32) {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    for sent in 0..total {
        while sent >= acked_windows.load(Ordering::Relaxed) + 4 {
            std::thread::sleep(Duration::from_micros(50));
        }
        stream
            .write_all(&windows[(sent % windows.len() as u64) as usize])
            .unwrap();
    }
    let ok = counts.wait_for(total * WINDOW, Duration::from_secs(120));
    let rate = (total * WINDOW) as f64 / started.elapsed().as_secs_f64();
    counts.stop();
    Row(
        "Lumberjack server alone: decode + ACK (pre-encoded windows)".into(),
        rate,
        "events/s",
        if ok {
            String::new()
        } else {
            "INCOMPLETE".into()
        },
    )
}
