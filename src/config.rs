//! Configuration: a JSON object with python-logstash-async's option names.
//!
//! Parsing is strict on purpose: an unknown key, a wrong type or an out-of-range
//! value fails `create` with a message naming the key, instead of being ignored
//! and surprising the operator later on the worker thread.

use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Which wire protocol the worker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// One JSON document per line over a TCP stream (optionally TLS).
    Tcp,
    /// One JSON document per datagram.
    Udp,
    /// A JSON array of events per HTTP POST (Logstash's http input).
    Http,
    /// The host's own delivery function (`logstash_async_create_with_transport`).
    Custom,
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
    pub tls: TlsOptions,
    pub http: HttpOptions,
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
        let host = match map.get("host") {
            None | Some(Value::Null) if !host_required => String::new(),
            None | Some(Value::Null) => {
                return Err("host: required (a host name or IP address)".into())
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
                "host" => {}
                "port" => c.port = int_in(k, value, 1, 65535)? as u16,
                "transport" => {
                    c.transport = match string(k, value)?.as_str() {
                        "tcp" => TransportKind::Tcp,
                        "udp" => TransportKind::Udp,
                        "http" => TransportKind::Http,
                        other => {
                            return Err(format!(
                                "transport: unknown transport \"{other}\" (expected \"tcp\", \"udp\" or \"http\")"
                            ))
                        }
                    }
                }
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
                _ => return Err(format!("{key}: unknown option")),
            }
        }
        if c.backoff_max < c.backoff_initial {
            return Err("backoff_max: must not be smaller than backoff_initial".into());
        }
        if c.tls.enable && c.transport == TransportKind::Udp {
            return Err("ssl_enable: TLS is not available with the udp transport".into());
        }
        if c.transport != TransportKind::Http {
            for key in ["path", "username", "password", "max_content_length"] {
                if map.contains_key(key) {
                    return Err(format!("{key}: only used with the http transport"));
                }
            }
        }
        if c.http.username.is_some() != c.http.password.is_some() {
            let (given, missing) = if c.http.username.is_some() {
                ("username", "password")
            } else {
                ("password", "username")
            };
            return Err(format!(
                "{missing}: required when {given} is given (Basic authentication needs both)"
            ));
        }
        if let Some(user) = &c.http.username {
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
