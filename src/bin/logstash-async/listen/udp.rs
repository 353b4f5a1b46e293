//! UDP: one event per datagram (a trailing newline, or several lines, are
//! tolerated: each non-empty line is an event).

use super::Events;
use std::net::{SocketAddr, UdpSocket};

pub fn serve(address: SocketAddr, events: Events) -> std::io::Result<SocketAddr> {
    let socket = UdpSocket::bind(address)?;
    let bound = socket.local_addr()?;
    std::thread::Builder::new()
        .name("udp".into())
        .spawn(move || {
            let mut datagram = vec![0u8; 65536];
            loop {
                let Ok((n, _)) = socket.recv_from(&mut datagram) else {
                    continue;
                };
                for line in datagram[..n].split(|b| *b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if !line.is_empty() && events.send(line.to_vec()).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(bound)
}
