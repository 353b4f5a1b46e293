//! Extra fields, the same in both layouts: the state set_extra changes (with
//! the configuration's `extra` and the built-in `logstash_async_version`),
//! and an event's own extras, merged with that state in key order.
//!
//! Precedence, lowest first: the built-in, `extra`, set_extra, the event.

use super::json::{write_key, write_plain_key};
use crate::config::Config;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The extras every event gets: the built-in, the configuration's and the
/// set_extra keys, as JSON text.
pub(crate) struct ExtraFields {
    version: Box<RawValue>,
    configured: BTreeMap<String, Box<RawValue>>,
    set: BTreeMap<String, Box<RawValue>>,
}

impl ExtraFields {
    pub(crate) fn new(config: &Config) -> ExtraFields {
        let version = serde_json::value::to_raw_value(crate::VERSION).expect("a string serialises");
        let configured = config
            .extra
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
            .collect();
        ExtraFields {
            version,
            configured,
            set: BTreeMap::new(),
        }
    }

    /// Applies a set_extra (None removes the key).
    pub(crate) fn set(&mut self, key: String, value: Option<Box<RawValue>>) {
        match value {
            Some(v) => {
                self.set.insert(key, v);
            }
            None => {
                self.set.remove(&key);
            }
        }
    }

    /// Every extra by key (the one of highest precedence), in key order.
    pub(crate) fn merged(&self) -> BTreeMap<&str, &str> {
        let mut merged = BTreeMap::new();
        merged.insert("logstash_async_version", self.version.get());
        for (k, v) in self.configured.iter().chain(self.set.iter()) {
            merged.insert(k.as_str(), v.get());
        }
        merged
    }
}

/// One extra of the configuration or set_extra, serialised for writing.
pub(crate) struct BaseExtra {
    pub(crate) key: String,
    /// `"key":`
    pub(crate) json_key: String,
    pub(crate) value: String,
}

impl BaseExtra {
    pub(crate) fn new(key: &str, value: String) -> BaseExtra {
        BaseExtra {
            key: key.to_owned(),
            json_key: super::json::key_json(key),
            value,
        }
    }
}

/// One extra field of an event: its key (decoded only when it holds
/// escapes) and its value's JSON text, both borrowed from the event.
pub(crate) type ExtraField<'a> = (Cow<'a, str>, &'a str);

/// A vector for an event's extra fields whose allocation is kept from one
/// event to the next, so that formatting an event allocates nothing.
#[derive(Default)]
pub(crate) struct ExtraScratch {
    fields: RefCell<Vec<ExtraField<'static>>>,
}

impl ExtraScratch {
    /// The kept vector, empty.
    #[inline(always)]
    pub(crate) fn take<'a>(&self) -> Vec<ExtraField<'a>> {
        recycle(self.fields.take())
    }

    /// Keeps the allocation of a vector for the next event.
    #[inline(always)]
    pub(crate) fn keep(&self, fields: Vec<ExtraField<'_>>) {
        *self.fields.borrow_mut() = recycle(fields);
    }
}

/// Empties a vector and hands its allocation on to a vector of another
/// lifetime (collecting a vec::IntoIter into elements of the same size and
/// alignment reuses its buffer; nothing is ever mapped).
#[inline(always)]
fn recycle<'b>(mut fields: Vec<ExtraField<'_>>) -> Vec<ExtraField<'b>> {
    fields.clear();
    fields.into_iter().map(|_| unreachable!()).collect()
}

/// Sorts fields by key, keeping of equal keys the one pushed last (a later
/// field overrides an earlier one, as in a JSON object or a Python dict).
pub(crate) fn sort_last_wins<K: Ord, V>(fields: &mut Vec<(K, V)>) {
    // Stable: equal keys stay in push order; then the last of each run wins.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
}

/// One extra of the merge: the configuration's or set_extra's, or the event's.
#[derive(Clone, Copy)]
pub(crate) enum Extra<'a> {
    Base(&'a BaseExtra),
    Event(&'a ExtraField<'a>),
}

