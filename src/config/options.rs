//! Every option the configuration accepts: the tables of the concern files,
//! looked up by name.

use super::declare::ConfigOption;
use super::{beats, brokers, http, layout, limits, shaping, tls, transport, worker};

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
