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
//! With TLS the same rules hold, conservatively: SIOCOUTQ counts ciphertext
//! (larger than the plaintext we count), so "acknowledged" is never overstated.
//! A TLS 1.3 server that refuses our certificate says so by an alert after the
//! handshake; every liveness check (before each send, while confirming, on
//! close) reads through the TLS layer, so the alert voids the unconfirmed
//! writes instead of being taken for harmless bytes.
//!
//! Writes never block the worker for long: chunks go into a per-connection
//! output buffer written in slices of at most `WRITE_SLICE`, so with a stalled
//! receiver the worker keeps moving events from memory into the database.
//! Only when no byte could be written for `socket_timeout` is the connection
//! declared dead.
//!
//! With several hosts each has its own connection ("link") and its own
//! unconfirmed writes; a write's ticket is a global sequence number, and
//! everything up to the oldest unconfirmed write of any link is confirmed.

use super::hosts::HostSet;
use super::stream::{unacked_bytes, Conn};
use super::tls::TlsSettings;
use super::{Interrupter, SendError, Sent, Transport};
use crate::buffer::Chunk;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// How long a written chunk must stay un-refuted before it counts as delivered.
pub const CONFIRM_DELAY: Duration = Duration::from_millis(100);
/// Bytes acknowledged after a write that also confirm it (larger than the
/// biggest receive buffer Linux autotunes to, 6 MiB by default).
pub const CONFIRM_BYTES: u64 = 16 << 20;
/// The longest one write may block the worker.
pub const WRITE_SLICE: Duration = Duration::from_millis(20);
/// Unwritten bytes beyond which the transport takes no new chunk (backpressure).
pub const MAX_PENDING_OUTPUT: usize = 4 << 20;

/// The connection to one host, its unwritten output and its writes awaiting
/// confirmation.
struct Link {
    conn: Conn,
    /// Bytes accepted for this connection (the end offset of each write).
    accepted: u64,
    /// Bytes actually written to the socket (≤ accepted).
    written: u64,
    /// Accepted bytes not yet written, from `out_pos`.
    output: Vec<u8>,
    out_pos: usize,
    /// When a byte last went out (or the output was last empty).
    last_progress: Instant,
    /// Unconfirmed writes: (ticket, end offset on this link, when its last
    /// byte hit the wire).
    unconfirmed: VecDeque<(u64, u64, Option<Instant>)>,
}

impl Link {
    fn new(conn: Conn) -> Link {
        Link {
            conn,
            accepted: 0,
            written: 0,
            output: Vec::new(),
            out_pos: 0,
            last_progress: Instant::now(),
            unconfirmed: VecDeque::new(),
        }
    }

    fn pending_output(&self) -> usize {
        self.output.len() - self.out_pos
    }

    fn queue(&mut self, ticket: u64, bytes: &[u8]) {
        if self.pending_output() == 0 {
            self.last_progress = Instant::now();
        }
        self.output.extend_from_slice(bytes);
        self.accepted += bytes.len() as u64;
        self.unconfirmed.push_back((ticket, self.accepted, None));
    }

