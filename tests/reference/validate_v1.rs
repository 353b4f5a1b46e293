//! The first definition of what emit accepts (three passes: UTF-8, serde_json's
//! syntax check, then a scan for depth, unpaired surrogate escapes and numbers
//! beyond f64), kept as the oracle that tests/fuzz.rs compares the one-pass
//! scanner of src/event/scan.rs with.
//!
//! It is no copy of shipped code: the library no longer has this algorithm.
//! The grammar is serde_json's parser here and a hand-written state machine
//! in scan.rs; only the three extra refusals (depth, lone surrogates, f64
//! range) are checked by both, in different ways.

use logstash_async::event::MAX_DEPTH;
use logstash_async::ResultCode;

/// Validates any JSON value (an event, or a set_extra value that joins every
/// later event): size, UTF-8, syntax, depth, surrogates and number range.
pub fn reference_validate_value(bytes: &[u8], max_bytes: usize) -> Result<(), ResultCode> {
    if bytes.len() > max_bytes {
        return Err(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE);
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_UTF8);
    }
    // IgnoredAny checks the syntax without building a tree (and without
    // recursion); the structure scan adds what it lets through.
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err()
        || nesting_depth(bytes) > MAX_DEPTH
    {
        return Err(ResultCode::LOGSTASH_ASYNC_INVALID_JSON);
    }
    Ok(())
}

/// Validates an event on the caller's thread: size, UTF-8, JSON, object.
/// Each failure has its own result code; nothing is allocated on success.
pub fn reference_validate(bytes: &[u8], max_event_bytes: usize) -> Result<(), ResultCode> {
    reference_validate_value(bytes, max_event_bytes)?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ResultCode::LOGSTASH_ASYNC_NOT_AN_OBJECT),
    }
}

/// The deepest nesting of `[`/`{` outside strings, in one pass without recursion.
fn nesting_depth(json: &[u8]) -> usize {
    structure(json).unwrap_or(usize::MAX)
}

/// One pass over syntactically valid JSON: the deepest nesting of `[`/`{`
/// outside strings, or None when a string holds an unpaired UTF-16 surrogate
/// escape (`"\ud83d"` alone) or a number overflows f64 (`1e999`): both pass
/// serde_json's syntax check but strict parsers downstream reject them (found
/// by tests/fuzz.rs). No recursion.
fn structure(json: &[u8]) -> Option<usize> {
    let hex4 = |at: usize| -> Option<u16> {
        let digits = json.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let (mut depth, mut max, mut in_string) = (0usize, 0usize, false);
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        if in_string {
            match b {
                b'\\' if json.get(i + 1) == Some(&b'u') => {
                    let unit = hex4(i + 2)?;
                    i += 6;
                    if (0xD800..0xDC00).contains(&unit) {
                        // A high surrogate must be followed by a low one.
                        let low = (json.get(i) == Some(&b'\\') && json.get(i + 1) == Some(&b'u'))
                            .then(|| hex4(i + 2))
                            .flatten()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        i += 6;
                    } else if (0xDC00..0xE000).contains(&unit) {
                        return None;
                    }
                    continue;
                }
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                // A number beyond f64 (1e999) is valid JSON that most parsers
                // (and the ECS layout) refuse: reject it here, not on the worker.
                let end = json[i..]
                    .iter()
                    .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(json.len(), |n| i + n);
                let text = std::str::from_utf8(&json[i..end]).ok()?;
                if !text.parse::<f64>().ok()?.is_finite() {
                    return None;
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Some(max)
}
