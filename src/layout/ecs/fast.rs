//! The ECS layout in one pass, without a tree: the event's members are split
//! by the scanner, each key goes to its place (a top-level or ECS field, a
//! renamed field, or an extra), and the nested output is written directly in
//! the order the general path (`tree.rs`, serde_json's sorted maps) writes.
//! Values are copied as they stood unless the layout writes them otherwise
//! (`canonical.rs`).
//!
//! It applies when the extra prefix is a plain name (no dot, not a top-level
//! or ECS name): then no field can merge with another, and the layout's
//! fields are a fixed set. Under a prefix, extras that merge (dotted names,
//! which nest, and names a dotted extra of the configuration nests under)
//! are merged and expanded as the general path does, for the prefix object
//! alone. It leaves to the general path the events that nest extras under
//! the prefix themselves, and without a prefix, events with dotted extras or
//! extras named like an ECS object.

use super::canonical::write_value;
use super::dotted::{expand, is_dotted_path};
use super::fields::{
    is_slot_root, rename_index, slot_index, ECS_FIELDS, SLOT_NAMES, THREAD, TIMESTAMP,
    TOP_LEVEL_FIELDS,
};
use crate::event::scan::{scan, Member};
use crate::event::EventRef;
use crate::layout::extra::{
    sort_last_wins, BaseExtra, Extra, ExtraField, ExtraScratch, MergedExtras,
};
use crate::layout::json::{key_json, ThreadNameJson};
use crate::layout::timestamp::TimestampWriter;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The slot of the extra prefix object, after SLOT_NAMES.
const PREFIX: usize = SLOT_NAMES.len();
const SLOTS: usize = PREFIX + 1;

/// Whether the fast layout can write events for this extra prefix: none
/// (extras on the top level), or a name that no other top-level field
/// equals or nests under.
pub(super) fn applies_to(prefix: Option<&str>) -> bool {
    let Some(prefix) = prefix else { return true };
    !prefix.contains('.')
        && !TOP_LEVEL_FIELDS.contains(&prefix)
        && !SLOT_NAMES
            .iter()
            .any(|name| name.split('.').next() == Some(prefix))
}

