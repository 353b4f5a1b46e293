//! A Lumberjack v2 receiver that behaves like Logstash's beats input: it reads
//! a window (W, then J frames, possibly inside a zlib C frame) and ACKs the
//! highest sequence. Its behaviour can be bent: ACK 0 keepalives while slow,
//! a partial ACK first, dropping the connection mid-window, never ACKing.
//!
//! It records every event it received and, separately, every event it
//! acknowledged (by the `extra.seq` field), recorded before the ACK is sent.

use flate2::read::ZlibDecoder;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Behaviour {
    /// For the first N windows: wait `slow` before the final ACK, sending an
    /// ACK 0 keepalive every `interval` meanwhile.
    pub keepalive_windows: usize,
    pub slow: Duration,
    pub interval: Duration,
    /// ACK half of every window first, then the rest.
    pub partial_acks: bool,
    /// Windows (1-based, counted over the server's life) after which the
    /// connection is dropped: after ACKing half of it when the flag is true.
    pub drop_windows: Vec<(usize, bool)>,
    /// Read everything, acknowledge nothing.
    pub never_ack: bool,
}

#[derive(Default)]
pub struct Record {
    /// `extra.seq` of every event received (resends included).
    pub received: Vec<u64>,
    /// `extra.seq` of every event acknowledged.
    pub acked: Vec<u64>,
    pub windows: usize,
    pub compressed_frames: usize,
    pub connections: usize,
    /// One received event, verbatim.
    pub sample: Option<String>,
}

pub struct BeatsServer {
    pub port: u16,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BeatsServer {
    pub fn start(behaviour: Behaviour) -> BeatsServer {
        Self::serve(TcpListener::bind("127.0.0.1:0").unwrap(), behaviour)
    }

    /// Listens on a given port (retrying for a while if it is still taken).
    pub fn start_on(port: u16, behaviour: Behaviour) -> BeatsServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => return Self::serve(l, behaviour),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
            }
        }
    }

    fn serve(listener: TcpListener, behaviour: Behaviour) -> BeatsServer {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let record = Arc::new(Mutex::new(Record::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r2, s2) = (record.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !s2.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        r2.lock().unwrap().connections += 1;
                        let (r3, s3, b3) = (r2.clone(), s2.clone(), behaviour.clone());
                        handlers.push(std::thread::spawn(move || {
                            Connection::new(stream, r3, s3, b3).run()
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        });
        BeatsServer {
            port,
            record,
            stop,
            thread: Some(thread),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&Record) -> T) -> T {
        f(&self.record.lock().unwrap())
    }

    pub fn acked(&self) -> Vec<u64> {
        self.with(|r| r.acked.clone())
    }

    /// Waits (bounded) until at least `n` events were acknowledged.
    pub fn wait_acked(&self, n: usize, timeout: Duration) -> Vec<u64> {
        let deadline = Instant::now() + timeout;
        while self.with(|r| r.acked.len()) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.acked()
    }

    /// Stops abruptly, like a crash: connections are reset.
    pub fn kill(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.acked()
    }
}

impl Drop for BeatsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Frame {
    Window(u32),
    Data(Vec<u8>),
    Compressed(Vec<u8>),
}

/// One whole frame at the start of `buf`, and its length.
fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    let u32_at = |i: usize| {
        buf.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[0], b'2', "frame version");
    match buf[1] {
        b'W' => Some((Frame::Window(u32_at(2)?), 6)),
        b'J' => {
            let len = u32_at(6)? as usize;
            let body = buf.get(10..10 + len)?;
            Some((Frame::Data(body.to_vec()), 10 + len))
        }
        b'C' => {
            let len = u32_at(2)? as usize;
            let body = buf.get(6..6 + len)?;
            Some((Frame::Compressed(body.to_vec()), 6 + len))
        }
        other => panic!("unexpected frame type {other}"),
    }
}

struct Connection {
    stream: TcpStream,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    behaviour: Behaviour,
    expected: u32,
    window: Vec<u64>,
}

impl Connection {
    fn new(
        stream: TcpStream,
        record: Arc<Mutex<Record>>,
        stop: Arc<AtomicBool>,
        behaviour: Behaviour,
    ) -> Connection {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Connection {
            stream,
            record,
            stop,
            behaviour,
            expected: 0,
            window: Vec::new(),
        }
    }

    fn run(mut self) {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        'read: while !self.stop.load(Ordering::Acquire) {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(ref e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    continue
                }
                Err(_) => return,
            }
            while let Some((frame, used)) = parse_frame(&pending) {
                pending.drain(..used);
                if !self.handle(frame) {
                    break 'read;
                }
            }
        }
        if self.stop.load(Ordering::Acquire) {
            // Crash semantics: reset, discarding anything unread.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            unsafe {
                libc::setsockopt(
                    self.stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    }

    /// Handles a frame; false when the connection is to be dropped.
    fn handle(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::Window(n) => {
                assert!(self.window.is_empty(), "window started inside a window");
                self.expected = n;
                true
            }
            Frame::Data(json) => {
                let text = String::from_utf8(json).expect("UTF-8 event");
                let value: serde_json::Value = serde_json::from_str(&text).expect("JSON event");
                let seq = value["extra"]["seq"].as_u64().expect("extra.seq");
                {
                    let mut r = self.record.lock().unwrap();
                    r.received.push(seq);
                    r.sample.get_or_insert(text);
                }
                self.window.push(seq);
                if self.window.len() as u32 == self.expected {
                    return self.complete_window();
                }
                true
            }
            Frame::Compressed(bytes) => {
                self.record.lock().unwrap().compressed_frames += 1;
                let mut inner = Vec::new();
                ZlibDecoder::new(&bytes[..])
                    .read_to_end(&mut inner)
                    .expect("zlib stream");
                let mut at = 0;
                while at < inner.len() {
                    let (frame, used) = parse_frame(&inner[at..]).expect("whole frames");
                    at += used;
                    if !self.handle(frame) {
                        return false;
                    }
                }
                true
            }
        }
    }

    /// Records `events` of the window as acknowledged, then sends ACK `seq`.
    fn ack(&mut self, seq: u32, events: &[u64]) -> bool {
        self.record.lock().unwrap().acked.extend_from_slice(events);
        let mut frame = *b"2A\0\0\0\0";
        frame[2..].copy_from_slice(&seq.to_be_bytes());
        self.stream.write_all(&frame).is_ok()
    }

    fn complete_window(&mut self) -> bool {
        let window = std::mem::take(&mut self.window);
        let n = window.len() as u32;
        let index = {
            let mut r = self.record.lock().unwrap();
            r.windows += 1;
            r.windows
        };
        if self.behaviour.never_ack {
            return true;
        }
        let half = n / 2;
        if let Some(&(_, ack_half)) = self.behaviour.drop_windows.iter().find(|d| d.0 == index) {
            if ack_half && half > 0 {
                self.ack(half, &window[..half as usize]);
            }
            // A graceful close, so the partial ACK is not destroyed by a reset.
            let _ = self.stream.shutdown(Shutdown::Both);
            return false;
        }
        let mut acked = 0;
        if self.behaviour.partial_acks && half > 0 {
            if !self.ack(half, &window[..half as usize]) {
                return false;
            }
            acked = half as usize;
            std::thread::sleep(Duration::from_millis(2));
        }
        if index <= self.behaviour.keepalive_windows {
            let until = Instant::now() + self.behaviour.slow;
            while Instant::now() < until {
                if !self.ack(0, &[]) {
                    return false;
                }
                std::thread::sleep(self.behaviour.interval);
            }
        }
        self.ack(n, &window[acked..])
    }
}
