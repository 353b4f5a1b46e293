//! Redis: each event appended to a list (`RPUSH redis_key`), the layout
//! Logstash's redis input reads with `data_type => "list"` (it pops from the
//! head, so order is kept).
//!
//! A batch is one RPUSH with one argument per event: atomic on the server, all
//! or nothing. Commands are pipelined: written without waiting, and each
//! integer reply completes one batch (`Outcome::Done`), in order; replies are
//! read when the worker polls (every 20 ms while some are owed). A lost
//! connection, an error reply (OOM, WRONGTYPE, NOAUTH, a read-only replica) or
//! no reply for `socket_timeout` returns what is unconfirmed: the worker sends
//! it again after its backoff (at least once: a reply lost with the connection
//! means a resend of events Redis has). Events larger than the server's
//! `proto-max-bulk-len` (asked once per connection) are refused, counted and
//! reported. Connecting and the greeting (AUTH, SELECT, the bulk limit) run
//! on a short-lived thread (`open.rs`): a server that does not answer never
//! holds up the worker.
//!
//! Why no `redis` crate: this needs three commands and four reply types (about
//! 100 lines, resp.rs), while the connection is the project's own (stream.rs:
//! TLS with the same options as tcp and beats, the shutdown interrupter, hosts
//! failover with per-host backoff), which the crate would replace with its
//! own, and a dozen crates more in the build.

mod open;
mod resp;

use super::connector::Connecting;
use super::hosts::HostSet;
use super::stream::Conn;
use super::tls::TlsSettings;
use super::{Batch, Capacity, InterruptSlot, Interrupter, Outcome, SendError, Transport, Waker};
use crate::config::Config;
use open::Greeting;
use resp::Reply;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest one write may block the worker.
const WRITE_SLICE: Duration = Duration::from_millis(20);
/// Unwritten bytes beyond which the transport takes no new batch.
const MAX_PENDING_OUTPUT: usize = 4 << 20;
/// Commands awaiting a reply beyond which the transport takes no new batch.
const MAX_PENDING_COMMANDS: usize = 1024;
/// The largest batch: one RPUSH.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// How often replies are looked for while some are owed.
const REPLY_POLL: Duration = Duration::from_millis(20);
/// Redis's default `proto-max-bulk-len`, assumed when CONFIG is not allowed.
const DEFAULT_MAX_BULK: usize = 512 << 20;

/// A command written (or queued) whose reply has not arrived.
struct Pending {
    ticket: u64,
    /// Events of the batch refused before sending (reported on confirmation).
    refused: u32,
}

/// The connection to one host with its output and the replies it owes.
struct Link {
    conn: Conn,
    slot: InterruptSlot,
    host: usize,
    output: Vec<u8>,
    out_pos: usize,
    input: Vec<u8>,
    pending: VecDeque<Pending>,
    /// When a byte last went out or a reply came in.
    last_progress: Instant,
    /// Largest event the server takes.
    max_bulk: usize,
}

pub struct RedisTransport {
    hosts: HostSet,
    timeout: Duration,
    tls: Option<Arc<TlsSettings>>,
    interrupter: Interrupter,
    waker: Waker,
    key: Vec<u8>,
    greeting: Arc<Greeting>,
    link: Option<Link>,
    /// A connection attempt while one runs: (host, attempt).
    connecting: Option<(usize, Connecting<Link>)>,
    connects: u64,
    /// What happened since the worker last polled.
    outcomes: Vec<Outcome>,
}

impl RedisTransport {
    pub fn new(
        hosts: HostSet,
        config: &Config,
        tls: Option<TlsSettings>,
        interrupter: Interrupter,
    ) -> RedisTransport {
        RedisTransport {
            hosts,
            timeout: config.socket_timeout,
            tls: tls.map(Arc::new),
            interrupter,
            waker: Waker::none(),
            key: config.redis.key.as_bytes().to_vec(),
            greeting: Arc::new(Greeting {
                db: config.redis.db,
                username: config.http.username.clone(),
                password: config.http.password.as_ref().map(|p| p.0.clone()),
            }),
            link: None,
            connecting: None,
            connects: 0,
            outcomes: Vec::new(),
        }
    }