    /// Writes buffered output; a blocked write returns after WRITE_SLICE.
    /// Fails only when nothing could be written for `timeout`.
    fn pump(&mut self, timeout: Duration) -> Result<(), String> {
        while self.out_pos < self.output.len() {
            match self.conn.write(&self.output[self.out_pos..]) {
                Ok(0) => return Err("send: connection closed".into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.written += n as u64;
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        let now = Instant::now();
        let written = self.written;
        for entry in self
            .unconfirmed
            .iter_mut()
            .filter(|u| u.2.is_none() && u.1 <= written)
        {
            entry.2 = Some(now);
        }
        if self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
        } else if self.out_pos > self.output.len() / 2 {
            self.output.drain(..self.out_pos);
            self.out_pos = 0;
        }
        if self.pending_output() > 0 && now.duration_since(self.last_progress) > timeout {
            return Err(format!(
                "send: the receiver accepted no data for {:.1}s",
                timeout.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Confirms the writes the rules allow (see the module comment).
    fn advance(&mut self, now: Instant, overtaking_counts: bool) {
        let outq = unacked_bytes(self.conn.tcp()).unwrap_or(u64::MAX);
        let acked_through = self.written.saturating_sub(outq);
        while let Some(&(_, end, Some(at))) = self.unconfirmed.front() {
            let aged = now.duration_since(at) >= CONFIRM_DELAY;
            let overtaken = overtaking_counts && acked_through.saturating_sub(end) >= CONFIRM_BYTES;
            if end <= acked_through && (aged || overtaken) {
                self.unconfirmed.pop_front();
            } else {
                break;
            }
        }
    }
}

pub struct TcpTransport {
    hosts: HostSet,
    timeout: Duration,
    tls: Option<TlsSettings>,
    interrupter: Interrupter,
    /// One slot per host.
    links: Vec<Option<Link>>,
    /// The host written to last (failover closes the others once idle).
    active: Option<usize>,
    /// Tickets handed out (one per write, growing across reconnects).
    tickets: u64,
    /// Connections established (TLS: handshake completed).
    connects: u64,
}

impl TcpTransport {
    pub fn new(
        hosts: HostSet,
        timeout: Duration,
        tls: Option<TlsSettings>,
        interrupter: Interrupter,
    ) -> TcpTransport {
        let links = (0..hosts.len()).map(|_| None).collect();
        TcpTransport {
            hosts,
            timeout,
            tls,
            interrupter,
            links,
            active: None,
            tickets: 0,
            connects: 0,
        }
    }

    fn connect(&mut self, i: usize) -> Result<(), String> {
        let conn = Conn::connect(
            self.hosts.endpoint(i),
            self.timeout,
            self.tls.as_ref(),
            &self.interrupter,
        )?;
        // Writes after the handshake block at most WRITE_SLICE (see pump).
        let _ = conn.tcp().set_write_timeout(Some(WRITE_SLICE));
        self.connects += 1;
        self.links[i] = Some(Link::new(conn));
        Ok(())
    }

    /// Link `i` died: close it and void every unconfirmed write (the worker
    /// resends all it had in flight), keeping the other connections.
    fn fail(&mut self, i: usize, message: String) -> SendError {
        let now = Instant::now();
        if let Some(link) = self.links[i].take() {
            link.conn.close(&self.interrupter);
        }
        // The worker resends everything it had in flight, so the other links'
        // unconfirmed writes are void too; a link still holding unwritten
        // output of those chunks is closed, or it would deliver them twice.
        for slot in self.links.iter_mut() {
            if slot.as_ref().is_some_and(|l| l.pending_output() > 0) {
                if let Some(link) = slot.take() {
                    link.conn.close(&self.interrupter);
                }
            } else if let Some(link) = slot.as_mut() {
                link.unconfirmed.clear();
            }
        }
        self.hosts.failed(i, now);
        let mut e = SendError::new(with_host(&self.hosts, i, message));
        e.another_host_ready = self.hosts.other_healthy(i, now);
        e
    }

    /// The highest ticket with every write up to it confirmed.
    fn confirmed(&self) -> u64 {
        self.links
            .iter()
            .flatten()
            .filter_map(|l| l.unconfirmed.front().map(|u| u.0 - 1))
            .min()
            .unwrap_or(self.tickets)
    }

    /// Failover: links other than the active one are closed once idle.
    fn close_idle_links(&mut self) {
        if self.hosts.loadbalance() {
            return;
        }
        for (i, slot) in self.links.iter_mut().enumerate() {
            if Some(i) != self.active && slot.as_ref().is_some_and(|l| l.unconfirmed.is_empty()) {
                if let Some(link) = slot.take() {
                    link.conn.close(&self.interrupter);
                }
            }
        }
    }
}

fn with_host(hosts: &HostSet, i: usize, message: String) -> String {
    if hosts.len() > 1 {
        format!("{}: {message}", hosts.endpoint(i))
    } else {
        message
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        let now = Instant::now();
        let mut last_error = None;
        for i in self.hosts.order(now) {
            if let Some(link) = self.links[i].as_mut() {
                if let Err(e) = link.conn.check_alive() {
                    // The old connection is dead: its unconfirmed writes are
                    // void, and the worker must send them again.
                    return Err(self.fail(i, e));
                }
            } else if let Err(e) = self.connect(i) {
                self.hosts.failed(i, now);
                last_error = Some(with_host(&self.hosts, i, e));
                continue;
            }
            let timeout = self.timeout;
            let link = self.links[i].as_mut().expect("connected above");
            link.conn.register(&self.interrupter);
            self.tickets += 1;
            link.queue(self.tickets, &chunk.lines);
            if let Err(e) = link.pump(timeout) {
                // A TLS peer that refused us (TLS 1.3: after the handshake)
                // sent an alert before closing; it says why, a broken pipe does not.
                let reason = match link.conn.check_alive() {
                    Err(alert) if matches!(link.conn, Conn::Tls(_)) => alert,
                    _ => e,
                };
                return Err(self.fail(i, reason));
            }
            self.hosts.succeeded(i);
            self.active = Some(i);
            self.close_idle_links();
            return Ok(Sent::Written {
                ticket: self.tickets,
            });
        }
        Err(SendError::new(
            last_error.unwrap_or_else(|| "no host to send to".into()),
        ))
    }

    fn ready(&self) -> bool {
        self.links
            .iter()
            .flatten()
            .all(|l| l.pending_output() < MAX_PENDING_OUTPUT)
    }

    fn confirmed_through(&mut self, now: Instant) -> Result<u64, SendError> {
        for i in 0..self.links.len() {
            let timeout = self.timeout;
            let Some(link) = self.links[i].as_mut() else {
                continue;
            };
            if link.unconfirmed.is_empty() {
                continue;
            }
            if let Err(e) = link.pump(timeout).and_then(|_| link.conn.check_alive()) {
                return Err(self.fail(i, e));
            }
            link.advance(now, true);
        }
        self.close_idle_links();
        Ok(self.confirmed())
    }

    fn connections_opened(&self) -> u64 {
        self.connects
    }

    fn close(&mut self, deadline: Instant) -> u64 {
        // What a link cannot confirm keeps its oldest ticket as the floor.
        let mut floor: Option<u64> = None;
        for slot in self.links.iter_mut() {
            let Some(mut link) = slot.take() else {
                continue;
            };
            // Write what is still buffered, as far as the deadline allows.
            while link.pending_output() > 0 && Instant::now() < deadline {
                if link.pump(self.timeout).is_err() {
                    break;
                }
            }
            match close_gracefully(&mut link, deadline) {
                Ending::Eof => link.unconfirmed.clear(),
                // Reset or refused: nothing unconfirmed was delivered.
                Ending::Failed => {}
                // Without the peer's EOF, confirm only what the rules allow.
                Ending::NoAnswer => link.advance(Instant::now(), false),
            }
            if let Some(&(ticket, _, _)) = link.unconfirmed.front() {
                floor = Some(floor.map_or(ticket, |f| f.min(ticket)));
            }
            link.conn.close(&self.interrupter);
        }
        self.active = None;
        floor.map_or(self.tickets, |t| t - 1)
    }
}

/// How a graceful close ended.
enum Ending {
    /// The receiver closed after reading everything: all writes delivered.
    Eof,
    /// Reset, unwritten output, a failed close_notify or half-close, or a TLS
    /// alert: nothing unconfirmed counts as delivered.
    Failed,
    /// The deadline passed: the usual rules (acknowledged and 100 ms old) apply.
    NoAnswer,
}

/// Half-closes, then waits for the receiver's EOF: it closes only after
/// reading everything we sent, so the EOF confirms every write. With TLS the
/// wait reads through the TLS layer, so an alert is seen as the refusal it is.
fn close_gracefully(link: &mut Link, deadline: Instant) -> Ending {
    // Unwritten output, or what already waits (a reset, a TLS alert) voids
    // everything unconfirmed.
    if link.pending_output() > 0 || link.conn.check_alive().is_err() {
        return Ending::Failed;
    }
    let conn = &mut link.conn;
    let mut clean = conn.flush().is_ok();
    if let Conn::Tls(tls) = conn {
        clean &= tls.shutdown().is_ok(); // close_notify
    }
    clean &= conn.tcp().shutdown(Shutdown::Write).is_ok();
    if !clean {
        return Ending::Failed;
    }
    let mut scratch = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ending::NoAnswer;
        }
        let _ = conn
            .tcp()
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match conn.read(&mut scratch) {
            Ok(0) => return Ending::Eof,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            // A TCP FIN without close_notify: the peer read our data up to
            // our EOF and closed; as good as an EOF in clear text.
            Err(e) if matches!(conn, Conn::Tls(_)) && is_unexpected_eof(&e) => return Ending::Eof,
            Err(_) => return Ending::Failed,
        }
    }
}

/// OpenSSL 3 reports a peer that closed the TCP connection without a TLS
/// close_notify as an error; native-tls passes it on as text only.
fn is_unexpected_eof(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::UnexpectedEof || e.to_string().contains("unexpected eof")
}
