//! Real loopback receivers for the integration tests: a TCP line sink that can
//! be killed (abruptly, losing what it had not read, like a crashed Logstash)
//! and restarted on the same port, and a UDP datagram sink. Every loop here is
//! bounded in time.
#![allow(dead_code)]

pub mod beats_server;
pub mod c_program;

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A port that was free a moment ago (nothing listens on it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TcpSink {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    pub connections: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl TcpSink {
    pub fn start() -> TcpSink {
        Self::bind(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Listens on a given port (retrying for a while if it is still taken).
    pub fn start_on(port: u16) -> TcpSink {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => return Self::bind(l),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
            }
        }
    }

    fn bind(listener: TcpListener) -> TcpSink {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (l2, s2, c2) = (lines.clone(), stop.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            let mut readers = Vec::new();
            while !s2.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c2.fetch_add(1, Ordering::SeqCst);
                        let (l3, s3) = (l2.clone(), s2.clone());
                        readers.push(std::thread::spawn(move || read_lines(stream, l3, s3)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for r in readers {
                let _ = r.join();
            }
        });
        TcpSink {
            port,
            lines,
            stop,
            connections,
            thread: Some(thread),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Waits (bounded) until at least `n` lines arrived; returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        while self.count() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.lines()
    }

    /// Stops abruptly: connections are closed without reading what is still
    /// in their socket buffers (the kernel answers with a reset), like a crash.
    pub fn kill(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.lines()
    }
}

impl Drop for TcpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_lines(mut stream: TcpStream, lines: Arc<Mutex<Vec<String>>>, stop: Arc<AtomicBool>) {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Acquire) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                let mut start = 0;
                let mut got = Vec::new();
                while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
                    got.push(String::from_utf8_lossy(&pending[start..start + pos]).into_owned());
                    start += pos + 1;
                }
                pending.drain(..start);
                if !got.is_empty() {
                    lines.lock().unwrap().extend(got);
                }
            }
            Err(ref e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    if stop.load(Ordering::Acquire) {
        // Crash semantics: reset the connection, discarding unread data.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
}

pub struct UdpSink {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpSink {
    pub fn start() -> UdpSink {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let size: libc::c_int = 8 << 20;
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, s2) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            while !s2.load(Ordering::Acquire) {
                if let Ok(n) = socket.recv(&mut buf) {
                    l2.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        });
        UdpSink {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        while self.lines.lock().unwrap().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.lines()
    }
}

impl Drop for UdpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Parses received lines as JSON.
pub fn parse(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The `extra.seq` numbers of received events, in arrival order.
pub fn seqs(lines: &[String]) -> Vec<u64> {
    parse(lines)
        .iter()
        .map(|v| v["extra"]["seq"].as_u64().expect("extra.seq"))
        .collect()
}

/// A configuration for a loopback receiver with quick timers for tests.
pub fn config(port: u16, extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({
        "host": "127.0.0.1",
        "port": port,
        "queue_check_interval": 0.05,
        "queued_events_flush_interval": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
        "socket_timeout": 2.0,
    });
    for (k, v) in extra.as_object().expect("object") {
        c[k] = v.clone();
    }
    c.to_string()
}

/// Asserts that `got` holds every number in `want`, printing only a summary
/// (the missing count and the first few) when it does not.
pub fn assert_all_arrived(got: &std::collections::BTreeSet<u64>, want: std::ops::Range<u64>) {
    let missing: Vec<u64> = want.clone().filter(|n| !got.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events missing, first: {:?}",
        missing.len(),
        want.end - want.start,
        &missing[..missing.len().min(20)]
    );
}

impl TcpSink {
    /// Waits (bounded) until `before` plus what this sink received covers every
    /// seq in `want`; returns everything received here.
    pub fn wait_to_complete(
        &self,
        before: &[u64],
        want: std::ops::Range<u64>,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            let mut got: std::collections::BTreeSet<u64> = before.iter().copied().collect();
            got.extend(seqs(&lines));
            if want.clone().all(|n| got.contains(&n)) || Instant::now() >= deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
