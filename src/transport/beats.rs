//! Beats: the Lumberjack v2 protocol of Logstash's beats input, with
//! acknowledged delivery.
//!
//! The frames (window `2W`, event `2J`, compressed `2C`, ACK `2A`) are
//! encoded and decoded by [`crate::lumberjack`]. A chunk is sent as one or more windows: W(n), then the events as J frames
//! numbered 1..n (numbering restarts with every window, as Filebeat does),
//! compressed together into one C frame when `compression_level` > 0. The
//! receiver ACKs the highest sequence it has processed: 0 (or a repeat) is a
//! keepalive that restarts the ACK timeout, 0 < seq < n acknowledges a prefix,
//! seq = n completes the window, seq > n is a protocol error.
//!
//! Only acknowledged events count as delivered: after an error the
//! acknowledged prefix is reported (the worker keeps just the rest), and the
//! rest goes to the next host, or is retried later. Window sizes follow
//! Filebeat's slow start: begin small, double after each full window up to
//! `beats_window_size`, halve after an error.

use super::hosts::HostSet;
use super::stream::Conn;
use super::tls::TlsSettings;
use super::{Interrupter, SendError, Sent, Transport};
use crate::buffer::Chunk;
use crate::lumberjack::{self, AckFrame, WindowEncoder};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// The first window of a connection-less start (slow start).
const INITIAL_WINDOW: usize = 16;

pub struct BeatsSettings {
    /// Connect and write timeout (`socket_timeout`).
    pub timeout: Duration,
    /// Longest wait for the next ACK of a window (`beats_ack_timeout`).
    pub ack_timeout: Duration,
    pub compression_level: u32,
    /// Largest window (`beats_window_size`).
    pub max_window: usize,
}

pub struct BeatsTransport {
    hosts: HostSet,
    settings: BeatsSettings,
    tls: Option<TlsSettings>,
    interrupter: Interrupter,
    /// One connection slot per host.
    links: Vec<Option<Conn>>,
    window: usize,
    encoder: WindowEncoder,
    /// Reused frame buffer.
    frames: Vec<u8>,
}

/// A window that failed after `acked` of its events were acknowledged.
struct WindowError {
    acked: usize,
    message: String,
}

impl BeatsTransport {
    pub fn new(
        hosts: HostSet,
        settings: BeatsSettings,
        tls: Option<TlsSettings>,
        interrupter: Interrupter,
    ) -> BeatsTransport {
        let links = (0..hosts.len()).map(|_| None).collect();
        BeatsTransport {
            window: INITIAL_WINDOW.min(settings.max_window),
            encoder: WindowEncoder::new(settings.compression_level),
            hosts,
            settings,
            tls,
            interrupter,
            links,
            frames: Vec::new(),
        }
    }

    fn close_link(&mut self, i: usize) {
        if let Some(conn) = self.links[i].take() {
            conn.close(&self.interrupter);
        }
    }

    /// Sends `events` to host `i` in as many windows as needed.
    fn send_to(&mut self, i: usize, events: &[&[u8]]) -> Result<(), WindowError> {
        if let Some(conn) = self.links[i].as_mut() {
            if conn.check_alive().is_err() {
                // Closed while idle (a receiver's inactivity timeout): reconnect.
                self.close_link(i);
            }
        }
        if self.links[i].is_none() {
            let conn = Conn::connect(
                self.hosts.endpoint(i),
                self.settings.timeout,
                self.tls.as_ref(),
                &self.interrupter,
            )
            .map_err(|message| WindowError { acked: 0, message })?;
            self.links[i] = Some(conn);
        }
        let mut done = 0;
        while done < events.len() {
            let n = self.window.min(events.len() - done);
            match self.send_window(i, &events[done..done + n]) {
                Ok(()) => {
                    done += n;
                    if n == self.window {
                        self.window = (self.window * 2).min(self.settings.max_window);
                    }
                }
                Err(e) => {
                    self.window = (self.window / 2).max(1);
                    self.close_link(i);
                    return Err(WindowError {
                        acked: done + e.acked,
                        message: e.message,
                    });
                }
            }
        }
        Ok(())
    }

    /// One window: W, the J frames (compressed into a C frame when enabled), then the ACKs.
    fn send_window(&mut self, i: usize, events: &[&[u8]]) -> Result<(), WindowError> {
        self.frames.clear();
        let n = self
            .encoder
            .encode(events.iter().copied(), &mut self.frames)
            .map_err(|e| WindowError {
                acked: 0,
                message: format!("compress: {e}"),
            })?;
        let conn = self.links[i].as_mut().expect("connected");
        conn.register(&self.interrupter);
        let lost = |acked: usize, e: std::io::Error| WindowError {
            acked,
            message: format!("connection lost: {e}"),
        };
        conn.write_all(&self.frames)
            .and_then(|_| conn.flush())
            .map_err(|e| lost(0, e))?;
        await_acks(conn, n, self.settings.ack_timeout)
    }
}

/// Reads ACKs until the window is complete. Every ACK (a keepalive too)
/// restarts the timeout.
fn await_acks(conn: &mut Conn, n: u32, timeout: Duration) -> Result<(), WindowError> {
    let _ = conn.tcp().set_read_timeout(Some(timeout));
    let mut acked: u32 = 0;
    let mut frame = AckFrame::default();
    loop {
        if let Err(e) = conn.read_exact(&mut frame) {
            let message = match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                    "no acknowledgement within {:.1}s ({acked} of {n} events acknowledged)",
                    timeout.as_secs_f64()
                ),
                ErrorKind::UnexpectedEof => format!(
                    "connection closed by the receiver ({acked} of {n} events acknowledged)"
                ),
                _ => format!("connection lost: {e} ({acked} of {n} events acknowledged)"),
            };
            return Err(WindowError {
                acked: acked as usize,
                message,
            });
        }
        let Some(seq) = lumberjack::decode_ack(&frame) else {
            return Err(WindowError {
                acked: acked as usize,
                message: format!(
                    "protocol error: expected an ACK frame, got bytes {:02x} {:02x}",
                    frame[0], frame[1]
                ),
            });
        };
        if seq > n {
            return Err(WindowError {
                acked: acked as usize,
                message: format!("protocol error: ACK {seq} for a window of {n} events"),
            });
        }
        if seq == n {
            return Ok(());
        }
        acked = acked.max(seq);
    }
}

impl Transport for BeatsTransport {
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        let events: Vec<&[u8]> = chunk.events().collect();
        let now = Instant::now();
        let mut done = 0;
        let mut errors = Vec::new();
        for i in self.hosts.order(now) {
            match self.send_to(i, &events[done..]) {
                Ok(()) => {
                    self.hosts.succeeded(i);
                    if !self.hosts.loadbalance() {
                        // Failover: one connection at a time.
                        for j in 0..self.links.len() {
                            if j != i {
                                self.close_link(j);
                            }
                        }
                    }
                    return Ok(Sent::Delivered { rejected: 0 });
                }
                Err(e) => {
                    done += e.acked;
                    self.hosts.failed(i, now);
                    if self.hosts.len() > 1 {
                        errors.push(format!("{}: {}", self.hosts.endpoint(i), e.message));
                    } else {
                        errors.push(e.message);
                    }
                }
            }
        }
        Err(SendError {
            message: errors.join("; "),
            delivered_prefix: done as u32,
            another_host_ready: false,
        })
    }

    fn close(&mut self, _deadline: Instant) -> u64 {
        for i in 0..self.links.len() {
            self.close_link(i);
        }
        u64::MAX
    }
}