/// What one top-level field holds for the event being written.
#[derive(Clone, Copy)]
enum Field<'a> {
    Absent,
    /// Already serialised (constants, the configuration's extras).
    Ready(&'a str),
    /// As it stood in the event.
    Raw(&'a str),
    /// The emit time.
    Timestamp,
    /// The extra prefix object.
    Extra,
}

/// How a slot is written: the objects it nests in (an id per distinct path
/// prefix, and `"segment":`), then its own `"key":`.
struct SlotOut {
    parents: Vec<(u16, String)>,
    key: String,
    /// The first segment, as named (where extras on the top level go between).
    root: String,
}

/// The one-pass writer of the ECS layout.
pub(super) struct FastWriter {
    /// The slots in output order (sorted segment by segment, as nested
    /// sorted maps are written).
    order: Vec<usize>,
    slots: Vec<SlotOut>,
    /// The constant values, serialised (None: absent unless the event sets it).
    defaults: Vec<Option<String>>,
    /// The slot each ECS_FIELDS entry is renamed to.
    rename_slot: [usize; ECS_FIELDS.len()],
    /// Built-ins, static extra and set_extra merged (later wins), sorted by
    /// key, without the renamed names (those are in `base_renamed`).
    base_extra: Vec<BaseExtra>,
    base_renamed: Vec<Option<String>>,
    /// Without a prefix: the configuration's extras named as a top-level or
    /// ECS field, which replace it (after the renames).
    base_overrides: Vec<(usize, String)>,
    /// False when, without a prefix, an extra of the configuration would nest
    /// (a dotted name) or merge with an ECS object: the general path writes
    /// every event then.
    base_fits: bool,
    /// The first segments of the dotted extras of the configuration: an
    /// event extra named so merges with them.
    base_dotted_roots: Vec<String>,
    /// Under a prefix: the configuration's extras as the general path
    /// merges them (keys as given, values expanded; renamed names apart),
    /// for events whose extras merge (`merged_prefix_object`).
    base_map: Map<String, Value>,
    prefix: Option<String>,
    /// Bit i set: base_renamed[i] is Some.
    base_renamed_mask: u32,
    thread_names: ThreadNameJson,
    timestamps: TimestampWriter,
    scratch: ExtraScratch,
}

impl FastWriter {
    /// `defaults` are the serialised constants in SLOT_NAMES order.
    pub(super) fn new(prefix: Option<&str>, defaults: &[Option<String>]) -> FastWriter {
        let mut names: Vec<&str> = SLOT_NAMES.to_vec();
        // Without a prefix the slot stays empty.
        names.push(prefix.unwrap_or_default());
        let paths: Vec<Vec<&str>> = names.iter().map(|n| n.split('.').collect()).collect();
        let mut order: Vec<usize> = (0..SLOTS).collect();
        order.sort_by(|&a, &b| paths[a].cmp(&paths[b]));
        let mut ids: BTreeMap<Vec<&str>, u16> = BTreeMap::new();
        let slots = paths
            .iter()
            .map(|path| {
                let (last, parents) = path.split_last().expect("one segment at least");
                let parents = (0..parents.len())
                    .map(|d| {
                        let next = ids.len() as u16;
                        let id = *ids.entry(path[..=d].to_vec()).or_insert(next);
                        (id, key_json(parents[d]))
                    })
                    .collect();
                SlotOut {
                    parents,
                    key: key_json(last),
                    root: path[0].to_owned(),
                }
            })
            .collect();
        let mut defaults = defaults.to_vec();
        defaults.resize(SLOTS, None);
        let rename_slot = std::array::from_fn(|i| {
            slot_index(ECS_FIELDS[i].1).expect("every ECS name has a slot")
        });
        FastWriter {
            order,
            slots,
            defaults,
            rename_slot,
            base_extra: Vec::new(),
            base_renamed: vec![None; ECS_FIELDS.len()],
            base_renamed_mask: 0,
            base_overrides: Vec::new(),
            base_fits: true,
            base_dotted_roots: Vec::new(),
            base_map: Map::new(),
            prefix: prefix.map(str::to_owned),
            thread_names: ThreadNameJson::default(),
            timestamps: TimestampWriter::default(),
            scratch: ExtraScratch::default(),
        }
    }

    /// Takes the merged extras of the configuration and set_extra (their
    /// values already expanded).
    pub(super) fn set_base_extra(&mut self, merged: &BTreeMap<String, Value>) {
        self.base_renamed = vec![None; ECS_FIELDS.len()];
        self.base_renamed_mask = 0;
        self.base_overrides.clear();
        self.base_fits = true;
        self.base_dotted_roots.clear();
        self.base_map.clear();
        let flat = self.prefix.is_none();
        let serialise = |v: &Value| serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned());
        let mut extras = Map::new();
        for (key, value) in merged {
            match (rename_index(key), slot_index(key)) {
                (Some(i), _) => {
                    self.base_renamed[i] = Some(serialise(value));
                    self.base_renamed_mask |= 1 << i;
                }
                (None, Some(slot)) if flat => self.base_overrides.push((slot, serialise(value))),
                _ => {
                    if flat && (key.contains('.') || is_slot_root(key)) {
                        self.base_fits = false;
                    }
                    if is_dotted_path(key) {
                        let root = key.split('.').next().expect("one segment at least");
                        self.base_dotted_roots.push(root.to_owned());
                    }
                    if !flat {
                        self.base_map.insert(key.clone(), value.clone());
                    }
                    extras.insert(key.clone(), value.clone());
                }
            }
        }
        // Under the prefix, dotted extras are written expanded.
        let Value::Object(extras) = expand(Value::Object(extras)) else {
            unreachable!("an object expands into an object")
        };
        self.base_extra = extras
            .iter()
            .map(|(k, v)| BaseExtra::new(k, serialise(v)))
            .collect();
    }

    /// Appends one formatted event to `out`; returns false, with nothing
    /// appended, for an event the general path must write.
    pub(super) fn format<'a>(&self, ev: EventRef<'a>, out: &mut Vec<u8>) -> bool {
        let Ok(text) = std::str::from_utf8(ev.json) else {
            return false;
        };
        if !self.base_fits {
            return false;
        }
        let prefix = self.prefix.as_deref();
        let thread_name = self.thread_names.get(ev.thread_name);
        // The prefix object, when the extras merge (written by serde_json).
        let merged_prefix: String;

        let mut fields: [Field; SLOTS] =
            std::array::from_fn(|i| match self.defaults[i].as_deref() {
                Some(v) => Field::Ready(v),
                None => Field::Absent,
            });
        fields[TIMESTAMP] = Field::Timestamp;
        fields[THREAD] = Field::Ready(&thread_name);
        if prefix.is_some() {
            fields[PREFIX] = Field::Extra;
        }
        let mut renamed: [Option<&str>; ECS_FIELDS.len()] = [None; ECS_FIELDS.len()];
        let mut renamed_mask = 0u32;
        let mut event_extra: Vec<ExtraField> = self.scratch.take();
        let mut general = false;
        let mut merging = false;
        // The last of duplicate keys wins, as in the parsed map.
        let mut member = |m: Member<'a>| {
            let Some(key) = m.decoded_key() else {
                general = true;
                return;
            };
            if let Some(i) = slot_index(&key) {
                fields[i] = Field::Raw(m.value);
            } else if Some(&*key) == prefix && m.value.starts_with('{') {
                general = true;
            } else if let Some(i) = rename_index(&key) {
                renamed[i] = Some(m.value);
                renamed_mask |= 1 << i;
            } else {
                // A dotted extra nests, and one named as the root of a dotted
                // extra of the configuration merges with it: under the prefix
                // the prefix object is merged (below); without one, and for
                // an extra named as an ECS object, the general path writes.
                let merges = key.bytes().any(|b| b == b'.')
                    || self.base_dotted_roots.iter().any(|root| **root == *key);
                if prefix.is_some() {
                    merging |= merges;
                } else {
                    general |= merges || is_slot_root(&key);
                }
                event_extra.push((key, m.value));
            }
        };
        // The thread's context first: the event's own members win over it.
        if let Some(context) = ev.context {
            context.members().for_each(&mut member);
        }
        let scanned = scan(text, &mut member);
        if general || scanned != Ok(true) {
            self.scratch.keep(event_extra);
            return false;
        }
        // Known names become their ECS fields (in ECS_FIELDS order: `file`
        // wins over `path`), the event's over the configuration's.
        let mut pending = renamed_mask | self.base_renamed_mask;
        while pending != 0 {
            let i = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            fields[self.rename_slot[i]] = match (renamed[i], &self.base_renamed[i]) {
                (Some(v), _) => Field::Raw(v),
                (None, Some(v)) => Field::Ready(v),
                (None, None) => continue,
            };
        }
        for (slot, v) in &self.base_overrides {
            fields[*slot] = Field::Ready(v);
        }
        sort_last_wins(&mut event_extra);
        if merging {
            match self.merged_prefix_object(&event_extra) {
                Some(text) => merged_prefix = text,
                None => {
                    self.scratch.keep(event_extra);
                    return false;
                }
            }
            fields[PREFIX] = Field::Ready(&merged_prefix);
        }

        out.push(b'{');
        // Ids of the objects open, outermost first.
        let mut open = [0u16; 8];
        let mut depth = 0;
        let mut comma = false;
        // Without a prefix the extras go on the top level, between the slots.
        let mut extras = MergedExtras::new(&self.base_extra, &event_extra);
        for &slot in &self.order {
            let field = fields[slot];
            if let Field::Absent = field {
                continue;
            }
            let path = &self.slots[slot];
            let mut common = 0;
            while common < depth
                && common < path.parents.len()
                && open[common] == path.parents[common].0
            {
                common += 1;
            }
            for _ in common..depth {
                out.push(b'}');
            }
            depth = common;
            if depth == 0 && prefix.is_none() {
                write_extras(&mut extras, Some(&path.root), out, &mut comma);
            }
            for (id, key) in &path.parents[common..] {
                if comma {
                    out.push(b',');
                }
                out.extend_from_slice(key.as_bytes());
                out.push(b'{');
                open[depth] = *id;
                depth += 1;
                comma = false;
            }
            if comma {
                out.push(b',');
            }
            comma = true;
            out.extend_from_slice(path.key.as_bytes());
            match field {
                Field::Absent => {}
                Field::Ready(v) => out.extend_from_slice(v.as_bytes()),
                Field::Raw(v) => write_value(out, v),
                Field::Timestamp => self.timestamps.write(ev.unix_ms, out),
                Field::Extra => {
                    out.push(b'{');
                    write_extras(&mut extras, None, out, &mut false);
                    out.push(b'}');
                }
            }
        }
        for _ in 0..depth {
            out.push(b'}');
        }
        if prefix.is_none() {
            write_extras(&mut extras, None, out, &mut comma);
        }
        out.push(b'}');
        self.scratch.keep(event_extra);
        true
    }
}

