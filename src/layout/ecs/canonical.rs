//! Whether a value's JSON text, as it stood in an event, is already exactly
//! what the ECS layout writes for it (serde_json's text of the value it
//! parses into, dotted names expanded), so that the one-pass writer may copy
//! it instead of parsing and serialising it again.
//!
//! serde_json writes strings with only `"`, `\` and control characters
//! escaped (`\b \f \n \r \t`, the others as `\u00xx`), integers as digits
//! (`-0` and anything beyond u64/i64 become floats), floats in its own
//! shortest form, and objects with keys sorted, unique and no whitespace.
//! The check is conservative: a text it refuses (a key with a dot among
//! them) is simply parsed, expanded and serialised again.

use super::dotted::expand;
use std::io::Write;

/// Deepest container the check follows; deeper values are serialised again.
const MAX_CHECKED_DEPTH: usize = 16;

/// Appends `raw` (a value's text from a validated event) as the layout
/// writes it: serde_json's text of its value, dotted names expanded.
#[inline]
pub(super) fn write_value(out: &mut Vec<u8>, raw: &str) {
    if is_canonical(raw) {
        out.extend_from_slice(raw.as_bytes());
    } else {
        reserialise(out, raw);
    }
}

fn reserialise(out: &mut Vec<u8>, raw: &str) {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) => {
            let _ = serde_json::to_writer(&mut *out, &expand(v));
        }
        // Unreachable for validated events; keep the text rather than lose it.
        Err(_) => {
            let _ = out.write_all(raw.as_bytes());
        }
    }
}

/// Whether the layout would write `raw` unchanged.
#[inline]
pub(super) fn is_canonical(raw: &str) -> bool {
    let b = raw.as_bytes();
    match b.first() {
        // A validated string without a backslash has nothing to escape (the
        // word-at-a-time search first: most strings are plain).
        Some(b'"') => !b.contains(&b'\\') || string_end(b, 0) == Some(b.len()),
        Some(b't' | b'f' | b'n') => true,
        Some(b'-' | b'0'..=b'9') => integer_end(b, 0) == Some(b.len()),
        Some(b'{' | b'[') => container_end(b, 0) == Some(b.len()),
        _ => false,
    }
}

/// The end of the canonical string starting at the quote b[i], if it is one:
/// its only escapes are those serde_json writes itself (short forms).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match b.get(i + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                _ => return None, // `\/` and `\uXXXX` are written otherwise
            },
            _ => i += 1,
        }
    }
}

/// The end of the canonical integer starting at b[i], if it is one: one that
/// parses into u64 or i64 (`-0` parses into a float, written `-0.0`).
fn integer_end(b: &[u8], i: usize) -> Option<usize> {
    let negative = b[i] == b'-';
    let start = i + negative as usize;
    let mut end = start;
    while let Some(b'0'..=b'9') = b.get(end) {
        end += 1;
    }
    let digits = end - start;
    let fits = if negative {
        (1..=18).contains(&digits) && b[start] != b'0'
    } else {
        (1..=19).contains(&digits)
    };
    match b.get(end) {
        Some(b'.' | b'e' | b'E') => None,
        _ if fits => Some(end),
        _ => None,
    }
}

/// The end of the canonical array or object starting at b[i], if it is one:
/// no whitespace, canonical members, object keys without escapes or dots in
/// strictly increasing byte order (serde_json's map sorts them and keeps the
/// last of duplicates).
fn container_end(b: &[u8], i: usize) -> Option<usize> {
    container_at_depth(b, i, 1)
}

fn container_at_depth(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    if depth > MAX_CHECKED_DEPTH {
        return None;
    }
    let object = b[i] == b'{';
    let close = if object { b'}' } else { b']' };
    let mut i = i + 1;
    if *b.get(i)? == close {
        return Some(i + 1);
    }
    let mut previous_key: Option<&[u8]> = None;
    loop {
        if object {
            if *b.get(i)? != b'"' {
                return None;
            }
            let end = string_end(b, i)?;
            let key = &b[i + 1..end - 1];
            if key.iter().any(|&c| c == b'\\' || c == b'.')
                || previous_key.is_some_and(|p| p >= key)
            {
                return None;
            }
            previous_key = Some(key);
            if *b.get(end)? != b':' {
                return None;
            }
            i = end + 1;
        }
        i = match *b.get(i)? {
            b'"' => string_end(b, i)?,
            b't' => i + 4,
            b'f' => i + 5,
            b'n' => i + 4,
            b'-' | b'0'..=b'9' => integer_end(b, i)?,
            b'{' | b'[' => container_at_depth(b, i, depth + 1)?,
            _ => return None,
        };
        match *b.get(i)? {
            b',' => i += 1,
            c if c == close => return Some(i + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserialised(raw: &str) -> String {
        let mut out = Vec::new();
        reserialise(&mut out, raw);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_exactly_when_serde_json_writes_the_same_text() {
        let cases = [
            r#""plain""#,
            r#""caf\u00e9""#,
            r#""a\/b""#,
            r#""tab\there \"q\" \\ \n\r\b\f""#,
            r#""\u0001""#,
            "\"\u{e9}\u{1F600}\"",
            "0",
            "-0",
            "-1",
            "7",
            "1.0",
            "1e2",
            "1E2",
            "100.0",
            "-0.0",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-922337203685477580",
            "-9223372036854775809",
            "1234567890123456789",
            "true",
            "false",
            "null",
            "[]",
            "{}",
            "[1,2]",
            "[1, 2]",
            r#"{"a":1,"b":[true,null,{"c":"d"}]}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"ab":2,"b":3}"#,
            r#"{"\u0061":1}"#,
            r#"{"a" :1}"#,
            r#"[1.5]"#,
            r#"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]"#,
            "{\"\u{e9}\":1,\"z\":2}",
            "{\"z\":1,\"\u{e9}\":2}",
            r#"{"a.b":1}"#,
            r#"[{"x":{"a..b":1,"c.d":[{"e.f":2}]}}]"#,
        ];
        for raw in cases {
            let same = reserialised(raw) == raw;
            if is_canonical(raw) {
                assert!(
                    same,
                    "{raw} judged canonical, serde_json writes {}",
                    reserialised(raw)
                );
            }
            let mut out = Vec::new();
            write_value(&mut out, raw);
            assert_eq!(String::from_utf8(out).unwrap(), reserialised(raw), "{raw}");
        }
        let mut out = Vec::new();
        write_value(&mut out, r#"{"a.b":1,"a..b":2}"#);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":{"b":1},"a..b":2}"#);
        for raw in [
            r#""plain""#,
            "7",
            "-1",
            "true",
            "[1,2]",
            r#"{"a":1,"b":2}"#,
            r#""a\nb""#,
        ] {
            assert!(is_canonical(raw), "{raw} should be copied");
        }
    }
}
