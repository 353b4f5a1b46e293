//! TCP (optionally TLS): one JSON document per line on long-lived connections.
//!
//! Plain TCP has no acknowledgements, so "write() returned" is not delivery: a
//! receiver killed with data in its socket buffer loses it. A write is therefore
//! only confirmed once (a) the peer's kernel acknowledged every byte of it
//! (SIOCOUTQ), (b) the connection is still alive, and (c) either
//! `CONFIRM_DELAY` has passed since the write (a live reader has consumed it by
//! then) or `CONFIRM_BYTES` more were acknowledged after it (more than any
//! receive buffer holds). Until then its rows stay in the buffer; if the
//! connection dies they are sent again. Duplicates after a receiver crash are
//! thus bounded by CONFIRM_DELAY's worth of traffic; nothing is lost.
//! On close we half-close and wait for the peer's EOF, which proves it read all.
//!
//! A receiver that closes the connection itself in order (a FIN), once its
//! kernel acknowledged every byte written, read them all: Linux answers a
//! close with unread data by a reset instead. So that EOF confirms every
//! write of the connection (no resend, no error; the next batch reconnects),
//! while a reset, or an EOF with bytes unacknowledged or unwritten, voids the
//! connection's unconfirmed writes as any failure does.
//!
//! With TLS the same rules hold, conservatively: SIOCOUTQ counts ciphertext
//! (larger than the plaintext we count), so "acknowledged" is never overstated.
//! A TLS 1.3 server that refuses our certificate says so by an alert after the
//! handshake; every liveness check (before each send, while confirming, on
//! close) reads through the TLS layer, so the alert voids the unconfirmed
//! writes instead of being taken for harmless bytes.
//!
//! Connecting never blocks the worker: the connect and the TLS handshake
//! run on a short-lived thread (`connector.rs`); meanwhile the transport
//! takes no batch for that host and the worker goes on with its other jobs.
//!
//! Writes never block the worker for long: batches go into a per-connection
//! output buffer written in slices of at most `WRITE_SLICE`, so with a stalled
//! receiver the worker keeps moving events from memory into the database.
//! Only when no byte could be written for `socket_timeout` is the connection
//! declared dead.
//!
//! With several hosts each has its own connection ("link", `link.rs`) and its
//! own unconfirmed writes: a link that fails voids only its own.
//!
//! `connection_ttl`: a link that has lived that long takes no more batches;
//! the next batch opens a new connection (resolving the host name again, so
//! a load balancer or DNS can send it elsewhere), while the old link
//! "retires": it writes what it holds, is confirmed by the usual rules and
//! closes once idle. So a renewal happens between batches and neither loses
//! nor duplicates anything.

use super::connector::{self, Connecting};
use super::hosts::HostSet;
use super::stream::{Conn, Dead};
use super::tls::TlsSettings;
use super::{Batch, Capacity, Interrupter, Outcome, SendError, Transport, Waker};
use link::{close_gracefully, Ending, Link};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod link;

pub use link::{CONFIRM_BYTES, CONFIRM_DELAY};

/// The longest one write may block the worker.
pub const WRITE_SLICE: Duration = Duration::from_millis(20);
/// Unwritten bytes beyond which the transport takes no new chunk (backpressure).
pub const MAX_PENDING_OUTPUT: usize = 4 << 20;
/// The largest batch: one write, confirmed as a whole.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// The largest batch with `loadbalance`: each goes to one host, so smaller
/// batches spread the load evenly.
const MAX_SPREAD_BATCH_BYTES: usize = 64 << 10;
/// How often written-but-unconfirmed data is looked at again.
const CONFIRM_POLL: Duration = Duration::from_millis(20);

