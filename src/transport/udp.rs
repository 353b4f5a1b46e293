//! UDP: one JSON document per datagram, fire and forget (as the original).
//!
//! A datagram that is sent is considered delivered: UDP cannot know better. An
//! event larger than the largest datagram is counted as dropped, not retried.

use super::{Batch, Capacity, Outcome, SendError, Transport};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Instant;

/// The largest UDP payload over IPv4 (65535 - 8 byte UDP - 20 byte IP header).
pub const MAX_DATAGRAM: usize = 65_507;

pub struct UdpTransport {
    host: String,
    port: u16,
    socket: Option<(UdpSocket, SocketAddr)>,
    /// What the last sends did, until the worker polls.
    outcomes: Vec<Outcome>,
}

impl UdpTransport {
    pub fn new(host: String, port: u16) -> UdpTransport {
        UdpTransport {
            host,
            port,
            socket: None,
            outcomes: Vec::new(),
        }
    }

    fn open(&mut self) -> Result<(), SendError> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| SendError::new(format!("resolve {}:{}: {e}", self.host, self.port)))?
            .next()
            .ok_or_else(|| SendError::new(format!("{}:{}: no address", self.host, self.port)))?;
        let bind: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let socket =
            UdpSocket::bind(bind).map_err(|e| SendError::new(format!("udp socket: {e}")))?;
        self.socket = Some((socket, addr));
        Ok(())
    }

    /// Sends every event of the batch: (events sent or refused, refused,
    /// the largest refused, the error that stopped it).
    fn send_all(&mut self, batch: &Batch) -> (u32, u32, usize, Option<SendError>) {
        if self.socket.is_none() {
            if let Err(e) = self.open() {
                return (0, 0, 0, Some(e));
            }
        }
        let (socket, addr) = self.socket.as_ref().expect("opened above");
        let (mut done, mut rejected, mut largest) = (0, 0, 0);
        let mut error = None;
        for event in batch.events() {
            if event.len() > MAX_DATAGRAM {
                rejected += 1;
                largest = largest.max(event.len());
            } else if let Err(e) = socket.send_to(event, addr) {
                // Unconnected send_to: a closed port on the receiver (ICMP)
                // does not fail later sends, as it would on a connected socket.
                error = Some(SendError::new(format!("udp send to {addr}: {e}")));
                break;
            }
            done += 1;
        }
        if error.is_some() {
            self.socket = None;
        }
        (done, rejected, largest, error)
    }
}

impl Transport for UdpTransport {
    fn capacity(&self, _now: Instant) -> Option<Capacity> {
        Some(Capacity {
            max_events: u32::MAX,
            max_bytes: usize::MAX,
        })
    }

    fn submit(&mut self, batch: Batch, _now: Instant) {
        let ticket = batch.ticket;
        let (finished, rejected, largest, error) = self.send_all(&batch);
        if rejected > 0 {
            self.outcomes.push(Outcome::Rejected(format!(
                "{rejected} event(s) larger than a UDP datagram ({largest} > {MAX_DATAGRAM} bytes)"
            )));
        }
        match error {
            None => self.outcomes.push(Outcome::Done { ticket, rejected }),
            Some(e) => {
                self.outcomes.push(Outcome::Failed(e));
                self.outcomes.push(Outcome::Returned {
                    ticket,
                    finished,
                    rejected,
                    written: false,
                });
            }
        }
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Outcome>) {
        out.append(&mut self.outcomes);
    }

    fn close(&mut self, _deadline: Instant, out: &mut Vec<Outcome>) {
        out.append(&mut self.outcomes);
        self.socket = None;
    }
}