    /// Starts connecting to the best host (on a thread; `poll` takes the
    /// result). A failed host is skipped next time while another is healthy.
    fn connect(&mut self, now: Instant) {
        if self.connecting.is_some() {
            return;
        }
        let host = self.hosts.order(now)[0];
        let attempt = open::open(
            host,
            self.hosts.endpoint(host).clone(),
            self.timeout,
            self.tls.clone(),
            &self.interrupter,
            Arc::clone(&self.greeting),
        );
        self.connecting = Some((host, Connecting::start(attempt, self.waker.clone())));
    }

    /// A connection attempt that ended: the link, or a failure reported.
    fn take_connection(&mut self, now: Instant) {
        let Some(result) = self.connecting.as_ref().and_then(|(_, c)| c.take()) else {
            return;
        };
        let (host, _) = self.connecting.take().expect("checked");
        match result {
            Ok(link) => {
                self.hosts.succeeded(host);
                self.connects += 1;
                self.link = Some(link);
            }
            Err(e) => {
                self.hosts.failed(host, now);
                let mut e = SendError::new(format!("redis {}: {e}", self.hosts.endpoint(host)));
                e.another_host_ready = self.hosts.other_healthy(host, now);
                self.outcomes.push(Outcome::Failed(e));
            }
        }
    }

    /// True while written commands wait for their replies.
    fn awaiting_replies(&self) -> bool {
        self.link.as_ref().is_some_and(|l| !l.pending.is_empty())
    }

    /// Closes the link: unconfirmed commands are void, their batches return.
    fn fail(&mut self, message: String) {
        let mut e = SendError::new(message);
        if let Some(link) = self.link.take() {
            let now = Instant::now();
            self.hosts.failed(link.host, now);
            e.another_host_ready = self.hosts.other_healthy(link.host, now);
            for p in &link.pending {
                self.outcomes.push(Outcome::Returned {
                    ticket: p.ticket,
                    finished: 0,
                    rejected: 0,
                    written: true,
                });
            }
            link.conn.close(&link.slot);
        }
        self.outcomes.push(Outcome::Failed(e));
    }

    /// Reads the replies that arrived; completes batches in order.
    fn read_replies(&mut self, now: Instant) -> Result<(), ()> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let outcome = link.pump(self.timeout).and_then(|()| link.receive());
        let mut refused = 0u32;
        let mut result = outcome;
        while result.is_ok() {
            match resp::parse(&link.input) {
                Ok(Some((reply, used))) => {
                    link.input.drain(..used);
                    link.last_progress = now;
                    let Some(p) = link.pending.pop_front() else {
                        result = Err("a reply to no command".into());
                        break;
                    };
                    match reply {
                        Reply::Integer(_) => {
                            refused += p.refused;
                            self.outcomes.push(Outcome::Done {
                                ticket: p.ticket,
                                rejected: p.refused,
                            });
                        }
                        Reply::Error(e) => {
                            let key = String::from_utf8_lossy(&self.key);
                            result = Err(format!("RPUSH {key}: {e}"));
                        }
                        other => result = Err(format!("RPUSH: unexpected reply {other:?}")),
                    }
                }
                Ok(None) => break,
                Err(e) => result = Err(format!("not a Redis reply: {e}")),
            }
        }
        if refused > 0 {
            self.outcomes.push(Outcome::Rejected(format!(
                "{refused} events larger than the server's proto-max-bulk-len"
            )));
        }
        if result.is_ok()
            && !link.pending.is_empty()
            && now.duration_since(link.last_progress) > self.timeout
        {
            result = Err(format!("no reply for {:.1}s", self.timeout.as_secs_f64()));
        }
        let host = link.host;
        result.map_err(|e| {
            let endpoint = self.hosts.endpoint(host).to_string();
            self.fail(format!("redis {endpoint}: {e}"))
        })
    }

    /// Writes `batch` as one RPUSH on the link (connected).
    fn push(&mut self, batch: &Batch) {
        let link = self.link.as_mut().expect("connected");
        let max = link.max_bulk;
        let events: Vec<&[u8]> = batch.events().filter(|e| e.len() <= max).collect();
        let refused = batch.len().saturating_sub(events.len() as u32);
        if events.is_empty() {
            self.outcomes.push(Outcome::Rejected(format!(
                "{refused} events larger than the server's proto-max-bulk-len ({max} bytes)"
            )));
            self.outcomes.push(Outcome::Done {
                ticket: batch.ticket,
                rejected: refused,
            });
            return;
        }
        let head: [&[u8]; 2] = [b"RPUSH", &self.key];
        let args = head.iter().copied().chain(events.iter().copied());
        resp::command(&mut link.output, ExactChain(args, 2 + events.len()));
        if link.pending.is_empty() {
            link.last_progress = Instant::now();
        }
        link.pending.push_back(Pending {
            ticket: batch.ticket,
            refused,
        });
        if let Err(e) = link.pump(self.timeout) {
            let endpoint = self.hosts.endpoint(link.host).to_string();
            self.fail(format!("redis {endpoint}: {e}"));
        }
        // (Replies are read by poll.)
    }
}

