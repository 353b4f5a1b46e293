//! Which event layout the worker writes (`"formatter"` option): the Logstash
//! layout of python-logstash-async's LogstashFormatter (the default, in
//! `crate::event`) or the Elastic Common Schema layout of its
//! LogstashEcsFormatter (`ecs`).

pub mod ecs;

use crate::config::{Config, FormatterKind};
use crate::event::{EventRef, Formatter};
use serde_json::value::RawValue;

/// The configured formatter: one per worker, on the worker thread (both
/// variants boxed, as the two formatters differ much in size).
pub enum Layout {
    Logstash(Box<Formatter>),
    Ecs(Box<ecs::EcsFormatter>),
}

impl Layout {
    /// `host` is the already resolved host name (short or FQDN).
    pub fn new(config: &Config, host: &str, program: &str) -> Layout {
        match config.formatter {
            FormatterKind::Logstash => {
                Layout::Logstash(Box::new(Formatter::new(config, host, program)))
            }
            FormatterKind::Ecs => {
                Layout::Ecs(Box::new(ecs::EcsFormatter::new(config, host, program)))
            }
        }
    }

    /// Applies a set_extra (None removes the key).
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        match self {
            Layout::Logstash(f) => f.set_extra(key, value),
            Layout::Ecs(f) => f.set_extra(key, value),
        }
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev: EventRef<'a> = ev.into();
        match self {
            Layout::Logstash(f) => f.format(ev, out),
            Layout::Ecs(f) => f.format(ev, out),
        }
    }
}
