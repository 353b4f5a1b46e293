//! Formats the throughput benchmark's 200-byte events N times in one layout
//! and nothing else: a small program to count instructions per event with
//! `valgrind --tool=callgrind` at two N and subtract (the machine is shared,
//! so instruction counts are steadier than wall-clock).
//!
//! `cargo run --release --example format_cost -- ecs 10000` (layouts: `ecs`,
//! `logstash`, and `ecs-reference`, the tree-building definition of the ECS
//! layout in tests/reference/ that the tests compare it with). A third
//! argument adds options, e.g. event shaping:
//! `-- logstash 10000 '{"drop_fields":["extra.pad"]}'`; an argument
//! `context` gives every event a thread context of two keys (what the worker
//! merges for a thread that set them). An argument naming a shape adds
//! three members to every event: `dotted` (`"service.name"`, `"user.id"`,
//! `"trace.id"`: ECS names an ECS layout nests), `undotted` (the same names
//! with `_` instead of `.`: the control) or `nested` (the dotted names inside
//! one object value, `"ctx":{...}`).

use logstash_async::context::Contexts;
use logstash_async::event::{AcceptedEvent, EventRef};
use logstash_async::layout::Layout;
use logstash_async::Config;
use std::sync::Arc;

#[path = "../tests/reference/ecs.rs"]
mod reference;

/// The benchmark's event (benches/throughput.rs), with the members of a
/// shape (see above) before `seq`.
fn event(i: u64, shape: &str) -> Vec<u8> {
    let added = match shape {
        "dotted" => format!(r#""service.name":"bench","user.id":{i},"trace.id":"t-{i}","#),
        "undotted" => format!(r#""service_name":"bench","user_id":{i},"trace_id":"t-{i}","#),
        "nested" => {
            format!(r#""ctx":{{"service.name":"bench","user.id":{i},"trace.id":"t-{i}"}},"#)
        }
        _ => String::new(),
    };
    let mut ev = format!(r#"{{"message":"benchmark event number {i:>10}","level":"INFO","logger_name":"bench",{added}"seq":{i},"pad":""}}"#)
        .into_bytes();
    let pad = 200usize.saturating_sub(ev.len());
    let insert_at = ev.len() - 2;
    ev.splice(insert_at..insert_at, std::iter::repeat_n(b'x', pad));
    ev
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "ecs".into());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rest: Vec<String> = args.collect();
    let contexts = Contexts::default();
    if rest.iter().any(|a| a == "context") {
        let value = |json: &str| serde_json::value::RawValue::from_string(json.into()).unwrap();
        contexts
            .set("request_id", value(r#""r-0123456789""#))
            .unwrap();
        contexts.set("tenant", value("42")).unwrap();
    }
    let origin = contexts.origin();
    const SHAPES: [&str; 3] = ["dotted", "undotted", "nested"];
    let shape = rest
        .iter()
        .find(|a| SHAPES.contains(&a.as_str()))
        .map_or("", String::as_str);
    let formatter = match kind.as_str() {
        "ecs" | "ecs-reference" => r#","formatter":"ecs""#,
        "logstash" => "",
        other => panic!("unknown layout {other} (ecs, ecs-reference or logstash)"),
    };
    let mut options: serde_json::Value =
        serde_json::from_str(&format!(r#"{{"host":"127.0.0.1","port":1{formatter}}}"#))
            .expect("options");
    if let Some(more) = rest
        .iter()
        .find(|a| *a != "context" && !SHAPES.contains(&a.as_str()))
    {
        let more: serde_json::Value = serde_json::from_str(more).expect("options: a JSON object");
        for (k, v) in more.as_object().expect("options: a JSON object") {
            options[k] = v.clone();
        }
    }
    let config = Config::from_json(options.to_string().as_bytes()).expect("config");
    let layout = Layout::new(&config, "host", "bench");
    let reference = reference::ReferenceEcsLayout::new(&config, "host", "bench");
    let thread: Arc<str> = Arc::from("main");
    let events: Vec<AcceptedEvent> = (0..1000)
        .map(|i| AcceptedEvent {
            unix_ms: 1_700_000_000_000 + i as i64,
            thread_name: thread.clone(),
            json: event(i, shape).into(),
        })
        .collect();
    let mut out = Vec::with_capacity(1 << 20);
    let started = std::time::Instant::now();
    for i in 0..n {
        if out.len() > 1 << 19 {
            out.clear();
        }
        let ev = EventRef {
            context: origin.context.as_ref(),
            ..EventRef::from(&events[(i % 1000) as usize])
        };
        if kind == "ecs-reference" {
            reference.format(ev, &mut out).expect("format");
        } else {
            layout.format(ev, &mut out).expect("format");
        }
        out.push(b'\n');
    }
    let ns = started.elapsed().as_secs_f64() * 1e9 / n.max(1) as f64;
    println!(
        "{kind}: {n} events, {ns:.0} ns/event, {} bytes in the last batch",
        out.len()
    );
}
