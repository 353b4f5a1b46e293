//! The ECS layout in one pass, without a tree: the event's members are split
//! by the scanner, each key goes to its place (a top-level or ECS field, a
//! renamed field, or an extra), and the nested output is written directly in
//! the order serde_json's sorted maps gave the tree-building layout. Values
//! are copied as they stood unless serde_json would write them otherwise.
//!
//! It applies when the extra prefix is a plain name (no dot, not a top-level
//! or ECS name): then no field can merge with another, and the layout's
//! fields are a fixed set. An event that nests its extras under the prefix
//! itself is left to the general path (its merge order is subtle).

use super::canonical::write_value;
use super::{ECS_FIELDS, TOP_LEVEL_FIELDS};
use crate::event::scan::scan;
use crate::event::{
    json_string, member_key, recycle, sort_last_wins, write_key, EventRef, ExtraField,
    TimestampWriter,
};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every field the layout may write on the top level, bar the prefix object:
/// the top-level names, then every ECS name (ECS_FIELDS' targets, then the
/// layout's own `ecs.version` and `host.hostname`).
pub(super) const SLOT_NAMES: [&str; 30] = [
    "@timestamp",
    "@version",
    "@metadata",
    "message",
    "labels",
    "tags",
    "log.level",
    "log.logger",
    "log.origin.function",
    "log.origin.file.name",
    "log.origin.file.line",
    "error.type",
    "error.stack_trace",
    "process.thread.name",
    "process.name",
    "process.pid",
    "process.executable",
    "event.module",
    "user_agent.original",
    "client.ip",
    "client.domain",
    "url.original",
    "user.name",
    "http.request.method",
    "http.request.referrer",
    "http.request.id",
    "http.response.status_code",
    "log.syslog.hostname",
    "ecs.version",
    "host.hostname",
];

const TIMESTAMP: usize = 0;
const THREAD: usize = 13;
/// The slot of the extra prefix object.
const PREFIX: usize = 30;
const SLOTS: usize = 31;

/// The slot of a key an event may set directly (a match: it runs for every
/// member of every event; a unit test checks it against SLOT_NAMES).
fn slot_index(key: &str) -> Option<usize> {
    Some(match key {
        "@timestamp" => 0,
        "@version" => 1,
        "@metadata" => 2,
        "message" => 3,
        "labels" => 4,
        "tags" => 5,
        "log.level" => 6,
        "log.logger" => 7,
        "log.origin.function" => 8,
        "log.origin.file.name" => 9,
        "log.origin.file.line" => 10,
        "error.type" => 11,
        "error.stack_trace" => 12,
        "process.thread.name" => 13,
        "process.name" => 14,
        "process.pid" => 15,
        "process.executable" => 16,
        "event.module" => 17,
        "user_agent.original" => 18,
        "client.ip" => 19,
        "client.domain" => 20,
        "url.original" => 21,
        "user.name" => 22,
        "http.request.method" => 23,
        "http.request.referrer" => 24,
        "http.request.id" => 25,
        "http.response.status_code" => 26,
        "log.syslog.hostname" => 27,
        "ecs.version" => 28,
        "host.hostname" => 29,
        _ => return None,
    })
}

/// The index in ECS_FIELDS of an input name that is renamed (checked against
/// ECS_FIELDS by a unit test).
fn rename_index(key: &str) -> Option<usize> {
    Some(match key {
        "level" => 0,
        "logger_name" => 1,
        "func_name" => 2,
        "path" => 3,
        "file" => 4,
        "line" => 5,
        "error_type" => 6,
        "stack_trace" => 7,
        "thread_name" => 8,
        "process_name" => 9,
        "pid" => 10,
        "program" => 11,
        "type" => 12,
        "req_useragent" => 13,
        "req_remote_address" => 14,
        "req_host" => 15,
        "req_uri" => 16,
        "req_user" => 17,
        "req_method" => 18,
        "req_referer" => 19,
        "request_id" => 20,
        "status_code" => 21,
        "logsource" => 22,
        _ => return None,
    })
}

/// The first segment of a dotted slot name: an object on the top level
/// (checked against SLOT_NAMES by a unit test).
fn is_slot_root(key: &str) -> bool {
    matches!(
        key,
        "log"
            | "error"
            | "process"
            | "event"
            | "user_agent"
            | "client"
            | "url"
            | "user"
            | "http"
            | "ecs"
            | "host"
    )
}

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

