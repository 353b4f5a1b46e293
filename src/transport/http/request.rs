//! One HTTP request of the http transport, on a sender thread: the batch as
//! one JSON array (gzip-compressed with `http_compression`), POSTed with its
//! headers, and what the answer means for the batch.

use crate::transport::Batch;
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::time::Duration;

/// How much of a refusing response's body goes into the error message.
const BODY_SNIPPET: usize = 200;
/// How much of a response body is read (and discarded) to keep the connection reusable.
const MAX_DRAIN: u64 = 1 << 20;
/// gzip level of request bodies: JSON logs compress well even at a low level,
/// and the sender threads share the CPUs with the application.
const GZIP_LEVEL: u32 = 3;

/// What every request of a handle carries, shared by the sender threads.
pub struct RequestSettings {
    /// Its pool keeps connections alive between requests (ureq never pools
    /// a connection whose response was not read to the end).
    pub agent: ureq::Agent,
    /// Headers of every request (`Authorization`, `http_headers`).
    pub headers: Vec<(String, String)>,
    /// Kept only to scrub it from any message that might echo it.
    pub password: Option<String>,
    pub max_content_length: usize,
    pub gzip: bool,
}

/// What the receiver's answer means for the batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    /// Worth retrying later (the receiver or the network is in trouble).
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The receiver refuses these events for good; retrying cannot help.
    Refused(String),
}

impl RequestSettings {
    /// Removes the password from a message that could echo it (a URL, a body).
    fn redact(&self, message: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() && message.contains(p.as_str()) => {
                message.replace(p.as_str(), "<redacted>")
            }
            _ => message,
        }
    }

    /// POSTs `batch` to `url`.
    pub fn post(&self, url: &str, batch: &Batch) -> Answer {
        let plain_len = batch.bytes() + 1; // `[`, the events with `,`, `]`
        if plain_len > self.max_content_length {
            // The worker sizes batches to fit: this is one event too large.
            return Answer::Refused(format!(
                "an event of {} bytes is larger than max_content_length ({} bytes): dropped",
                plain_len - 2,
                self.max_content_length
            ));
        }
        let body = match self.body(batch, plain_len) {
            Ok(body) => body,
            Err(e) => {
                return Answer::Retry {
                    message: format!("compress a request body: {e}"),
                    retry_after: None,
                }
            }
        };
        let mut request = self.agent.post(url).set("Content-Type", "application/json");
        if self.gzip {
            request = request.set("Content-Encoding", "gzip");
        }
        for (name, value) in &self.headers {
            request = request.set(name, value);
        }
        let (status, response) = match request.send_bytes(&body) {
            Ok(response) => (response.status(), response),
            Err(ureq::Error::Status(status, response)) => (status, response),
            Err(ureq::Error::Transport(t)) => {
                return Answer::Retry {
                    message: self.redact(format!("POST {url}: {t}")),
                    retry_after: None,
                }
            }
        };
        let retry_after = response
            .header("Retry-After")
            .and_then(|v| retry_after(v, crate::sys::now_unix_ms() / 1000));
        // Reading the body to its end returns the connection to the pool.
        let mut text = Vec::new();
        let _ = response
            .into_reader()
            .take(MAX_DRAIN)
            .read_to_end(&mut text);
        if (200..300).contains(&status) {
            return Answer::Delivered;
        }
        let message = self.redact(format!("POST {url}: HTTP {status}: {}", snippet(&text)));
        match status {
            408 | 429 | 500..=599 => Answer::Retry {
                message,
                retry_after,
            },
            300..=399 => Answer::Retry {
                message: format!(
                    "{message} (redirects are not followed: check host, port and path)"
                ),
                retry_after,
            },
            _ => Answer::Refused(message),
        }
    }

    /// The body: `[` e1 `,` e2 ... `]`, gzip-compressed when configured.
    fn body(&self, batch: &Batch, plain_len: usize) -> std::io::Result<Vec<u8>> {
        fn write_array(out: &mut impl Write, batch: &Batch) -> std::io::Result<()> {
            out.write_all(b"[")?;
            for (i, event) in batch.events().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(event)?;
            }
            out.write_all(b"]")
        }
        if self.gzip {
            let mut gz = GzEncoder::new(
                Vec::with_capacity(plain_len / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            write_array(&mut gz, batch)?;
            gz.finish()
        } else {
            let mut body = Vec::with_capacity(plain_len);
            write_array(&mut body, batch)?;
            Ok(body)
        }
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (IMF-fixdate, as
/// "Sun, 06 Nov 1994 08:49:37 GMT") after `now_unix` seconds.
pub fn retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut words = value.split_whitespace().skip(1);
    let day: i64 = words.next()?.parse().ok()?;
    let month = match words.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = words.next()?.parse().ok()?;
    let mut time = words.next()?.split(':').map(|t| t.parse::<i64>().ok());
    let (h, m, s) = (time.next()??, time.next()??, time.next()??);
    if words.next()? != "GMT" {
        return None;
    }
    let at = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(Duration::from_secs(
        at.saturating_sub(now_unix).max(0) as u64
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
pub fn base64(input: &[u8]) -> String {
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

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        // 1994-11-06T08:49:37Z
        let then = 784_111_777;
        assert_eq!(retry_after("2", then), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", then - 30),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", then + 5),
            Some(Duration::ZERO),
            "a date in the past"
        );
        assert_eq!(retry_after("soon", then), None);
        assert_eq!(retry_after("Sun, 06 Foo 1994 08:49:37 GMT", then), None);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
