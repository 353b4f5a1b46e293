//! Beats: the Lumberjack v2 protocol of Logstash's beats input, with
//! acknowledged delivery, pipelined.
//!
//! The frames (window `2W`, event `2J`, compressed `2C`, ACK `2A`) are
//! encoded and decoded by [`crate::lumberjack`]. A batch is one window: W(n),
//! then the events as J frames numbered 1..n (numbering restarts with every
//! window, as Filebeat does), compressed together into one C frame when
//! `compression_level` > 0. The receiver ACKs the highest sequence it has
//! processed: 0 (or a repeat) is a keepalive that restarts the ACK timeout,
//! 0 < seq < n acknowledges a prefix, seq = n completes the window, seq > n
//! is a protocol error.
//!
//! Each host's connection runs on a thread of its own (`link.rs`), which
//! writes windows as they come, up to `beats_pipelining` of them awaiting
//! their ACKs, so a receiver's latency costs throughput only beyond that
//! many windows per round trip; the worker never waits for an ACK. Only
//! acknowledged events count as delivered: after an error each window
//! reports its acknowledged prefix and the rest is sent again, on the next
//! host or later. Window sizes follow Filebeat's slow start, per host: begin
//! at 16, double after each full window ACKed up to `beats_window_size`,
//! halve after an error. With `loadbalance`, windows go to every healthy
//! host at once; otherwise to one host at a time (failover).
//!
//! `connection_ttl`: a link thread that has lived that long gets no more
//! windows; it is told to finish (it ends once its windows are ACKed, so
//! never mid-window) and the next window starts a new link, which connects
//! again, resolving the host name anew.

mod link;
mod mailbox;

use super::hosts::HostSet;
use super::reports::Reports;
use super::tls::TlsSettings;
use super::{Batch, Capacity, InterruptSlot, Interrupter, Outcome, SendError, Transport, Waker};
use link::{Link, Report};
use mailbox::Mailbox;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first window of a host (slow start).
const INITIAL_WINDOW: usize = 16;

pub struct BeatsSettings {
    /// Connect and write timeout (`socket_timeout`).
    pub timeout: Duration,
    /// Longest wait for the next ACK (`beats_ack_timeout`).
    pub ack_timeout: Duration,
    pub compression_level: u32,
    /// Largest window (`beats_window_size`).
    pub max_window: usize,
    /// Windows awaiting their ACK per connection (`beats_pipelining`).
    pub pipelining: usize,
    /// A link is replaced once it has lived this long (`connection_ttl`).
    pub connection_ttl: Option<Duration>,
}

pub struct BeatsTransport {
    hosts: HostSet,
    settings: Arc<BeatsSettings>,
    tls: Option<Arc<TlsSettings>>,
    interrupter: Interrupter,
    waker: Waker,
    /// The link thread of each host, if one runs.
    links: Vec<Option<LinkHandle>>,
    /// Links past `connection_ttl`, finishing the windows they hold.
    retiring: Vec<LinkHandle>,
    /// Each host's window size (slow start).
    windows: Vec<usize>,
    /// Windows out: ticket -> (host, its size was the host's whole window).
    out: HashMap<u64, (usize, bool)>,
    reports: Arc<Reports<Report>>,
    next_link: u64,
    connects: Arc<AtomicU64>,
    outcomes: Vec<Outcome>,
}

/// The worker's side of a link thread.
struct LinkHandle {
    id: u64,
    mailbox: Arc<Mailbox>,
    slot: Arc<InterruptSlot>,
    /// Windows handed over and not reported yet.
    outstanding: usize,
    started: Instant,
}

impl BeatsTransport {
    pub fn new(
        hosts: HostSet,
        settings: BeatsSettings,
        tls: Option<TlsSettings>,
        interrupter: Interrupter,
    ) -> BeatsTransport {
        let n = hosts.len();
        BeatsTransport {
            windows: vec![INITIAL_WINDOW.min(settings.max_window); n],
            links: (0..n).map(|_| None).collect(),
            retiring: Vec::new(),
            hosts,
            settings: Arc::new(settings),
            tls: tls.map(Arc::new),
            interrupter,
            waker: Waker::none(),
            out: HashMap::new(),
            reports: Arc::default(),
            next_link: 0,
            connects: Arc::default(),
            outcomes: Vec::new(),
        }
    }

    /// The host the next window goes to: the first one in order with room in
    /// its pipeline (failover: the first one in order, or none).
    fn next_host(&self, now: Instant) -> Option<usize> {
        let room = |i: usize| {
            self.links[i]
                .as_ref()
                .is_none_or(|l| l.outstanding < self.settings.pipelining)
        };
        let order = self.hosts.peek(now);
        if self.hosts.loadbalance() {
            order.into_iter().find(|&i| room(i))
        } else {
            order.first().copied().filter(|&i| room(i))
        }
    }

    /// Starts a link thread for host `i`.
    fn spawn(&mut self, i: usize) -> Result<LinkHandle, String> {
        self.next_link += 1;
        let mailbox =
            Arc::new(Mailbox::new().map_err(|e| format!("cannot create an eventfd: {e}"))?);
        let slot = Arc::new(self.interrupter.slot());
        let link = Link {
            id: self.next_link,
            host: i,
            endpoint: self.hosts.endpoint(i).clone(),
            settings: Arc::clone(&self.settings),
            tls: self.tls.clone(),
            slot: Arc::clone(&slot),
            mailbox: Arc::clone(&mailbox),
            reports: Arc::clone(&self.reports),
            waker: self.waker.clone(),
            connects: Arc::clone(&self.connects),
        };
        std::thread::Builder::new()
            .name("logstash-beats".into())
            .spawn(move || link.run())
            .map_err(|e| format!("cannot start a beats connection thread: {e}"))?;
        Ok(LinkHandle {
            id: self.next_link,
            mailbox,
            slot,
            outstanding: 0,
            started: Instant::now(),
        })
    }

