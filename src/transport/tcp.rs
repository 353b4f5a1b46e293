//! TCP (optionally TLS): one JSON document per line on one long-lived connection.
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

/// The connection to one host and its writes awaiting confirmation.
struct Link {
    conn: Conn,
    /// Bytes written on this connection.
    written: u64,
    /// Unconfirmed writes: (ticket, bytes written on this link after it, when).
    unconfirmed: VecDeque<(u64, u64, Instant)>,
}

impl Link {
    /// Confirms the writes the rules allow (see the module comment).
    fn advance(&mut self, now: Instant, overtaking_counts: bool) {
        let outq = unacked_bytes(self.conn.tcp()).unwrap_or(u64::MAX);
        let acked_through = self.written.saturating_sub(outq);
        while let Some(&(_, end, at)) = self.unconfirmed.front() {
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
        }
    }

    fn connect(&mut self, i: usize) -> Result<(), String> {
        let conn = Conn::connect(
            self.hosts.endpoint(i),
            self.timeout,
            self.tls.as_ref(),
            &self.interrupter,
        )?;
        self.links[i] = Some(Link {
            conn,
            written: 0,
            unconfirmed: VecDeque::new(),
        });
        Ok(())
    }

    /// Link `i` died: close it and void every unconfirmed write (the worker
    /// resends all it had in flight), keeping the other connections.
    fn fail(&mut self, i: usize, message: String) -> SendError {
        let now = Instant::now();
        if let Some(link) = self.links[i].take() {
            link.conn.close(&self.interrupter);
        }
        for link in self.links.iter_mut().flatten() {
            link.unconfirmed.clear();
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
            let link = self.links[i].as_mut().expect("connected above");
            link.conn.register(&self.interrupter);
            if let Err(e) = link
                .conn
                .write_all(&chunk.lines)
                .and_then(|_| link.conn.flush())
            {
                return Err(self.fail(i, format!("send: {e}")));
            }
            link.written += chunk.lines.len() as u64;
            self.tickets += 1;
            link.unconfirmed
                .push_back((self.tickets, link.written, now));
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

    fn confirmed_through(&mut self, now: Instant) -> Result<u64, SendError> {
        for i in 0..self.links.len() {
            let Some(link) = self.links[i].as_mut() else {
                continue;
            };
            if link.unconfirmed.is_empty() {
                continue;
            }
            if let Err(e) = link.conn.check_alive() {
                return Err(self.fail(i, e));
            }
            link.advance(now, true);
        }
        self.close_idle_links();
        Ok(self.confirmed())
    }

    fn awaiting_confirmation(&self) -> bool {
        self.links
            .iter()
            .flatten()
            .any(|l| !l.unconfirmed.is_empty())
    }

    fn close(&mut self, deadline: Instant) -> u64 {
        // What a link cannot confirm keeps its oldest ticket as the floor.
        let mut floor: Option<u64> = None;
        for slot in self.links.iter_mut() {
            let Some(mut link) = slot.take() else {
                continue;
            };
            if close_gracefully(&mut link.conn, deadline) {
                link.unconfirmed.clear();
            } else {
                // Without the peer's EOF, confirm only what the rules allow.
                link.advance(Instant::now(), false);
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

/// Half-closes, then waits for the receiver's EOF: it closes only after
/// reading everything we sent, so the EOF confirms every write. True on EOF.
fn close_gracefully(conn: &mut Conn, deadline: Instant) -> bool {
    let mut clean = conn.flush().is_ok();
    if let Conn::Tls(tls) = conn {
        clean &= tls.shutdown().is_ok(); // close_notify
    }
    let tcp = conn.tcp();
    clean &= tcp.shutdown(Shutdown::Write).is_ok();
    if !clean {
        return false;
    }
    let mut scratch = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let _ = tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match (&*tcp).read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}
