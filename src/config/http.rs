//! Options of the http transport: the request path, Basic authentication
//! (the password a `Secret`), the largest request body, requests in flight,
//! compression and extra headers. The credentials also serve kafka
//! (SASL/PLAIN) and redis (AUTH), whose rules are in `brokers.rs`.

use super::declare::{option, ConfigOption};
use super::read::{both_or_neither, int_in, kind, opt_string, string};
use super::{Config, TransportKind};
use serde_json::{Map, Value};

/// A value that must never appear in logs, errors, stats or Debug output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Options of the http transport.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpOptions {
    /// The request path, starting with "/".
    pub path: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Largest request body; a batch is split into several requests to fit.
    pub max_content_length: usize,
    /// Requests awaiting their answer at once.
    pub max_in_flight: usize,
    pub compression: Compression,
    /// Sent with every request (`http_headers`), names as given.
    pub headers: Vec<(String, String)>,
}

/// How request bodies are encoded (`http_compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    /// `Content-Encoding: gzip` (Logstash's http input decodes it).
    Gzip,
}

/// Default `max_content_length`: Logstash's http input accepts 100 MiB.
pub const DEFAULT_MAX_CONTENT_LENGTH: usize = 100 * 1024 * 1024;

/// The options below, which only the http transport uses, but for the
/// credentials, which kafka and redis use too.
const HTTP_OPTIONS: [&str; 7] = [
    "path",
    "username",
    "password",
    "max_content_length",
    "http_max_in_flight",
    "http_compression",
    "http_headers",
];

/// Headers the transport sets itself: `http_headers` cannot replace them.
const OWN_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
    "connection",
];

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("path", "\"/\"", |c, k, v| {
        let mut path = string(k, v)?;
        if path.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(format!(
                "path: expected a URL path without spaces, got \"{path}\""
            ));
        }
        // python-logstash-async writes its URL as f"...:{port}/{path}".
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        c.http.path = path;
        Ok(())
    }),
    option("username", "null", |c, k, v| {
        c.http.username = opt_string(k, v)?;
        Ok(())
    }),
    // The value is never echoed back in an error message.
    option("password", "null", |c, k, v| {
        c.http.password = opt_string(k, v)?.map(Secret);
        Ok(())
    }),
    option("max_content_length", "104857600", |c, k, v| {
        c.http.max_content_length = int_in(k, v, 1024, 1 << 40)? as usize;
        Ok(())
    }),
    option("http_max_in_flight", "4", |c, k, v| {
        c.http.max_in_flight = int_in(k, v, 1, 64)? as usize;
        Ok(())
    }),
    option("http_compression", "\"none\"", |c, k, v| {
        c.http.compression = match string(k, v)?.as_str() {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            other => {
                return Err(format!(
                "http_compression: unknown compression \"{other}\" (expected \"none\" or \"gzip\")"
            ))
            }
        };
        Ok(())
    }),
    option("http_headers", "{}", |c, k, v| {
        c.http.headers = headers(k, v)?;
        Ok(())
    }),
];

/// `http_headers`: an object of header names (HTTP tokens) to string values
/// (no control characters but tab), none of the transport's own.
fn headers(key: &str, v: &Value) -> Result<Vec<(String, String)>, String> {
    let Value::Object(map) = v else {
        return Err(format!(
            "{key}: expected an object of header names to values, got {}",
            kind(v)
        ));
    };
    let token = |ch: char| ch.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(ch);
    map.iter()
        .map(|(name, value)| {
            if name.is_empty() || !name.chars().all(token) {
                return Err(format!("{key}: \"{name}\" is not a valid header name"));
            }
            if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "{key}: {name} is set by the transport and cannot be replaced"
                ));
            }
            let Value::String(text) = value else {
                return Err(format!(
                    "{key}: the value of {name} must be a string, got {}",
                    kind(value)
                ));
            };
            if text.chars().any(|ch| ch.is_control() && ch != '\t') {
                return Err(format!(
                    "{key}: the value of {name} contains a control character (CR, LF...)"
                ));
            }
            Ok((name.clone(), text.clone()))
        })
        .collect()
}

/// Rule: the http options only with the http transport, the credentials
/// also with kafka and redis (checked in the options' order).
pub(super) fn check_transport(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    let credentials = matches!(
        c.transport,
        TransportKind::Http | TransportKind::Kafka | TransportKind::Redis
    );
    for key in HTTP_OPTIONS {
        let secret = matches!(key, "username" | "password");
        let allowed = c.transport == TransportKind::Http || (credentials && secret);
        if !allowed && map.contains_key(key) {
            let users = if secret {
                "the http, kafka and redis transports"
            } else {
                "the http transport"
            };
            return Err(format!("{key}: only used with {users}"));
        }
    }
    Ok(())
}

/// Rule: Basic authentication needs both a username (without ":") and a
/// password (kafka's and redis's needs are checked in `brokers.rs`).
pub(super) fn check_credentials(c: &mut Config, _: &Map<String, Value>) -> Result<(), String> {
    if c.transport != TransportKind::Http {
        return Ok(());
    }
    both_or_neither(
        ("username", c.http.username.is_some()),
        ("password", c.http.password.is_some()),
        "Basic authentication needs both",
    )?;
    if let Some(user) = &c.http.username {
        if user.contains(':') {
            return Err("username: must not contain \":\" (Basic authentication)".into());
        }
        if let Some((name, _)) = c
            .http
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            return Err(format!(
                "http_headers: {name} and username/password both set the Authorization header"
            ));
        }
    }
    Ok(())
}
