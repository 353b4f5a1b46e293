//! Which transport carries the events and its connection options: the
//! receiver (`host`/`port`; `hosts` in `endpoint.rs`, `kafka_brokers` in
//! `brokers.rs`), `loadbalance`, the
//! socket timeout and the retry backoff.

use super::options::{option, read_by_parse, ConfigOption};
use super::read::{boolean, int_in, kind, seconds, string};
use super::{brokers, Config};
use serde_json::{Map, Value};

/// Which wire protocol the worker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// One JSON document per line over a TCP stream (optionally TLS).
    #[default]
    Tcp,
    /// One JSON document per datagram.
    Udp,
    /// Lumberjack v2 (Logstash's beats input): windows acknowledged by the receiver.
    Beats,
    /// A JSON array of events per HTTP POST (Logstash's http input).
    Http,
    /// The host's own delivery function (`logstash_async_create_with_transport`).
    Custom,
    /// Each event a message of a Kafka topic (librdkafka), acknowledged by the brokers.
    Kafka,
    /// RPUSH of each event to a Redis list (Logstash's redis input, `data_type => "list"`).
    Redis,
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("host", "null", read_by_parse),
    option("hosts", "null", read_by_parse),
    option("port", "5959", |c, k, v| {
        c.port = int_in(k, v, 1, 65535)? as u16;
        Ok(())
    }),
    option("transport", "\"tcp\"", |c, k, v| {
        let name = string(k, v)?;
        c.transport = match python_class(&name).unwrap_or(&name) {
            "tcp" => TransportKind::Tcp,
            "udp" => TransportKind::Udp,
            "beats" => TransportKind::Beats,
            "http" => TransportKind::Http,
            "kafka" => TransportKind::Kafka,
            "redis" => TransportKind::Redis,
            other => {
                return Err(format!(
                    "transport: unknown transport \"{other}\" (expected \"tcp\", \"udp\", \"beats\", \"http\", \"kafka\" or \"redis\")"
                ))
            }
        };
        Ok(())
    }),
    option("loadbalance", "false", |c, k, v| {
        c.loadbalance = boolean(k, v)?;
        Ok(())
    }),
    option("socket_timeout", "5.0", |c, k, v| {
        c.socket_timeout = seconds(k, v, 0.001, 3600.0)?;
        Ok(())
    }),
    option("backoff_initial", "1.0", |c, k, v| {
        c.backoff_initial = seconds(k, v, 0.001, 3600.0)?;
        Ok(())
    }),
    option("backoff_max", "60.0", |c, k, v| {
        c.backoff_max = seconds(k, v, 0.001, 86400.0)?;
        Ok(())
    }),
];

/// python-logstash-async's transport classes, as its handler takes them
/// (`transport="logstash_async.transport.TcpTransport"`): our name for one.
fn python_class(name: &str) -> Option<&'static str> {
    Some(match name.strip_prefix("logstash_async.transport.")? {
        "TcpTransport" => "tcp",
        "UdpTransport" => "udp",
        "BeatsTransport" => "beats",
        "HttpTransport" => "http",
        _ => return None,
    })
}

/// `host`, read before every other option: required (a non-empty string)
/// unless `hosts` (or `kafka_brokers`) is given or the handle has a custom
/// transport, and not together with `hosts`.
pub(super) fn host(map: &Map<String, Value>, host_required: bool) -> Result<String, String> {
    let hosts_given = !matches!(map.get("hosts"), None | Some(Value::Null));
    let listed = hosts_given || brokers::lists_brokers(map);
    match map.get("host") {
        None | Some(Value::Null) if listed || !host_required => Ok(String::new()),
        None | Some(Value::Null) => {
            Err("host: required (a host name or IP address) unless hosts is given".into())
        }
        Some(_) if hosts_given => {
            Err("hosts: give either host (and port) or hosts, not both".into())
        }
        Some(Value::String(s)) if s.trim().is_empty() => Err("host: must not be empty".into()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("host: expected a string, got {}", kind(other))),
    }
}

/// Rule: the backoff may grow, not shrink.
pub(super) fn check_backoff(c: &mut Config, _: &Map<String, Value>) -> Result<(), String> {
    if c.backoff_max < c.backoff_initial {
        return Err("backoff_max: must not be smaller than backoff_initial".into());
    }
    Ok(())
}
