//! Redis: each event appended to a list (`RPUSH redis_key`), the layout
//! Logstash's redis input reads with `data_type => "list"` (it pops from the
//! head, so order is kept).
//!
//! A chunk is one RPUSH with one argument per event: atomic on the server, all
//! or nothing. Commands are pipelined: written without waiting (`Sent::Written`),
//! and each integer reply confirms one chunk, in order. A lost connection, an
//! error reply (OOM, WRONGTYPE, NOAUTH, a read-only replica) or no reply for
//! `socket_timeout` voids what is unconfirmed: the worker sends it again after
//! its backoff (at least once: a reply lost with the connection means a resend
//! of events Redis has). Events larger than the server's `proto-max-bulk-len`
//! (asked once per connection) are refused, counted and reported.
//!
//! Why no `redis` crate: this needs three commands and four reply types (about
//! 100 lines, resp.rs), while the connection is the project's own (stream.rs:
//! TLS with the same options as tcp and beats, the shutdown interrupter, hosts
//! failover with per-host backoff), which the crate would replace with its
//! own, and a dozen crates more in the build.

mod resp;

use super::hosts::HostSet;
use super::stream::Conn;
use super::tls::TlsSettings;
use super::{Interrupter, Rejection, SendError, Sent, Transport};
use crate::buffer::Chunk;
use crate::config::Config;
use resp::Reply;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// The longest one write may block the worker.
const WRITE_SLICE: Duration = Duration::from_millis(20);
/// Unwritten bytes beyond which the transport takes no new chunk.
const MAX_PENDING_OUTPUT: usize = 4 << 20;
/// Commands awaiting a reply beyond which the transport takes no new chunk.
const MAX_PENDING_COMMANDS: usize = 1024;
/// Redis's default `proto-max-bulk-len`, assumed when CONFIG is not allowed.
const DEFAULT_MAX_BULK: usize = 512 << 20;

/// A command written (or queued) whose reply has not arrived.
struct Pending {
    ticket: u64,
    /// Events of the chunk refused before sending (reported on confirmation).
    refused: u32,
}

