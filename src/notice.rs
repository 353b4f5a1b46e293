//! Notices: what a handle tells the application about itself, so that it
//! can route the library's errors into its own logging or alerting instead
//! of reading stderr. Kinds: delivery failing and recovered, the buffer
//! falling back to memory and recovering, events dropped by a limit, events
//! the receiver rejected, and any other error the worker reports.
//!
//! Everything the reporter prints passes here (`report.rs`); drops are read
//! off the counters. Notices wait in a short queue until the worker hands
//! them to the application's sink at a point of its loop where it holds no
//! lock (never on a caller's thread, never under a lock emit needs), or,
//! without a sink, until the application polls them. Transitions come once
//! each; the other kinds at most once a second each, with a count of what
//! happened in between.

use crate::stats::Counters;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// What a notice is about (the numbers are the C ABI's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// Delivery started failing (once per outage); `message` is the error.
    DeliveryFailing = 1,
    /// Delivery works again; `count` is the failed attempts of the outage.
    DeliveryRecovered = 2,
    /// The database file stopped taking writes: buffering in memory.
    BufferFallback = 3,
    /// The database file is usable again and holds the buffered events.
    BufferRecovered = 4,
    /// `count` events were dropped by a limit since the last such notice
    /// (`message` names the limits).
    Dropped = 5,
    /// The receiver rejected events for good (`count` rejections).
    Rejected = 6,
    /// Any other error (`count` occurrences; `message` the last).
    Error = 7,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 7] = [
        NoticeKind::DeliveryFailing,
        NoticeKind::DeliveryRecovered,
        NoticeKind::BufferFallback,
        NoticeKind::BufferRecovered,
        NoticeKind::Dropped,
        NoticeKind::Rejected,
        NoticeKind::Error,
    ];

    /// A short name ("delivery_failing", ...).
    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::DeliveryFailing => "delivery_failing",
            NoticeKind::DeliveryRecovered => "delivery_recovered",
            NoticeKind::BufferFallback => "buffer_fallback",
            NoticeKind::BufferRecovered => "buffer_recovered",
            NoticeKind::Dropped => "dropped",
            NoticeKind::Rejected => "rejected",
            NoticeKind::Error => "error",
        }
    }

    /// The kind of what the reporter was asked to print (its kinds are
    /// the call sites' names).
    fn of_report(kind: &str) -> NoticeKind {
        match kind {
            "send" => NoticeKind::DeliveryFailing,
            "recovered" => NoticeKind::DeliveryRecovered,
            "database fallback" => NoticeKind::BufferFallback,
            "database recovered" => NoticeKind::BufferRecovered,
            "rejected" => NoticeKind::Rejected,
            _ => NoticeKind::Error,
        }
    }

    /// Transitions come once each; the rest are rate-limited.
    fn is_transition(self) -> bool {
        !matches!(
            self,
            NoticeKind::Dropped | NoticeKind::Rejected | NoticeKind::Error
        )
    }
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub count: u64,
    pub message: String,
}

/// Where the worker hands notices (the application's callback). Called on
/// the worker thread, one notice at a time, with no lock held.
pub trait NoticeSink: Send + Sync {
    fn notice(&self, notice: &Notice);
}

/// A closure is a sink.
impl<F: Fn(&Notice) + Send + Sync> NoticeSink for F {
    fn notice(&self, notice: &Notice) {
        self(notice)
    }
}

/// At most one notice of a rate-limited kind per interval.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);
/// Notices kept for an application that polls (the oldest go first).
pub const MAX_PENDING: usize = 64;

/// A handle's notices: those waiting, and what decides the next ones.
#[derive(Default)]
pub struct Notices {
    sink: Option<Box<dyn NoticeSink>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Notice>,
    /// Delivery is failing (a DeliveryFailing notice was made).
    failing: bool,
    /// Failed attempts since it started failing.
    failed_attempts: u64,
    /// Per rate-limited kind: when the last one was made, and what came
    /// since (held until the interval passed).
    limited: [Limited; 3],
    /// The drop counters when the last Dropped notice was made.
    drops_noticed: Drops,
}

#[derive(Default)]
struct Limited {
    last: Option<Instant>,
    held: Option<Notice>,
}

/// Events dropped by a limit, by limit.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Drops {
    queue_full: u64,
    oldest: u64,
    database_full: u64,
    expired: u64,
    at_shutdown: u64,
}

