//! Configuration: a JSON object with python-logstash-async's option names.
//!
//! Parsing is strict on purpose: an unknown key, a wrong type or an out-of-range
//! value fails `create` with a message naming the key, instead of being ignored
//! and surprising the operator later on the worker thread.

use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

mod brokers;
pub use brokers::{KafkaAcks, KafkaOptions, RedisOptions};

/// Which wire protocol the worker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// One JSON document per line over a TCP stream (optionally TLS).
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

/// Which event layout the worker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatterKind {
    /// python-logstash-async's LogstashFormatter (the default).
    Logstash,
    /// python-logstash-async's LogstashEcsFormatter (Elastic Common Schema 8.11).
    Ecs,
}

/// A value that must never appear in logs, errors, stats or Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Options of the http transport.
#[derive(Debug, Clone, PartialEq)]
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

/// Default port of the beats transport (Logstash's beats input).
const BEATS_DEFAULT_PORT: u16 = 5044;

/// What happens when the in-memory queue or the database is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Refuse the new event (emit returns QUEUE_FULL). Never blocks.
    DropNewest,
    /// Evict the oldest buffered events to make room.
    DropOldest,
    /// Wait up to `block_timeout` for room, then refuse.
    Block,
}

/// Options for TLS on stream transports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    pub enable: bool,
    pub verify: bool,
    pub ca_certs: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    pub server_name: Option<String>,
}

/// The parsed, validated configuration of one handle.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub transport: TransportKind,
    /// Several receivers (`hosts`); empty means the one `host`/`port`.
    pub hosts: Vec<Endpoint>,
    /// With several hosts: spread batches over all healthy ones instead of failover.
    pub loadbalance: bool,
    /// zlib level of beats windows (0 = uncompressed).
    pub compression_level: u32,
    /// Most events in one beats window.
    pub beats_window_size: usize,
    /// How long a beats window may wait for an acknowledgement (keepalives restart it).
    pub beats_ack_timeout: Duration,
    pub tls: TlsOptions,
    /// `username`/`password` live here; the kafka (SASL/PLAIN) and redis
    /// (AUTH) transports use them too.
    pub http: HttpOptions,
    pub kafka: KafkaOptions,
    pub redis: RedisOptions,
    pub formatter: FormatterKind,
    /// `None` means `:memory:`.
    pub database_path: Option<PathBuf>,
    pub enable: bool,
    pub message_type: String,
    pub tags: Vec<Value>,
    pub fqdn: bool,
    /// `None` (or "") puts extra fields at the top level.
    pub extra_prefix: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Value>,
    pub ensure_ascii: bool,
    pub event_ttl: Option<Duration>,
    pub socket_timeout: Duration,
    pub queue_check_interval: Duration,
    pub queued_events_flush_interval: Duration,
    pub queued_events_flush_count: usize,
    pub queued_events_batch_size: usize,
    pub max_event_bytes: usize,
    pub max_queue_events: usize,
    pub max_database_events: Option<u64>,
    pub max_database_bytes: Option<u64>,
    pub overflow_policy: OverflowPolicy,
    pub block_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Report worker errors on stderr (rate-limited).
    pub stderr_errors: bool,
}

/// Largest event accepted by default: Logstash's and syslog's usual line limit.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Upper bound of `max_event_bytes`: one event is copied whole on the caller's thread.
pub const MAX_MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

impl Config {
    /// A configuration with every default and the given host.
    pub fn new(host: &str) -> Config {
        Config {
            host: host.to_owned(),
            port: 5959,
            transport: TransportKind::Tcp,
            hosts: Vec::new(),
            loadbalance: false,
            compression_level: 3,
            beats_window_size: 256,
            beats_ack_timeout: Duration::from_secs(30),
            tls: TlsOptions {
                verify: true,
                ..TlsOptions::default()
            },
            http: HttpOptions {
                path: "/".to_owned(),
                username: None,
                password: None,
                max_content_length: DEFAULT_MAX_CONTENT_LENGTH,
            },
            kafka: KafkaOptions::default(),
            redis: RedisOptions::default(),
            formatter: FormatterKind::Logstash,
            database_path: None,
            enable: true,
            message_type: "python-logstash".to_owned(),
            tags: Vec::new(),
            fqdn: false,
            extra_prefix: Some("extra".to_owned()),
            extra: Map::new(),
            metadata: None,
            ensure_ascii: true,
            event_ttl: None,
            socket_timeout: Duration::from_secs(5),
            queue_check_interval: Duration::from_secs(2),
            queued_events_flush_interval: Duration::from_secs(10),
            queued_events_flush_count: 50,
            queued_events_batch_size: 50,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_queue_events: 100_000,
            max_database_events: None,
            max_database_bytes: None,
            overflow_policy: OverflowPolicy::DropNewest,
            block_timeout: Duration::from_millis(100),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stderr_errors: true,
        }
    }

