//! UDP: one JSON document per datagram, fire and forget (as the original).
//!
//! A datagram that is sent is considered delivered: UDP cannot know better. An
//! event larger than the largest datagram is counted as dropped, not retried.

use super::{Rejection, SendError, Sent, Transport};
use crate::buffer::Chunk;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Instant;

/// The largest UDP payload over IPv4 (65535 - 8 byte UDP - 20 byte IP header).
pub const MAX_DATAGRAM: usize = 65_507;

pub struct UdpTransport {
    host: String,
    port: u16,
    socket: Option<(UdpSocket, SocketAddr)>,
    /// Events of the last send too large for a datagram.
    rejection: Option<Rejection>,
}

impl UdpTransport {
    pub fn new(host: String, port: u16) -> UdpTransport {
        UdpTransport {
            host,
            port,
            socket: None,
            rejection: None,
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
}

impl Transport for UdpTransport {
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        if self.socket.is_none() {
            self.open()?;
        }
        let (socket, addr) = self.socket.as_ref().expect("opened above");
        let mut rejected = 0;
        let mut largest = 0;
        let result = (|| {
            for (i, event) in chunk.events().enumerate() {
                if event.len() > MAX_DATAGRAM {
                    rejected += 1;
                    largest = largest.max(event.len());
                    continue;
                }
                // Unconnected send_to: a closed port on the receiver (ICMP) must not
                // fail later sends, as it would on a connected socket.
                if let Err(e) = socket.send_to(event, addr) {
                    return Err(SendError {
                        message: format!("udp send to {addr}: {e}"),
                        delivered_prefix: i as u32,
                        another_host_ready: false,
                    });
                }
            }
            Ok(Sent::Delivered { rejected })
        })();
        if result.is_err() {
            self.socket = None;
        }
        if rejected > 0 {
            // After a failure the skipped events lie within the failed
            // send's delivered prefix: they are dropped, not delivered.
            self.rejection = Some(Rejection {
                in_failed_prefix: if result.is_err() { rejected } else { 0 },
                message: format!(
                    "{rejected} event(s) larger than a UDP datagram ({largest} > {MAX_DATAGRAM} bytes)"
                ),
            });
        }
        result
    }

    fn take_rejection(&mut self) -> Option<Rejection> {
        self.rejection.take()
    }

    fn close(&mut self, _deadline: Instant) -> u64 {
        self.socket = None;
        u64::MAX
    }
}
