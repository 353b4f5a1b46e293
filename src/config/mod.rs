//! Configuration: a JSON object with python-logstash-async's option names.
//!
//! Parsing is strict on purpose: an unknown key, a wrong type or an out-of-range
//! value fails `create` with a message naming the key, instead of being ignored
//! and surprising the operator later on the worker thread.
//!
//! This file holds the parsed `Config` and the parse entry; each concern's
//! file declares its options (name, default, check) and the rules between
//! them. Adding an option: a field below, an entry in its concern's
//! `OPTIONS`, a row in the README's Configuration table (a test checks) and
//! a field of the Go binding's `Config` (bindings/go/config.go; a Go test
//! checks).

mod beats;
mod brokers;
mod endpoint;
mod http;
mod layout;
mod limits;
pub mod options;
mod read;
mod shaping;
mod tls;
mod transport;
mod worker;

pub use brokers::{KafkaAcks, KafkaOptions, RedisOptions};
pub use endpoint::Endpoint;
pub use http::{HttpOptions, Secret, DEFAULT_MAX_CONTENT_LENGTH};
pub use layout::LayoutKind;
pub use limits::{OverflowPolicy, DEFAULT_MAX_EVENT_BYTES, MAX_MAX_EVENT_BYTES};
pub use shaping::{FieldPath, MaskMode, MaskPattern, ShapingOptions};
pub use tls::{TlsOptions, TlsVersion, Verify};
pub use transport::TransportKind;

use crate::level::Level;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The parsed, validated configuration of one handle. `Config::new` gives
/// the documented defaults; `Config::default()` is only the blank they are
/// applied to.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// The `formatter` option.
    pub layout: LayoutKind,
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
    /// Events below this level are dropped on the caller's thread (counted).
    pub level: Level,
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
    /// What the worker renames, drops and masks in each formatted event.
    pub shaping: ShapingOptions,
    /// The `handle` label of the Prometheus statistics (None: a number).
    pub handle_name: Option<String>,
}

impl Config {
    /// A configuration with every default and the given host.
    pub fn new(host: &str) -> Config {
        let mut c = Config {
            host: host.to_owned(),
            ..Config::default()
        };
        for option in options::all() {
            // Unit tests hold every default to its own option's check.
            let default: Value = serde_json::from_str(option.default).expect("a default is JSON");
            (option.apply)(&mut c, option.name, &default).expect("a default is valid");
        }
        c
    }

    /// Parses a configuration document. The error names the key and the reason.
    pub fn from_json(text: &[u8]) -> Result<Config, String> {
        Config::parse(&object(text)?, true)
    }

    /// Parses the configuration of a handle with a custom transport (the
    /// host's own send function): `host` is not required and `transport` is
    /// not accepted.
    pub fn from_json_custom_transport(text: &[u8]) -> Result<Config, String> {
        let map = object(text)?;
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

    /// `host` first, then every option in key order, then the rules between
    /// options: the first error wins.
    fn parse(map: &Map<String, Value>, host_required: bool) -> Result<Config, String> {
        let mut c = Config::new(&transport::host(map, host_required)?);
        for (key, value) in map {
            let option = options::find(key).ok_or_else(|| format!("{key}: unknown option"))?;
            (option.apply)(&mut c, key, value)?;
        }
        for rule in RULES {
            rule(&mut c, map)?;
        }
        Ok(c)
    }
}

/// A rule between options: checks the parsed configuration against the
/// document (what was given, not defaulted) and may complete it.
type Rule = fn(&mut Config, &Map<String, Value>) -> Result<(), String>;

/// The rules, in the order they are checked.
const RULES: [Rule; 12] = [
    beats::default_port,
    brokers::default_port,
    endpoint::resolve_hosts,
    transport::check_backoff,
    tls::check_transport,
    http::check_transport,
    brokers::check_transport,
    brokers::resolve_brokers,
    brokers::check_redis,
    http::check_credentials,
    tls::check_client_certificate,
    tls::resolve_verify_ca,
];

/// The document as a JSON object.
fn object(text: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value = serde_json::from_slice(text)
        .map_err(|e| format!("configuration is not valid JSON: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("configuration must be a JSON object".to_owned()),
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
        assert!(!c.tls.enable && c.tls.verify == Verify::Full);
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
        assert!(err(r#"{"host":"h","level":"NOTICE"}"#).starts_with("level: unknown level"));
        assert!(err(r#"{"host":"h","level":20}"#).starts_with("level: expected a string"));
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
    fn defaults_pass_their_own_checks() {
        // Config::new applies each default through its option's check.
        let c = Config::new("h");
        assert_eq!(c.http.max_content_length, DEFAULT_MAX_CONTENT_LENGTH);
        assert_eq!(c.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(c.http.path, "/");
        assert_eq!(c.block_timeout, Duration::from_millis(100));
        assert_eq!(c.beats_ack_timeout, Duration::from_secs(30));
        let mut names: Vec<&str> = options::all().map(|o| o.name).collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "an option is declared twice");
    }

    /// The options in the first column of the README's Configuration tables.
    fn readme_options() -> std::collections::BTreeSet<String> {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("\n## Configuration\n")
            .expect("README has a Configuration section");
        let section = &readme[start + 1..];
        let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
        let mut names = std::collections::BTreeSet::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = row.split('|').nth(1).unwrap_or_default();
            for (i, quoted) in first_cell.split('`').enumerate() {
                if i % 2 == 1 {
                    names.insert(quoted.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn the_readme_lists_every_option_and_no_other() {
        let accepted: std::collections::BTreeSet<String> =
            options::all().map(|o| o.name.to_owned()).collect();
        let documented = readme_options();
        let undocumented: Vec<_> = accepted.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&accepted).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "README Configuration table: missing {undocumented:?}, not accepted by the parser {unknown:?}"
        );
    }

    #[test]
    fn python_logstash_async_names_are_accepted() {
        for (class, kind) in [
            ("TcpTransport", TransportKind::Tcp),
            ("UdpTransport", TransportKind::Udp),
            ("BeatsTransport", TransportKind::Beats),
            ("HttpTransport", TransportKind::Http),
        ] {
            let json = format!(r#"{{"host":"h","transport":"logstash_async.transport.{class}"}}"#);
            assert_eq!(Config::from_json(json.as_bytes()).unwrap().transport, kind);
        }
        assert!(
            err(r#"{"host":"h","transport":"logstash_async.transport.Kafka"}"#)
                .starts_with("transport: unknown transport")
        );
        assert!(
            err(r#"{"host":"h","transport":"mymodule.TcpTransport"}"#).starts_with("transport:")
        );
        for name in ["utf-8", "UTF-8", "utf8", "utf_8"] {
            let json = format!(r#"{{"host":"h","encoding":"{name}"}}"#);
            Config::from_json(json.as_bytes()).unwrap();
        }
        let e = err(r#"{"host":"h","encoding":"latin-1"}"#);
        assert!(
            e.starts_with("encoding: only \"utf-8\"") && e.contains("latin-1"),
            "{e}"
        );
        assert!(err(r#"{"host":"h","encoding":1}"#).starts_with("encoding: expected a string"));
        // HttpTransport's path has no leading slash ("{host}:{port}/{path}").
        let path = |p: &str| {
            let json = format!(r#"{{"host":"h","transport":"http","path":"{p}"}}"#);
            Config::from_json(json.as_bytes()).unwrap().http.path
        };
        assert_eq!(
            (path("logs/in"), path("/logs/in"), path("")),
            ("/logs/in".into(), "/logs/in".into(), "/".into())
        );
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
