//! A TLS front for a plain receiver: accepts TLS on its own port (the test
//! PKI's server certificate) and relays bytes both ways to a backend port, as
//! a TLS-terminating load balancer in front of Logstash would.

use super::listener::{accept_tls, bind_any, is_timeout, Listener};
use super::pki::Pki;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct TlsRelay {
    pub port: u16,
    _listener: Listener,
}

impl TlsRelay {
    pub fn start(pki: &Pki, backend: u16) -> TlsRelay {
        TlsRelay::start_with(pki.acceptor(), backend)
    }

    /// The same, with an acceptor of the test's own (another certificate,
    /// other protocol versions).
    pub fn start_with(acceptor: native_tls::TlsAcceptor, backend: u16) -> TlsRelay {
        let listener = Listener::serve(bind_any(), move |tcp, _, stop| {
            let Some(mut tls) = accept_tls(&acceptor, tcp, stop) else {
                return;
            };
            let Ok(mut back) = TcpStream::connect(("127.0.0.1", backend)) else {
                return;
            };
            // One thread, both directions: short read timeouts on each side.
            let tick = Some(Duration::from_millis(2));
            tls.get_ref().set_read_timeout(tick).unwrap();
            back.set_read_timeout(tick).unwrap();
            let mut buf = vec![0u8; 64 << 10];
            while !stop.is_set() {
                match tls.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if back.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
                match back.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tls.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
        });
        TlsRelay {
            port: listener.port,
            _listener: listener,
        }
    }
}