pub struct TcpTransport {
    hosts: HostSet,
    timeout: Duration,
    tls: Option<Arc<TlsSettings>>,
    interrupter: Interrupter,
    waker: Waker,
    /// One slot per host.
    links: Vec<Option<Link>>,
    /// A connection attempt per host, while one runs.
    connecting: Vec<Option<Connecting>>,
    /// Links past `ttl` finishing their writes: (host, link).
    retiring: Vec<(usize, Link)>,
    ttl: Option<Duration>,
    /// The host written to last (failover closes the others once idle).
    active: Option<usize>,
    /// Connections established (TLS: handshake completed).
    connects: u64,
    /// What happened since the worker last polled.
    outcomes: Vec<Outcome>,
}

impl TcpTransport {
    pub fn new(
        hosts: HostSet,
        timeout: Duration,
        tls: Option<TlsSettings>,
        ttl: Option<Duration>,
        interrupter: Interrupter,
    ) -> TcpTransport {
        let links = (0..hosts.len()).map(|_| None).collect();
        TcpTransport {
            connecting: (0..hosts.len()).map(|_| None).collect(),
            hosts,
            timeout,
            tls: tls.map(Arc::new),
            interrupter,
            waker: Waker::none(),
            links,
            retiring: Vec::new(),
            ttl,
            active: None,
            connects: 0,
            outcomes: Vec::new(),
        }
    }

    /// Starts connecting to host `i` (on a thread; `poll` takes the result).
    fn connect(&mut self, i: usize) {
        if self.connecting[i].is_none() {
            let attempt = connector::connect(
                self.hosts.endpoint(i).clone(),
                self.timeout,
                self.tls.clone(),
                &self.interrupter,
            );
            self.connecting[i] = Some(Connecting::start(attempt, self.waker.clone()));
        }
    }

    /// Connection attempts that ended: a link, or a failure reported.
    fn take_connections(&mut self, now: Instant) {
        for i in 0..self.connecting.len() {
            let Some(result) = self.connecting[i].as_ref().and_then(Connecting::take) else {
                continue;
            };
            self.connecting[i] = None;
            match result {
                Ok((conn, slot)) => {
                    // Writes after the handshake block at most WRITE_SLICE (see pump).
                    let _ = conn.tcp().set_write_timeout(Some(WRITE_SLICE));
                    self.connects += 1;
                    self.links[i] = Some(Link::new(conn, slot));
                    // Connected for the next batch: not an idle leftover of
                    // failover (close_idle_links).
                    self.active = Some(i);
                }
                Err(e) => {
                    self.hosts.failed(i, now);
                    let mut e = SendError::new(with_host(&self.hosts, i, e));
                    e.another_host_ready = self.hosts.other_healthy(i, now);
                    self.outcomes.push(Outcome::Failed(e));
                }
            }
        }
    }

    /// Whether host `i` can take a batch now, or could once connected
    /// (false while its connection attempt runs).
    fn can_take(&self, i: usize) -> bool {
        self.links[i].is_some() || self.connecting[i].is_none()
    }

    /// The hosts a batch may go to now, best first: the first one in order
    /// (failover), or any (load balancing).
    fn candidates(&self, order: Vec<usize>) -> Vec<usize> {
        if self.hosts.loadbalance() {
            order
        } else {
            order.into_iter().take(1).collect()
        }
    }

    /// Link `i` ended: with everything read by the receiver its writes are
    /// all delivered (true), else they are void (see `fail`).
    fn end(&mut self, i: usize, dead: Dead) -> bool {
        let link = self.links[i].take();
        self.ended(i, link, dead)
    }

    /// `end` for a link already taken out of its slot.
    fn ended(&mut self, i: usize, link: Option<Link>, dead: Dead) -> bool {
        match link {
            Some(link) if link.read_everything(&dead) => {
                for w in &link.unconfirmed {
                    self.outcomes.push(Outcome::Done {
                        ticket: w.ticket,
                        rejected: 0,
                    });
                }
                link.close();
                true
            }
            link => {
                self.void(i, link, dead.message);
                false
            }
        }
    }