impl<'a> Extra<'a> {
    #[inline(always)]
    pub(crate) fn key(self) -> &'a str {
        match self {
            Extra::Base(b) => &b.key,
            Extra::Event(e) => &e.0,
        }
    }

    /// The value's JSON text: the configuration's serialised, the event's
    /// as it stood.
    #[inline(always)]
    pub(crate) fn value(self) -> &'a str {
        match self {
            Extra::Base(b) => &b.value,
            Extra::Event(e) => e.1,
        }
    }

    /// Appends `"key":`.
    #[inline(always)]
    pub(crate) fn write_key(self, out: &mut Vec<u8>) {
        match self {
            Extra::Base(b) => out.extend_from_slice(b.json_key.as_bytes()),
            // As it stood in the event, without escapes.
            Extra::Event((Cow::Borrowed(key), _)) => write_plain_key(out, key),
            Extra::Event((Cow::Owned(key), _)) => write_key(out, key),
        }
    }
}

/// The base extras (sorted, unique) and an event's (sorted by sort_last_wins)
/// visited in key order, the event's winning on equal keys.
pub(crate) struct MergedExtras<'a> {
    base: &'a [BaseExtra],
    event: &'a [ExtraField<'a>],
    i: usize,
    j: usize,
}

impl<'a> MergedExtras<'a> {
    pub(crate) fn new(base: &'a [BaseExtra], event: &'a [ExtraField<'a>]) -> MergedExtras<'a> {
        MergedExtras {
            base,
            event,
            i: 0,
            j: 0,
        }
    }

    /// The next extra if its key sorts before `limit` (any key without one).
    #[inline(always)]
    pub(crate) fn next_before(&mut self, limit: Option<&str>) -> Option<Extra<'a>> {
        let (base, event) = (self.base.get(self.i), self.event.get(self.j));
        let next = match (base, event) {
            (Some(b), Some(e)) if *e.0 <= *b.key => Extra::Event(e),
            (Some(b), _) => Extra::Base(b),
            (None, Some(e)) => Extra::Event(e),
            (None, None) => return None,
        };
        if limit.is_some_and(|l| next.key() >= l) {
            return None;
        }
        match next {
            Extra::Base(_) => self.i += 1,
            Extra::Event(e) => {
                if base.is_some_and(|b| *b.key == *e.0) {
                    self.i += 1; // the event's wins
                }
                self.j += 1;
            }
        }
        Some(next)
    }
}

impl<'a> Iterator for MergedExtras<'a> {
    type Item = Extra<'a>;

    fn next(&mut self) -> Option<Extra<'a>> {
        self.next_before(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_wins_and_keys_come_in_order() {
        let base: Vec<BaseExtra> = ["a", "c", "e"]
            .iter()
            .map(|k| BaseExtra::new(k, "0".to_owned()))
            .collect();
        let mut event: Vec<ExtraField> = vec![
            (Cow::Borrowed("d"), "1"),
            (Cow::Borrowed("c"), "1"),
            (Cow::Borrowed("d"), "2"),
        ];
        sort_last_wins(&mut event);
        assert_eq!(
            event,
            [(Cow::Borrowed("c"), "1"), (Cow::Borrowed("d"), "2")]
        );
        let merged: Vec<(&str, &str)> = MergedExtras::new(&base, &event)
            .map(|x| match x {
                Extra::Base(b) => (b.key.as_str(), b.value.as_str()),
                Extra::Event(e) => (&*e.0, e.1),
            })
            .collect();
        assert_eq!(merged, [("a", "0"), ("c", "1"), ("d", "2"), ("e", "0")]);
        let mut cursor = MergedExtras::new(&base, &event);
        assert_eq!(cursor.next_before(Some("c")).map(Extra::key), Some("a"));
        assert!(cursor.next_before(Some("c")).is_none());
        assert_eq!(cursor.next_before(None).map(Extra::key), Some("c"));
    }
}
