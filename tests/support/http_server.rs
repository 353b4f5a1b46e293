//! A small real HTTP/1.1 receiver on loopback (Logstash's http input):
//! keep-alive connections served at once, Content-Length bodies (gzip ones
//! decoded), optional TLS, and scripted answers (status, headers, body) per
//! request or per Nth request, each after an optional delay. Like a remote
//! Logstash it goes on reading requests, and accepting connections, while
//! earlier ones wait for their answer; answers on a connection keep its
//! request order. It records every request with its headers.

use super::listener::{
    accept_tls, bind_any, bind_port, read_some, Got, Listener, Socket, Stop, TICK,
};
use super::wait_until;
use flate2::read::GzDecoder;
use native_tls::TlsAcceptor;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest body (as sent, and decompressed) and largest request head.
const MAX_BODY: usize = 256 << 20;
const MAX_HEAD: usize = 64 << 10;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, decompressed when it came with `Content-Encoding: gzip`.
    pub body: Vec<u8>,
    /// The body's length on the wire.
    pub wire_len: usize,
    /// Which connection (1, 2, ...) carried it.
    pub connection: usize,
    /// Its place (1, 2, ...) among all requests, in arrival order.
    pub number: usize,
    /// The status the server answered with.
    pub status: u16,
    pub received: Instant,
    pub answered: Instant,
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

