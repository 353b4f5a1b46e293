//! A TCP line receiver (Logstash's tcp input with json_lines): it records
//! every line, can be killed (abruptly, losing what it had not read, like a
//! crashed Logstash) and restarted on the same port, and can close its first
//! connections after N lines, gracefully (FIN) or with a reset (RST).

use super::listener::{bind_any, bind_port, read_some, reset_on_close, Got, Listener, Stop};
use super::{seqs, wait_until};
use std::collections::BTreeSet;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a connection that read its lines ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// An ordinary close: a FIN when everything sent was read (Linux sends a
    /// reset instead when unread data is left, as for any application).
    Fin,
    /// SO_LINGER 0: a reset, whatever was read.
    Reset,
}

/// The first `connections` connections read until they have at least
/// `lines` lines (keeping every line they read), then close.
#[derive(Clone, Copy, Debug)]
struct Closing {
    lines: usize,
    close: Close,
    connections: usize,
}

pub struct TcpSink {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    listener: Listener,
}

impl TcpSink {
    pub fn start() -> TcpSink {
        Self::serve(bind_any(), None)
    }

    /// Listens on a given port (retrying for a while if it is still taken).
    pub fn start_on(port: u16) -> TcpSink {
        Self::serve(bind_port(port), None)
    }

    /// Each of the first `connections` connections reads until it has at least
    /// `lines` lines (recording all it read), then closes as `close` says;
    /// later connections read until the peer closes.
    pub fn closing_after(lines: usize, close: Close, connections: usize) -> TcpSink {
        let closing = Closing {
            lines,
            close,
            connections,
        };
        Self::serve(bind_any(), Some(closing))
    }

    fn serve(listener: TcpListener, closing: Option<Closing>) -> TcpSink {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let all = lines.clone();
        let listener = Listener::serve(listener, move |stream, id, stop| {
            let limit = closing.filter(|c| id <= c.connections);
            read_lines(stream, &all, stop, limit)
        });
        TcpSink {
            port: listener.port,
            lines,
            listener,
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// Waits (bounded) until at least `n` lines arrived; returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_until(timeout, || self.count() >= n);
        self.lines()
    }

    /// Waits (bounded) until `before` plus what this sink received covers every
    /// seq in `want`; returns everything received here.
    pub fn wait_to_complete(
        &self,
        before: &[u64],
        want: std::ops::Range<u64>,
        timeout: Duration,
    ) -> Vec<String> {
        wait_until(timeout, || {
            let mut got: BTreeSet<u64> = before.iter().copied().collect();
            got.extend(seqs(&self.lines()));
            want.clone().all(|n| got.contains(&n))
        });
        self.lines()
    }

    /// Stops abruptly: connections are closed without reading what is still
    /// in their socket buffers (the kernel answers with a reset), like a crash.
    pub fn kill(mut self) -> Vec<String> {
        self.listener.stop();
        self.lines()
    }
}

/// Reads lines until the peer closes, the sink stops (a crash: reset) or
/// `closing` says to close.
fn read_lines(
    mut stream: TcpStream,
    lines: &Mutex<Vec<String>>,
    stop: &Stop,
    closing: Option<Closing>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = 0;
    while !stop.is_set() {
        match read_some(&mut stream, &mut buf, None) {
            Got::Closed => return,
            Got::Nothing => {}
            Got::Bytes(n) => {
                pending.extend_from_slice(&buf[..n]);
                let mut start = 0;
                let mut got = Vec::new();
                while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
                    got.push(String::from_utf8_lossy(&pending[start..start + pos]).into_owned());
                    start += pos + 1;
                }
                pending.drain(..start);
                read += got.len();
                lines.lock().unwrap().extend(got);
            }
        }
        if let Some(c) = closing.filter(|c| read >= c.lines) {
            match c.close {
                Close::Fin => {
                    let _ = stream.shutdown(Shutdown::Write);
                }
                Close::Reset => reset_on_close(&stream),
            }
            return;
        }
    }
    // Crash semantics: reset the connection, discarding unread data.
    reset_on_close(&stream);
}