impl Link {
    /// Sends one command and waits for its reply (handshake only).
    fn call(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        let mut out = Vec::new();
        resp::command(&mut out, args.iter().copied());
        self.conn
            .write_all(&out)
            .map_err(|e| format!("send: {e}"))?;
        loop {
            if let Some((reply, used)) = resp::parse(&self.input)? {
                self.input.drain(..used);
                return Ok(reply);
            }
            let mut buf = [0u8; 4096];
            match self.conn.read(&mut buf) {
                Ok(0) => return Err("connection closed by the server".into()),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
    }

    /// Writes buffered output; a blocked write returns after WRITE_SLICE.
    /// Fails only when nothing could be written for `timeout`.
    fn pump(&mut self, timeout: Duration) -> Result<(), String> {
        while self.out_pos < self.output.len() {
            match self.conn.write(&self.output[self.out_pos..]) {
                Ok(0) => return Err("send: connection closed".into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        if self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
        } else if self.out_pos > self.output.len() / 2 {
            self.output.drain(..self.out_pos);
            self.out_pos = 0;
        }
        if self.out_pos < self.output.len() && self.last_progress.elapsed() > timeout {
            return Err(format!(
                "the server took no data for {:.1}s",
                timeout.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Reads whatever arrived, without blocking.
    fn receive(&mut self) -> Result<(), String> {
        let _ = self.conn.tcp().set_nonblocking(true);
        let mut buf = [0u8; 16384];
        let outcome = loop {
            match self.conn.read(&mut buf) {
                Ok(0) => break Err("connection closed by the server".to_string()),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(format!("receive: {e}")),
            }
        };
        let _ = self.conn.tcp().set_nonblocking(false);
        outcome
    }
}

impl Transport for RedisTransport {
    fn start(&mut self, waker: Waker) {
        self.waker = waker;
    }

    fn capacity(&self, _now: Instant) -> Option<Capacity> {
        if self.link.is_none() && self.connecting.is_some() {
            return None;
        }
        let ready = self.link.as_ref().is_none_or(|l| {
            l.output.len() - l.out_pos < MAX_PENDING_OUTPUT
                && l.pending.len() < MAX_PENDING_COMMANDS
        });
        ready.then_some(Capacity {
            max_events: u32::MAX,
            max_bytes: MAX_BATCH_BYTES,
        })
    }

    fn submit(&mut self, batch: Batch, now: Instant) {
        if self.link.is_none() {
            self.connect(now);
            self.outcomes.push(Outcome::unsent(batch.ticket));
            return;
        }
        self.push(&batch);
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Outcome>) {
        self.take_connection(now);
        let _ = self.read_replies(now);
        out.append(&mut self.outcomes);
    }

    fn next_poll(&self, now: Instant) -> Option<Instant> {
        let owed = self
            .link
            .as_ref()
            .is_some_and(|l| !l.pending.is_empty() || l.out_pos < l.output.len());
        owed.then_some(now + REPLY_POLL)
    }

    fn connections_opened(&self) -> u64 {
        self.connects
    }

    fn close(&mut self, deadline: Instant, out: &mut Vec<Outcome>) {
        while self.awaiting_replies() && Instant::now() < deadline {
            if self.read_replies(Instant::now()).is_err() {
                break;
            }
            if let Some(link) = &self.link {
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(20));
                // Wait for the next reply without spinning.
                let mut pfd = libc::pollfd {
                    fd: std::os::unix::io::AsRawFd::as_raw_fd(link.conn.tcp()),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for an open descriptor.
                unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
            }
        }
        if let Some(link) = self.link.take() {
            link.conn.close(&link.slot);
        }
        out.append(&mut self.outcomes);
    }
}

/// An iterator of known length (the command's argument count).
struct ExactChain<I>(I, usize);

impl<I: Iterator> Iterator for ExactChain<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let item = self.0.next()?;
        self.1 -= 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for ExactChain<I> {}
