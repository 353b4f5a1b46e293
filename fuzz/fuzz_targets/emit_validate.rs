//! Emit's validation against serde_json as the oracle: an event is accepted
//! iff it is UTF-8, serde_json parses it into a Value (RFC 8259; which also
//! refuses unpaired surrogate escapes and numbers beyond f64), its nesting
//! is at most MAX_DEPTH and it is an object, each refusal with its own
//! result code; the size limit is checked first.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::event::{validate, validate_value, MAX_DEPTH};
use logstash_async::ResultCode;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let shown = || String::from_utf8_lossy(data).into_owned();
    let value = oracle_value(data);
    let verdict = value.as_ref().map(|_| ()).map_err(|code| *code);
    assert_eq!(validate_value(data, usize::MAX), verdict, "{:?}", shown());
    let event = value.and_then(|v| match v {
        Value::Object(_) => Ok(()),
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

fn oracle_value(data: &[u8]) -> Result<Value, ResultCode> {
    std::str::from_utf8(data).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
    let value: Value =
        serde_json::from_slice(data).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)?;
    if depth(&value) > MAX_DEPTH {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON);
    }
    Ok(value)
}

/// Levels of arrays and objects (serde_json stops at 128 itself).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
