//! Options of the http transport: the request path, Basic authentication
//! (the password a `Secret`) and the largest request body. The credentials
//! also serve kafka (SASL/PLAIN) and redis (AUTH), whose rules are in
//! `brokers.rs`.

use super::options::{option, ConfigOption};
use super::read::{both_or_neither, int_in, opt_string, string};
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
}

/// Default `max_content_length`: Logstash's http input accepts 100 MiB.
pub const DEFAULT_MAX_CONTENT_LENGTH: usize = 100 * 1024 * 1024;

/// The options below, which only the http transport uses, but for the
/// credentials, which kafka and redis use too.
const HTTP_OPTIONS: [&str; 4] = ["path", "username", "password", "max_content_length"];

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
];

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
    }
    Ok(())
}
