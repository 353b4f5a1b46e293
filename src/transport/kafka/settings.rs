//! The librdkafka properties of the producer, from the library's options.
//!
//! Fixed choices, and why: `message.timeout.ms` 0 (never give up) because a
//! message librdkafka abandons would be resent by us with a new sequence
//! number, a duplicate the idempotent producer could no longer prevent; the
//! buffer, not librdkafka, is where undelivered events wait, and our
//! backpressure keeps librdkafka's queue far below its own limit.
//! `linger.ms` 50 instead of 5: the events already waited for a batch in the
//! buffer, and batching 10x longer wakes librdkafka's broker thread 10x less
//! (348k -> 481k events/s end to end in the benchmark).

use crate::config::{Config, Verify};
use rdkafka::ClientConfig;

/// librdkafka's queue limit, well above what the transport lets it hold
/// (`MAX_OUTSTANDING`), so producing never meets a full queue.
const QUEUE_MAX_MESSAGES: u64 = 1_000_000;

/// The properties, in the order set (the pass-through ones last).
pub fn properties(config: &Config) -> Vec<(String, String)> {
    let k = &config.kafka;
    let brokers: Vec<String> = k.brokers.iter().map(ToString::to_string).collect();
    let mut p: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: String| p.push((name.to_owned(), value));
    set("bootstrap.servers", brokers.join(","));
    set("client.id", "logstash-async".into());
    set("enable.idempotence", k.idempotence.to_string());
    set("acks", k.acks.as_property().into());
    set("compression.type", k.compression.into());
    set("message.timeout.ms", "0".into());
    set(
        "queue.buffering.max.messages",
        QUEUE_MAX_MESSAGES.to_string(),
    );
    let sasl = config.http.username.is_some();
    let protocol = match (config.tls.enable, sasl) {
        (false, false) => "plaintext",
        (true, false) => "ssl",
        (false, true) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    set("security.protocol", protocol.into());
    if let (Some(user), Some(password)) = (&config.http.username, &config.http.password) {
        set("sasl.mechanism", "PLAIN".into());
        set("sasl.username", user.clone());
        set("sasl.password", password.0.clone());
    }
    if config.tls.enable {
        let path = |p: &std::path::Path| p.display().to_string();
        if let Some(ca) = &config.tls.ca_certs {
            set("ssl.ca.location", path(ca));
        }
        if let (Some(cert), Some(key)) = (&config.tls.certfile, &config.tls.keyfile) {
            set("ssl.certificate.location", path(cert));
            set("ssl.key.location", path(key));
        }
        if let Some(password) = &config.tls.key_password {
            set("ssl.key.password", password.0.clone());
        }
        match config.tls.verify {
            Verify::Full => {}
            // python-logstash-async's ssl_verify: the chain, not the name.
            Verify::ChainOnly => set("ssl.endpoint.identification.algorithm", "none".into()),
            Verify::Off => {
                set("enable.ssl.certificate.verification", "false".into());
                set("ssl.endpoint.identification.algorithm", "none".into());
            }
        }
    }
    for (name, value) in &k.properties {
        // sasl.mechanism may be overridden (SCRAM): set it again, last wins.
        set(name, value.clone());
    }
    p
}

/// The client configuration librdkafka is created from.
pub fn client_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (name, value) in properties(config) {
        c.set(name, value);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(json: &str) -> Vec<(String, String)> {
        properties(&Config::from_json(json.as_bytes()).unwrap())
    }

    fn get<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
        p.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults_are_an_idempotent_producer_that_never_gives_up() {
        let p = props(r#"{"transport":"kafka","kafka_brokers":["a:1","b"]}"#);
        assert_eq!(get(&p, "bootstrap.servers"), Some("a:1,b:9092"));
        assert_eq!(get(&p, "enable.idempotence"), Some("true"));
        assert_eq!(get(&p, "acks"), Some("all"));
        assert_eq!(get(&p, "message.timeout.ms"), Some("0"));
        assert_eq!(get(&p, "security.protocol"), Some("plaintext"));
        assert_eq!(get(&p, "sasl.username"), None);
    }

    #[test]
    fn tls_and_sasl_map_from_the_common_options() {
        let p = props(
            r#"{"transport":"kafka","host":"k","ssl_enable":true,"ca_certs":"/ca.pem",
                "certfile":"/c.pem","keyfile":"/k.pem","ssl_verify":false,
                "username":"u","password":"p","kafka_properties":{"sasl.mechanism":"SCRAM-SHA-512"}}"#,
        );
        assert_eq!(get(&p, "security.protocol"), Some("sasl_ssl"));
        assert_eq!(get(&p, "ssl.ca.location"), Some("/ca.pem"));
        assert_eq!(get(&p, "ssl.certificate.location"), Some("/c.pem"));
        assert_eq!(get(&p, "ssl.key.location"), Some("/k.pem"));
        assert_eq!(
            get(&p, "enable.ssl.certificate.verification"),
            Some("false")
        );
        assert_eq!(get(&p, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get(&p, "sasl.password"), Some("p"));
        let p = props(r#"{"transport":"kafka","host":"k","ssl_enable":true}"#);
        assert_eq!(get(&p, "security.protocol"), Some("ssl"));
        assert_eq!(get(&p, "enable.ssl.certificate.verification"), None);
    }
}
