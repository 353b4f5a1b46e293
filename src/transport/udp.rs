//! UDP: one JSON document per datagram, fire and forget (as the original).
//!
//! A datagram that is sent is considered delivered: UDP cannot know better. An
//! event larger than the largest datagram is counted as dropped, not retried.

use super::{SendError, Sent, Transport};
use crate::buffer::Chunk;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Instant;

/// The largest UDP payload over IPv4 (65535 - 8 byte UDP - 20 byte IP header).
pub const MAX_DATAGRAM: usize = 65_507;

pub struct UdpTransport {
    host: String,
    port: u16,
    socket: Option<(UdpSocket, SocketAddr)>,
}

impl UdpTransport {
    pub fn new(host: String, port: u16) -> UdpTransport {
        UdpTransport {
            host,
            port,
            socket: None,
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
        for (i, event) in chunk.events().enumerate() {
            if event.len() > MAX_DATAGRAM {
                rejected += 1;
                continue;
            }
            // Unconnected send_to: a closed port on the receiver (ICMP) must not
            // fail later sends, as it would on a connected socket.
            if let Err(e) = socket.send_to(event, addr) {
                let e = SendError {
                    message: format!("udp send to {addr}: {e}"),
                    delivered_prefix: i as u32,
                    another_host_ready: false,
                };
                self.socket = None;
                return Err(e);
            }
        }
        Ok(Sent::Delivered { rejected })
    }

    fn close(&mut self, _deadline: Instant) -> u64 {
        self.socket = None;
        u64::MAX
    }
}
