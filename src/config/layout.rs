//! Options of the event layout: which one (`formatter`, python-logstash-async's
//! name for it) and what it adds to every event (type, tags, host name form,
//! extra fields and their prefix, metadata, ASCII escaping), and the text
//! encoding (python-logstash-async's option; UTF-8 only).

use super::options::{option, ConfigOption};
use super::read::{boolean, kind, opt_string, string};
use serde_json::{Map, Value};

/// Which event layout the worker writes (the `formatter` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutKind {
    /// python-logstash-async's LogstashFormatter (the default).
    #[default]
    Logstash,
    /// python-logstash-async's LogstashEcsFormatter (Elastic Common Schema 8.11).
    Ecs,
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("formatter", "\"logstash\"", |c, k, v| {
        c.layout = match string(k, v)?.as_str() {
            "logstash" => LayoutKind::Logstash,
            "ecs" => LayoutKind::Ecs,
            other => {
                return Err(format!(
                    "formatter: unknown formatter \"{other}\" (expected \"logstash\" or \"ecs\")"
                ))
            }
        };
        Ok(())
    }),
    option("message_type", "\"python-logstash\"", |c, k, v| {
        c.message_type = string(k, v)?;
        Ok(())
    }),
    option("tags", "[]", |c, _, v| {
        c.tags = match v {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            other => return Err(format!("tags: expected an array, got {}", kind(other))),
        };
        Ok(())
    }),
    option("fqdn", "false", |c, k, v| {
        c.fqdn = boolean(k, v)?;
        Ok(())
    }),
    option("extra_prefix", "\"extra\"", |c, k, v| {
        c.extra_prefix = opt_string(k, v)?.filter(|p| !p.is_empty());
        Ok(())
    }),
    option("extra", "{}", |c, _, v| {
        c.extra = match v {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => return Err(format!("extra: expected an object, got {}", kind(other))),
        };
        Ok(())
    }),
    option("metadata", "null", |c, _, v| {
        c.metadata = match v {
            Value::Null => None,
            Value::Object(m) if m.is_empty() => None,
            Value::Object(_) => Some(v.clone()),
            other => return Err(format!("metadata: expected an object, got {}", kind(other))),
        };
        Ok(())
    }),
    option("ensure_ascii", "true", |c, k, v| {
        c.ensure_ascii = boolean(k, v)?;
        Ok(())
    }),
    // python-logstash-async encodes its JSON text with `encoding`; events
    // here are UTF-8 JSON, so only that is accepted (not ignored).
    option("encoding", "\"utf-8\"", |_, k, v| {
        let name = string(k, v)?;
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(()),
            _ => Err(format!(
                "encoding: only \"utf-8\" is supported (events are sent as UTF-8 JSON), got \"{name}\""
            )),
        }
    }),
];
