//! A Lumberjack v2 receiver that behaves like Logstash's beats input: it
//! decodes windows (with the library's codec) and ACKs each one's highest
//! sequence. Like a remote Logstash it keeps reading while earlier windows
//! wait for their ACK, so a pipelining sender can have several windows out.
//! Its behaviour can be bent: an ACK latency, ACK 0 keepalives while slow,
//! partial ACKs, a connection closed after a window or reset in the middle
//! of one, never ACKing.
//!
//! It records every event it received and, separately, every event it
//! acknowledged (by the `extra.seq` field), recorded before the ACK is sent.

use super::listener::{bind_any, bind_port, read_some, reset_on_close, Got, Listener, Stop, TICK};
use super::wait_until;
use logstash_async::lumberjack::{encode_ack, Decoder, Frame};
use std::collections::VecDeque;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Windows are numbered 1, 2, ... in the order their W frame arrives, over
/// the server's life (all connections).
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Every window's ACK goes out this long after its last event arrived
    /// (a latency: reading goes on meanwhile).
    pub ack_delay: Duration,
    /// Windows 1..=N wait `slow` instead, sending an ACK 0 keepalive every
    /// `interval` meanwhile.
    pub keepalive_windows: usize,
    pub slow: Duration,
    pub interval: Duration,
    /// ACK half of every window first, then the rest.
    pub partial_acks: bool,
    /// (window, ack_half): reading stops once that window is read; when its
    /// ACK is due, half of it is ACKed if asked, then the connection closes (FIN).
    pub drop_windows: Vec<(usize, bool)>,
    /// (window, events): once that many events of that window are read, the
    /// connection is reset at once (a crash mid-window); windows still
    /// waiting for their ACK never get it.
    pub kill_mid_window: Vec<(usize, usize)>,
    /// Read everything, acknowledge nothing.
    pub never_ack: bool,
}

/// What one connection received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Windows read completely.
    pub windows: usize,
    pub events: usize,
}

#[derive(Default)]
pub struct Record {
    /// `extra.seq` of every event received (resends included).
    pub received: Vec<u64>,
    /// `extra.seq` of every event acknowledged.
    pub acked: Vec<u64>,
    /// Windows started (W frames) and read completely.
    pub windows_started: usize,
    pub windows: usize,
    pub compressed_frames: usize,
    pub connections: usize,
    /// Per connection, in accept order (connection k at index k - 1).
    pub per_connection: Vec<Tally>,
    /// The most windows one connection had read and not yet fully ACKed.
    pub max_waiting: usize,
    /// Protocol errors (each closed its connection).
    pub errors: Vec<String>,
    /// One received event, verbatim.
    pub sample: Option<String>,
    /// Killed: no ACK goes out any more (see `kill`).
    killed: bool,
}

pub struct BeatsServer {
    pub port: u16,
    record: Arc<Mutex<Record>>,
    listener: Listener,
}

impl BeatsServer {
    pub fn start(behaviour: Behaviour) -> BeatsServer {
        Self::serve(bind_any(), behaviour)
    }

    /// Listens on a given port (retrying for a while if it is still taken).
    pub fn start_on(port: u16, behaviour: Behaviour) -> BeatsServer {
        Self::serve(bind_port(port), behaviour)
    }