impl Drops {
    fn of(c: &Counters) -> Drops {
        Drops {
            queue_full: c.dropped_queue_full.load(Relaxed),
            oldest: c.dropped_oldest.load(Relaxed),
            database_full: c.dropped_database_full.load(Relaxed),
            expired: c.expired.load(Relaxed),
            at_shutdown: c.dropped_at_shutdown.load(Relaxed),
        }
    }

    /// What was dropped since `before`: the total and a description.
    fn since(self, before: Drops) -> (u64, String) {
        let parts = [
            (
                self.queue_full - before.queue_full,
                "queue full (max_queue_events)",
            ),
            (self.oldest - before.oldest, "oldest evicted (drop_oldest)"),
            (
                self.database_full - before.database_full,
                "database full (max_database_events/bytes)",
            ),
            (self.expired - before.expired, "expired (event_ttl)"),
            (self.at_shutdown - before.at_shutdown, "lost at shutdown"),
        ];
        let total = parts.iter().map(|p| p.0).sum();
        let reasons: Vec<String> = parts
            .iter()
            .filter(|p| p.0 > 0)
            .map(|(n, why)| format!("{n} {why}"))
            .collect();
        (
            total,
            format!("{total} events dropped: {}", reasons.join(", ")),
        )
    }
}

impl Notices {
    /// Notices for `sink`, or (None) kept for polling.
    pub fn new(sink: Option<Box<dyn NoticeSink>>) -> Notices {
        Notices {
            sink,
            state: Mutex::default(),
        }
    }

    /// What the reporter prints becomes a notice (see `NoticeKind::of_report`).
    pub fn report(&self, kind: &str, message: &str) {
        let kind = NoticeKind::of_report(kind);
        let mut s = self.state.lock();
        let count = match kind {
            NoticeKind::DeliveryFailing => {
                s.failed_attempts += 1;
                if std::mem::replace(&mut s.failing, true) {
                    return;
                }
                0
            }
            NoticeKind::DeliveryRecovered => {
                if !std::mem::replace(&mut s.failing, false) {
                    return;
                }
                let attempts = std::mem::take(&mut s.failed_attempts);
                let message = format!("delivery recovered after {attempts} failed attempts");
                s.push(Notice {
                    kind,
                    count: attempts,
                    message,
                });
                return;
            }
            _ if kind.is_transition() => 0,
            _ => 1,
        };
        s.add(
            Notice {
                kind,
                count,
                message: message.to_owned(),
            },
            Instant::now(),
        );
    }

    /// Worker: notes drops, then hands the waiting notices to the sink
    /// (with no lock held while it runs). Without a sink they stay for
    /// `poll`.
    pub fn dispatch(&self, counters: &Counters) {
        let now = Instant::now();
        let ready: Vec<Notice> = {
            let mut s = self.state.lock();
            let drops = Drops::of(counters);
            if drops != s.drops_noticed {
                let (count, message) = drops.since(s.drops_noticed);
                s.drops_noticed = drops;
                let kind = NoticeKind::Dropped;
                s.add(
                    Notice {
                        kind,
                        count,
                        message,
                    },
                    now,
                );
            }
            s.release_held(now);
            match &self.sink {
                Some(_) => s.pending.drain(..).collect(),
                None => return,
            }
        };
        if let Some(sink) = &self.sink {
            for notice in &ready {
                sink.notice(notice);
            }
        }
    }

    /// Worker, at its end: what is held back by the rate limit goes out too.
    pub fn flush_held(&self) {
        self.state
            .lock()
            .release_held(Instant::now() + NOTICE_INTERVAL);
    }

    /// The oldest waiting notice, taken when its message has fewer than
    /// `max_message_len` bytes (else `Err(its length)`, and it stays).
    /// Always None when a sink takes the notices.
    pub fn poll(&self, max_message_len: usize) -> Result<Option<Notice>, usize> {
        if self.sink.is_some() {
            return Ok(None);
        }
        let mut s = self.state.lock();
        match s.pending.front() {
            None => Ok(None),
            Some(n) if n.message.len() >= max_message_len => Err(n.message.len()),
            Some(_) => Ok(s.pending.pop_front()),
        }
    }
}

