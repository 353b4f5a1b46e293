//! The ECS layout's general path: the event parsed into a serde_json tree,
//! its members placed (top level, renamed, or extra), dotted names expanded
//! (`dotted.rs`) and the tree serialised. Exact for every event; the
//! one-pass writer (`fast.rs`) leaves it the shapes it does not handle.

use super::dotted::expand;
use super::fields::{slot_index, ECS_FIELDS, SLOT_NAMES};
use crate::event::EventRef;
use crate::layout::timestamp::format_timestamp;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(super) struct TreeWriter {
    /// The layout's own fields by dotted name (bar the timestamp and the
    /// thread name, which come with each event).
    constants: BTreeMap<String, Value>,
    /// The extras of the configuration and set_extra, merged.
    base_extra: BTreeMap<String, Value>,
    prefix: Option<String>,
}

impl TreeWriter {
    /// `defaults` are the serialised constants in SLOT_NAMES order.
    pub(super) fn new(prefix: Option<&str>, defaults: &[Option<String>]) -> TreeWriter {
        let constants = SLOT_NAMES
            .iter()
            .zip(defaults)
            .filter_map(|(name, value)| {
                let value = serde_json::from_str(value.as_deref()?).ok()?;
                Some((name.to_string(), value))
            })
            .collect();
        TreeWriter {
            constants,
            base_extra: BTreeMap::new(),
            prefix: prefix.map(str::to_owned),
        }
    }

    /// Takes the merged extras of the configuration and set_extra.
    pub(super) fn set_base_extra(&mut self, merged: BTreeMap<String, Value>) {
        self.base_extra = merged;
    }

    /// Appends one formatted event (no trailing newline) to `out`.
    pub(super) fn format(&self, ev: EventRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
        let own: Map<String, Value> = serde_json::from_slice(ev.json).map_err(|e| e.to_string())?;
        // The thread's context, as members of the event below its own.
        let fields = match ev.context {
            None => own,
            Some(context) => {
                let mut merged: Map<String, Value> =
                    serde_json::from_str(context.as_json()).map_err(|e| e.to_string())?;
                merged.extend(own);
                merged
            }
        };

        let mut timestamp = Vec::with_capacity(24);
        format_timestamp(ev.unix_ms, &mut timestamp);
        let timestamp = String::from_utf8_lossy(&timestamp).into_owned();

        // Dotted names first; expanded into objects at the end.
        let mut top = self.constants.clone();
        top.insert("@timestamp".to_owned(), Value::String(timestamp));
        top.insert(
            "process.thread.name".to_owned(),
            Value::from(&**ev.thread_name),
        );

        // Extra fields, lowest precedence first: the configuration's and
        // set_extra's, then the event's own: first those it nests under the
        // prefix itself, then its other keys (as python-logstash-async,
        // which moves the top-level keys into the event's prefix object).
        let mut extra = self.base_extra.clone();
        let mut own = Vec::new();
        for (k, v) in fields {
            match v {
                _ if slot_index(&k).is_some() => {
                    top.insert(k, v);
                }
                Value::Object(nested) if Some(k.as_str()) == self.prefix.as_deref() => {
                    extra.extend(nested)
                }
                v => own.push((k, v)),
            }
        }
        extra.extend(own);
        // Known names become their ECS fields.
        for (name, ecs) in ECS_FIELDS {
            if let Some(v) = extra.remove(name) {
                top.insert(ecs.to_owned(), v);
            }
        }
        match &self.prefix {
            Some(prefix) => {
                top.insert(prefix.clone(), Value::Object(extra.into_iter().collect()));
            }
            None => top.extend(extra),
        }

        let message = expand(Value::Object(top.into_iter().collect()));
        serde_json::to_writer(&mut *out, &message).map_err(|e| e.to_string())
    }
}
