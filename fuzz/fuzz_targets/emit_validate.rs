//! Emit's validation against serde_json as the oracle: an event is accepted
//! iff it is UTF-8, serde_json parses it into a Value (RFC 8259; which also
//! refuses unpaired surrogate escapes and numbers beyond f64), its nesting
//! is at most MAX_DEPTH and it is an object, each refusal with its own
//! result code; the size limit is checked first.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::event::{validate, validate_value, MAX_DEPTH};
use logstash_async::ResultCode;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

fuzz_target!(|data: &[u8]| {
    let shown = || String::from_utf8_lossy(data).into_owned();
    let value = oracle_value(data);
    let verdict = value.as_ref().map(|_| ()).map_err(|code| *code);
    assert_eq!(validate_value(data, usize::MAX), verdict, "{:?}", shown());
    let event = value.and_then(|v| match v {
        Shape::Object(_) => Ok(()),
        _ => Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT),
    });
    assert_eq!(validate(data, usize::MAX), event, "{:?}", shown());
    // The size limit: exactly the event's length passes, one byte less not.
    assert_eq!(validate(data, data.len()), event);
    if let Some(less) = data.len().checked_sub(1) {
        assert_eq!(
            validate(data, less),
            Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE)
        );
    }
});

fn oracle_value(data: &[u8]) -> Result<Shape, ResultCode> {
    std::str::from_utf8(data).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
    let value: Shape =
        serde_json::from_slice(data).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)?;
    if value.depth() > MAX_DEPTH {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON);
    }
    Ok(value)
}

/// What serde_json reads, as far as the verdict needs it. Not
/// serde_json::Value: with the raw_value feature (the library's) Value
/// reads an object whose key is "$serde_json::private::RawValue" as a raw
/// value, and refuses `{"$serde_json::private::RawValue":0}`, valid JSON
/// (found by this target: corpus/emit_validate/raw-value-token-regression).
enum Shape {
    Scalar,
    Array(Vec<Shape>),
    Object(Vec<Shape>),
}

impl Shape {
    /// Levels of arrays and objects (serde_json stops at 128 itself).
    fn depth(&self) -> usize {
        match self {
            Shape::Scalar => 0,
            Shape::Array(items) | Shape::Object(items) => {
                1 + items.iter().map(Shape::depth).max().unwrap_or(0)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Shape>()? {
            items.push(item);
        }
        Ok(Shape::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut members = Vec::new();
        while let Some((_, value)) = map.next_entry::<String, Shape>()? {
            members.push(value);
        }
        Ok(Shape::Object(members))
    }
}