impl State {
    /// A notice: a transition at once; a rate-limited kind at once if none
    /// was made within the interval, else held (merged with what is held).
    fn add(&mut self, notice: Notice, now: Instant) {
        if notice.kind.is_transition() {
            self.push(notice);
            return;
        }
        let slot = &mut self.limited[limited_index(notice.kind)];
        if slot.last.is_some_and(|t| now < t + NOTICE_INTERVAL) {
            slot.held = Some(match slot.held.take() {
                Some(held) => Notice {
                    count: held.count + notice.count,
                    ..notice
                },
                None => notice,
            });
            return;
        }
        slot.last = Some(now);
        self.push(notice);
    }

    /// Held notices whose interval has passed by `now` go out.
    fn release_held(&mut self, now: Instant) {
        for i in 0..self.limited.len() {
            let slot = &mut self.limited[i];
            if slot.held.is_some() && slot.last.is_none_or(|t| now >= t + NOTICE_INTERVAL) {
                slot.last = Some(now);
                let held = slot.held.take().expect("checked");
                self.push(held);
            }
        }
    }

    fn push(&mut self, notice: Notice) {
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(notice);
    }
}

fn limited_index(kind: NoticeKind) -> usize {
    match kind {
        NoticeKind::Dropped => 0,
        NoticeKind::Rejected => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(n: &Notices) -> Vec<(NoticeKind, u64, String)> {
        std::iter::from_fn(|| n.poll(usize::MAX).unwrap())
            .map(|n| (n.kind, n.count, n.message))
            .collect()
    }

    #[test]
    fn transitions_come_once_per_outage() {
        let n = Notices::new(None);
        let counters = Counters::default();
        n.report("send", "cannot deliver events: refused");
        n.report("send", "cannot deliver events: refused again");
        n.report("recovered", "delivery recovered");
        n.report("recovered", "delivery recovered");
        n.report("database fallback", "not writable");
        n.report("database recovered", "usable again");
        n.dispatch(&counters);
        assert_eq!(
            drain(&n),
            [
                (
                    NoticeKind::DeliveryFailing,
                    0,
                    "cannot deliver events: refused".to_owned()
                ),
                (
                    NoticeKind::DeliveryRecovered,
                    2,
                    "delivery recovered after 2 failed attempts".to_owned()
                ),
                (NoticeKind::BufferFallback, 0, "not writable".to_owned()),
                (NoticeKind::BufferRecovered, 0, "usable again".to_owned()),
            ]
        );
    }

    #[test]
    fn drops_are_read_off_the_counters_and_errors_rate_limited() {
        let n = Notices::new(None);
        let counters = Counters::default();
        Counters::add(&counters.dropped_queue_full, 3);
        Counters::add(&counters.expired, 1);
        n.dispatch(&counters);
        n.report("database", "cannot store");
        n.report("database", "cannot store again");
        n.report("rejected", "400 bad request");
        n.dispatch(&counters);
        assert_eq!(
            drain(&n),
            [
                (
                    NoticeKind::Dropped,
                    4,
                    "4 events dropped: 3 queue full (max_queue_events), 1 expired (event_ttl)"
                        .to_owned()
                ),
                (NoticeKind::Error, 1, "cannot store".to_owned()),
                (NoticeKind::Rejected, 1, "400 bad request".to_owned()),
            ]
        );
        // The second error is held until the interval passed (or the end).
        n.flush_held();
        assert_eq!(
            drain(&n),
            [(NoticeKind::Error, 1, "cannot store again".to_owned())]
        );
    }

    #[test]
    fn a_sink_gets_them_on_dispatch_and_poll_then_gets_none() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let collect = seen.clone();
        let n = Notices::new(Some(Box::new(move |notice: &Notice| {
            collect.lock().push(notice.clone())
        })));
        n.report("send", "refused");
        assert_eq!(n.poll(usize::MAX), Ok(None));
        assert!(
            seen.lock().is_empty(),
            "only the worker's dispatch calls the sink"
        );
        n.dispatch(&Counters::default());
        assert_eq!(seen.lock()[0].kind, NoticeKind::DeliveryFailing);
    }

    #[test]
    fn a_small_buffer_leaves_the_notice_and_the_queue_is_bounded() {
        let n = Notices::new(None);
        n.report("send", "0123456789");
        assert_eq!(n.poll(10), Err(10));
        assert_eq!(n.poll(11).unwrap().unwrap().message, "0123456789");
        for i in 0..MAX_PENDING + 5 {
            n.report("database fallback", &format!("{i}"));
        }
        let kept = drain(&n);
        assert_eq!(kept.len(), MAX_PENDING);
        assert_eq!(kept[0].2, "5", "the oldest went first");
    }
}
