//! A small real HTTP/1.1 server on loopback for the http transport tests:
//! keep-alive, Content-Length bodies, optional TLS (native-tls acceptor), and
//! scripted responses (status and body per request, then 200). It records
//! every request. Every blocking read has a timeout and every loop a bound.
#![allow(dead_code)]

#[path = "../support/pki.rs"]
mod pki;

use native_tls::TlsAcceptor;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which connection (1, 2, ...) carried it.
    pub connection: usize,
    /// The status the server answered with.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as the JSON array of events it must be.
    pub fn events(&self) -> Vec<serde_json::Value> {
        match serde_json::from_slice(&self.body) {
            Ok(serde_json::Value::Array(items)) => items,
            other => panic!(
                "body is not a JSON array ({other:?}): {}",
                String::from_utf8_lossy(&self.body)
            ),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    script: VecDeque<(u16, String)>,
}

pub struct HttpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    pub connections: Arc<AtomicUsize>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Answers the scripted responses in order, then 200 "ok".
    pub fn start(script: &[(u16, &str)], tls: Option<TlsAcceptor>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: script.iter().map(|(s, b)| (*s, b.to_string())).collect(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let tls = tls.map(Arc::new);
        let (st, sp, cn, ss) = (
            state.clone(),
            stop.clone(),
            connections.clone(),
            streams.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !sp.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_secs(20)))
                            .unwrap();
                        ss.lock().unwrap().push(stream.try_clone().unwrap());
                        let id = cn.fetch_add(1, Ordering::SeqCst) + 1;
                        let (st, tls) = (st.clone(), tls.clone());
                        workers.push(std::thread::spawn(move || match tls {
                            None => serve(stream, id, &st),
                            Some(acceptor) => {
                                if let Ok(tls_stream) = acceptor.accept(stream) {
                                    serve(tls_stream, id, &st);
                                }
                            }
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        HttpServer {
            port,
            state,
            stop,
            connections,
            streams,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every event of every 2xx-answered request, in arrival order.
    pub fn accepted_events(&self) -> Vec<serde_json::Value> {
        self.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.events())
            .collect()
    }

    /// Waits (bounded) until `n` events were accepted; returns them.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.accepted_events();
            if events.len() >= n || Instant::now() >= deadline {
                return events;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for s in self.streams.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves requests on one connection until the peer closes it (or a read fails).
fn serve<S: Read + Write>(mut stream: S, connection: usize, state: &Mutex<State>) {
    let mut buf = Vec::new();
    for _ in 0..100_000 {
        let Some(request) = read_request(&mut stream, &mut buf, connection) else {
            return;
        };
        let (status, body) = state
            .lock()
            .unwrap()
            .script
            .pop_front()
            .unwrap_or((200, "ok".to_owned()));
        state
            .lock()
            .unwrap()
            .requests
            .push(Request { status, ..request });
        let response = format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
    }
}

fn read_request<S: Read>(stream: &mut S, buf: &mut Vec<u8>, connection: usize) -> Option<Request> {
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().expect("numeric Content-Length"))
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Some(Request {
        method,
        path,
        headers,
        body,
        connection,
        status: 0,
    })
}

/// A private CA and a server certificate for localhost/127.0.0.1 (the test
/// PKI the TLS tests use), in `dir`. Returns (the CA file, an acceptor).
pub fn test_pki(dir: &std::path::Path) -> (std::path::PathBuf, TlsAcceptor) {
    let pki = pki::Pki::create(dir);
    let cert = std::fs::read(pki.path("server.crt")).unwrap();
    let key = std::fs::read(pki.path("server.key")).unwrap();
    let identity = native_tls::Identity::from_pkcs8(&cert, &key).expect("server identity");
    (
        std::path::PathBuf::from(pki.path("ca.crt")),
        TlsAcceptor::new(identity).expect("TLS acceptor"),
    )
}