impl FastWriter {
    /// The prefix object of an event whose extras merge, as the general path
    /// makes it: the configuration's extras, the event's over them, dotted
    /// names expanded (in key order, `dotted::expand`). None if a value does
    /// not parse (never for an accepted event).
    fn merged_prefix_object(&self, event_extra: &[ExtraField<'_>]) -> Option<String> {
        let mut extra = self.base_map.clone();
        for (key, value) in event_extra {
            extra.insert(key.to_string(), serde_json::from_str(value).ok()?);
        }
        serde_json::to_string(&expand(Value::Object(extra))).ok()
    }
}

/// Writes the next extras whose keys sort before `limit` (all without one)
/// as members; the event's values as serde_json writes them.
fn write_extras(
    extras: &mut MergedExtras<'_>,
    limit: Option<&str>,
    out: &mut Vec<u8>,
    comma: &mut bool,
) {
    while let Some(extra) = extras.next_before(limit) {
        if *comma {
            out.push(b',');
        }
        *comma = true;
        extra.write_key(out);
        match extra {
            Extra::Base(b) => out.extend_from_slice(b.value.as_bytes()),
            Extra::Event(e) => write_value(out, e.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_to_plain_prefixes_only() {
        assert!(applies_to(Some("extra")));
        assert!(applies_to(None));
        assert!(applies_to(Some("x_y")));
        for odd in [
            Some("a.b"),
            Some("log"),
            Some("tags"),
            Some("user"),
            Some("host"),
        ] {
            assert!(!applies_to(odd), "{odd:?}");
        }
    }
}