/// The connection to one host with its output and the replies it owes.
struct Link {
    conn: Conn,
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
    tls: Option<TlsSettings>,
    interrupter: Interrupter,
    key: Vec<u8>,
    db: u32,
    username: Option<String>,
    password: Option<String>,
    link: Option<Link>,
    tickets: u64,
    confirmed: u64,
    connects: u64,
    rejection: Option<Rejection>,
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
            tls,
            interrupter,
            key: config.redis.key.as_bytes().to_vec(),
            db: config.redis.db,
            username: config.http.username.clone(),
            password: config.http.password.as_ref().map(|p| p.0.clone()),
            link: None,
            tickets: 0,
            confirmed: 0,
            connects: 0,
            rejection: None,
        }
    }

    /// Connects to the first host that answers and completes the handshake.
    fn connect(&mut self) -> Result<(), SendError> {
        let now = Instant::now();
        let mut last = String::new();
        for i in self.hosts.order(now) {
            let endpoint = self.hosts.endpoint(i).clone();
            match self.open(i) {
                Ok(link) => {
                    self.hosts.succeeded(i);
                    self.connects += 1;
                    self.link = Some(link);
                    return Ok(());
                }
                Err(e) => {
                    self.hosts.failed(i, now);
                    last = format!("redis {endpoint}: {e}");
                }
            }
        }
        Err(SendError::new(last))
    }

    /// One connection: AUTH, SELECT and the bulk limit, answered in turn.
    fn open(&mut self, host: usize) -> Result<Link, String> {
        let endpoint = self.hosts.endpoint(host);
        let conn = Conn::connect(endpoint, self.timeout, self.tls.as_ref(), &self.interrupter)?;
        let mut link = Link {
            conn,
            host,
            output: Vec::new(),
            out_pos: 0,
            input: Vec::new(),
            pending: VecDeque::new(),
            last_progress: Instant::now(),
            max_bulk: DEFAULT_MAX_BULK,
        };
        let result = self.handshake(&mut link);
        if let Err(e) = result {
            link.conn.close(&self.interrupter);
            return Err(e);
        }
        // Writes after the handshake block at most WRITE_SLICE (see pump).
        let _ = link.conn.tcp().set_write_timeout(Some(WRITE_SLICE));
        Ok(link)
    }

    fn handshake(&self, link: &mut Link) -> Result<(), String> {
        if let Some(password) = &self.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &self.username {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            match link.call(&args)? {
                Reply::Status(_) => {}
                Reply::Error(e) => return Err(format!("authentication refused: {e}")),
                other => return Err(format!("AUTH: unexpected reply {other:?}")),
            }
        }
        if self.db != 0 {
            match link.call(&[b"SELECT", self.db.to_string().as_bytes()])? {
                Reply::Status(_) => {}
                Reply::Error(e) => return Err(format!("SELECT {}: {e}", self.db)),
                other => return Err(format!("SELECT: unexpected reply {other:?}")),
            }
        }
        // An ACL user may not run CONFIG (nor a managed service allow it):
        // then the default limit is assumed.
        match link.call(&[b"CONFIG", b"GET", b"proto-max-bulk-len"])? {
            Reply::Array(items) => {
                if let Some(Reply::Bulk(Some(v))) = items.get(1) {
                    if let Some(n) = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
                        link.max_bulk = n;
                    }
                }
            }
            Reply::Error(e) if e.starts_with("NOAUTH") => {
                return Err(format!("authentication required (set password): {e}"))
            }
            _ => {}
        }
        Ok(())
    }

    /// True while written commands wait for their replies.
    fn awaiting_replies(&self) -> bool {
        self.link.as_ref().is_some_and(|l| !l.pending.is_empty())
    }

    /// Closes the link: unconfirmed commands are void.
    fn fail(&mut self, message: String) -> SendError {
        let mut e = SendError::new(message);
        if let Some(link) = self.link.take() {
            let now = Instant::now();
            self.hosts.failed(link.host, now);
            e.another_host_ready = self.hosts.other_healthy(link.host, now);
            link.conn.close(&self.interrupter);
        }
        e
    }

    /// Reads the replies that arrived; confirms chunks in order.
    fn read_replies(&mut self, now: Instant) -> Result<(), SendError> {
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
                            self.confirmed = p.ticket;
                            refused += p.refused;
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
            self.rejection = Some(Rejection {
                in_failed_prefix: refused,
                message: format!("{refused} events larger than the server's proto-max-bulk-len"),
            });
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
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        if self.link.is_none() {
            self.connect()?;
        }
        let link = self.link.as_mut().expect("connected");
        let max = link.max_bulk;
        let events: Vec<&[u8]> = chunk.events().filter(|e| e.len() <= max).collect();
        let refused = chunk.count.saturating_sub(events.len() as u32);
        if events.is_empty() {
            self.rejection = Some(Rejection {
                in_failed_prefix: 0,
                message: format!(
                    "{refused} events larger than the server's proto-max-bulk-len ({max} bytes)"
                ),
            });
            return Ok(Sent::Delivered { rejected: refused });
        }
        let head: [&[u8]; 2] = [b"RPUSH", &self.key];
        let args = head.iter().copied().chain(events.iter().copied());
        resp::command(&mut link.output, ExactChain(args, 2 + events.len()));
        self.tickets += 1;
        if link.pending.is_empty() {
            link.last_progress = Instant::now();
        }
        link.pending.push_back(Pending {
            ticket: self.tickets,
            refused,
        });
        if let Err(e) = link.pump(self.timeout) {
            let endpoint = self.hosts.endpoint(link.host).to_string();
            return Err(self.fail(format!("redis {endpoint}: {e}")));
        }
        // (Replies are read by confirmed_through.)
        Ok(Sent::Written {
            ticket: self.tickets,
        })
    }

    fn confirmed_through(&mut self, now: Instant) -> Result<u64, SendError> {
        self.read_replies(now)?;
        Ok(self.confirmed)
    }

    fn ready(&self) -> bool {
        self.link.as_ref().is_none_or(|l| {
            l.output.len() - l.out_pos < MAX_PENDING_OUTPUT
                && l.pending.len() < MAX_PENDING_COMMANDS
        })
    }

    fn take_rejection(&mut self) -> Option<Rejection> {
        self.rejection.take()
    }

    fn connections_opened(&self) -> u64 {
        self.connects
    }

    fn close(&mut self, deadline: Instant) -> u64 {
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
            link.conn.close(&self.interrupter);
        }
        self.confirmed
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
