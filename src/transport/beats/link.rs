//! One beats connection, on a thread of its own: connects, encodes each
//! window it is handed (zlib on this thread, not the worker's) and writes it
//! at once, while reading the ACKs of the windows before it; reports each
//! window ACKed, or the failure that cut the connection short with how much
//! of each window was acknowledged. Blocking I/O is fine here: no one else
//! waits for this thread (the worker only reads its reports).

use super::mailbox::{wait, Mailbox, Next, Woken};
use super::BeatsSettings;
use crate::config::Endpoint;
use crate::lumberjack::{self, WindowEncoder};
use crate::transport::reports::Reports;
use crate::transport::stream::Conn;
use crate::transport::tls::TlsSettings;
use crate::transport::{Batch, InterruptSlot, Waker};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest one read of a partly arrived TLS record may block the thread
/// (plain reads follow a readable poll and never block).
const READ_SLICE: Duration = Duration::from_millis(50);

/// What a link thread reports.
pub enum Report {
    /// A window is fully acknowledged.
    Acked { link: u64, host: usize, ticket: u64 },
    /// The connection failed: `cut` are the windows it held (and how much of
    /// each was acknowledged); the thread has ended.
    Failed {
        link: u64,
        host: usize,
        message: String,
        cut: Vec<Cut>,
    },
    /// The thread ended with no window awaiting its ACK (told to finish, or
    /// the receiver closed an idle connection); `unsent`: windows handed
    /// over meanwhile and never written (to send again).
    Ended {
        link: u64,
        host: usize,
        unsent: Vec<u64>,
    },
}

/// A window cut short: its first `acked` events were acknowledged.
pub struct Cut {
    pub ticket: u64,
    pub acked: u32,
    pub written: bool,
}

/// A window written, waiting for its ACKs.
struct Awaiting {
    ticket: u64,
    events: u32,
    acked: u32,
}

/// Everything a link thread needs, moved onto it.
pub struct Link {
    pub id: u64,
    pub host: usize,
    pub endpoint: Endpoint,
    pub settings: Arc<BeatsSettings>,
    pub tls: Option<Arc<TlsSettings>>,
    pub slot: Arc<InterruptSlot>,
    pub mailbox: Arc<Mailbox>,
    pub reports: Arc<Reports<Report>>,
    pub waker: Waker,
    pub connects: Arc<AtomicU64>,
}

/// Why a connection ended.
enum End {
    /// Told to finish, or closed by the receiver while idle.
    Quiet,
    Abort,
    Failed(String),
}

impl Link {
    pub fn run(self) {
        let conn = Conn::connect(
            &self.endpoint,
            self.settings.timeout,
            self.tls.as_deref(),
            &self.slot,
        );
        let mut session = Session {
            awaiting: VecDeque::new(),
            encoder: WindowEncoder::new(self.settings.compression_level),
            frames: Vec::new(),
            acks: Vec::new(),
            last_ack: Instant::now(),
        };
        let end = match conn {
            Ok(mut conn) => {
                self.connects.fetch_add(1, Ordering::Relaxed);
                let _ = conn.tcp().set_read_timeout(Some(READ_SLICE));
                let end = self.serve(&mut conn, &mut session);
                if matches!(end, End::Failed(_)) {
                    self.salvage_acks(&mut conn, &mut session);
                }
                conn.close(&self.slot);
                end
            }
            Err(e) => End::Failed(e),
        };
        let report = match end {
            End::Abort => return,
            End::Quiet => Report::Ended {
                link: self.id,
                host: self.host,
                unsent: self.mailbox.close().iter().map(|w| w.ticket).collect(),
            },
            End::Failed(message) => {
                let mut cut: Vec<Cut> = session
                    .awaiting
                    .iter()
                    .map(|w| Cut {
                        ticket: w.ticket,
                        acked: w.acked,
                        written: true,
                    })
                    .collect();
                cut.extend(self.mailbox.close().iter().map(|w| Cut {
                    ticket: w.ticket,
                    acked: 0,
                    written: false,
                }));
                Report::Failed {
                    link: self.id,
                    host: self.host,
                    message,
                    cut,
                }
            }
        };
        self.reports.push(report);
        self.waker.wake();
    }

    fn acked(&self, ticket: u64) {
        self.reports.push(Report::Acked {
            link: self.id,
            host: self.host,
            ticket,
        });
        self.waker.wake();
    }

    /// After a failure (a write refused by a reset, a timeout): ACKs that
    /// reached us before it are still read and count, so windows the
    /// receiver acknowledged are not sent again. Linux keeps received bytes
    /// readable after a reset.
    fn salvage_acks(&self, conn: &mut Conn, s: &mut Session) {
        let _ = conn.tcp().set_read_timeout(Some(Duration::from_millis(1)));
        // Bounded: each round reads up to 4 KiB of 6-byte ACK frames.
        for _ in 0..64 {
            if s.awaiting.is_empty() {
                return;
            }
            match s.read_acks(conn, &mut |ticket| self.acked(ticket)) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
        }
    }

