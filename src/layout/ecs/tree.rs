//! The ECS layout's general path: the event parsed into a serde_json tree,
//! its members placed (top level, renamed, or extra), dotted names expanded
//! and the tree serialised. The first implementation of the layout, exact for
//! every event; the one-pass writer (`fast.rs`) leaves it the shapes it does
//! not handle, and must write the same bytes as this path for the rest.

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
        let fields: Map<String, Value> =
            serde_json::from_slice(ev.json).map_err(|e| e.to_string())?;

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
        // set_extra's, then the event's own keys.
        let mut extra = self.base_extra.clone();
        for (k, v) in fields {
            if slot_index(&k).is_some() {
                top.insert(k, v);
            } else if Some(k.as_str()) == self.prefix.as_deref() && v.is_object() {
                // An event that nests its extras under the prefix itself: merge them.
                if let Value::Object(inner) = v {
                    extra.extend(inner);
                }
            } else {
                extra.insert(k, v);
            }
        }
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

        let message = expand_dotted(top);
        serde_json::to_writer(&mut *out, &message).map_err(|e| e.to_string())
    }
}

/// Turns `{"log.level": x, "log.logger": y}` into `{"log": {"level": x, "logger": y}}`.
/// Keys are visited in sorted order, so `log` comes before `log.level`: an
/// object under `log` is merged with the dotted fields, and a non-object value
/// there gives way to them. A key with an empty segment stays as it is.
fn expand_dotted(fields: BTreeMap<String, Value>) -> Value {
    let mut root = Map::new();
    for (key, value) in fields {
        let segments: Vec<&str> = key.split('.').collect();
        if segments.len() == 1 || segments.iter().any(|s| s.is_empty()) {
            insert_merging(&mut root, &key, value);
            continue;
        }
        let (last, parents) = segments.split_last().expect("at least two segments");
        let mut node = &mut root;
        for segment in parents {
            let slot = node
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            node = slot.as_object_mut().expect("made an object above");
        }
        insert_merging(node, last, value);
    }
    Value::Object(root)
}

/// Inserts `value`, merging objects key by key with what is there.
fn insert_merging(map: &mut Map<String, Value>, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                insert_merging(existing, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expand_dotted_handles_conflicts_and_odd_keys() {
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), json!("scalar"));
        m.insert("a.b".to_owned(), json!(1));
        m.insert("x..y".to_owned(), json!(2));
        m.insert(".z".to_owned(), json!(3));
        let v = expand_dotted(m);
        assert_eq!(v, json!({"a": {"b": 1}, "x..y": 2, ".z": 3}));
    }
}
