//! Splitting JSON text the layout wrote (valid by construction) into an
//! object's members or an array's elements, without a tree and without
//! checking it again. Out-of-range reads end the value at the end of the
//! text instead of panicking, should the text ever be malformed.

use std::borrow::Cow;

/// The content of a JSON string literal (quotes included in `literal`);
/// `escaped`: whether it holds a backslash escape.
pub(super) fn string_content(literal: &str, escaped: bool) -> Cow<'_, str> {
    if escaped {
        serde_json::from_str::<String>(literal)
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(""))
    } else {
        Cow::Borrowed(
            literal
                .get(1..literal.len().saturating_sub(1))
                .unwrap_or(""),
        )
    }
}

/// Calls `member(key as written, key escaped, value)` for each member of
/// the object `text` (which starts with `{`), in order.
pub(super) fn members<'a>(text: &'a str, mut member: impl FnMut(&'a str, bool, &'a str)) {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 1);
    while b.get(i) == Some(&b'"') {
        let (key_end, escaped) = string_end(b, i);
        let colon = skip_ws(b, key_end);
        let start = skip_ws(b, colon + 1);
        let end = value_end(b, start);
        member(&text[i..key_end], escaped, &text[start..end]);
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            break;
        }
        i = skip_ws(b, i + 1);
    }
}

/// The elements of the array `text` (which starts with `[`), in order.
pub(super) fn elements(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = skip_ws(b, 1);
    while i < b.len() && b[i] != b']' {
        let end = value_end(b, i);
        out.push(&text[i..end]);
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            break;
        }
        i = skip_ws(b, i + 1);
    }
    out
}

/// The index just after the string literal starting at the quote b[i],
/// and whether it holds an escape.
pub(super) fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = skip_plain(b, j);
        match b.get(j) {
            Some(b'"') => return (j + 1, escaped),
            Some(_) => {
                escaped = true;
                j += 2; // a backslash and the byte it escapes (never the end)
            }
            None => return (b.len(), escaped),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The index of the first `"` or `\\` from b[i] on (or the end), eight
/// bytes at a time: strings are mostly plain text.
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // The lowest set bit marks the first hit (higher ones may be borrows).
        let hits = zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// The index just after the value starting at b[i].
pub(super) fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_members_and_elements_of_any_shape() {
        let text = r#"{ "a" : 1 , "b\"q":{"x":[1,"]}"]},"c":"s,}","d":[ ],"e":-1.5e3,"f":null}"#;
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        members(text, |k, escaped, v| {
            keys.push(string_content(k, escaped).into_owned());
            values.push(v);
        });
        assert_eq!(keys, ["a", "b\"q", "c", "d", "e", "f"]);
        assert_eq!(
            values,
            [
                "1",
                r#"{"x":[1,"]}"]}"#,
                r#""s,}""#,
                "[ ]",
                "-1.5e3",
                "null"
            ]
        );
        assert_eq!(
            elements(r#"[1, "a]", {"b":[2]} ,[]]"#),
            ["1", r#""a]""#, r#"{"b":[2]}"#, "[]"]
        );
        assert!(elements("[]").is_empty());
        let count = |text| {
            let mut n = 0;
            members(text, |_, _, _| n += 1);
            n
        };
        assert_eq!(count("{}"), 0);
        // Malformed text ends early instead of panicking.
        assert_eq!(count(r#"{"a":"#), 1);
        assert_eq!(count(r#"{"a":"x\"#), 1);
        assert_eq!(elements(r#"["a"#).len(), 1);
    }
}