/// One extra field of the configuration and set_extra, serialised.
struct BaseExtra {
    key: String,
    json_key: String,
    value: String,
}

pub(super) struct FastLayout {
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
    prefix: Option<String>,
    /// Bit i set: base_renamed[i] is Some.
    base_renamed_mask: u32,
    ensure_ascii: bool,
    /// The last thread name seen and its JSON form.
    thread_cache: RefCell<(Option<Arc<str>>, String)>,
    timestamps: TimestampWriter,
    /// The event's extras of the last call, emptied (its allocation is reused).
    scratch: RefCell<Vec<ExtraField<'static>>>,
}

impl FastLayout {
    /// `defaults` are the serialised constants in SLOT_NAMES order.
    pub(super) fn new(
        prefix: Option<&str>,
        defaults: Vec<Option<String>>,
        ensure_ascii: bool,
    ) -> FastLayout {
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
        let mut defaults = defaults;
        defaults.resize(SLOTS, None);
        let rename_slot = std::array::from_fn(|i| {
            slot_index(ECS_FIELDS[i].1).expect("every ECS name has a slot")
        });
        FastLayout {
            order,
            slots,
            defaults,
            rename_slot,
            base_extra: Vec::new(),
            base_renamed: vec![None; ECS_FIELDS.len()],
            base_renamed_mask: 0,
            base_overrides: Vec::new(),
            base_fits: true,
            prefix: prefix.map(str::to_owned),
            ensure_ascii,
            thread_cache: RefCell::new((None, String::new())),
            timestamps: TimestampWriter::default(),
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// Takes the merged extras of the configuration and set_extra.
    pub(super) fn set_base_extra(&mut self, merged: &BTreeMap<&str, &Value>) {
        self.base_renamed = vec![None; ECS_FIELDS.len()];
        self.base_renamed_mask = 0;
        self.base_overrides.clear();
        self.base_fits = true;
        self.base_extra.clear();
        let flat = self.prefix.is_none();
        for (&key, &value) in merged {
            let value = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
            match (rename_index(key), slot_index(key)) {
                (Some(i), _) => {
                    self.base_renamed[i] = Some(value);
                    self.base_renamed_mask |= 1 << i;
                }
                (None, Some(slot)) if flat => self.base_overrides.push((slot, value)),
                _ => {
                    if flat && (key.contains('.') || is_slot_root(key)) {
                        self.base_fits = false;
                    }
                    self.base_extra.push(BaseExtra {
                        key: key.to_owned(),
                        json_key: key_json(key),
                        value,
                    })
                }
            }
        }
    }

    /// Appends one formatted event to `out`; returns false, with nothing
    /// appended, for an event the general path must write.
    pub(super) fn format(&self, ev: EventRef<'_>, out: &mut Vec<u8>) -> bool {
        let Ok(text) = std::str::from_utf8(ev.json) else {
            return false;
        };
        if !self.base_fits {
            return false;
        }
        let prefix = self.prefix.as_deref();
        {
            let mut cache = self.thread_cache.borrow_mut();
            if !cache
                .0
                .as_ref()
                .is_some_and(|t| Arc::ptr_eq(t, ev.thread_name))
            {
                *cache = (Some(ev.thread_name.clone()), json_string(ev.thread_name));
            }
        }
        let thread_cache = self.thread_cache.borrow();

        let mut fields: [Field; SLOTS] =
            std::array::from_fn(|i| match self.defaults[i].as_deref() {
                Some(v) => Field::Ready(v),
                None => Field::Absent,
            });
        fields[TIMESTAMP] = Field::Timestamp;
        fields[THREAD] = Field::Ready(&thread_cache.1);
        if prefix.is_some() {
            fields[PREFIX] = Field::Extra;
        }
        let mut renamed: [Option<&str>; ECS_FIELDS.len()] = [None; ECS_FIELDS.len()];
        let mut renamed_mask = 0u32;
        let mut event_extra: Vec<ExtraField> = recycle(self.scratch.take());
        let mut general = false;
        // The last of duplicate keys wins, as in the parsed map.
        let scanned = scan(text, |m| {
            let Some(key) = member_key(&m) else {
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
                // Without a prefix, a dotted extra nests and one named as an
                // ECS object merges with it: the general path's cases.
                general |= prefix.is_none() && (key.contains('.') || is_slot_root(&key));
                event_extra.push((key, m.value));
            }
        });
        if general || scanned != Ok(true) {
            *self.scratch.borrow_mut() = recycle(event_extra);
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

        let start = out.len();
        out.push(b'{');
        // Ids of the objects open, outermost first.
        let mut open = [0u16; 8];
        let mut depth = 0;
        let mut comma = false;
        // Without a prefix the extras go on the top level, between the slots.
        let mut extras = ExtraCursor {
            base: &self.base_extra,
            event: &event_extra,
            i: 0,
            j: 0,
        };
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
                extras.write_before(Some(&path.root), out, &mut comma);
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
                    extras.write_before(None, out, &mut false);
                    out.push(b'}');
                }
            }
        }
        for _ in 0..depth {
            out.push(b'}');
        }
        if prefix.is_none() {
            extras.write_before(None, out, &mut comma);
        }
        out.push(b'}');
        if self.ensure_ascii {
            crate::event::escape_non_ascii(out, start);
        }
        *self.scratch.borrow_mut() = recycle(event_extra);
        true
    }
}

