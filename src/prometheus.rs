//! The counters in Prometheus's text exposition format (version 0.0.4):
//! `logstash_async_*` counters and gauges, each sample labelled with the
//! handle it belongs to (`handle_name`, or the handle's number in the
//! process). `logstash_async_stats_prometheus` (src/ffi/prometheus.rs), the
//! Go and Ruby bindings and `Client::stats_prometheus` use it.

use crate::result::ResultCode;
use crate::stats::Stats;
use crate::Client;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers the handles of the process that have no `handle_name`.
static HANDLES: AtomicU64 = AtomicU64::new(0);

/// The next handle's label when it has no `handle_name`: "1", "2", ...
pub(crate) fn next_handle_label() -> String {
    (HANDLES.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

/// A metric family: name, type, help, and its samples from a snapshot
/// (extra labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: fn(&Stats) -> Vec<(&'static str, u64)>,
}

/// Every family, in the order they are written.
const FAMILIES: [Family; 12] = [
    Family {
        name: "logstash_async_events_emitted_total",
        kind: "counter",
        help: "Events accepted by emit/log.",
        samples: |s| vec![("", s.emitted)],
    },
    Family {
        name: "logstash_async_events_rejected_total",
        kind: "counter",
        help: "Events refused by emit/log for bad input.",
        samples: |s| vec![("", s.rejected)],
    },
    Family {
        name: "logstash_async_events_sent_total",
        kind: "counter",
        help: "Events delivered.",
        samples: |s| vec![("", s.sent)],
    },
    Family {
        name: "logstash_async_events_resent_total",
        kind: "counter",
        help: "Events sent again after a connection failure (possible duplicates).",
        samples: |s| vec![("", s.resent)],
    },
    Family {
        name: "logstash_async_events_dropped_total",
        kind: "counter",
        help: "Events dropped, by reason.",
        samples: |s| {
            vec![
                ("reason=\"queue_full\"", s.dropped_queue_full),
                ("reason=\"oldest\"", s.dropped_oldest),
                ("reason=\"database_full\"", s.dropped_database_full),
                ("reason=\"undeliverable\"", s.dropped_undeliverable),
                ("reason=\"at_shutdown\"", s.dropped_at_shutdown),
            ]
        },
    },
    Family {
        name: "logstash_async_events_expired_total",
        kind: "counter",
        help: "Events removed undelivered because they were older than event_ttl.",
        samples: |s| vec![("", s.expired)],
    },
    Family {
        name: "logstash_async_events_queued",
        kind: "gauge",
        help: "Events waiting in the in-memory queue.",
        samples: |s| vec![("", s.queued)],
    },
    Family {
        name: "logstash_async_events_buffered",
        kind: "gauge",
        help: "Events stored in the buffer, not yet delivered.",
        samples: |s| vec![("", s.buffered)],
    },
    Family {
        name: "logstash_async_send_errors_total",
        kind: "counter",
        help: "Failed sends or connection attempts.",
        samples: |s| vec![("", s.send_errors)],
    },
    Family {
        name: "logstash_async_connects_total",
        kind: "counter",
        help: "Connections opened.",
        samples: |s| vec![("", s.connects)],
    },
    Family {
        name: "logstash_async_database_errors_total",
        kind: "counter",
        help: "Errors of the SQLite buffer.",
        samples: |s| vec![("", s.database_errors)],
    },
    Family {
        name: "logstash_async_info",
        kind: "gauge",
        help: "The library's version (always 1).",
        samples: |_| vec![(concat!("version=\"", env!("CARGO_PKG_VERSION"), "\""), 1)],
    },
];

/// The exposition of one or more handles' snapshots (`(handle label,
/// stats)`): each family once, with a sample per handle.
pub fn render(handles: &[(&str, &Stats)]) -> String {
    let mut out = String::with_capacity(2048);
    for family in &FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for (label, stats) in handles {
            for (extra, value) in (family.samples)(stats) {
                let _ = write!(out, "{}{{handle=\"", family.name);
                escape_label(label, &mut out);
                out.push('"');
                if !extra.is_empty() {
                    out.push(',');
                    out.push_str(extra);
                }
                let _ = writeln!(out, "}} {value}");
            }
        }
    }
    out
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape_label(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl Client {
    /// The counters in Prometheus's text format, labelled with this handle.
    /// Refuses in a forked child, like `stats_checked`.
    pub fn stats_prometheus(&self) -> Result<String, ResultCode> {
        let stats = self.stats_checked()?;
        Ok(render(&[(self.handle_label(), &stats)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_once_per_handle_with_escaped_labels() {
        let a = Stats {
            emitted: 5,
            sent: 4,
            dropped_oldest: 1,
            buffered: 2,
            ..Stats::default()
        };
        let b = Stats::default();
        let text = render(&[("api", &a), ("odd \"q\" \\ \n", &b)]);
        assert!(text.contains("logstash_async_events_emitted_total{handle=\"api\"} 5\n"));
        assert!(text
            .contains("logstash_async_events_dropped_total{handle=\"api\",reason=\"oldest\"} 1\n"));
        assert!(text.contains("logstash_async_events_buffered{handle=\"api\"} 2\n"));
        assert!(text.contains(
            "logstash_async_events_emitted_total{handle=\"odd \\\"q\\\" \\\\ \\n\"} 0\n"
        ));
        assert_eq!(text.matches("# TYPE ").count(), FAMILIES.len());
        assert_eq!(
            text.matches("# HELP logstash_async_events_sent_total ")
                .count(),
            1
        );
        // Each family's lines are together: HELP, TYPE, then every sample.
        let names: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| &l[..l.find('{').unwrap()])
            .collect();
        let mut grouped = names.clone();
        grouped.dedup();
        let mut distinct = grouped.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(grouped.len(), distinct.len(), "one run per family");
        for family in &FAMILIES {
            assert!(family.name.starts_with("logstash_async_"));
            assert_eq!(family.kind == "counter", family.name.ends_with("_total"));
        }
    }

    #[test]
    fn handles_without_a_name_are_numbered() {
        let first: u64 = next_handle_label().parse().unwrap();
        let second: u64 = next_handle_label().parse().unwrap();
        assert!(second > first && first >= 1);
    }
}