    /// Link `i` has outlived `connection_ttl`: it takes no more batches and
    /// closes once all it wrote is confirmed (see `poll_retiring`).
    fn retire(&mut self, i: usize) {
        let Some(link) = self.links[i].take() else {
            return;
        };
        if link.is_idle() {
            link.close();
        } else {
            self.retiring.push((i, link));
        }
    }

    /// Retiring links: write, confirm, and close each once idle; one that
    /// fails voids its unconfirmed writes like any link.
    fn poll_retiring(&mut self, now: Instant) {
        for (i, link) in std::mem::take(&mut self.retiring) {
            match self.service(i, link, now) {
                Some(link) if link.is_idle() => link.close(),
                Some(link) => self.retiring.push((i, link)),
                None => {}
            }
        }
    }

    /// One turn of a busy link of host `i`: writes what it holds, sees
    /// whether the receiver is still there, confirms what the rules allow.
    /// None when it ended (its writes confirmed or voided, and reported).
    fn service(&mut self, i: usize, mut link: Link, now: Instant) -> Option<Link> {
        if let Err(e) = link.pump(self.timeout) {
            self.void(i, Some(link), e);
            return None;
        }
        if let Err(dead) = link.conn.check_alive() {
            self.ended(i, Some(link), dead);
            return None;
        }
        for ticket in link.confirm(now, true) {
            self.outcomes.push(Outcome::Done {
                ticket,
                rejected: 0,
            });
        }
        Some(link)
    }

    /// Link `i` died: close it and void its unconfirmed writes (they are sent
    /// again), keeping the other connections.
    fn fail(&mut self, i: usize, message: String) {
        let link = self.links[i].take();
        self.void(i, link, message);
    }

    /// A link of host `i` died (`link`: unless already gone): its unconfirmed
    /// writes are void and the failure is reported.
    fn void(&mut self, i: usize, link: Option<Link>, message: String) {
        let now = Instant::now();
        if let Some(link) = link {
            for w in &link.unconfirmed {
                self.outcomes.push(Outcome::Returned {
                    ticket: w.ticket,
                    finished: 0,
                    rejected: 0,
                    written: link.was_written(w),
                });
            }
            link.close();
        }
        self.hosts.failed(i, now);
        let mut e = SendError::new(with_host(&self.hosts, i, message));
        e.another_host_ready = self.hosts.other_healthy(i, now);
        self.outcomes.push(Outcome::Failed(e));
    }

    /// Writes `batch` to host `i`: false when its connection could not be
    /// used (the reason is reported), or it has none (one is started).
    fn write_to(&mut self, i: usize, batch: &Batch, now: Instant) -> Written {
        if self.links[i]
            .as_ref()
            .is_some_and(|l| l.outlived(self.ttl, now))
        {
            self.retire(i);
        }
        if let Some(link) = self.links[i].as_mut() {
            if let Err(dead) = link.conn.check_alive() {
                if !self.end(i, dead) {
                    // Its writes are void; the batch goes with them.
                    return Written::Void;
                }
            }
        }
        if self.links[i].is_none() {
            self.connect(i);
            return Written::NotConnected;
        }
        let timeout = self.timeout;
        let link = self.links[i].as_mut().expect("connected above");
        link.queue(batch.ticket, batch.parts.iter().map(|p| p.lines()));
        if let Err(e) = link.pump(timeout) {
            // A TLS peer that refused us (TLS 1.3: after the handshake)
            // sent an alert before closing; it says why, a broken pipe does not.
            let reason = match link.conn.check_alive() {
                Err(alert) if matches!(link.conn, Conn::Tls(_)) => alert.message,
                _ => e,
            };
            self.fail(i, reason);
            return Written::Yes;
        }
        self.hosts.succeeded(i);
        self.active = Some(i);
        self.close_idle_links();
        Written::Yes
    }

