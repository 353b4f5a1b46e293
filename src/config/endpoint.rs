//! Receivers: the `Endpoint` type, the `hosts` option ("host:port",
//! "[v6]:port" or a bare host) and `Config::endpoints`, the list the
//! transports connect to.

use super::read::kind;
use super::{Config, TransportKind};
use serde_json::{Map, Value};

/// One receiver, `host:port` (an IPv6 address in brackets in the text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Config {
    /// Every receiver, in the configured order (the one host/port without `hosts`).
    pub fn endpoints(&self) -> Vec<Endpoint> {
        if self.hosts.is_empty() {
            vec![Endpoint {
                host: self.host.clone(),
                port: self.port,
            }]
        } else {
            self.hosts.clone()
        }
    }
}

/// Rule: `hosts`, read once the port (each bare host's default) is known;
/// the first receiver becomes `host`/`port`.
pub(super) fn resolve_hosts(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    if let Some(list) = map.get("hosts").filter(|v| !v.is_null()) {
        c.hosts = parse_hosts(list, c.port)?;
        if c.transport == TransportKind::Udp {
            return Err("hosts: not available with the udp transport (use host and port)".into());
        }
        c.host = c.hosts[0].host.clone();
        c.port = c.hosts[0].port;
    }
    Ok(())
}

/// `hosts`: a non-empty array of "host:port", "[v6]:port", or a bare host
/// (which gets `default_port`).
pub(super) fn parse_hosts(value: &Value, default_port: u16) -> Result<Vec<Endpoint>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "hosts: expected an array of \"host:port\" strings, got {}",
            kind(value)
        ));
    };
    if items.is_empty() {
        return Err("hosts: must not be empty".into());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::String(text) = item else {
                return Err(format!("hosts[{i}]: expected a string, got {}", kind(item)));
            };
            parse_endpoint(text.trim(), default_port)
                .map_err(|why| format!("hosts[{i}]: \"{text}\" {why}"))
        })
        .collect()
}

fn parse_endpoint(text: &str, default_port: u16) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("has no closing ] after the IPv6 address")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected :port after ]".into()),
            },
        }
    } else {
        match text.matches(':').count() {
            0 => (text, None),
            1 => {
                let (h, p) = text.split_once(':').expect("one colon");
                (h, Some(p))
            }
            _ => return Err("is ambiguous: write an IPv6 address as [addr]:port".into()),
        }
    };
    if host.is_empty() {
        return Err("has an empty host".into());
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("has an invalid port \"{p}\" (expected 1..=65535)")),
        },
    };
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}
