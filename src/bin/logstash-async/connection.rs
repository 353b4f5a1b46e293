//! Connection options shared by `send` and `replay`, turned into a library
//! `Config`. Precedence: the tool's defaults, then `--config FILE.json`, then
//! the flags. Validation is the library's own (`Config::from_map`), so the tool
//! accepts exactly what the library accepts.

use crate::failure::Failure;
use logstash_async::config::TransportKind;
use logstash_async::Config;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

pub const HELP: &str = "\
Connection options:
  --config FILE.json     library configuration (python-logstash-async option names)
  --host HOST            receiver host [default: 127.0.0.1, or the config's]
  --port PORT            receiver port [default: 5959, or the config's]
  --transport tcp|udp|tls|beats|http|kafka|redis   [default: tcp]
                         (kafka: --host/--port is the broker [port 9092], or
                         kafka_brokers in the config; redis: port 6379)
  --topic TOPIC          kafka: the topic [default: logstash]
  --list KEY             redis: the list [default: logstash]
  --ca FILE              tls: CA certificate(s) to verify the receiver with
  --cert FILE --key FILE tls: client certificate and its PKCS#8 PEM key
  --insecure             tls: do not verify the receiver's certificate
  --database FILE        SQLite buffer file: undelivered events stay there
";

#[derive(Default)]
pub struct ConnectionArgs {
    config_file: Option<PathBuf>,
    flags: Map<String, Value>,
}

impl ConnectionArgs {
    /// Takes one option if it is a connection option; false if it is not.
    pub fn accept(&mut self, name: &str, parser: &mut lexopt::Parser) -> Result<bool, Failure> {
        let mut value = || -> Result<String, Failure> {
            parser
                .value()
                .map_err(Failure::usage)?
                .into_string()
                .map_err(|v| Failure::Usage(format!("{name}: not valid UTF-8: {v:?}")))
        };
        match name {
            "--config" => self.config_file = Some(PathBuf::from(value()?)),
            "--host" => self.set("host", value()?.into()),
            "--port" => {
                let text = value()?;
                let port: u16 = text.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                    Failure::Usage(format!("--port: '{text}' is not a port (1..=65535)"))
                })?;
                self.set("port", port.into());
            }
            "--transport" => match value()?.as_str() {
                "tcp" => {
                    self.set("transport", "tcp".into());
                    self.set("ssl_enable", false.into());
                }
                "tls" => {
                    self.set("transport", "tcp".into());
                    self.set("ssl_enable", true.into());
                }
                // Anything else (udp, beats, http) is the library's to judge.
                other => self.set("transport", other.into()),
            },
            "--ca" => self.set("ca_certs", value()?.into()),
            "--cert" => self.set("certfile", value()?.into()),
            "--key" => self.set("keyfile", value()?.into()),
            "--insecure" => self.set("ssl_verify", false.into()),
            "--topic" => self.set("kafka_topic", value()?.into()),
            "--list" => self.set("redis_key", value()?.into()),
            "--database" => self.set("database_path", value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn set(&mut self, key: &str, value: Value) {
        self.flags.insert(key.to_owned(), value);
    }

    pub fn database(&self) -> Option<PathBuf> {
        self.flags
            .get("database_path")
            .and_then(Value::as_str)
            .map(PathBuf::from)
    }

    /// The library configuration: defaults, then the file, then the flags.
    pub fn config(&self) -> Result<Config, Failure> {
        let mut map = match json!({
            // The tool reports failures itself, in one line at the end.
            "stderr_errors": false,
            // Reading a file faster than the network must slow the reader, not drop lines.
            "overflow_policy": "block",
            "block_timeout_ms": 1000,
            // A command-line sender should not sit on a partial batch for 10 s.
            "queued_events_flush_interval": 0.2,
        }) {
            Value::Object(m) => m,
            _ => unreachable!("a literal object"),
        };
        if let Some(path) = &self.config_file {
            let text = std::fs::read(path).map_err(|e| {
                Failure::Runtime(format!("--config: cannot read {}: {e}", path.display()))
            })?;
            match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Object(file)) => map.extend(file),
                Ok(_) => {
                    return Err(Failure::Usage(format!(
                        "--config {}: must be a JSON object",
                        path.display()
                    )))
                }
                Err(e) => {
                    return Err(Failure::Usage(format!(
                        "--config {}: not valid JSON: {e}",
                        path.display()
                    )))
                }
            }
        }
        map.extend(self.flags.clone());
        // The default host, unless one (or a list) is given.
        if !["host", "hosts", "kafka_brokers"]
            .iter()
            .any(|k| map.contains_key(*k))
        {
            map.insert("host".into(), "127.0.0.1".into());
        }
        Config::from_map(&map).map_err(|e| Failure::Usage(format!("configuration: {e}")))
    }
}

/// Where events go, for messages: `tcp://127.0.0.1:5959`.
pub fn destination(config: &Config) -> String {
    let scheme = match (config.transport, config.tls.enable) {
        (TransportKind::Tcp, true) => "tls".to_owned(),
        (TransportKind::Tcp, false) => "tcp".to_owned(),
        #[allow(unreachable_patterns)] // transports added later name themselves
        (other, _) => format!("{other:?}").to_lowercase(),
    };
    format!("{scheme}://{}:{}", config.host, config.port)
}
