//! Options of the broker transports (kafka, redis), their defaults and
//! checks, and the rules that tie them to the rest of the configuration.
//!
//! Kafka's brokers are `kafka_brokers`, or else `host`/`port` (9092 by
//! default) or `hosts`, as for every other transport, so a binding that always
//! passes `host` can ship to Kafka too. Options of one transport given with
//! another are refused with a message naming them, as http-only ones are.
//! `username`/`password` (http.rs) serve kafka (SASL/PLAIN) and redis (AUTH).

use super::endpoint::parse_hosts;
use super::options::{option, read_by_parse, ConfigOption};
use super::read::{boolean, int_in, kind, opt_string, string};
use super::{Config, Endpoint, TransportKind};
use serde_json::{Map, Value};

/// Default port of a Kafka broker.
const KAFKA_DEFAULT_PORT: u16 = 9092;
/// Default port of Redis.
const REDIS_DEFAULT_PORT: u16 = 6379;

/// Kafka's compression codecs (librdkafka's `compression.type` names).
const COMPRESSIONS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// librdkafka properties the named options set, which `kafka_properties` may
/// not override (a second, conflicting way to say the same), and those the
/// transport relies on (an infinite message timeout: undelivered events wait
/// in the buffer; no transactions).
const MANAGED_PROPERTIES: [(&str, &str); 18] = [
    ("bootstrap.servers", "kafka_brokers"),
    ("metadata.broker.list", "kafka_brokers"),
    ("enable.idempotence", "kafka_idempotence"),
    ("acks", "kafka_acks"),
    ("request.required.acks", "kafka_acks"),
    ("compression.type", "kafka_compression"),
    ("compression.codec", "kafka_compression"),
    ("security.protocol", "ssl_enable, username and password"),
    ("sasl.username", "username"),
    ("sasl.password", "password"),
    ("ssl.ca.location", "ca_certs"),
    ("ssl.certificate.location", "certfile"),
    ("ssl.key.location", "keyfile"),
    ("enable.ssl.certificate.verification", "ssl_verify"),
    ("ssl.endpoint.identification.algorithm", "ssl_verify"),
    (
        "message.timeout.ms",
        "the library (events wait in the buffer until delivered)",
    ),
    (
        "delivery.timeout.ms",
        "the library (events wait in the buffer until delivered)",
    ),
    ("transactional.id", "the library (no transactions)"),
];

/// Kafka's `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KafkaAcks {
    /// Every in-sync replica has the event (required by idempotence).
    #[default]
    All,
    /// The partition leader has it.
    Leader,
    /// Not acknowledged at all: a delivery report says only "sent".
    None,
}

impl KafkaAcks {
    pub fn as_property(self) -> &'static str {
        match self {
            KafkaAcks::All => "all",
            KafkaAcks::Leader => "1",
            KafkaAcks::None => "0",
        }
    }
}

/// Options of the kafka transport.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KafkaOptions {
    /// Bootstrap brokers (`kafka_brokers`, or `host`/`port`/`hosts`).
    pub brokers: Vec<Endpoint>,
    pub topic: String,
    /// Event field (a dotted path into nested objects) whose value keys the message.
    pub key_field: Option<String>,
    /// librdkafka's `compression.type`.
    pub compression: &'static str,
    pub acks: KafkaAcks,
    pub idempotence: bool,
    /// Other librdkafka properties, passed through (`kafka_properties`).
    pub properties: Vec<(String, String)>,
}