    /// Parses a configuration document. The error names the key and the reason.
    pub fn from_json(text: &[u8]) -> Result<Config, String> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| format!("configuration is not valid JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err("configuration must be a JSON object".to_owned());
        };
        Config::from_map(&map)
    }

    /// Parses the configuration of a handle with a custom transport (the
    /// host's own send function): `host` is not required and `transport` is
    /// not accepted.
    pub fn from_json_custom_transport(text: &[u8]) -> Result<Config, String> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| format!("configuration is not valid JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err("configuration must be a JSON object".to_owned());
        };
        if map.contains_key("transport") {
            return Err(
                "transport: not used with a custom transport (the send function is the transport)"
                    .into(),
            );
        }
        let mut c = Config::parse(&map, false)?;
        c.transport = TransportKind::Custom;
        Ok(c)
    }

    /// Parses an already decoded configuration object.
    pub fn from_map(map: &Map<String, Value>) -> Result<Config, String> {
        Config::parse(map, true)
    }

    fn parse(map: &Map<String, Value>, host_required: bool) -> Result<Config, String> {
        let hosts_given = !matches!(map.get("hosts"), None | Some(Value::Null));
        let brokers_given = !matches!(map.get("kafka_brokers"), None | Some(Value::Null));
        let host = match map.get("host") {
            None | Some(Value::Null) if hosts_given || brokers_given || !host_required => {
                String::new()
            }
            None | Some(Value::Null) => {
                return Err(
                    "host: required (a host name or IP address) unless hosts is given".into(),
                )
            }
            Some(_) if hosts_given => {
                return Err("hosts: give either host (and port) or hosts, not both".into())
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err("host: must not be empty".into())
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("host: expected a string, got {}", kind(other))),
        };
        let mut c = Config::new(&host);
        for (key, value) in map {
            let k = key.as_str();
            match k {
                "host" | "hosts" => {}
                "port" => c.port = int_in(k, value, 1, 65535)? as u16,
                "transport" => {
                    c.transport = match string(k, value)?.as_str() {
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
                    }
                }
                "loadbalance" => c.loadbalance = boolean(k, value)?,
                "compression_level" => c.compression_level = int_in(k, value, 0, 9)? as u32,
                "beats_window_size" => {
                    c.beats_window_size = int_in(k, value, 1, 1_000_000)? as usize
                }
                "beats_ack_timeout" => c.beats_ack_timeout = seconds(k, value, 0.001, 86400.0)?,
                "ssl_enable" => c.tls.enable = boolean(k, value)?,
                "ssl_verify" => c.tls.verify = boolean(k, value)?,
                "ca_certs" => c.tls.ca_certs = opt_string(k, value)?.map(PathBuf::from),
                "certfile" => c.tls.certfile = opt_string(k, value)?.map(PathBuf::from),
                "keyfile" => c.tls.keyfile = opt_string(k, value)?.map(PathBuf::from),
                "ssl_server_name" => c.tls.server_name = opt_string(k, value)?,
                "path" => {
                    let path = string(k, value)?;
                    if !path.starts_with('/') || path.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                        return Err(format!(
                            "path: expected a URL path starting with \"/\" without spaces, got \"{path}\""
                        ));
                    }
                    c.http.path = path;
                }
                "username" => c.http.username = opt_string(k, value)?,
                // The value is never echoed back in an error message.
                "password" => c.http.password = opt_string(k, value)?.map(Secret),
                "max_content_length" => {
                    c.http.max_content_length = int_in(k, value, 1024, 1 << 40)? as usize
                }
                "formatter" => {
                    c.formatter = match string(k, value)?.as_str() {
                        "logstash" => FormatterKind::Logstash,
                        "ecs" => FormatterKind::Ecs,
                        other => {
                            return Err(format!(
                                "formatter: unknown formatter \"{other}\" (expected \"logstash\" or \"ecs\")"
                            ))
                        }
                    }
                }
                "database_path" => {
                    c.database_path = match opt_string(k, value)? {
                        None => None,
                        Some(p) if p == ":memory:" => None,
                        Some(p) if p.is_empty() => {
                            return Err("database_path: must not be empty (use \":memory:\")".into())
                        }
                        Some(p) => Some(PathBuf::from(p)),
                    }
                }
                "enable" => c.enable = boolean(k, value)?,
                "message_type" => c.message_type = string(k, value)?,
                "tags" => {
                    c.tags = match value {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items.clone(),
                        other => {
                            return Err(format!("tags: expected an array, got {}", kind(other)))
                        }
                    }
                }
                "fqdn" => c.fqdn = boolean(k, value)?,
                "extra_prefix" => {
                    c.extra_prefix = opt_string(k, value)?.filter(|p| !p.is_empty());
                }
                "extra" => {
                    c.extra = match value {
                        Value::Null => Map::new(),
                        Value::Object(m) => m.clone(),
                        other => {
                            return Err(format!("extra: expected an object, got {}", kind(other)))
                        }
                    }
                }
                "metadata" => {
                    c.metadata = match value {
                        Value::Null => None,
                        Value::Object(m) if m.is_empty() => None,
                        Value::Object(_) => Some(value.clone()),
                        other => {
                            return Err(format!("metadata: expected an object, got {}", kind(other)))
                        }
                    }
                }
                "ensure_ascii" => c.ensure_ascii = boolean(k, value)?,
                "event_ttl" => {
                    c.event_ttl = match value {
                        Value::Null => None,
                        _ => Some(seconds(k, value, 0.001, 10.0 * 365.0 * 86400.0)?),
                    }
                }
                "socket_timeout" => c.socket_timeout = seconds(k, value, 0.001, 3600.0)?,
                "queue_check_interval" => {
                    c.queue_check_interval = seconds(k, value, 0.001, 3600.0)?
                }
                "queued_events_flush_interval" => {
                    c.queued_events_flush_interval = seconds(k, value, 0.0, 86400.0)?
                }
                "queued_events_flush_count" => {
                    c.queued_events_flush_count = int_in(k, value, 1, 10_000_000)? as usize
                }
                "queued_events_batch_size" => {
                    c.queued_events_batch_size = int_in(k, value, 1, 1_000_000)? as usize
                }
                "max_event_bytes" => {
                    c.max_event_bytes = int_in(k, value, 2, MAX_MAX_EVENT_BYTES as i64)? as usize
                }
                "max_queue_events" => {
                    c.max_queue_events = int_in(k, value, 1, 100_000_000)? as usize
                }
                "max_database_events" => {
                    c.max_database_events = match value {
                        Value::Null => None,
                        _ => Some(int_in(k, value, 1, i64::MAX)? as u64),
                    }
                }
                "max_database_bytes" => {
                    c.max_database_bytes = match value {
                        Value::Null => None,
                        _ => Some(int_in(k, value, 4096, i64::MAX)? as u64),
                    }
                }
                "overflow_policy" => {
                    c.overflow_policy = match string(k, value)?.as_str() {
                        "drop_newest" => OverflowPolicy::DropNewest,
                        "drop_oldest" => OverflowPolicy::DropOldest,
                        "block" => OverflowPolicy::Block,
                        other => {
                            return Err(format!(
                                "overflow_policy: unknown policy \"{other}\" (expected \"drop_newest\", \"drop_oldest\" or \"block\")"
                            ))
                        }
                    }
                }
                "block_timeout_ms" => {
                    c.block_timeout = Duration::from_millis(int_in(k, value, 0, 3_600_000)? as u64)
                }
                "backoff_initial" => c.backoff_initial = seconds(k, value, 0.001, 3600.0)?,
                "backoff_max" => c.backoff_max = seconds(k, value, 0.001, 86400.0)?,
                "stderr_errors" => c.stderr_errors = boolean(k, value)?,
                k if brokers::is_broker_option(k) => brokers::parse_option(&mut c, k, value)?,
                _ => return Err(format!("{key}: unknown option")),
            }
        }
        if !map.contains_key("port") {
            match c.transport {
                TransportKind::Beats => c.port = BEATS_DEFAULT_PORT,
                other => c.port = brokers::default_port(other).unwrap_or(c.port),
            }
        }
        if let Some(list) = map.get("hosts").filter(|v| !v.is_null()) {
            c.hosts = parse_hosts(list, c.port)?;
            if c.transport == TransportKind::Udp {
                return Err(
                    "hosts: not available with the udp transport (use host and port)".into(),
                );
            }
            c.host = c.hosts[0].host.clone();
            c.port = c.hosts[0].port;
        }
        if c.backoff_max < c.backoff_initial {
            return Err("backoff_max: must not be smaller than backoff_initial".into());
        }
        if c.tls.enable && c.transport == TransportKind::Udp {
            return Err("ssl_enable: TLS is not available with the udp transport".into());
        }
        // Credentials also serve kafka (SASL/PLAIN) and redis (AUTH).
        let credentials = matches!(
            c.transport,
            TransportKind::Http | TransportKind::Kafka | TransportKind::Redis
        );
        for key in ["path", "username", "password", "max_content_length"] {
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
        brokers::finish(&mut c, map)?;
        if c.transport == TransportKind::Http
            && c.http.username.is_some() != c.http.password.is_some()
        {
            let (given, missing) = if c.http.username.is_some() {
                ("username", "password")
            } else {
                ("password", "username")
            };
            return Err(format!(
                "{missing}: required when {given} is given (Basic authentication needs both)"
            ));
        }
        if let Some(user) = c
            .http
            .username
            .as_ref()
            .filter(|_| c.transport == TransportKind::Http)
        {
            if user.contains(':') {
                return Err("username: must not contain \":\" (Basic authentication)".into());
            }
        }
        if c.tls.certfile.is_some() != c.tls.keyfile.is_some() {
            let (given, missing) = if c.tls.certfile.is_some() {
                ("certfile", "keyfile")
            } else {
                ("keyfile", "certfile")
            };
            return Err(format!(
                "{missing}: required when {given} is given (a client certificate needs both)"
            ));
        }
        Ok(c)
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

/// `hosts`: a non-empty array of "host:port", "[v6]:port", or a bare host
/// (which gets `default_port`).
fn parse_hosts(value: &Value, default_port: u16) -> Result<Vec<Endpoint>, String> {
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

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{key}: expected true or false, got {}", kind(v)))
}

fn string(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("{key}: expected a string, got {}", kind(other))),
    }
}