    fn serve(&self, conn: &mut Conn, s: &mut Session) -> End {
        loop {
            match self.mailbox.next(s.awaiting.is_empty()) {
                Next::Abort => return End::Abort,
                Next::Finish => return End::Quiet,
                Next::Window(window) => {
                    if let Err(e) = s.write(conn, &window) {
                        return End::Failed(e);
                    }
                    continue;
                }
                Next::Wait => {}
            }
            let until = s.ack_deadline(self.settings.ack_timeout);
            let woken = if tls_buffered(conn) {
                Woken::Socket
            } else {
                wait(conn.tcp().as_raw_fd(), self.mailbox.bell(), until)
            };
            match woken {
                Woken::Bell => {}
                Woken::Timeout if until.is_some_and(|t| Instant::now() >= t) => {
                    return End::Failed(s.lost(&format!(
                        "no acknowledgement within {:.1}s",
                        self.settings.ack_timeout.as_secs_f64()
                    )));
                }
                Woken::Timeout => {}
                Woken::Socket => match s.read_acks(conn, &mut |ticket| self.acked(ticket)) {
                    Ok(_) => {}
                    Err(None) => {
                        if s.awaiting.is_empty() {
                            // An idle connection closed by the receiver
                            // (its inactivity timeout): nothing is lost.
                            return End::Quiet;
                        }
                        return End::Failed(s.lost("connection closed by the receiver"));
                    }
                    Err(Some(e)) => return End::Failed(e),
                },
            }
        }
    }
}

/// Whether TLS holds decrypted bytes a poll on the socket would not see.
fn tls_buffered(conn: &Conn) -> bool {
    match conn {
        Conn::Tls(s) => s.buffered_read_size().unwrap_or(0) > 0,
        Conn::Plain(_) => false,
    }
}

/// The state of one connection.
struct Session {
    awaiting: VecDeque<Awaiting>,
    encoder: WindowEncoder,
    /// Reused frame buffer.
    frames: Vec<u8>,
    /// ACK bytes received, not yet a whole frame.
    acks: Vec<u8>,
    /// When an ACK (a keepalive too) last came, or the first window went
    /// out: the ACK timeout runs from there.
    last_ack: Instant,
}

impl Session {
    fn ack_deadline(&self, timeout: Duration) -> Option<Instant> {
        (!self.awaiting.is_empty()).then(|| self.last_ack + timeout)
    }

    /// W, the J frames (compressed into a C frame when enabled), written now.
    fn write(&mut self, conn: &mut Conn, window: &Batch) -> Result<(), String> {
        self.frames.clear();
        let events = self
            .encoder
            .encode(window.events(), &mut self.frames)
            .map_err(|e| format!("compress: {e}"))?;
        if self.awaiting.is_empty() {
            self.last_ack = Instant::now();
        }
        self.awaiting.push_back(Awaiting {
            ticket: window.ticket,
            events,
            acked: 0,
        });
        conn.write_all(&self.frames)
            .and_then(|_| conn.flush())
            .map_err(|e| self.lost(&format!("connection lost: {e}")))
    }

    /// Reads what arrived and applies the ACKs, calling `acked` with each
    /// window now complete; the bytes read (0: none were waiting).
    /// Err(None): the receiver closed the connection.
    fn read_acks(
        &mut self,
        conn: &mut Conn,
        acked: &mut dyn FnMut(u64),
    ) -> Result<usize, Option<String>> {
        let mut buf = [0u8; 4096];
        let n = match conn.read(&mut buf) {
            Ok(0) => return Err(None),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                return Ok(0)
            }
            Err(e) if crate::transport::stream::is_unexpected_eof(&e) => return Err(None),
            Err(e) => return Err(Some(self.lost(&format!("connection lost: {e}")))),
        };
        self.acks.extend_from_slice(&buf[..n]);
        let whole = self.acks.len() / 6 * 6;
        for at in (0..whole).step_by(6) {
            let frame: [u8; 6] = self.acks[at..at + 6].try_into().expect("6 bytes");
            let Some(seq) = lumberjack::decode_ack(&frame) else {
                return Err(Some(self.lost(&format!(
                    "protocol error: expected an ACK frame, got bytes {:02x} {:02x}",
                    frame[0], frame[1]
                ))));
            };
            self.last_ack = Instant::now();
            let Some(front) = self.awaiting.front_mut() else {
                if seq == 0 {
                    continue; // a keepalive after the last window
                }
                return Err(Some(format!(
                    "protocol error: ACK {seq} with no window waiting"
                )));
            };
            if seq > front.events {
                let n = front.events;
                return Err(Some(self.lost(&format!(
                    "protocol error: ACK {seq} for a window of {n} events"
                ))));
            }
            if seq == front.events {
                acked(front.ticket);
                self.awaiting.pop_front();
            } else {
                // 0 or a repeat is a keepalive; more acknowledges a prefix.
                front.acked = front.acked.max(seq);
            }
        }
        self.acks.drain(..whole);
        Ok(n)
    }

    /// A failure message with how far the oldest window got.
    fn lost(&self, what: &str) -> String {
        match self.awaiting.front() {
            Some(w) => format!("{what} ({} of {} events acknowledged)", w.acked, w.events),
            None => what.to_owned(),
        }
    }
}
