//! The message key of an event (`kafka_key_field`): the value of one field,
//! a dotted path into nested objects, read from the formatted JSON without
//! building a tree (the other fields are skipped, not decoded).
//!
//! A string keys the message with its text, any other value with its JSON;
//! a missing field (or a path through a non-object) gives no key, and
//! librdkafka then spreads such messages over the partitions.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;

pub struct KeyField {
    path: Vec<String>,
}

impl KeyField {
    pub fn new(dotted: &str) -> KeyField {
        KeyField {
            path: dotted.split('.').map(str::to_owned).collect(),
        }
    }

    /// The key of one formatted event (None: the field is absent).
    pub fn extract<'e>(&self, event: &'e [u8]) -> Option<Cow<'e, [u8]>> {
        let mut raw: &'e RawValue = serde_json::from_slice(event).ok()?;
        for name in &self.path {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            raw = FieldOf(name).deserialize(&mut de).ok()??;
        }
        let text = raw.get();
        if text.starts_with('"') {
            match serde_json::from_str::<Cow<'e, str>>(text).ok()? {
                Cow::Borrowed(s) => Some(Cow::Borrowed(s.as_bytes())),
                Cow::Owned(s) => Some(Cow::Owned(s.into_bytes())),
            }
        } else {
            Some(Cow::Borrowed(text.as_bytes()))
        }
    }
}

/// Finds one member of a JSON object, skipping the others undecoded. Not an
/// object: None (as if absent).
struct FieldOf<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for FieldOf<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldOf<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if found.is_none() && key == self.0 {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                // Later duplicates are ignored: the formatter writes none.
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str, event: &str) -> Option<String> {
        KeyField::new(path)
            .extract(event.as_bytes())
            .map(|k| String::from_utf8(k.into_owned()).unwrap())
    }

    #[test]
    fn strings_give_their_text_other_values_their_json() {
        let e = r#"{"host":"web-1","n":17,"extra":{"user":"\u00e9ve","ids":[1,2],"deep":{"x":null}},"t":true}"#;
        assert_eq!(key("host", e).as_deref(), Some("web-1"));
        assert_eq!(key("n", e).as_deref(), Some("17"));
        assert_eq!(key("t", e).as_deref(), Some("true"));
        assert_eq!(key("extra.user", e).as_deref(), Some("éve"));
        assert_eq!(key("extra.ids", e).as_deref(), Some("[1,2]"));
        assert_eq!(key("extra.deep.x", e).as_deref(), Some("null"));
        assert_eq!(key("extra.deep", e).as_deref(), Some(r#"{"x":null}"#));
    }

    #[test]
    fn absent_fields_and_paths_through_non_objects_give_no_key() {
        let e = r#"{"host":"web-1","extra":{"ids":[1,2]}}"#;
        assert_eq!(key("missing", e), None);
        assert_eq!(key("host.x", e), None);
        assert_eq!(key("extra.ids.0", e), None);
        assert_eq!(key("extra.none", e), None);
        assert_eq!(key("a", "not json"), None);
    }
}
