//! Worker errors on stderr, rate-limited per kind, so a receiver that is down
//! for an hour costs a few lines, not a flood. Every error is still counted in
//! the stats and the last one kept as text.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Once;
use std::time::{Duration, Instant};

/// At most one line per kind of error in this interval.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Reporter {
    enabled: bool,
    kinds: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl Reporter {
    pub fn new(enabled: bool) -> Reporter {
        Reporter {
            enabled,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// Prints `message` unless the same kind was printed recently.
    pub fn report(&self, kind: &'static str, message: &str) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let mut kinds = self.kinds.lock();
        let entry = kinds.entry(kind).or_insert((now - REPORT_INTERVAL * 2, 0));
        if now.duration_since(entry.0) >= REPORT_INTERVAL {
            let suppressed = std::mem::take(&mut entry.1);
            entry.0 = now;
            drop(kinds);
            if suppressed > 0 {
                eprintln!("logstash-async: {message} ({suppressed} similar messages suppressed)");
            } else {
                eprintln!("logstash-async: {message}");
            }
        } else {
            entry.1 += 1;
        }
    }
}

/// A warning printed once per process (configuration choices such as ssl_verify false).
pub fn warn_once(message: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| eprintln!("logstash-async: warning: {message}"));
}