/// One answer: status, extra headers, body, and when to send it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Overrides [`HttpBehaviour::delay`] for this answer.
    pub delay: Option<Duration>,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            delay: None,
        }
    }

    pub fn ok() -> Answer {
        Answer::new(200, "ok")
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Retry-After: seconds`.
    pub fn retry_after(self, seconds: u64) -> Answer {
        self.header("Retry-After", &seconds.to_string())
    }

    pub fn delayed(mut self, delay: Duration) -> Answer {
        self.delay = Some(delay);
        self
    }
}

/// How the server answers. Requests are numbered 1, 2, ... in arrival order
/// over the server's life: request k gets `script[k - 1]` if there is one,
/// else the answer of the first `every` entry (n, _) with k a multiple of n,
/// else 200 "ok".
#[derive(Clone, Default)]
pub struct HttpBehaviour {
    /// Every answer goes out this long after its request arrived (a latency).
    pub delay: Duration,
    pub script: Vec<Answer>,
    pub every: Vec<(usize, Answer)>,
    pub tls: Option<TlsAcceptor>,
}

impl HttpBehaviour {
    fn answer(&self, number: usize) -> Answer {
        if let Some(a) = self.script.get(number - 1) {
            return a.clone();
        }
        self.every
            .iter()
            .find(|(n, _)| *n > 0 && number.is_multiple_of(*n))
            .map_or_else(Answer::ok, |(_, a)| a.clone())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    arrived: usize,
    /// Requests read and not yet answered, now and at most.
    in_flight: usize,
    max_in_flight: usize,
}

pub struct HttpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    listener: Listener,
}

impl HttpServer {
    /// Answers the scripted responses (status, body) in order, then 200 "ok".
    pub fn start(script: &[(u16, &str)], tls: Option<TlsAcceptor>) -> HttpServer {
        Self::start_with(HttpBehaviour {
            script: script.iter().map(|(s, b)| Answer::new(*s, b)).collect(),
            tls,
            ..HttpBehaviour::default()
        })
    }

    pub fn start_with(behaviour: HttpBehaviour) -> HttpServer {
        Self::serve(bind_any(), behaviour)
    }

    /// Listens on a given port (a restart), retrying while it is still taken.
    pub fn start_on(port: u16, behaviour: HttpBehaviour) -> HttpServer {
        Self::serve(bind_port(port), behaviour)
    }

    fn serve(listener: TcpListener, behaviour: HttpBehaviour) -> HttpServer {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let listener = Listener::serve(listener, move |stream, id, stop| {
            let mut connection = Connection {
                id,
                state: &shared,
                behaviour: &behaviour,
                stop,
                pending: VecDeque::new(),
            };
            match &behaviour.tls {
                None => connection.run(stream),
                Some(acceptor) => {
                    if let Some(tls) = accept_tls(acceptor, stream, stop) {
                        connection.run(tls)
                    }
                }
            }
        });
        HttpServer {
            port: listener.port,
            state,
            listener,
        }
    }

    /// Every answered request, in the order of the answers.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// The most requests that were read and not yet answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Every event of every 2xx-answered request, in answer order.
    pub fn accepted_events(&self) -> Vec<serde_json::Value> {
        self.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.events())
            .collect()
    }

    /// Stops abruptly (requests waiting for their answer never get one);
    /// returns the events of every 2xx-answered request.
    pub fn kill(mut self) -> Vec<serde_json::Value> {
        self.listener.stop();
        self.accepted_events()
    }

    /// Waits (bounded) until `n` events were accepted; returns them.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        wait_until(timeout, || self.accepted_events().len() >= n);
        self.accepted_events()
    }
}

/// A request waiting for its answer.
struct Pending {
    request: Request,
    answer: Answer,
    due: Instant,
}

struct Connection<'a> {
    id: usize,
    state: &'a Mutex<State>,
    behaviour: &'a HttpBehaviour,
    stop: &'a Stop,
    pending: VecDeque<Pending>,
}

impl Connection<'_> {
    /// Reads requests and answers them when due, until the peer closes (and
    /// every answer is out), a request is malformed, or the server stops.
    fn run(&mut self, mut stream: impl Socket) {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        let mut reading = true;
        while !self.stop.is_set() {
            if !self.answer_due(&mut stream) {
                return;
            }
            let next = self.pending.front().map(|p| p.due);
            if !reading {
                let Some(due) = next else { return };
                std::thread::sleep(due.saturating_duration_since(Instant::now()).min(TICK));
                continue;
            }
            match read_some(&mut stream, &mut chunk, next) {
                Got::Closed => reading = false,
                Got::Nothing => {}
                Got::Bytes(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Err(refusal) = self.take_requests(&mut buf) {
                        let _ = self.answer_due(&mut stream);
                        let _ = write_answer(&mut stream, &refusal);
                        return;
                    }
                }
            }
        }
    }

    /// Queues every whole request in `buf`; the answer to close with when a
    /// request cannot be read (what is due is answered first, the rest not).
    fn take_requests(&mut self, buf: &mut Vec<u8>) -> Result<(), Answer> {
        while let Some((request, used)) = parse_request(buf, self.id)? {
            buf.drain(..used);
            let mut s = self.state.lock().unwrap();
            s.arrived += 1;
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let number = s.arrived;
            drop(s);
            let (body, answer) = match decoded_body(&request) {
                Ok(body) => (body, self.behaviour.answer(number)),
                Err(refusal) => (request.body.clone(), refusal),
            };
            let due = request.received + answer.delay.unwrap_or(self.behaviour.delay);
            self.pending.push_back(Pending {
                request: Request {
                    number,
                    body,
                    ..request
                },
                answer,
                due,
            });
        }
        Ok(())
    }

    /// Answers the requests that are due, in order; false when the
    /// connection failed.
    fn answer_due(&mut self, stream: &mut impl Socket) -> bool {
        while self
            .pending
            .front()
            .is_some_and(|p| p.due <= Instant::now())
        {
            let Pending {
                request, answer, ..
            } = self.pending.pop_front().expect("a pending request");
            {
                let mut s = self.state.lock().unwrap();
                s.in_flight -= 1;
                s.requests.push(Request {
                    status: answer.status,
                    answered: Instant::now(),
                    ..request
                });
            }
            if write_answer(stream, &answer).is_err() {
                return false;
            }
        }
        true
    }
}

fn write_answer(stream: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(&answer.body);
    stream.write_all(head.as_bytes())?;
    stream.flush()
}

/// One whole request at the start of `buf` and its length; `Ok(None)` while
/// it is incomplete; the answer to close with when it cannot be read.
pub(crate) fn parse_request(
    buf: &[u8],
    connection: usize,
) -> Result<Option<(Request, usize)>, Answer> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(Answer::new(431, "request head too large"));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path)) = (first.next(), first.next()) else {
        return Err(Answer::new(400, "bad request line"));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    if header("transfer-encoding").is_some() {
        return Err(Answer::new(411, "Content-Length required"));
    }
    let length: usize = match header("content-length").map(|v| v.parse()) {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(_) => return Err(Answer::new(413, "bad or too large Content-Length")),
    };
    let body_start = head_end + 4;
    let Some(body) = buf.get(body_start..body_start + length) else {
        return Ok(None);
    };
    let request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        body: body.to_vec(),
        wire_len: length,
        headers,
        connection,
        number: 0,
        status: 0,
        received: Instant::now(),
        answered: Instant::now(),
    };
    Ok(Some((request, body_start + length)))
}

/// The body, decompressed when it is gzip; a 400 answer when it is not
/// valid gzip (or inflates past the limit).
pub(crate) fn decoded_body(request: &Request) -> Result<Vec<u8>, Answer> {
    match request.header("content-encoding") {
        None | Some("identity") => Ok(request.body.clone()),
        Some("gzip") => {
            let mut plain = Vec::new();
            GzDecoder::new(&request.body[..])
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut plain)
                .map_err(|e| Answer::new(400, &format!("bad gzip body: {e}")))?;
            if plain.len() > MAX_BODY {
                return Err(Answer::new(413, "body too large once decompressed"));
            }
            Ok(plain)
        }
        Some(other) => Err(Answer::new(415, &format!("unknown encoding {other}"))),
    }
}
