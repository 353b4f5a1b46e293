//! Dotted names become nested objects, as python-logstash-async's
//! normalize_ecs_dict makes them: `{"log.level": x}` is written
//! `{"log": {"level": x}}`, on the top level, under the extra prefix and
//! inside values alike. A name with an empty segment (`a..b`, `.a`, `a.`)
//! stays as it is: Python would make an empty field name of it, which
//! Elasticsearch refuses.

use serde_json::{Map, Value};

/// Whether a key is expanded (it has a dot, and no empty segment).
pub(super) fn is_dotted_path(key: &str) -> bool {
    key.contains('.') && !key.split('.').any(str::is_empty)
}

/// Expands every dotted name in `value`, at every depth. Names are taken in
/// key order (so `log` comes before `log.level`): an object met on the way
/// is merged with the dotted fields, and a non-object value there gives way
/// to them.
pub(super) fn expand(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut root = Map::new();
            for (key, value) in fields {
                let value = expand(value);
                if !is_dotted_path(&key) {
                    insert_merging(&mut root, &key, value);
                    continue;
                }
                let mut segments: Vec<&str> = key.split('.').collect();
                let last = segments.pop().expect("a dotted name has two segments");
                let mut node = &mut root;
                for segment in segments {
                    let slot = node
                        .entry(segment.to_owned())
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
        Value::Array(items) => Value::Array(items.into_iter().map(expand).collect()),
        scalar => scalar,
    }
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
    fn expands_at_every_depth_and_keeps_empty_segments() {
        let v = expand(json!({
            "a": "scalar",
            "a.b": 1,
            "x..y": 2,
            ".z": 3,
            "log": {"custom": 1},
            "log.level": "W",
            "v": {"p.q": [{"r.s": true}]},
        }));
        assert_eq!(
            v,
            json!({
                "a": {"b": 1},
                "x..y": 2,
                ".z": 3,
                "log": {"custom": 1, "level": "W"},
                "v": {"p": {"q": [{"r": {"s": true}}]}},
            })
        );
        assert!(is_dotted_path("a.b") && !is_dotted_path("a..b") && !is_dotted_path("ab"));
    }
}