/// The configuration's extras and the event's (sorted, deduplicated), merged
/// in key order, the event's winning: written as members, a run at a time.
struct ExtraCursor<'e> {
    base: &'e [BaseExtra],
    event: &'e [ExtraField<'e>],
    i: usize,
    j: usize,
}

impl ExtraCursor<'_> {
    /// Writes the next extras whose keys sort before `limit` (all without one).
    fn write_before(&mut self, limit: Option<&str>, out: &mut Vec<u8>, comma: &mut bool) {
        loop {
            let (base, event) = (self.base.get(self.i), self.event.get(self.j));
            let (take_event, key) = match (base, event) {
                (Some(b), Some(e)) if *e.0 <= *b.key => (true, &*e.0),
                (Some(b), _) => (false, b.key.as_str()),
                (None, Some(e)) => (true, &*e.0),
                (None, None) => return,
            };
            if limit.is_some_and(|l| key >= l) {
                return;
            }
            if *comma {
                out.push(b',');
            }
            *comma = true;
            if take_event {
                let (key, value) = &self.event[self.j];
                if base.is_some_and(|b| *b.key == **key) {
                    self.i += 1; // the event's wins
                }
                match key {
                    // As it stood in the event, without escapes.
                    Cow::Borrowed(k) => {
                        out.push(b'"');
                        out.extend_from_slice(k.as_bytes());
                        out.extend_from_slice(b"\":");
                    }
                    Cow::Owned(k) => write_key(out, k),
                }
                write_value(out, value);
                self.j += 1;
            } else {
                let b = &self.base[self.i];
                out.extend_from_slice(b.json_key.as_bytes());
                out.extend_from_slice(b.value.as_bytes());
                self.i += 1;
            }
        }
    }
}

/// `"key":` as serde_json writes a map key.
fn key_json(key: &str) -> String {
    let mut out = Vec::with_capacity(key.len() + 3);
    write_key(&mut out, key);
    String::from_utf8(out).expect("a serialised key is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_tables_match_the_field_lists() {
        for (i, name) in SLOT_NAMES.iter().enumerate() {
            assert_eq!(slot_index(name), Some(i), "{name}");
        }
        for name in TOP_LEVEL_FIELDS {
            assert!(slot_index(name).is_some(), "{name}");
        }
        for (i, (name, ecs)) in ECS_FIELDS.iter().enumerate() {
            assert_eq!(rename_index(name), Some(i), "{name}");
            assert!(slot_index(ecs).is_some(), "{ecs}");
        }
        for own in super::super::OWN_FIELDS {
            assert!(slot_index(own).is_some(), "{own}");
        }
        assert_eq!(SLOT_NAMES[THREAD], "process.thread.name");
        for name in SLOT_NAMES {
            let (root, rest) = name.split_once('.').unwrap_or((name, ""));
            assert_eq!(is_slot_root(root), !rest.is_empty(), "{name}");
        }
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
