//! The plain transports against syslog-ng, a receiver the project did not
//! write: TCP (exactly once, in order) and UDP (paced, nearly all).

mod support;

use logstash_async::Client;
use serde_json::json;
use std::time::Duration;
use support::syslog_ng::{Receiver, Source};
use support::{assert_exactly, checked_seqs, config, emit_seq, unique};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn tcp_10k_events_arrive_exactly_once_in_order() {
    let r = Receiver::start();
    let cfg = config(r.syslog_ng.port(Source::Tcp), json!({}));
    let c = Client::from_json(cfg.as_bytes()).unwrap();
    emit_seq(&c, 0..10_000);
    assert_eq!(c.flush(LONG), Ok(()));
    assert_eq!(c.shutdown(LONG), Ok(()));
    r.syslog_ng.wait_for(Source::Tcp, 10_000, LONG);
    let lines = r
        .syslog_ng
        .wait_quiet(Source::Tcp, Duration::from_millis(300), LONG);
    assert_exactly(&lines, 0..10_000);
    let stats = c.stats();
    assert_eq!(
        (stats.sent, stats.send_errors, stats.connects),
        (10_000, 0, 1)
    );
}

#[test]
fn udp_events_arrive_when_paced() {
    let r = Receiver::start();
    let cfg = config(r.syslog_ng.port(Source::Udp), json!({"transport": "udp"}));
    let c = Client::from_json(cfg.as_bytes()).unwrap();
    // syslog-ng drops datagrams above ~30k/s: bursts of 500, each flushed and
    // given time to be read.
    for burst in 0..10u64 {
        emit_seq(&c, burst * 500..(burst + 1) * 500);
        assert_eq!(c.flush(LONG), Ok(()));
        r.syslog_ng.wait_for(
            Source::Udp,
            ((burst + 1) * 500) as usize,
            Duration::from_secs(2),
        );
    }
    assert_eq!(c.shutdown(LONG), Ok(()));
    let lines = r
        .syslog_ng
        .wait_quiet(Source::Udp, Duration::from_millis(300), LONG);
    let seqs = checked_seqs(&lines);
    let got = unique(&seqs);
    assert_eq!(seqs.len(), got.len(), "no datagram duplicated");
    assert!(
        got.len() >= 4_950,
        "only {} of 5000 datagrams arrived",
        got.len()
    );
    assert_eq!(c.stats().sent, 5_000);
}
