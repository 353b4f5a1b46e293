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
//! Writes never block the worker for long: chunks go into an output buffer that
//! is written in slices of at most `WRITE_SLICE`, so with a stalled receiver the
//! worker keeps moving events from memory into the database (bounded memory).
//! Only when no byte could be written for `socket_timeout` is the connection
//! declared dead.

use super::tls::TlsSettings;
use super::{Interrupter, SendError, Sent, Transport};
use crate::buffer::Chunk;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
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

pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Conn {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref(),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

pub struct TcpTransport {
    host: String,
    port: u16,
    timeout: Duration,
    tls: Option<TlsSettings>,
    interrupter: Interrupter,
    conn: Option<Conn>,
    /// Bytes accepted for sending over the life of the transport; a chunk's
    /// ticket is the total after it, so tickets grow across reconnects.
    written_total: u64,
    /// Bytes actually written to the socket (≤ written_total).
    wire_total: u64,
    /// Accepted bytes not yet on the wire, from `out_pos`.
    output: Vec<u8>,
    out_pos: usize,
    /// When a byte last went out (or the output was last empty).
    last_progress: Instant,
    /// Chunks not yet confirmed: (ticket, when its last byte hit the wire).
    unconfirmed: VecDeque<(u64, Option<Instant>)>,
    confirmed: u64,
}

impl TcpTransport {
    pub fn new(
        host: String,
        port: u16,
        timeout: Duration,
        tls: Option<TlsSettings>,
        interrupter: Interrupter,
    ) -> TcpTransport {
        TcpTransport {
            host,
            port,
            timeout,
            tls,
            interrupter,
            conn: None,
            written_total: 0,
            wire_total: 0,
            output: Vec::new(),
            out_pos: 0,
            last_progress: Instant::now(),
            unconfirmed: VecDeque::new(),
            confirmed: 0,
        }
    }

    fn connect(&mut self) -> Result<(), SendError> {
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| SendError::new(format!("resolve {}:{}: {e}", self.host, self.port)))?;
        let mut last = SendError::new(format!("{}:{}: no address", self.host, self.port));
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    // The handshake may take up to socket_timeout; writes after
                    // it block at most WRITE_SLICE (see pump).
                    let _ = stream.set_write_timeout(Some(self.timeout));
                    let _ = stream.set_read_timeout(Some(self.timeout));
                    set_keepalive(&stream);
                    self.interrupter.register(stream.as_raw_fd());
                    let conn = match &self.tls {
                        None => Conn::Plain(stream),
                        Some(tls) => match tls.handshake(stream) {
                            Ok(s) => Conn::Tls(Box::new(s)),
                            Err(e) => {
                                self.interrupter.clear_while(|| ());
                                last = SendError::new(format!("{addr}: {e}"));
                                continue;
                            }
                        },
                    };
                    let _ = conn.tcp().set_write_timeout(Some(WRITE_SLICE));
                    self.conn = Some(conn);
                    return Ok(());
                }
                Err(e) => last = SendError::new(format!("connect {addr}: {e}")),
            }
        }
        Err(last)
    }

    fn drop_connection(&mut self) {
        let conn = self.conn.take();
        self.interrupter.clear_while(|| drop(conn));
        // Unconfirmed chunks are sent again by the worker on a new connection;
        // their half-written bytes are void.
        self.unconfirmed.clear();
        self.output.clear();
        self.out_pos = 0;
        self.written_total = self.wire_total;
    }

    /// Writes buffered output for at most about WRITE_SLICE per blocked write.
    /// Fails only when nothing could be written for socket_timeout.
    fn pump(&mut self, now: Instant) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        while self.out_pos < self.output.len() {
            match conn.write(&self.output[self.out_pos..]) {
                Ok(0) => return Err("send: connection closed".into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.wire_total += n as u64;
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        let wire = self.wire_total;
        let stamp = Instant::now();
        for entry in self
            .unconfirmed
            .iter_mut()
            .filter(|(t, at)| at.is_none() && *t <= wire)
        {
            entry.1 = Some(stamp);
        }
        if self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
            self.last_progress = now.max(self.last_progress);
        } else if self.out_pos > self.output.len() / 2 {
            self.output.drain(..self.out_pos);
            self.out_pos = 0;
        }
        if self.out_pos < self.output.len() && now.duration_since(self.last_progress) > self.timeout
        {
            return Err(format!(
                "send: the receiver accepted no data for {:.1}s",
                self.timeout.as_secs_f64()
            ));
        }
        Ok(())
    }

    fn fail(&mut self, message: String) -> SendError {
        self.drop_connection();
        SendError::new(message)
    }

    /// Checks the connection without blocking: EOF, a reset, or (TLS) an alert
    /// such as a rejected client certificate, which TLS 1.3 reports only here.
    fn check_alive(&mut self) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let fd = conn.tcp().as_raw_fd();
        let mut probe = [0u8; 1];
        // SAFETY: fd is open (owned by conn); probe is a valid 1-byte buffer.
        let n = unsafe {
            libc::recv(
                fd,
                probe.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            return Err("connection closed by the receiver".into());
        }
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return match err.kind() {
                ErrorKind::WouldBlock | ErrorKind::Interrupted => Ok(()),
                _ => Err(format!("connection lost: {err}")),
            };
        }
        // The peer sent something: Logstash never does, but TLS peers send
        // session tickets and alerts. Read it without blocking to find out.
        let _ = conn.tcp().set_nonblocking(true);
        let mut scratch = [0u8; 4096];
        let outcome = loop {
            match conn.read(&mut scratch) {
                Ok(0) => break Err("connection closed by the receiver".to_string()),
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(format!("connection failed: {e}")),
            }
        };
        let _ = conn.tcp().set_nonblocking(false);
        outcome
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        if self.conn.is_some() {
            if let Err(e) = self.check_alive() {
                // The old connection is dead: its unconfirmed writes are void,
                // and the worker learns it from this error.
                return Err(self.fail(e));
            }
        }
        if self.conn.is_none() {
            self.connect()?;
            self.last_progress = Instant::now();
        }
        if self.output.len() == self.out_pos {
            self.last_progress = Instant::now();
        }
        self.output.extend_from_slice(&chunk.lines);
        self.written_total += chunk.lines.len() as u64;
        self.unconfirmed.push_back((self.written_total, None));
        if let Err(e) = self.pump(Instant::now()) {
            return Err(self.fail(e));
        }
        Ok(Sent::Written {
            ticket: self.written_total,
        })
    }

    fn ready(&self) -> bool {
        self.output.len() - self.out_pos < MAX_PENDING_OUTPUT
    }

    fn confirmed_through(&mut self, now: Instant) -> Result<u64, SendError> {
        if self.unconfirmed.is_empty() {
            return Ok(self.confirmed);
        }
        if let Err(e) = self.pump(now).and_then(|_| self.check_alive()) {
            return Err(self.fail(e));
        }
        let Some(conn) = self.conn.as_ref() else {
            return Ok(self.confirmed);
        };
        let outq = unacked_bytes(conn.tcp()).unwrap_or(u64::MAX);
        let acked_through = self.wire_total.saturating_sub(outq);
        while let Some(&(ticket, at)) = self.unconfirmed.front() {
            let Some(at) = at else { break };
            let aged = now.duration_since(at) >= CONFIRM_DELAY;
            let overtaken = acked_through.saturating_sub(ticket) >= CONFIRM_BYTES;
            if ticket <= acked_through && (aged || overtaken) {
                self.confirmed = ticket;
                self.unconfirmed.pop_front();
            } else {
                break;
            }
        }
        Ok(self.confirmed)
    }

    fn awaiting_confirmation(&self) -> bool {
        !self.unconfirmed.is_empty()
    }

    fn close(&mut self, deadline: Instant) -> u64 {
        // Write what is still buffered, as far as the deadline allows.
        while self.conn.is_some() && self.out_pos < self.output.len() && Instant::now() < deadline {
            if self.pump(Instant::now()).is_err() {
                break;
            }
        }
        if self.out_pos < self.output.len() {
            // Could not write everything: a clean close would cut a line.
            self.drop_connection();
            return self.confirmed;
        }
        let Some(mut conn) = self.conn.take() else {
            return self.confirmed;
        };
        let mut clean = conn.flush().is_ok();
        if let Conn::Tls(tls) = &mut conn {
            clean &= tls.shutdown().is_ok(); // close_notify
        }
        // Half-close, then wait for the receiver's EOF: it closes only after
        // reading everything we sent, so the EOF confirms every write.
        let tcp = conn.tcp();
        clean &= tcp.shutdown(Shutdown::Write).is_ok();
        let mut got_eof = false;
        let mut scratch = [0u8; 4096];
        while clean && !got_eof {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match (&*tcp).read(&mut scratch) {
                Ok(0) => {
                    got_eof = true;
                    break;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if got_eof {
            self.confirmed = self.wire_total;
            self.unconfirmed.clear();
        } else {
            let _ = self.confirmed_through_closed(tcp);
        }
        self.interrupter.clear_while(|| drop(conn));
        self.unconfirmed.clear();
        self.confirmed
    }
}

impl TcpTransport {
    /// On a close without the peer's EOF, confirm only what the rules allow.
    fn confirmed_through_closed(&mut self, tcp: &TcpStream) -> u64 {
        let outq = unacked_bytes(tcp).unwrap_or(u64::MAX);
        let acked_through = self.wire_total.saturating_sub(outq);
        let now = Instant::now();
        while let Some(&(ticket, Some(at))) = self.unconfirmed.front() {
            if ticket <= acked_through && now.duration_since(at) >= CONFIRM_DELAY {
                self.confirmed = ticket;
                self.unconfirmed.pop_front();
            } else {
                break;
            }
        }
        self.confirmed
    }
}

/// Bytes written but not yet acknowledged by the peer's kernel.
fn unacked_bytes(stream: &TcpStream) -> Option<u64> {
    let mut outq: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one int; the descriptor is open.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut outq) };
    (rc == 0 && outq >= 0).then_some(outq as u64)
}

/// Keepalive probes find a peer that vanished without a FIN or RST (a host
/// that lost power) within about a minute instead of two hours.
fn set_keepalive(stream: &TcpStream) {
    let fd = stream.as_raw_fd();
    let set = |level, name, value: libc::c_int| {
        // SAFETY: setting an int socket option on an open descriptor.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 30);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 10);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
}