    /// Host `i`'s link, once past `connection_ttl`, is told to finish and
    /// replaced by the next window's new link.
    fn retire_outlived(&mut self, i: usize, now: Instant) {
        let Some(ttl) = self.settings.connection_ttl else {
            return;
        };
        if self.links[i]
            .as_ref()
            .is_some_and(|l| now.saturating_duration_since(l.started) >= ttl)
        {
            let link = self.links[i].take().expect("checked");
            link.mailbox.finish();
            self.retiring.push(link);
        }
    }

    /// Hands `window` to host `i`'s link thread, starting one if none runs.
    fn hand_over(&mut self, i: usize, mut window: Batch) -> Result<(), String> {
        for _ in 0..2 {
            if self.links[i].is_none() {
                self.links[i] = Some(self.spawn(i)?);
            }
            let link = self.links[i].as_mut().expect("started above");
            match link.mailbox.push(window) {
                Ok(()) => {
                    link.outstanding += 1;
                    return Ok(());
                }
                // The thread just ended (its report is on the way): a new one.
                Err(back) => {
                    window = back;
                    self.links[i] = None;
                }
            }
        }
        Err("a beats connection thread ended at once".into())
    }

    fn apply(&mut self, report: Report, now: Instant) {
        match report {
            Report::Acked { link, host, ticket } => {
                let Some((_, full)) = self.out.remove(&ticket) else {
                    return;
                };
                self.hosts.succeeded(host);
                if full {
                    self.windows[host] = (self.windows[host] * 2).min(self.settings.max_window);
                }
                if let Some(handle) = self.links[host].as_mut().filter(|l| l.id == link) {
                    handle.outstanding = handle.outstanding.saturating_sub(1);
                }
                self.outcomes.push(Outcome::Done {
                    ticket,
                    rejected: 0,
                });
            }
            Report::Failed {
                link,
                host,
                message,
                cut,
            } => {
                self.ended(host, link);
                for c in cut {
                    self.out.remove(&c.ticket);
                    self.outcomes.push(Outcome::Returned {
                        ticket: c.ticket,
                        finished: c.acked,
                        rejected: 0,
                        written: c.written,
                    });
                }
                self.windows[host] = (self.windows[host] / 2).max(1);
                self.hosts.failed(host, now);
                let message = if self.hosts.len() > 1 {
                    format!("{}: {message}", self.hosts.endpoint(host))
                } else {
                    message
                };
                let mut e = SendError::new(message);
                e.another_host_ready = self.hosts.other_healthy(host, now);
                self.outcomes.push(Outcome::Failed(e));
            }
            Report::Ended { link, host, unsent } => {
                self.ended(host, link);
                for ticket in unsent {
                    self.out.remove(&ticket);
                    self.outcomes.push(Outcome::unsent(ticket));
                }
            }
        }
    }

    /// Link thread `id` of host `i` ended.
    fn ended(&mut self, i: usize, id: u64) {
        if self.links[i].as_ref().is_some_and(|l| l.id == id) {
            self.links[i] = None;
        }
        self.retiring.retain(|l| l.id != id);
    }

    fn take_reports(&mut self, now: Instant) {
        for report in self.reports.take() {
            self.apply(report, now);
        }
    }
}

impl Transport for BeatsTransport {
    fn start(&mut self, waker: Waker) {
        self.waker = waker;
    }

    fn capacity(&self, now: Instant) -> Option<Capacity> {
        let i = self.next_host(now)?;
        Some(Capacity {
            max_events: self.windows[i] as u32,
            max_bytes: usize::MAX,
        })
    }

    fn submit(&mut self, batch: Batch, now: Instant) {
        let Some(i) = self.next_host(now) else {
            self.outcomes.push(Outcome::unsent(batch.ticket));
            return;
        };
        self.hosts.took(i);
        self.retire_outlived(i, now);
        let ticket = batch.ticket;
        let full = batch.len() as usize >= self.windows[i];
        self.out.insert(ticket, (i, full));
        if let Err(e) = self.hand_over(i, batch) {
            self.out.remove(&ticket);
            self.outcomes.push(Outcome::Failed(SendError::new(e)));
            self.outcomes.push(Outcome::unsent(ticket));
            return;
        }
        if !self.hosts.loadbalance() {
            // Failover: one host at a time; the others finish and end.
            for (j, link) in self.links.iter().enumerate() {
                if j != i {
                    if let Some(link) = link {
                        link.mailbox.finish();
                    }
                }
            }
        }
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Outcome>) {
        self.take_reports(now);
        out.append(&mut self.outcomes);
    }

    fn connections_opened(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    fn close(&mut self, deadline: Instant, out: &mut Vec<Outcome>) {
        for link in self.links.iter().flatten() {
            link.mailbox.finish();
        }
        // Windows out may still be ACKed until the deadline.
        loop {
            self.take_reports(Instant::now());
            let running = self.links.iter().any(Option::is_some) || !self.retiring.is_empty();
            if !running || Instant::now() >= deadline {
                break;
            }
            self.reports.wait(deadline);
        }
        let retiring = std::mem::take(&mut self.retiring);
        for link in self
            .links
            .iter_mut()
            .filter_map(Option::take)
            .chain(retiring)
        {
            // Left running: told to stop now, and its socket shut down.
            link.mailbox.abort();
            link.slot.interrupt();
        }
        out.append(&mut self.outcomes);
    }
}
