//! Stream transports (tcp, tls over it, and beats): any number of
//! connections, one thread each; tcp and tls carry one JSON document per line.

use super::tls::Acceptor;
use super::Events;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A line longer than this is cut off (the rest of the line is dropped): a
/// test receiver must not be made to hold unbounded memory.
const MAX_LINE: usize = 64 << 20;

/// Counts the open connections (so `--count` can let senders close first).
#[derive(Clone, Default)]
pub struct OpenConnections(Arc<AtomicUsize>);

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Held by a connection's thread: the count drops when the thread ends.
struct Open(OpenConnections);

impl Drop for Open {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection carries.
#[derive(Clone, Copy)]
pub enum Protocol {
    /// One JSON document per line (Logstash's tcp input, json_lines).
    Lines,
    /// Lumberjack v2 windows (Logstash's beats input).
    Beats,
}

pub fn serve(
    address: SocketAddr,
    tls: Option<Acceptor>,
    protocol: Protocol,
    events: Events,
    open: OpenConnections,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    let tls = tls.map(Arc::new);
    std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (tls, events) = (tls.clone(), events.clone());
                open.0.fetch_add(1, Ordering::AcqRel);
                let guard = Open(open.clone());
                let _ = std::thread::Builder::new()
                    .name("connection".into())
                    .spawn(move || {
                        let _guard = guard;
                        connection(stream, tls.as_deref(), protocol, &events)
                    });
            }
        })?;
    Ok(bound)
}

fn connection(stream: TcpStream, tls: Option<&Acceptor>, protocol: Protocol, events: &Events) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    match (tls, protocol) {
        (None, Protocol::Beats) => super::beats::read_windows(stream, events),
        (None, Protocol::Lines) => read_lines(stream, events),
        (Some(acceptor), _) => match acceptor.accept(stream) {
            Ok(tls_stream) => read_lines(tls_stream, events),
            Err(e) => eprintln!("logstash-async: TLS handshake with {peer} failed: {e}"),
        },
    }
}

fn read_lines(stream: impl Read, events: &Events) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') && line.len() >= MAX_LINE {
            // Skip the rest of an over-long line.
            let mut rest = Vec::new();
            if reader.read_until(b'\n', &mut rest).is_err() {
                return;
            }
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        if events.send(text.to_vec()).is_err() {
            return; // the printer is done (--count reached)
        }
    }
}
