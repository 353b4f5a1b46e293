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
//! With TLS the same rules hold, conservatively: tickets count plaintext bytes
//! while SIOCOUTQ counts ciphertext (larger), so "acknowledged" is never
//! overstated. A TLS 1.3 server that refuses our certificate says so by an
//! alert after the handshake; every liveness check (before each send, while
//! confirming, on close) reads through the TLS layer, so the alert voids the
//! unconfirmed writes instead of being taken for harmless bytes.

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
    /// Bytes written over the life of the transport; a write's ticket is the
    /// total after it, so tickets grow across reconnects.
    written_total: u64,
    /// Writes not yet confirmed: (ticket, when written).
    unconfirmed: VecDeque<(u64, Instant)>,
    confirmed: u64,
    /// Connections established (TLS: handshake completed).
    connects: u64,
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
            unconfirmed: VecDeque::new(),
            confirmed: 0,
            connects: 0,
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
                    let _ = stream.set_write_timeout(Some(self.timeout));
                    let _ = stream.set_read_timeout(Some(self.timeout));
                    set_keepalive(&stream);
                    self.interrupter.register(stream.as_raw_fd());
                    let conn = match &self.tls {
                        None => Conn::Plain(stream),
                        Some(tls) => {
                            // The handshake consumes the stream and closes it
                            // on failure; a duplicate descriptor keeps the
                            // registered number from being reused meanwhile
                            // (shutdown(2) on it still interrupts the handshake).
                            let guard = stream.try_clone().ok();
                            if let Some(g) = &guard {
                                self.interrupter.register(g.as_raw_fd());
                            }
                            match tls.handshake(stream, self.timeout) {
                                Ok(s) => {
                                    self.interrupter.register(s.get_ref().as_raw_fd());
                                    drop(guard);
                                    Conn::Tls(Box::new(s))
                                }
                                Err(e) => {
                                    self.interrupter.clear_while(|| drop(guard));
                                    last = SendError::new(format!("{addr}: {e}"));
                                    continue;
                                }
                            }
                        }
                    };
                    self.connects += 1;
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
        self.unconfirmed.clear();
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
                // and the worker learns it from confirmed_through's error.
                return Err(self.fail(e));
            }
        }
        if self.conn.is_none() {
            self.connect()?;
        }
        let conn = self.conn.as_mut().expect("connected above");
        if let Err(e) = conn.write_all(&chunk.lines).and_then(|_| conn.flush()) {
            // A TLS peer that refused us (TLS 1.3: after the handshake) sent
            // an alert before closing; it says why, a broken pipe does not.
            let reason = match self.check_alive() {
                Err(alert) if matches!(self.conn, Some(Conn::Tls(_))) => alert,
                _ => format!("send: {e}"),
            };
            return Err(self.fail(reason));
        }
        self.written_total += chunk.lines.len() as u64;
        self.unconfirmed
            .push_back((self.written_total, Instant::now()));
        Ok(Sent::Written {
            ticket: self.written_total,
        })
    }

    fn confirmed_through(&mut self, now: Instant) -> Result<u64, SendError> {
        if self.unconfirmed.is_empty() {
            return Ok(self.confirmed);
        }
        if let Err(e) = self.check_alive() {
            return Err(self.fail(e));
        }
        let Some(conn) = self.conn.as_ref() else {
            return Ok(self.confirmed);
        };
        let outq = unacked_bytes(conn.tcp()).unwrap_or(u64::MAX);
        let acked_through = self.written_total.saturating_sub(outq);
        while let Some(&(ticket, at)) = self.unconfirmed.front() {
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
        if self.conn.is_none() {
            return self.confirmed;
        }
        // What already waits may void everything unconfirmed: a reset, or a
        // TLS alert (with TLS 1.3, a rejected client certificate).
        if self.check_alive().is_err() {
            self.drop_connection();
            return self.confirmed;
        }
        let mut conn = self.conn.take().expect("checked above");
        let mut clean = conn.flush().is_ok();
        if let Conn::Tls(tls) = &mut conn {
            clean &= tls.shutdown().is_ok(); // close_notify
        }
        // Half-close, then wait for the receiver's EOF: it closes only after
        // reading everything we sent, so the EOF confirms every write. With
        // TLS the wait reads through the TLS layer, so that an alert is seen
        // as the refusal it is and not taken for bytes before an EOF.
        clean &= conn.tcp().shutdown(Shutdown::Write).is_ok();
        // A connection that broke while closing (reset, or a refusal) is
        // like one that broke before: what was unconfirmed is sent again.
        let ending = if clean {
            wait_for_eof(&mut conn, deadline)
        } else {
            Ending::Failed
        };
        match ending {
            Ending::Eof => {
                self.confirmed = self.written_total;
                self.unconfirmed.clear();
            }
            // Reset or refused: unconfirmed writes are void (sent again later).
            Ending::Failed => self.unconfirmed.clear(),
            Ending::NoAnswer => {
                let _ = self.confirmed_through_closed(conn.tcp());
            }
        }
        self.interrupter.clear_while(|| drop(conn));
        self.unconfirmed.clear();
        self.confirmed
    }

    fn connections_opened(&self) -> u64 {
        self.connects
    }
}

/// How a graceful close ended.
enum Ending {
    /// The receiver closed after reading everything: all writes delivered.
    Eof,
    /// Reset, a failed close_notify or half-close, or a TLS alert: nothing
    /// unconfirmed counts as delivered.
    Failed,
    /// The deadline passed: the usual rules (acknowledged and 100 ms old) apply.
    NoAnswer,
}

/// Reads until the receiver's EOF (or an error, or the deadline).
fn wait_for_eof(conn: &mut Conn, deadline: Instant) -> Ending {
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

impl TcpTransport {
    /// On a close without the peer's EOF, confirm only what the rules allow.
    fn confirmed_through_closed(&mut self, tcp: &TcpStream) -> u64 {
        let outq = unacked_bytes(tcp).unwrap_or(u64::MAX);
        let acked_through = self.written_total.saturating_sub(outq);
        let now = Instant::now();
        while let Some(&(ticket, at)) = self.unconfirmed.front() {
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
