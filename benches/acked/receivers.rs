//! The benchmark's receivers on loopback, lean enough not to be the
//! bottleneck of what they measure: a Lumberjack v2 server (the library's
//! own decoder, as the tests' server; it counts events instead of parsing
//! them) and an HTTP/1.1 server that counts the events of each body, each
//! answering at once or after a fixed delay while it goes on reading (a
//! receiver in another zone), and counting what it acknowledged; and a TCP
//! line counter for comparison.

use logstash_async::lumberjack::{encode_ack, Decoder, Frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A receiver's counters and its stop flag.
#[derive(Clone, Default)]
pub struct Counts {
    /// Events acknowledged (Beats ACKed, HTTP answered 200).
    pub acked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Counts {
    pub fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.acked.load(Ordering::Relaxed) < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        true
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Accepts connections and serves each on a thread of its own.
fn serve(serve_one: impl Fn(TcpStream, Counts) + Send + Sync + 'static) -> (u16, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let counts = Counts::default();
    let c = counts.clone();
    let serve_one = Arc::new(serve_one);
    std::thread::spawn(move || {
        while !c.stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    let _ = stream.set_nodelay(true);
                    let (serve_one, c) = (serve_one.clone(), c.clone());
                    std::thread::spawn(move || serve_one(stream, c));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    (port, counts)
}

/// A Lumberjack v2 server: ACKs each window `delay` after its last event.
pub fn lumberjack(delay: Duration) -> (u16, Counts) {
    serve(move |stream, counts| {
        let mut reader = stream.try_clone().unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        // The ACKs go out on a thread of their own, each when due, in order.
        let (due_tx, due_rx) = mpsc::channel::<(Instant, u32)>();
        let acks = counts.clone();
        let mut writer = stream;
        std::thread::spawn(move || {
            for (due, events) in due_rx {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                acks.acked.fetch_add(u64::from(events), Ordering::Relaxed);
                if writer.write_all(&encode_ack(events)).is_err() {
                    return;
                }
            }
        });
        let mut decoder = Decoder::default();
        let (mut window, mut seen) = (0u32, 0u32);
        while !counts.stop.load(Ordering::Relaxed) {
            match decoder.read_from(&mut reader) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => return,
            }
            loop {
                match decoder.next_frame() {
                    Ok(Some(Frame::Window(n))) => (window, seen) = (n, 0),
                    Ok(Some(Frame::Json { .. })) => {
                        seen += 1;
                        if seen == window && due_tx.send((Instant::now() + delay, window)).is_err()
                        {
                            return;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    })
}

/// An HTTP/1.1 server: answers each request 200 `delay` after it arrived
/// (one request at a time per connection, as the library's client sends
/// them), counting the events of its body (each has one `"@version"`).
pub fn http(delay: Duration) -> (u16, Counts) {
    serve(move |mut stream, counts| {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut chunk = vec![0u8; 256 << 10];
        let finder = memchr::memmem::Finder::new(b"\"@version\"");
        while !counts.stop.load(Ordering::Relaxed) {
            // One whole request in `buf`?
            if let Some(head_end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let end = head_end + 4 + length;
                if buf.len() >= end {
                    let events = finder.find_iter(&buf[head_end + 4..end]).count() as u64;
                    buf.drain(..end);
                    std::thread::sleep(delay);
                    counts.acked.fetch_add(events, Ordering::Relaxed);
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if stream.write_all(answer).is_err() {
                        return;
                    }
                    continue;
                }
            }
            match stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    })
}

/// A TCP receiver counting lines (it acknowledges nothing: `acked` counts
/// what it read).
pub fn lines() -> (u16, Counts) {
    serve(|mut stream, counts| {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = vec![0u8; 1 << 20];
        while !counts.stop.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let lines = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                    counts.acked.fetch_add(lines, Ordering::Relaxed);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    })
}