fn opt_string(key: &str, v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        other => string(key, other).map(Some),
    }
}

fn int_in(key: &str, v: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            // Accept 5.0 but not 5.5: JSON writers in other languages emit floats.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= max => Ok(n),
        Some(n) => Err(format!("{key}: {n} is out of range ({min}..={max})")),
        None => Err(format!("{key}: expected an integer, got {}", describe(v))),
    }
}

fn seconds(key: &str, v: &Value, min: f64, max: f64) -> Result<Duration, String> {
    match v.as_f64() {
        Some(s) if s.is_finite() && s >= min && s <= max => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(format!(
            "{key}: {s} seconds is out of range ({min}..={max})"
        )),
        None => Err(format!(
            "{key}: expected a number of seconds, got {}",
            kind(v)
        )),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        Config::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn defaults_follow_the_original() {
        let c = Config::from_json(br#"{"host":"h"}"#).unwrap();
        assert_eq!(c.port, 5959);
        assert_eq!(c.transport, TransportKind::Tcp);
        assert!(!c.tls.enable && c.tls.verify);
        assert_eq!(c.database_path, None);
        assert!(c.enable);
        assert_eq!(c.message_type, "python-logstash");
        assert_eq!(c.extra_prefix.as_deref(), Some("extra"));
        assert_eq!(c.socket_timeout, Duration::from_secs(5));
        assert_eq!(c.queue_check_interval, Duration::from_secs(2));
        assert_eq!(c.queued_events_flush_interval, Duration::from_secs(10));
        assert_eq!(c.queued_events_flush_count, 50);
        assert_eq!(c.queued_events_batch_size, 50);
        assert_eq!(c.event_ttl, None);
    }

    #[test]
    fn every_bad_option_names_its_key() {
        assert!(err("[]").contains("JSON object"));
        assert!(err("{").contains("not valid JSON"));
        assert!(err("{}").starts_with("host: required"));
        assert!(err(r#"{"host":5}"#).starts_with("host: expected a string"));
        assert!(err(r#"{"host":"h","prot":1}"#).starts_with("prot: unknown option"));
        assert!(err(r#"{"host":"h","port":"5959"}"#).starts_with("port: expected an integer"));
        assert!(err(r#"{"host":"h","port":70000}"#).contains("out of range"));
        assert!(err(r#"{"host":"h","port":0}"#).starts_with("port:"));
        assert!(err(r#"{"host":"h","port":1.5}"#).starts_with("port: expected an integer"));
        assert!(err(r#"{"host":"h","transport":"sctp"}"#).starts_with("transport:"));
        assert!(err(r#"{"host":"h","ssl_enable":"yes"}"#).starts_with("ssl_enable:"));
        assert!(err(r#"{"host":"h","socket_timeout":-1}"#).starts_with("socket_timeout:"));
        assert!(err(r#"{"host":"h","tags":"a"}"#).starts_with("tags:"));
        assert!(err(r#"{"host":"h","extra":[1]}"#).starts_with("extra:"));
        assert!(err(r#"{"host":"h","certfile":"/x"}"#).starts_with("keyfile: required"));
        assert!(err(r#"{"host":"h","keyfile":"/x"}"#).starts_with("certfile: required"));
        assert!(
            err(r#"{"host":"h","transport":"udp","ssl_enable":true}"#).starts_with("ssl_enable:")
        );
        assert!(err(r#"{"host":"h","overflow_policy":"x"}"#).starts_with("overflow_policy:"));
        assert!(err(r#"{"host":"h","database_path":""}"#).starts_with("database_path:"));
    }

    #[test]
    fn beats_defaults_to_port_5044_only_when_port_is_absent() {
        let c = Config::from_json(br#"{"host":"h","transport":"beats"}"#).unwrap();
        assert_eq!((c.transport, c.port), (TransportKind::Beats, 5044));
        assert_eq!(c.compression_level, 3);
        let c = Config::from_json(br#"{"host":"h","transport":"beats","port":5959}"#).unwrap();
        assert_eq!(c.port, 5959);
        let c = Config::from_json(br#"{"host":"h"}"#).unwrap();
        assert_eq!(c.port, 5959);
    }

    #[test]
    fn hosts_replace_host_and_port() {
        let c = Config::from_json(
            br#"{"hosts":["a:1","[::1]:5044","b"],"transport":"beats","loadbalance":true}"#,
        )
        .unwrap();
        let e = c.endpoints();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].host.as_str(), e[0].port), ("a", 1));
        assert_eq!((e[1].host.as_str(), e[1].port), ("::1", 5044));
        assert_eq!((e[2].host.as_str(), e[2].port), ("b", 5044));
        assert_eq!(e[1].to_string(), "[::1]:5044");
        assert!(c.loadbalance);
        let one = Config::from_json(br#"{"host":"h","port":7}"#).unwrap();
        assert_eq!(
            one.endpoints(),
            vec![Endpoint {
                host: "h".into(),
                port: 7
            }]
        );
        assert!(err(r#"{"hosts":[]}"#).starts_with("hosts: must not be empty"));
        assert!(err(r#"{"hosts":"a:1"}"#).starts_with("hosts: expected an array"));
        assert!(err(r#"{"hosts":[1]}"#).starts_with("hosts[0]: expected a string"));
        assert!(err(r#"{"hosts":["a:1","::1:5"]}"#).starts_with("hosts[1]:"));
        assert!(err(r#"{"hosts":["a:0"]}"#).starts_with("hosts[0]:"));
        assert!(err(r#"{"hosts":["[::1"]}"#).starts_with("hosts[0]:"));
        assert!(err(r#"{"host":"h","hosts":["a:1"]}"#).starts_with("hosts:"));
        assert!(err(r#"{"hosts":["a:1"],"transport":"udp"}"#).starts_with("hosts:"));
        assert!(err(r#"{"host":"h","compression_level":10}"#).starts_with("compression_level:"));
        assert!(err(r#"{"host":"h","beats_window_size":0}"#).starts_with("beats_window_size:"));
        assert!(err(r#"{"host":"h","beats_ack_timeout":"x"}"#).starts_with("beats_ack_timeout:"));
        assert!(err(r#"{"host":"h","loadbalance":1}"#).starts_with("loadbalance:"));
    }

    #[test]
    fn accepts_whole_floats_for_counts_and_null_for_optionals() {
        let c = Config::from_json(
            br#"{"host":"h","port":5000.0,"extra_prefix":null,"event_ttl":null,"database_path":":memory:"}"#,
        )
        .unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.extra_prefix, None);
        let c = Config::from_json(br#"{"host":"h","extra_prefix":""}"#).unwrap();
        assert_eq!(c.extra_prefix, None);
    }
}