/// Options of the redis transport.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RedisOptions {
    /// The list events are appended to (RPUSH).
    pub key: String,
    pub db: u32,
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    // Resolved against host/hosts by the rule `resolve_brokers`.
    option("kafka_brokers", "null", read_by_parse),
    // Logstash's kafka input reads "logstash" by default, its redis input too.
    option("kafka_topic", "\"logstash\"", |c, k, v| {
        let topic = string(k, v)?;
        // Kafka's own rule for topic names.
        let legal = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-');
        if topic.is_empty()
            || topic.len() > 249
            || !topic.chars().all(legal)
            || topic == "."
            || topic == ".."
        {
            return Err(format!(
                "kafka_topic: \"{topic}\" is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"
            ));
        }
        c.kafka.topic = topic;
        Ok(())
    }),
    option("kafka_key_field", "null", |c, k, v| {
        c.kafka.key_field = opt_string(k, v)?;
        if let Some(field) = &c.kafka.key_field {
            if field.is_empty() || field.split('.').any(str::is_empty) {
                return Err(format!(
                    "kafka_key_field: \"{field}\" is not a field name (a dotted path such as \"extra.user\")"
                ));
            }
        }
        Ok(())
    }),
    option("kafka_compression", "\"none\"", |c, k, v| {
        let name = string(k, v)?;
        c.kafka.compression = COMPRESSIONS.into_iter().find(|&n| n == name).ok_or_else(|| {
            format!(
                "kafka_compression: unknown codec \"{name}\" (expected \"none\", \"gzip\", \"snappy\", \"lz4\" or \"zstd\")"
            )
        })?;
        Ok(())
    }),
    option("kafka_acks", "\"all\"", |c, k, v| {
        c.kafka.acks = acks(k, v)?;
        Ok(())
    }),
    option("kafka_idempotence", "true", |c, k, v| {
        c.kafka.idempotence = boolean(k, v)?;
        Ok(())
    }),
    option("kafka_properties", "{}", |c, _, v| {
        c.kafka.properties = properties(v)?;
        Ok(())
    }),
    option("redis_key", "\"logstash\"", |c, k, v| {
        let key = string(k, v)?;
        if key.is_empty() {
            return Err("redis_key: must not be empty".into());
        }
        c.redis.key = key;
        Ok(())
    }),
    option("redis_db", "0", |c, k, v| {
        c.redis.db = int_in(k, v, 0, i64::from(u16::MAX))? as u32;
        Ok(())
    }),
];

/// `kafka_acks`: "all" (or -1), 1 or 0, as a string or a number.
fn acks(key: &str, value: &Value) -> Result<KafkaAcks, String> {
    Ok(match value {
        Value::String(s) if s == "all" || s == "-1" => KafkaAcks::All,
        Value::String(s) if s == "1" => KafkaAcks::Leader,
        Value::String(s) if s == "0" => KafkaAcks::None,
        Value::Number(_) => match int_in(key, value, -1, 1)? {
            -1 => KafkaAcks::All,
            1 => KafkaAcks::Leader,
            _ => KafkaAcks::None,
        },
        other => {
            return Err(format!(
                "kafka_acks: expected \"all\", 1 or 0, got {}",
                match other {
                    Value::String(s) => format!("\"{s}\""),
                    v => kind(v).to_owned(),
                }
            ))
        }
    })
}

/// `kafka_properties`: an object of librdkafka properties with string,
/// number or boolean values.
fn properties(value: &Value) -> Result<Vec<(String, String)>, String> {
    let map = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        other => {
            return Err(format!(
                "kafka_properties: expected an object of librdkafka properties, got {}",
                kind(other)
            ))
        }
    };
    map.iter()
        .map(|(name, v)| {
            if let Some((_, by)) = MANAGED_PROPERTIES.iter().find(|(p, _)| p == name) {
                return Err(format!("kafka_properties: \"{name}\" is set by {by}"));
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    let got = kind(other);
                    return Err(format!(
                        "kafka_properties: \"{name}\": expected a string, number or boolean, got {got}"
                    ));
                }
            };
            Ok((name.clone(), text))
        })
        .collect()
}

/// `kafka_brokers` names the receivers, as `host` and `hosts` do (then
/// `host` is not required).
pub(super) fn lists_brokers(map: &Map<String, Value>) -> bool {
    !matches!(map.get("kafka_brokers"), None | Some(Value::Null))
}

/// Rule: kafka listens on 9092 and redis on 6379 unless `port` says otherwise.
pub(super) fn default_port(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    let port = match c.transport {
        TransportKind::Kafka => KAFKA_DEFAULT_PORT,
        TransportKind::Redis => REDIS_DEFAULT_PORT,
        _ => return Ok(()),
    };
    if !map.contains_key("port") {
        c.port = port;
    }
    Ok(())
}

