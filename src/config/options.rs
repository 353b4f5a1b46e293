//! The declaration of an option: its name, its default (JSON, as a user
//! writes it and the README shows it) and how a value is checked and stored.
//! Each concern's file declares its options in a table; `ALL` lists them.

use super::{beats, brokers, http, layout, limits, shaping, tls, transport, worker, Config};
use serde_json::Value;

/// Checks an option's value and stores it; the error starts with the
/// option's name.
pub(crate) type Apply = fn(&mut Config, &str, &Value) -> Result<(), String>;

/// One option of the configuration object.
pub struct ConfigOption {
    pub name: &'static str,
    /// The default as JSON text; `Config::new` applies it like a given value.
    pub default: &'static str,
    pub(crate) apply: Apply,
}

/// Declares an option (a short form for the tables).
pub(crate) const fn option(
    name: &'static str,
    default: &'static str,
    apply: Apply,
) -> ConfigOption {
    ConfigOption {
        name,
        default,
        apply,
    }
}

/// For `host` and `hosts`, which the parse entry reads together with the
/// options they depend on (see `transport::host` and `endpoint::resolve_hosts`).
pub(crate) fn read_by_parse(_: &mut Config, _: &str, _: &Value) -> Result<(), String> {
    Ok(())
}

/// Every option, by concern.
const ALL: [&[ConfigOption]; 9] = [
    transport::OPTIONS,
    beats::OPTIONS,
    http::OPTIONS,
    brokers::OPTIONS,
    tls::OPTIONS,
    layout::OPTIONS,
    shaping::OPTIONS,
    limits::OPTIONS,
    worker::OPTIONS,
];

/// Every option the configuration accepts.
pub fn all() -> impl Iterator<Item = &'static ConfigOption> {
    ALL.iter().flat_map(|table| table.iter())
}

/// The option of that name.
pub(crate) fn find(name: &str) -> Option<&'static ConfigOption> {
    all().find(|option| option.name == name)
}
