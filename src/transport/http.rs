//! HTTP: a chunk is POSTed as one JSON array (Logstash's `http` input with
//! `codec => json` splits it into events), over one kept-alive connection.
//!
//! The status decides the chunk's fate: 2xx delivered; 408, 429, 5xx,
//! timeouts and connection errors are retried by the worker with its backoff;
//! any other status means the receiver refuses these events for good, so they
//! are counted as undeliverable and reported instead of being retried forever.

use super::tls::TlsSettings;
use super::{Rejection, SendError, Sent, Transport};
use crate::buffer::Chunk;
use crate::config::Config;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// How much of a refusing response's body goes into the error message.
const BODY_SNIPPET: usize = 200;
/// How much of a response body is read (and discarded) to keep the connection reusable.
const MAX_DRAIN: u64 = 1 << 20;

pub struct HttpTransport {
    /// Its pool keeps the connection alive between requests (ureq never
    /// pools a connection whose response was not read to the end).
    agent: Option<ureq::Agent>,
    url: String,
    /// The ready `Authorization` header value ("Basic ...").
    authorization: Option<String>,
    /// Kept only to scrub it from any message that might echo it.
    password: Option<String>,
    max_content_length: usize,
    rejection: Option<Rejection>,
}

/// How one request ended, short of success.
enum Failure {
    /// Worth retrying later (the receiver or the network is in trouble).
    Retry(String),
    /// The receiver refuses these events; retrying cannot help.
    Refused(String),
}

/// A TLS connector that verifies `ssl_server_name` instead of the URL's host
/// when one is configured (as the tcp transport does).
struct NamedTls {
    connector: native_tls::TlsConnector,
    server_name: String,
}

impl ureq::TlsConnector for NamedTls {
    fn connect(
        &self,
        _dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        ureq::TlsConnector::connect(&self.connector, &self.server_name, io)
    }
}

impl HttpTransport {
    /// Builds the transport; TLS material is loaded now (errors name the file).
    pub fn new(config: &Config) -> Result<HttpTransport, String> {
        let timeout = config.socket_timeout;
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout_read(timeout)
            .timeout_write(timeout)
            // A redirect of a POST would turn it into a GET: never follow one.
            .redirects(0)
            .max_idle_connections_per_host(1)
            .user_agent(concat!("logstash-async/", env!("CARGO_PKG_VERSION")));
        let scheme = if config.tls.enable {
            let (connector, server_name) =
                TlsSettings::load(&config.tls, &config.host)?.into_parts();
            builder = builder.tls_connector(Arc::new(NamedTls {
                connector,
                server_name,
            }));
            "https"
        } else {
            "http"
        };
        let host = if config.host.contains(':') && !config.host.starts_with('[') {
            format!("[{}]", config.host) // an IPv6 literal
        } else {
            config.host.clone()
        };
        let url = format!("{scheme}://{host}:{}{}", config.port, config.http.path);
        let password = config.http.password.as_ref().map(|p| p.0.clone());
        let authorization = match (&config.http.username, &password) {
            (Some(user), Some(pass)) => Some(format!(
                "Basic {}",
                base64(format!("{user}:{pass}").as_bytes())
            )),
            _ => None,
        };
        Ok(HttpTransport {
            agent: Some(builder.build()),
            url,
            authorization,
            password,
            max_content_length: config.http.max_content_length,
            rejection: None,
        })
    }

    /// Removes the password from a message that could echo it (a URL, a body).
    fn redact(&self, message: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() && message.contains(p.as_str()) => {
                message.replace(p.as_str(), "<redacted>")
            }
            _ => message,
        }
    }

    fn post(&mut self, body: &[u8]) -> Result<(), Failure> {
        let Some(agent) = &self.agent else {
            return Err(Failure::Retry("the http transport is closed".into()));
        };
        let mut request = agent
            .post(&self.url)
            .set("Content-Type", "application/json");
        if let Some(auth) = &self.authorization {
            request = request.set("Authorization", auth);
        }
        let (status, response) = match request.send_bytes(body) {
            Ok(response) => (response.status(), response),
            Err(ureq::Error::Status(status, response)) => (status, response),
            Err(ureq::Error::Transport(t)) => {
                return Err(Failure::Retry(
                    self.redact(format!("POST {}: {t}", self.url)),
                ))
            }
        };
        // Reading the body to its end returns the connection to the pool.
        let mut text = Vec::new();
        let _ = response
            .into_reader()
            .take(MAX_DRAIN)
            .read_to_end(&mut text);
        if (200..300).contains(&status) {
            return Ok(());
        }
        let snippet = snippet(&text);
        let message = self.redact(format!("POST {}: HTTP {status}: {snippet}", self.url));
        match status {
            408 | 429 | 500..=599 => Err(Failure::Retry(message)),
            300..=399 => Err(Failure::Retry(format!(
                "{message} (redirects are not followed: check host, port and path)"
            ))),
            _ => Err(Failure::Refused(message)),
        }
    }

    fn note_rejection(&mut self, message: String) {
        // The first reason of a chunk is the one reported.
        if self.rejection.is_none() {
            self.rejection = Some(Rejection {
                in_failed_prefix: 0,
                message,
            });
        }
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        self.rejection = None;
        let events: Vec<&[u8]> = chunk.events().collect();
        let mut body = Vec::with_capacity(chunk.lines.len().min(self.max_content_length) + 2);
        let mut rejected = 0u32;
        let mut next = 0;
        while next < events.len() {
            // As many events as fit, in order: `[` e1 `,` e2 ... `]`.
            let start = next;
            body.clear();
            body.push(b'[');
            while let Some(event) = events.get(next) {
                let separator = usize::from(next > start);
                if body.len() + separator + event.len() + 1 > self.max_content_length {
                    break;
                }
                if separator == 1 {
                    body.push(b',');
                }
                body.extend_from_slice(event);
                next += 1;
            }
            if next == start {
                rejected += 1;
                next += 1;
                let message = format!(
                    "an event of {} bytes is larger than max_content_length ({} bytes): dropped",
                    events[start].len(),
                    self.max_content_length
                );
                self.note_rejection(message);
                continue;
            }
            body.push(b']');
            match self.post(&body) {
                Ok(()) => {}
                Err(Failure::Refused(message)) => {
                    rejected += (next - start) as u32;
                    self.note_rejection(message);
                }
                Err(Failure::Retry(message)) => {
                    if let Some(r) = &mut self.rejection {
                        r.in_failed_prefix = rejected;
                    }
                    let mut e = SendError::new(message);
                    e.delivered_prefix = start as u32;
                    return Err(e);
                }
            }
        }
        Ok(Sent::Delivered { rejected })
    }

    fn take_rejection(&mut self) -> Option<Rejection> {
        self.rejection.take()
    }

    fn close(&mut self, _deadline: Instant) -> u64 {
        // Every request was answered before send returned: nothing to confirm.
        self.agent = None;
        u64::MAX
    }
}

/// The first bytes of a response body, on one line, for an error message.
fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_SNIPPET)];
    let text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else if body.len() > BODY_SNIPPET {
        format!("{text}...")
    } else {
        text.to_owned()
    }
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn snippet_is_short_and_single_line() {
        assert_eq!(snippet(b""), "(empty body)");
        assert_eq!(snippet(b"bad\r\nrequest"), "bad  request");
        let long = vec![b'x'; 500];
        let s = snippet(&long);
        assert_eq!(s.len(), BODY_SNIPPET + 3);
        assert!(s.ends_with("..."));
    }
}