/// Rule: `kafka_*` options only with kafka, `redis_*` only with redis.
pub(super) fn check_transport(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    for key in map.keys() {
        let (owner, name) = if key.starts_with("kafka_") {
            (TransportKind::Kafka, "kafka")
        } else if key.starts_with("redis_") {
            (TransportKind::Redis, "redis")
        } else {
            continue;
        };
        if c.transport != owner {
            return Err(format!("{key}: only used with the {name} transport"));
        }
    }
    Ok(())
}

/// Rule: kafka's brokers (`kafka_brokers`, or host/hosts, resolved by now)
/// and what the producer needs of the other options.
pub(super) fn resolve_brokers(c: &mut Config, map: &Map<String, Value>) -> Result<(), String> {
    if c.transport != TransportKind::Kafka {
        return Ok(());
    }
    let given = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
    if let Some(list) = map.get("kafka_brokers").filter(|v| !v.is_null()) {
        if given("host") || given("hosts") {
            return Err("kafka_brokers: give either kafka_brokers or host/hosts, not both".into());
        }
        c.kafka.brokers = parse_hosts(list, KAFKA_DEFAULT_PORT)
            .map_err(|e| e.replacen("hosts", "kafka_brokers", 1))?;
        c.host = c.kafka.brokers[0].host.clone();
        c.port = c.kafka.brokers[0].port;
    } else {
        c.kafka.brokers = c.endpoints();
    }
    if c.kafka.idempotence && c.kafka.acks != KafkaAcks::All {
        return Err(
            "kafka_acks: must be \"all\" while kafka_idempotence is on (the idempotent producer needs every replica's acknowledgement)".into(),
        );
    }
    if c.http.username.is_some() != c.http.password.is_some() {
        return Err("username and password: SASL/PLAIN needs both".into());
    }
    for key in ["loadbalance", "ssl_server_name"] {
        if given(key) {
            return Err(format!(
                "{key}: not available with the kafka transport (librdkafka picks the brokers)"
            ));
        }
    }
    Ok(())
}

