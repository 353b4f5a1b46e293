//! The fields both layouts give every event unless it sets them itself
//! (python-logstash-async's primary fields: version, host, level, message,
//! pid, program, type, metadata, tags), serialised once per layout.

use super::json::json_string;
use crate::config::Config;
use serde_json::Value;

/// Each default as JSON text.
pub(crate) struct Defaults {
    pub(crate) version: String,
    /// The resolved host name (short or FQDN); also the log source.
    pub(crate) host: String,
    pub(crate) level: String,
    pub(crate) message: String,
    pub(crate) pid: String,
    /// `argv[0]`.
    pub(crate) program: String,
    /// `message_type`.
    pub(crate) message_type: String,
    /// None: no `@metadata` field.
    pub(crate) metadata: Option<String>,
    /// None: no `tags` field.
    pub(crate) tags: Option<String>,
}

impl Defaults {
    pub(crate) fn new(config: &Config, host: &str, program: &str) -> Defaults {
        Defaults {
            version: "\"1\"".to_owned(),
            host: json_string(host),
            level: "\"INFO\"".to_owned(),
            message: "\"\"".to_owned(),
            pid: std::process::id().to_string(),
            program: json_string(program),
            message_type: json_string(&config.message_type),
            metadata: config.metadata.as_ref().map(Value::to_string),
            tags: (!config.tags.is_empty()).then(|| Value::Array(config.tags.clone()).to_string()),
        }
    }
}
