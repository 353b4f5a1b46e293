//! How an option's JSON value is read: one checked reader per kind of value
//! (boolean, string, integer in a range, seconds), each failing with a
//! message that starts with the option's name and says what was expected;
//! and the error for two options that go together.

use serde_json::Value;
use std::time::Duration;

/// What a JSON value is, for error messages ("a string", "an array"...).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{key}: expected true or false, got {}", kind(v)))
}

pub(crate) fn string(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("{key}: expected a string, got {}", kind(other))),
    }
}

/// A string, or null for none.
pub(crate) fn opt_string(key: &str, v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        other => string(key, other).map(Some),
    }
}

/// An integer within `min..=max` (a whole float such as 5.0 counts).
pub(crate) fn int_in(key: &str, v: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            // Accept 5.0 but not 5.5: JSON writers in other languages emit floats.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= max => Ok(n),
        Some(n) => Err(format!("{key}: {n} is out of range ({min}..={max})")),
        None => Err(format!("{key}: expected an integer, got {}", describe(v))),
    }
}

/// A number of seconds within `min..=max`.
pub(crate) fn seconds(key: &str, v: &Value, min: f64, max: f64) -> Result<Duration, String> {
    match v.as_f64() {
        Some(s) if s.is_finite() && s >= min && s <= max => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(format!(
            "{key}: {s} seconds is out of range ({min}..={max})"
        )),
        None => Err(format!(
            "{key}: expected a number of seconds, got {}",
            kind(v)
        )),
    }
}

/// The error for two options that go together when only one is given.
pub(crate) fn both_or_neither(
    first: (&str, bool),
    second: (&str, bool),
    why: &str,
) -> Result<(), String> {
    let (given, missing) = match (first.1, second.1) {
        (true, false) => (first.0, second.0),
        (false, true) => (second.0, first.0),
        _ => return Ok(()),
    };
    Err(format!("{missing}: required when {given} is given ({why})"))
}

/// `kind`, with a number's value.
fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_owned(),
    }
}
