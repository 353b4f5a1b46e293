//! A UDP receiver (Logstash's udp input): one event per datagram, recorded
//! in arrival order, with a receive buffer large enough for bursts.

use super::listener::set_socket_option;
use super::wait_until;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct UdpSink {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpSink {
    pub fn start() -> UdpSink {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let size: libc::c_int = 8 << 20;
        set_socket_option(&socket, libc::SO_RCVBUF, &size);
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, s2) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            while !s2.load(Ordering::Acquire) {
                if let Ok(n) = socket.recv(&mut buf) {
                    l2.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        });
        UdpSink {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` datagrams arrived; returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_until(timeout, || self.lines.lock().unwrap().len() >= n);
        self.lines()
    }
}

impl Drop for UdpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
