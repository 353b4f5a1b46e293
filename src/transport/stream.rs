//! A connection of a stream transport (TCP, optionally TLS): connecting to one
//! endpoint, liveness checks and closing, shared by the tcp and beats transports.

use super::tls::TlsSettings;
use super::InterruptSlot;
use crate::config::Endpoint;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::time::Duration;

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

    /// Connects to the first address of `endpoint` that answers, sets the
    /// socket up (timeouts, no delay, keepalive) and registers it in the
    /// interrupter's slot; TLS handshakes when configured.
    pub(crate) fn connect(
        endpoint: &Endpoint,
        timeout: Duration,
        tls: Option<&TlsSettings>,
        interrupter: &InterruptSlot,
    ) -> Result<Conn, String> {
        let addrs = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()
            .map_err(|e| format!("resolve {endpoint}: {e}"))?;
        let mut last = format!("{endpoint}: no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_write_timeout(Some(timeout));
                    let _ = stream.set_read_timeout(Some(timeout));
                    set_keepalive(&stream);
                    interrupter.register(stream.as_raw_fd());
                    let Some(tls) = tls else {
                        return Ok(Conn::Plain(stream));
                    };
                    // The handshake consumes the stream and closes it on
                    // failure; a duplicate descriptor keeps the registered
                    // number from being reused meanwhile (shutdown(2) on it
                    // still interrupts the handshake).
                    let guard = stream.try_clone().ok();
                    if let Some(g) = &guard {
                        interrupter.register(g.as_raw_fd());
                    }
                    match tls.handshake(&endpoint.host, stream, timeout) {
                        Ok(s) => {
                            interrupter.register(s.get_ref().as_raw_fd());
                            drop(guard);
                            return Ok(Conn::Tls(Box::new(s)));
                        }
                        Err(e) => {
                            interrupter.clear_while(|| drop(guard));
                            last = format!("{addr}: {e}");
                        }
                    }
                }
                Err(e) => last = format!("connect {addr}: {e}"),
            }
        }
        Err(last)
    }

    /// Closes the connection under the interrupter's lock (so a concurrent
    /// interrupt never hits a reused descriptor).
    pub(crate) fn close(self, interrupter: &InterruptSlot) {
        interrupter.clear_while(|| drop(self));
    }

    /// Checks the connection without blocking: EOF, a reset, or (TLS) an alert
    /// such as a rejected client certificate, which TLS 1.3 reports only here.
    /// Anything the peer sent meanwhile is read and discarded.
    pub(crate) fn check_alive(&mut self) -> Result<(), Dead> {
        let fd = self.tcp().as_raw_fd();
        let mut probe = [0u8; 1];
        // SAFETY: fd is open (owned by self); probe is a valid 1-byte buffer.
        let n = unsafe {
            libc::recv(
                fd,
                probe.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            return Err(Dead::closed());
        }
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return match err.kind() {
                ErrorKind::WouldBlock | ErrorKind::Interrupted => Ok(()),
                _ => Err(Dead::lost(format!("connection lost: {err}"))),
            };
        }
        // The peer sent something: a Logstash tcp input never does, but TLS
        // peers send session tickets and alerts. Read it without blocking.
        let _ = self.tcp().set_nonblocking(true);
        let mut scratch = [0u8; 4096];
        let outcome = loop {
            match self.read(&mut scratch) {
                Ok(0) => break Err(Dead::closed()),
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // A TCP FIN without close_notify: closed, as in clear text.
                Err(e) if is_unexpected_eof(&e) => break Err(Dead::closed()),
                Err(e) => break Err(Dead::lost(format!("connection failed: {e}"))),
            }
        };
        let _ = self.tcp().set_nonblocking(false);
        outcome
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

/// Why a connection cannot be used any more.
#[derive(Debug)]
pub(crate) struct Dead {
    pub message: String,
    /// The receiver closed it in order (an EOF: no reset, no TLS alert).
    pub closed: bool,
}

impl Dead {
    fn closed() -> Dead {
        Dead {
            message: "connection closed by the receiver".into(),
            closed: true,
        }
    }

    fn lost(message: String) -> Dead {
        Dead {
            message,
            closed: false,
        }
    }
}

/// OpenSSL 3 reports a peer that closed the TCP connection without a TLS
/// close_notify as an error; native-tls passes it on as text only.
pub(crate) fn is_unexpected_eof(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::UnexpectedEof || e.to_string().contains("unexpected eof")
}

/// Bytes written but not yet acknowledged by the peer's kernel.
pub(crate) fn unacked_bytes(stream: &TcpStream) -> Option<u64> {
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
