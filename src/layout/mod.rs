//! The layout: how the worker turns an accepted event into the JSON line it
//! sends, chosen by the `formatter` option (python-logstash-async's name for
//! it). `logstash.rs` writes python-logstash-async's LogstashFormatter layout
//! (the default), `ecs/` its LogstashEcsFormatter layout; the rest is what
//! both share: the defaults, the extra fields, JSON and timestamp writing.

mod defaults;
mod ecs;
mod extra;
mod json;
mod logstash;
mod timestamp;

pub(crate) use timestamp::format_timestamp;

use crate::config::{Config, LayoutKind};
use crate::event::EventRef;
use crate::shaping::Shaper;
use serde_json::value::RawValue;

/// The configured layout: one per worker, on the worker thread.
pub struct Layout {
    kind: Kind,
    /// Escape non-ASCII as `\uXXXX`, as Python's `json.dumps` does by default.
    ensure_ascii: bool,
    /// Renames, drops and masks (None without shaping options: no cost).
    shaper: Option<Box<Shaper>>,
}

/// Both variants boxed, as the two layouts differ much in size.
enum Kind {
    Logstash(Box<logstash::LogstashLayout>),
    Ecs(Box<ecs::EcsLayout>),
}

impl Layout {
    /// `host` is the already resolved host name (short or FQDN); `program`
    /// is `argv[0]`.
    pub fn new(config: &Config, host: &str, program: &str) -> Layout {
        let kind = match config.layout {
            LayoutKind::Logstash => Kind::Logstash(Box::new(logstash::LogstashLayout::new(
                config, host, program,
            ))),
            LayoutKind::Ecs => Kind::Ecs(Box::new(ecs::EcsLayout::new(config, host, program))),
        };
        Layout {
            kind,
            ensure_ascii: config.ensure_ascii,
            shaper: Shaper::new(&config.shaping).map(Box::new),
        }
    }

    /// Applies a set_extra (None removes the key): it joins every event
    /// formatted after it.
    pub fn set_extra(&mut self, key: String, value: Option<Box<RawValue>>) {
        match &mut self.kind {
            Kind::Logstash(layout) => layout.set_extra(key, value),
            Kind::Ecs(layout) => layout.set_extra(key, value),
        }
    }

    /// Appends one formatted event (no trailing newline) to `out`. The event
    /// must pass `event::validate` (every queued event did); any other input
    /// is refused with an error.
    pub fn format<'a>(&self, ev: impl Into<EventRef<'a>>, out: &mut Vec<u8>) -> Result<(), String> {
        let ev: EventRef<'a> = ev.into();
        let start = out.len();
        match &self.kind {
            Kind::Logstash(layout) => layout.format(ev, out)?,
            Kind::Ecs(layout) => layout.format(ev, out)?,
        }
        if let Some(shaper) = &self.shaper {
            shaper.apply(out, start);
        }
        if self.ensure_ascii {
            json::escape_non_ascii(out, start);
        }
        Ok(())
    }
}

/// What the layouts' unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::Layout;
    use crate::config::Config;
    use crate::event::EventRef;
    use serde_json::Value;
    use std::sync::Arc;

    /// The layout of a configuration document, for the host `myhost` and
    /// the program `/usr/bin/prog`.
    pub(crate) fn layout(config: &Value) -> Layout {
        let config = Config::from_json(config.to_string().as_bytes()).unwrap();
        Layout::new(&config, "myhost", "/usr/bin/prog")
    }

    /// The line `layout` writes for `event`, emitted at `unix_ms` on the
    /// thread `main`.
    pub(crate) fn line(layout: &Layout, unix_ms: i64, event: &str) -> String {
        let thread: Arc<str> = Arc::from("main");
        let ev = EventRef {
            unix_ms,
            thread_name: &thread,
            context: None,
            json: event.as_bytes(),
        };
        let mut out = Vec::new();
        layout.format(ev, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The same, parsed.
    pub(crate) fn parsed(layout: &Layout, unix_ms: i64, event: &str) -> Value {
        serde_json::from_str(&line(layout, unix_ms, event)).unwrap()
    }
}