    fn serve(listener: TcpListener, behaviour: Behaviour) -> BeatsServer {
        let record = Arc::new(Mutex::new(Record::default()));
        let shared = record.clone();
        let listener = Listener::serve(listener, move |stream, id, stop| {
            {
                let mut r = shared.lock().unwrap();
                r.connections += 1;
                if r.per_connection.len() < id {
                    r.per_connection.resize(id, Tally::default());
                }
            }
            Connection::new(stream, id, shared.clone(), stop.clone(), behaviour.clone()).run()
        });
        BeatsServer {
            port: listener.port,
            record,
            listener,
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
        wait_until(timeout, || self.with(|r| r.acked.len()) >= n);
        self.acked()
    }

    /// Stops abruptly, like a crash: connections are reset. Exactly the
    /// ACKs written before are recorded (an ACK is written and recorded
    /// under the record's lock, and none after this point).
    pub fn kill(mut self) -> Vec<u64> {
        self.record.lock().unwrap().killed = true;
        self.listener.stop();
        self.acked()
    }
}

/// The window being read.
struct OpenWindow {
    index: usize,
    size: u32,
    seqs: Vec<u64>,
}

/// A window read completely, waiting for its ACK.
struct Waiting {
    seqs: Vec<u64>,
    due: Instant,
    /// ACK 0 every so often until due, the next one at `next_keepalive`.
    keepalive: Option<Duration>,
    next_keepalive: Instant,
    answer: Answer,
}

enum Answer {
    Ack,
    AckInHalves,
    Close { ack_half: bool },
}

struct Connection {
    id: usize,
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    record: Arc<Mutex<Record>>,
    stop: Stop,
    behaviour: Behaviour,
    open: Option<OpenWindow>,
    waiting: VecDeque<Waiting>,
    /// False once a window ends the connection (reading stops; its ACK is due later).
    reading: bool,
}

impl Connection {
    fn new(
        stream: TcpStream,
        id: usize,
        record: Arc<Mutex<Record>>,
        stop: Stop,
        behaviour: Behaviour,
    ) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            id,
            stream,
            decoder: Decoder::default(),
            buf: vec![0; 256 << 10],
            record,
            stop,
            behaviour,
            open: None,
            waiting: VecDeque::new(),
            reading: true,
        }
    }

    /// Reads, decodes and answers until the peer closes, the connection is
    /// ended by the behaviour, or the server stops (a crash: reset).
    fn run(mut self) {
        while !self.stop.is_set() {
            if !self.answer_due() {
                return;
            }
            let next = self.next_due();
            if !self.reading {
                if self.waiting.is_empty() {
                    return;
                }
                let wait = next.map_or(Duration::ZERO, |t| {
                    t.saturating_duration_since(Instant::now())
                });
                std::thread::sleep(wait.min(TICK));
                continue;
            }
            match read_some(&mut self.stream, &mut self.buf, next) {
                Got::Closed => return,
                Got::Nothing => {}
                Got::Bytes(n) => {
                    self.decoder.push(&self.buf[..n]);
                    if !self.decode() {
                        return;
                    }
                }
            }
        }
        reset_on_close(&self.stream);
    }

    /// When the next ACK or keepalive is due.
    fn next_due(&self) -> Option<Instant> {
        let w = self.waiting.front()?;
        Some(match w.keepalive {
            Some(_) => w.due.min(w.next_keepalive),
            None => w.due,
        })
    }

    /// Handles the decoded frames; false when the connection is to end.
    fn decode(&mut self) -> bool {
        let before = self.decoder.compressed_frames();
        let mut go_on = true;
        // Once a window ends the connection, what follows it is left unread.
        while go_on && self.reading {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => go_on = self.handle(frame),
                Ok(None) => break,
                Err(e) => {
                    self.error(e.to_string());
                    go_on = false;
                }
            }
        }
        let compressed = (self.decoder.compressed_frames() - before) as usize;
        self.record.lock().unwrap().compressed_frames += compressed;
        go_on
    }

    fn error(&mut self, message: String) {
        self.record.lock().unwrap().errors.push(message);
    }

    /// Handles a frame; false when the connection is to end.
    fn handle(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::Window(size) => {
                if self.open.is_some() {
                    self.error("a window started inside a window".into());
                    return false;
                }
                let index = {
                    let mut r = self.record.lock().unwrap();
                    r.windows_started += 1;
                    r.windows_started
                };
                self.open = Some(OpenWindow {
                    index,
                    size,
                    seqs: Vec::new(),
                });
                self.after_event()
            }
            Frame::Json { json, .. } => {
                let Some(window) = self.open.as_mut() else {
                    self.error("an event outside a window".into());
                    return false;
                };
                let text = String::from_utf8_lossy(&json).into_owned();
                let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let Some(seq) = value["extra"]["seq"].as_u64() else {
                    self.error(format!("an event without extra.seq: {text}"));
                    return false;
                };
                window.seqs.push(seq);
                let mut r = self.record.lock().unwrap();
                r.received.push(seq);
                r.per_connection[self.id - 1].events += 1;
                r.sample.get_or_insert(text);
                drop(r);
                self.after_event()
            }
            Frame::Ack(_) | Frame::Compressed(_) => {
                self.error("an ACK from the sender".into());
                false
            }
        }
    }

    /// After a W or J frame: a kill mid-window, or the window's completion.
    fn after_event(&mut self) -> bool {
        let window = self.open.as_ref().expect("a window is open");
        let at = (window.index, window.seqs.len());
        if self.behaviour.kill_mid_window.contains(&at) {
            reset_on_close(&self.stream);
            return false;
        }
        if window.seqs.len() as u32 >= window.size {
            let window = self.open.take().expect("a window is open");
            self.complete(window);
        }
        true
    }

    fn complete(&mut self, window: OpenWindow) {
        {
            let mut r = self.record.lock().unwrap();
            r.windows += 1;
            r.per_connection[self.id - 1].windows += 1;
        }
        let b = &self.behaviour;
        if b.never_ack {
            return;
        }
        let now = Instant::now();
        let slow = window.index <= b.keepalive_windows;
        let answer = match b.drop_windows.iter().find(|d| d.0 == window.index) {
            Some(&(_, ack_half)) => {
                self.reading = false;
                Answer::Close { ack_half }
            }
            None if b.partial_acks => Answer::AckInHalves,
            None => Answer::Ack,
        };
        self.waiting.push_back(Waiting {
            seqs: window.seqs,
            due: now + if slow { b.slow } else { b.ack_delay },
            keepalive: slow.then_some(b.interval),
            next_keepalive: now,
            answer,
        });
        let mut r = self.record.lock().unwrap();
        r.max_waiting = r.max_waiting.max(self.waiting.len());
    }

    /// Sends the ACKs (and keepalives) that are due; false when the
    /// connection is to end.
    fn answer_due(&mut self) -> bool {
        let now = Instant::now();
        while let Some(front) = self.waiting.front_mut() {
            if front.due > now {
                if let Some(interval) = front.keepalive {
                    if now >= front.next_keepalive {
                        front.next_keepalive = now + interval;
                        return self.ack(0, &[]);
                    }
                }
                return true;
            }
            let w = self.waiting.pop_front().expect("a waiting window");
            let n = w.seqs.len();
            let half = n / 2;
            let sent = match w.answer {
                Answer::Ack => self.ack(n, &w.seqs),
                Answer::AckInHalves if half > 0 => {
                    let first = self.ack(half, &w.seqs[..half]);
                    // Apart, so the sender reads the partial ACK on its own.
                    std::thread::sleep(Duration::from_millis(2));
                    first && self.ack(n, &w.seqs[half..])
                }
                Answer::AckInHalves => self.ack(n, &w.seqs),
                Answer::Close { ack_half } => {
                    if ack_half && half > 0 {
                        self.ack(half, &w.seqs[..half]);
                    }
                    // A graceful close, so the partial ACK is not destroyed by a reset.
                    let _ = self.stream.shutdown(Shutdown::Both);
                    return false;
                }
            };
            if !sent {
                return false;
            }
        }
        true
    }

    /// Sends ACK `seq` and records `events` as acknowledged, as one step
    /// against `kill` (the socket has no Nagle delay, so a written ACK is
    /// on its way before a kill's reset).
    fn ack(&mut self, seq: usize, events: &[u64]) -> bool {
        let mut record = self.record.lock().unwrap();
        if record.killed {
            return false;
        }
        let sent = self.stream.write_all(&encode_ack(seq as u32)).is_ok();
        if sent {
            record.acked.extend_from_slice(events);
        }
        sent
    }
}