/// Rule: redis authenticates with a password (and an ACL user) and fails
/// over between hosts in order.
pub(super) fn check_redis(c: &mut Config, _: &Map<String, Value>) -> Result<(), String> {
    if c.transport != TransportKind::Redis {
        return Ok(());
    }
    if c.http.username.is_some() && c.http.password.is_none() {
        return Err("password: required when username is given (Redis AUTH)".into());
    }
    if c.loadbalance {
        return Err(
            "loadbalance: not available with the redis transport (hosts are tried in order: failover)".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        Config::from_json(json.as_bytes())
    }

    fn err(json: &str) -> String {
        parse(json).unwrap_err()
    }

    #[test]
    fn kafka_defaults_and_brokers() {
        let c = parse(r#"{"transport":"kafka","kafka_brokers":["a","b:9093"]}"#).unwrap();
        assert_eq!(c.transport, TransportKind::Kafka);
        let k = &c.kafka;
        assert_eq!(
            k.brokers.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["a:9092", "b:9093"]
        );
        assert_eq!(
            (k.topic.as_str(), k.compression, k.acks),
            ("logstash", "none", KafkaAcks::All)
        );
        assert!(k.idempotence && k.key_field.is_none() && k.properties.is_empty());
        // host/port (9092 unless given) are the broker otherwise.
        let c = parse(r#"{"transport":"kafka","host":"k"}"#).unwrap();
        assert_eq!(c.kafka.brokers[0].to_string(), "k:9092");
        let c = parse(r#"{"transport":"kafka","hosts":["k:1","l"]}"#).unwrap();
        assert_eq!(c.kafka.brokers.len(), 2);
        assert_eq!(c.kafka.brokers[1].to_string(), "l:9092");
    }

    #[test]
    fn kafka_options_are_checked() {
        let c = parse(
            r#"{"transport":"kafka","host":"k","kafka_topic":"logs-1","kafka_key_field":"extra.user",
                "kafka_compression":"zstd","kafka_acks":1,"kafka_idempotence":false,
                "kafka_properties":{"linger.ms":20,"client.id":"shop","socket.keepalive.enable":true},
                "username":"u","password":"p"}"#,
        )
        .unwrap();
        assert_eq!(c.kafka.topic, "logs-1");
        assert_eq!(c.kafka.key_field.as_deref(), Some("extra.user"));
        assert_eq!(
            (c.kafka.compression, c.kafka.acks),
            ("zstd", KafkaAcks::Leader)
        );
        assert_eq!(c.kafka.properties[0], ("client.id".into(), "shop".into()));
        assert_eq!(c.kafka.properties[1], ("linger.ms".into(), "20".into()));
        let kafka = |extra: &str| err(&format!(r#"{{"transport":"kafka","host":"k",{extra}}}"#));
        assert!(kafka(r#""kafka_topic":"a b""#).starts_with("kafka_topic:"));
        assert!(kafka(r#""kafka_topic":"""#).starts_with("kafka_topic:"));
        assert!(kafka(r#""kafka_key_field":"a..b""#).starts_with("kafka_key_field:"));
        assert!(kafka(r#""kafka_compression":"brotli""#).starts_with("kafka_compression:"));
        assert!(kafka(r#""kafka_acks":2"#).starts_with("kafka_acks:"));
        assert!(kafka(r#""kafka_acks":"some""#).starts_with("kafka_acks:"));
        assert!(kafka(r#""kafka_acks":1"#).contains("kafka_idempotence"));
        assert!(kafka(r#""kafka_properties":[1]"#).starts_with("kafka_properties:"));
        assert!(kafka(r#""kafka_properties":{"acks":"1"}"#).contains("set by kafka_acks"));
        assert!(kafka(r#""kafka_properties":{"message.timeout.ms":"1"}"#)
            .contains("set by the library"));
        assert!(kafka(r#""kafka_properties":{"a":{}}"#).contains("\"a\": expected a string"));
        assert!(kafka(r#""kafka_brokers":["x"]"#).starts_with("kafka_brokers: give either"));
        assert!(kafka(r#""kafka_tpoic":"x""#).starts_with("kafka_tpoic: unknown option"));
        assert!(kafka(r#""username":"u""#).contains("SASL/PLAIN needs both"));
        assert!(kafka(r#""loadbalance":true"#).starts_with("loadbalance:"));
        assert!(kafka(r#""ssl_server_name":"n""#).starts_with("ssl_server_name:"));
        assert!(err(r#"{"transport":"kafka","kafka_brokers":[]}"#)
            .starts_with("kafka_brokers: must not be empty"));
        assert!(err(r#"{"transport":"kafka","kafka_brokers":["a:0"]}"#)
            .starts_with("kafka_brokers[0]:"));
        assert!(err(r#"{"transport":"kafka"}"#).starts_with("host: required"));
    }

    #[test]
    fn redis_defaults_and_checks() {
        let c = parse(r#"{"transport":"redis","host":"r"}"#).unwrap();
        assert_eq!(
            (c.port, c.redis.key.as_str(), c.redis.db),
            (6379, "logstash", 0)
        );
        let c = parse(r#"{"transport":"redis","hosts":["a","b:7"],"redis_key":"q","redis_db":3,"password":"p"}"#).unwrap();
        assert_eq!(c.endpoints()[0].port, 6379);
        assert_eq!((c.redis.key.as_str(), c.redis.db), ("q", 3));
        let redis = |extra: &str| err(&format!(r#"{{"transport":"redis","host":"r",{extra}}}"#));
        assert!(redis(r#""redis_key":"""#).starts_with("redis_key:"));
        assert!(redis(r#""redis_db":-1"#).starts_with("redis_db:"));
        assert!(redis(r#""username":"u""#).starts_with("password: required"));
        assert!(redis(r#""loadbalance":true"#).starts_with("loadbalance:"));
        assert!(redis(r#""path":"/x""#).starts_with("path: only used with the http transport"));
    }

    #[test]
    fn options_of_one_transport_are_refused_with_another() {
        assert_eq!(
            err(r#"{"host":"h","kafka_topic":"t"}"#),
            "kafka_topic: only used with the kafka transport"
        );
        assert_eq!(
            err(r#"{"host":"h","transport":"kafka","redis_key":"k"}"#),
            "redis_key: only used with the redis transport"
        );
        assert_eq!(
            err(r#"{"host":"h","transport":"beats","redis_db":1}"#),
            "redis_db: only used with the redis transport"
        );
        assert!(err(r#"{"host":"h","username":"u","password":"p"}"#).contains("only used with"));
    }
}
