use logstash_async::buffer::Buffer;
use logstash_async::event::{AcceptedEvent, Formatter};
use logstash_async::Config;
use std::sync::Arc;
use std::time::Instant;
fn main() {
    let config = Config::from_json(br#"{"host":"h","extra":{"app":"x"}}"#).unwrap();
    let f = Formatter::new(&config, "host", "prog");
    let ev = br#"{"message":"benchmark event number          1","level":"INFO","logger_name":"bench","seq":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let n = 1_000_000;
    let t = Instant::now();
    for _ in 0..n {
        logstash_async::event::validate(ev, 1 << 20).unwrap();
    }
    println!(
        "validate: {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let name: Arc<str> = Arc::from("main");
    let t = Instant::now();
    let mut out = Vec::with_capacity(1 << 20);
    for _ in 0..n {
        let e = AcceptedEvent {
            unix_ms: 1,
            thread_name: name.clone(),
            json: ev[..].into(),
        };
        out.clear();
        f.format(&e, &mut out).unwrap();
    }
    println!(
        "alloc+format: {:.0} ns ({} bytes)",
        t.elapsed().as_nanos() as f64 / n as f64,
        out.len()
    );
    for path in [None, Some("/tmp/pf/x.db")] {
        let _ = std::fs::remove_file("/tmp/pf/x.db");
        let mut b = match path {
            None => Buffer::in_memory().unwrap(),
            Some(p) => Buffer::open_file(std::path::Path::new(p)).unwrap().0,
        };
        let mut line = out.clone();
        line.push(b'\n');
        let chunk: Vec<u8> = line.repeat(50);
        let t = Instant::now();
        let chunks = 20_000;
        let mut last = 0;
        for i in 0..chunks / 40 {
            let batch: Vec<_> = (0..40).map(|_| (chunk.clone(), 50u32, i as i64)).collect();
            b.insert(&batch).unwrap();
            let got = b.fetch_after(last, 64).unwrap();
            last = got.last().unwrap().id;
            let ids: Vec<i64> = got.iter().map(|c| c.id).collect();
            b.delete(&ids).unwrap();
        }
        println!(
            "{:?}: insert+fetch+delete per event: {:.0} ns",
            path,
            t.elapsed().as_nanos() as f64 / (chunks * 50) as f64
        );
    }
}
