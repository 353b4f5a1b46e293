//! Worker errors on stderr, rate-limited per kind, so a receiver that is down
//! for an hour costs a few lines, not a flood. Every error is still counted in
//! the stats and the last one kept as text, and becomes a notice for the
//! application (`crate::notice`), whether stderr is on or not.

use crate::notice::{NoticeSink, Notices};
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
    /// What the application hears of it.
    pub notices: Notices,
}

impl Reporter {
    /// `enabled`: print on stderr; `sink`: the application's notice callback.
    pub fn new(enabled: bool, sink: Option<Box<dyn NoticeSink>>) -> Reporter {
        Reporter {
            enabled,
            kinds: Mutex::new(HashMap::new()),
            notices: Notices::new(sink),
        }
    }

    /// Makes `message` a notice, and prints it unless the same kind was
    /// printed recently.
    pub fn report(&self, kind: &'static str, message: &str) {
        self.notices.report(kind, message);
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
