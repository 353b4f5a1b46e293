//! One TCP (or TLS) connection of the tcp transport: its output buffer
//! written in slices, its writes awaiting confirmation, and how it ends
//! (see the rules in `mod.rs`).

use super::super::stream::{unacked_bytes, Conn, Dead};
use super::super::InterruptSlot;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// How long a written batch must stay un-refuted before it counts as delivered.
pub const CONFIRM_DELAY: Duration = Duration::from_millis(100);
/// Bytes acknowledged after a write that also confirm it (larger than the
/// biggest receive buffer Linux autotunes to, 6 MiB by default).
pub const CONFIRM_BYTES: u64 = 16 << 20;

/// A write awaiting confirmation.
pub struct Unconfirmed {
    pub ticket: u64,
    /// Where it starts and ends on this connection.
    start: u64,
    end: u64,
    /// When its last byte went to the socket.
    out_at: Option<Instant>,
}

pub struct Link {
    pub conn: Conn,
    pub slot: InterruptSlot,
    /// Bytes accepted for this connection (the end offset of each write).
    accepted: u64,
    /// Bytes actually written to the socket (≤ accepted).
    written: u64,
    /// Accepted bytes not yet written, from `out_pos`.
    output: Vec<u8>,
    out_pos: usize,
    /// When a byte last went out (or the output was last empty).
    last_progress: Instant,
    pub unconfirmed: VecDeque<Unconfirmed>,
    /// When the connection was made (`connection_ttl` counts from here).
    opened: Instant,
}

impl Link {
    pub fn new(conn: Conn, slot: InterruptSlot) -> Link {
        Link {
            conn,
            slot,
            accepted: 0,
            written: 0,
            output: Vec::new(),
            out_pos: 0,
            last_progress: Instant::now(),
            unconfirmed: VecDeque::new(),
            opened: Instant::now(),
        }
    }

    /// Whether the connection has lived `ttl` or longer.
    pub fn outlived(&self, ttl: Option<Duration>, now: Instant) -> bool {
        ttl.is_some_and(|ttl| now.saturating_duration_since(self.opened) >= ttl)
    }

    pub fn pending_output(&self) -> usize {
        self.output.len() - self.out_pos
    }

    /// Whether nothing is left to write or to confirm.
    pub fn is_idle(&self) -> bool {
        self.unconfirmed.is_empty() && self.pending_output() == 0
    }

    /// Queues a write of `parts` (the batch's lines) under `ticket`.
    pub fn queue<'a>(&mut self, ticket: u64, parts: impl Iterator<Item = &'a [u8]>) {
        if self.pending_output() == 0 {
            self.last_progress = Instant::now();
        }
        let start = self.accepted;
        for bytes in parts {
            self.output.extend_from_slice(bytes);
            self.accepted += bytes.len() as u64;
        }
        self.unconfirmed.push_back(Unconfirmed {
            ticket,
            start,
            end: self.accepted,
            out_at: None,
        });
    }

    /// Whether a write went to the socket, in whole or in part.
    pub fn was_written(&self, w: &Unconfirmed) -> bool {
        w.start < self.written
    }

    /// Writes buffered output; a blocked write returns after the socket's
    /// write timeout (WRITE_SLICE). Fails only when nothing could be written
    /// for `timeout`.
    pub fn pump(&mut self, timeout: Duration) -> Result<(), String> {
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
        for w in self
            .unconfirmed
            .iter_mut()
            .filter(|w| w.out_at.is_none() && w.end <= written)
        {
            w.out_at = Some(now);
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

    /// Removes the writes the rules confirm (see `mod.rs`) and returns their tickets.
    pub fn confirm(&mut self, now: Instant, overtaking_counts: bool) -> Vec<u64> {
        let outq = unacked_bytes(self.conn.tcp()).unwrap_or(u64::MAX);
        let acked_through = self.written.saturating_sub(outq);
        let mut done = Vec::new();
        while let Some(w) = self.unconfirmed.front() {
            let Some(at) = w.out_at else { break };
            let aged = now.duration_since(at) >= CONFIRM_DELAY;
            let overtaken =
                overtaking_counts && acked_through.saturating_sub(w.end) >= CONFIRM_BYTES;
            if w.end <= acked_through && (aged || overtaken) {
                done.push(w.ticket);
                self.unconfirmed.pop_front();
            } else {
                break;
            }
        }
        done
    }

    /// Whether the receiver read everything written: it closed in order (an
    /// EOF; Linux resets a connection closed with unread data instead), its
    /// kernel acknowledged every byte, and nothing is left to write.
    pub fn read_everything(&self, dead: &Dead) -> bool {
        dead.closed && self.pending_output() == 0 && unacked_bytes(self.conn.tcp()) == Some(0)
    }

    pub fn close(self) {
        let Link { conn, slot, .. } = self;
        conn.close(&slot);
    }
}

/// How a graceful close ended.
pub enum Ending {
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
pub fn close_gracefully(link: &mut Link, deadline: Instant) -> Ending {
    if link.pending_output() > 0 {
        return Ending::Failed;
    }
    // The receiver may have closed already, having read everything.
    if let Err(dead) = link.conn.check_alive() {
        return if link.read_everything(&dead) {
            Ending::Eof
        } else {
            Ending::Failed
        };
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
            Err(e)
                if matches!(conn, Conn::Tls(_)) && super::super::stream::is_unexpected_eof(&e) =>
            {
                return Ending::Eof
            }
            Err(_) => return Ending::Failed,
        }
    }
}
