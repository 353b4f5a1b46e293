//! Test support for the tests against syslog-ng: a throwaway PKI and a
//! syslog-ng process serving TLS, TCP and UDP on loopback.
#![allow(dead_code)]

pub mod pki;
pub mod syslog_ng;

use logstash_async::Client;
use pki::Pki;
use std::collections::BTreeSet;
use syslog_ng::SyslogNg;

/// A temp dir with a PKI and a running syslog-ng (killed on drop).
pub struct Receiver {
    pub pki: Pki,
    pub syslog_ng: SyslogNg,
    pub dir: tempfile::TempDir,
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::create(&dir.path().join("pki"));
        let syslog_ng = SyslogNg::start(&dir.path().join("syslog-ng"), &pki);
        Receiver {
            pki,
            syslog_ng,
            dir,
        }
    }

    /// A database file path in the temp dir.
    pub fn db(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

/// Emits events `{"message":"event i","seq":i}` for every i in `range`.
pub fn emit_seq(client: &Client, range: std::ops::Range<u64>) {
    for i in range {
        let ev = format!(r#"{{"message":"event {i}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).expect("accepted");
    }
}

/// Parses raw lines as JSON events and checks the Logstash layout of each
/// (the fields and their JSON types, not just their presence); returns the seqs.
pub fn checked_seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let seq = v["extra"]["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("extra.seq: {line}"));
            assert_eq!(v["message"], format!("event {seq}"), "{line}");
            assert_eq!(v["@version"], "1", "{line}");
            assert_eq!(v["type"], "python-logstash", "{line}");
            assert_eq!(v["level"], "INFO", "{line}");
            assert!(v["pid"].is_u64(), "pid is a number: {line}");
            assert!(v["host"].is_string(), "{line}");
            let ts = v["@timestamp"].as_str().expect("@timestamp");
            assert!(ts.len() == 24 && ts.ends_with('Z'), "@timestamp {ts}");
            seq
        })
        .collect()
}

/// The distinct seqs, for at-least-once checks.
pub fn unique(seqs: &[u64]) -> BTreeSet<u64> {
    seqs.iter().copied().collect()
}

/// Asserts that `lines` are exactly the events `expected`, in order, with a
/// short message (not two vectors of thousands of numbers) when they are not.
pub fn assert_exactly(lines: &[String], expected: std::ops::Range<u64>) {
    let got = checked_seqs(lines);
    let want: Vec<u64> = expected.collect();
    if got != want {
        let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
        let set = unique(&got);
        let missing = want.iter().filter(|s| !set.contains(s)).count();
        panic!(
            "got {} lines ({} distinct, {missing} missing) for {} events; first difference at {first_diff:?}",
            got.len(),
            set.len(),
            want.len()
        );
    }
}

/// Waits (bounded) until a handle has delivered `n` events and has none left,
/// counting rows an earlier handle left in the file (flush covers only the
/// events accepted by this handle, and `buffered` is 0 until the worker has
/// opened the file, so neither alone says the file was drained).
pub fn wait_drained(client: &Client, n: u64, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    let drained = |s: &logstash_async::Stats| s.sent >= n && s.buffered == 0;
    while !drained(&client.stats()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(drained(&client.stats()), "{:?}", client.stats());
}
