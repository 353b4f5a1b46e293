//! The plumbing every TCP receiver here shares: binding a loopback port
//! (again, after a restart), an accept loop serving each connection on a
//! thread of its own until stopped, reads that wait at most until the next
//! thing a receiver has to do, and the reset of a crashed receiver.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a receiver's read waits, so it sees a stop soon.
pub const TICK: Duration = Duration::from_millis(20);

/// A listener on a free loopback port.
pub fn bind_any() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A listener on `port` (a restart), retrying for a while if it is still taken.
pub fn bind_port(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
        }
    }
}

/// Set once, when the receiver stops.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release)
    }
}

/// An accept loop: each connection is served on its own thread; stopping
/// (or dropping) waits for them all.
pub struct Listener {
    pub port: u16,
    stop: Stop,
    connections: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Serves connection k (1, 2, ... in accept order) with
    /// `serve(stream, k, &stop)`, which must return soon after `stop` is set.
    pub fn serve<F>(listener: TcpListener, serve: F) -> Listener
    where
        F: Fn(TcpStream, usize, &Stop) + Send + Sync + 'static,
    {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Stop::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, count) = (stop.clone(), connections.clone());
        let serve = Arc::new(serve);
        let thread = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !stop2.is_set() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let id = count.fetch_add(1, Ordering::SeqCst) + 1;
                        let (serve, stop3) = (serve.clone(), stop2.clone());
                        handlers.push(std::thread::spawn(move || serve(stream, id, &stop3)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        });
        Listener {
            port,
            stop,
            connections,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting and waits for every connection's thread.
    pub fn stop(&mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A connection, plain or TLS, whose TCP socket takes the read timeouts.
pub trait Socket: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for native_tls::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref()
    }
}

/// What one read brought.
pub enum Got {
    Bytes(usize),
    /// Nothing yet (the wait ran out).
    Nothing,
    /// The peer closed (or the connection failed).
    Closed,
}

/// One read that waits at most until `until` (and at most [`TICK`]).
pub fn read_some(socket: &mut impl Socket, buf: &mut [u8], until: Option<Instant>) -> Got {
    let wait = until.map_or(TICK, |t| t.saturating_duration_since(Instant::now()));
    let wait = wait.clamp(Duration::from_millis(1), TICK);
    if socket.tcp().set_read_timeout(Some(wait)).is_err() {
        return Got::Closed;
    }
    match socket.read(buf) {
        Ok(0) => Got::Closed,
        Ok(n) => Got::Bytes(n),
        Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => Got::Nothing,
        Err(_) => Got::Closed,
    }
}

pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Makes the close of `stream` a reset (SO_LINGER 0), as when a receiver
/// crashes: what it had not read is lost and the peer sees ECONNRESET.
pub fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    set_socket_option(stream, libc::SO_LINGER, &linger);
}

/// `setsockopt(SOL_SOCKET, option, value)`; `T` must be the option's C type.
pub fn set_socket_option<T>(socket: &impl AsRawFd, option: libc::c_int, value: &T) {
    // SAFETY: a valid socket, and a value of the size passed.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        );
    }
}

/// The server side of a TLS handshake, giving up when stopped or after 10 s.
pub fn accept_tls(
    acceptor: &native_tls::TlsAcceptor,
    stream: TcpStream,
    stop: &Stop,
) -> Option<native_tls::TlsStream<TcpStream>> {
    stream.set_read_timeout(Some(TICK)).ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut handshake = acceptor.accept(stream);
    loop {
        match handshake {
            Ok(tls) => return Some(tls),
            Err(native_tls::HandshakeError::WouldBlock(mid))
                if !stop.is_set() && Instant::now() < deadline =>
            {
                handshake = mid.handshake()
            }
            Err(_) => return None,
        }
    }
}