    /// Failover: links other than the active one are closed once idle.
    fn close_idle_links(&mut self) {
        if self.hosts.loadbalance() {
            return;
        }
        for (i, slot) in self.links.iter_mut().enumerate() {
            if Some(i) != self.active && slot.as_ref().is_some_and(|l| l.is_idle()) {
                if let Some(link) = slot.take() {
                    link.close();
                }
            }
        }
    }
}

/// What became of a batch offered to one host.
enum Written {
    /// Written, or taken with a connection that then failed (reported).
    Yes,
    /// The host's connection was dead: its writes and this batch go again.
    Void,
    /// No connection: one is being made.
    NotConnected,
}

fn with_host(hosts: &HostSet, i: usize, message: String) -> String {
    if hosts.len() > 1 {
        format!("{}: {message}", hosts.endpoint(i))
    } else {
        message
    }
}

impl Transport for TcpTransport {
    fn start(&mut self, waker: Waker) {
        self.waker = waker;
    }

    fn capacity(&self, now: Instant) -> Option<Capacity> {
        let candidates = self.candidates(self.hosts.peek(now));
        let ready = candidates.iter().any(|&i| self.can_take(i))
            && self
                .links
                .iter()
                .flatten()
                .all(|l| l.pending_output() < MAX_PENDING_OUTPUT);
        let max_bytes = if self.hosts.loadbalance() {
            MAX_SPREAD_BATCH_BYTES
        } else {
            MAX_BATCH_BYTES
        };
        ready.then_some(Capacity {
            max_events: u32::MAX,
            max_bytes,
        })
    }

    fn submit(&mut self, batch: Batch, now: Instant) {
        let order = self.hosts.order(now);
        for i in self.candidates(order) {
            if !self.can_take(i) {
                continue;
            }
            match self.write_to(i, &batch, now) {
                Written::Yes => return,
                // A dead connection: its failure is reported; the batch is
                // sent again with its writes.
                Written::Void => break,
                // Connecting (on a thread): the next host, or later.
                Written::NotConnected => {}
            }
        }
        self.outcomes.push(Outcome::unsent(batch.ticket));
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Outcome>) {
        self.take_connections(now);
        for i in 0..self.links.len() {
            if let Some(link) = self.links[i].take_if(|l| !l.is_idle()) {
                self.links[i] = self.service(i, link, now);
            }
        }
        self.poll_retiring(now);
        self.close_idle_links();
        out.append(&mut self.outcomes);
    }

    fn next_poll(&self, now: Instant) -> Option<Instant> {
        let busy = !self.retiring.is_empty() || self.links.iter().flatten().any(|l| !l.is_idle());
        busy.then_some(now + CONFIRM_POLL)
    }

    fn connections_opened(&self) -> u64 {
        self.connects
    }

    fn close(&mut self, deadline: Instant, out: &mut Vec<Outcome>) {
        let retiring = std::mem::take(&mut self.retiring)
            .into_iter()
            .map(|(_, l)| l);
        let links: Vec<Link> = self
            .links
            .iter_mut()
            .filter_map(Option::take)
            .chain(retiring)
            .collect();
        for mut link in links {
            // Write what is still buffered, as far as the deadline allows.
            while link.pending_output() > 0 && Instant::now() < deadline {
                if link.pump(self.timeout).is_err() {
                    break;
                }
            }
            let confirmed = match close_gracefully(&mut link, deadline) {
                Ending::Eof => link.unconfirmed.drain(..).map(|w| w.ticket).collect(),
                // Reset or refused: nothing unconfirmed was delivered.
                Ending::Failed => Vec::new(),
                // Without the peer's EOF, confirm only what the rules allow.
                Ending::NoAnswer => link.confirm(Instant::now(), false),
            };
            for ticket in confirmed {
                self.outcomes.push(Outcome::Done {
                    ticket,
                    rejected: 0,
                });
            }
            link.close();
        }
        self.active = None;
        out.append(&mut self.outcomes);
    }
}
