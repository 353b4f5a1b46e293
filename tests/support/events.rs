//! The test events and what the tests check of them on arrival: events
//! numbered by `extra.seq`, emitted in ranges and compared as sets or in order.

use logstash_async::Client;
use std::collections::BTreeSet;
use std::ops::Range;

/// Emits events `{"message":"event i","seq":i}` for every i in `range`.
pub fn emit_seq(client: &Client, range: Range<u64>) {
    for i in range {
        let ev = format!(r#"{{"message":"event {i}","seq":{i}}}"#);
        client.emit_json(ev.as_bytes()).expect("accepted");
    }
}

/// Emits events `0..total` at `per_second`, in bursts of 1,000 (an
/// application logging steadily, not as fast as it can).
pub fn emit_paced(client: &Client, total: u64, per_second: u64) {
    let started = std::time::Instant::now();
    for burst in 0..total.div_ceil(1_000) {
        emit_seq(client, burst * 1_000..((burst + 1) * 1_000).min(total));
        let next = started + std::time::Duration::from_millis((burst + 1) * 1_000_000 / per_second);
        std::thread::sleep(next.saturating_duration_since(std::time::Instant::now()));
    }
}

/// Parses received lines as JSON.
pub fn parse(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The `extra.seq` numbers of received lines, in arrival order.
pub fn seqs(lines: &[String]) -> Vec<u64> {
    event_seqs(&parse(lines))
}

/// The `extra.seq` numbers of received events, in arrival order.
pub fn event_seqs(events: &[serde_json::Value]) -> Vec<u64> {
    events
        .iter()
        .map(|v| v["extra"]["seq"].as_u64().expect("extra.seq"))
        .collect()
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
pub fn assert_exactly(lines: &[String], expected: Range<u64>) {
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

/// Every event of `0..n` acknowledged exactly once (in any order).
pub fn assert_exactly_once(acked: &[u64], n: u64) {
    let mut sorted = acked.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        unique(&sorted),
        (0..n).collect::<BTreeSet<_>>(),
        "every event acknowledged"
    );
    assert_eq!(sorted.len() as u64, n, "no event acknowledged twice");
}

/// Asserts that `got` holds every number in `want`, printing only a summary
/// (the missing count and the first few) when it does not.
pub fn assert_all_arrived(got: &BTreeSet<u64>, want: Range<u64>) {
    let missing: Vec<u64> = want.clone().filter(|n| !got.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events missing, first: {:?}",
        missing.len(),
        want.end - want.start,
        &missing[..missing.len().min(20)]
    );
}

/// At-least-once delivery over TCP: `all` (every arrival, duplicates
/// included) covers `want`, and the duplicates are no more than the client
/// counted as `resent`. Returns the number of duplicates.
pub fn assert_at_least_once(all: &[u64], want: Range<u64>, resent: u64) -> u64 {
    let unique = unique(all);
    assert_all_arrived(&unique, want);
    let duplicates = (all.len() - unique.len()) as u64;
    assert!(
        duplicates <= resent,
        "duplicates ({duplicates}) are counted as resent ({resent})"
    );
    duplicates
}
