//! One pass over JSON text that checks everything emit promises about an
//! event, and hands the members of a top-level object to the caller on the
//! way (the layouts split an event with it; emit only checks).
//!
//! It accepts exactly what serde_json's parser accepts (RFC 8259: no trailing
//! commas, no leading zeros, no control characters in strings, whitespace
//! ` \t\n\r` only), minus what strict parsers downstream refuse although
//! serde_json lets it through: nesting deeper than `MAX_DEPTH`, an unpaired
//! UTF-16 surrogate escape (`"\ud83d"` alone) and a number beyond f64
//! (`1e999`). tests/fuzz.rs compares it with that definition (serde_json's
//! syntax check plus a separate scan) on every fuzzed input.
//!
//! It never recurses (a 1 MB `[[[[...` costs no stack) and never allocates.

use super::MAX_DEPTH;
use std::borrow::Cow;

/// Why a text was refused (the caller reports them all as invalid JSON).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

/// A member of the top-level object: its key as written, quotes included
/// (escapes not decoded), and its value's text (no surrounding whitespace).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member<'a> {
    pub key_json: &'a str,
    /// The key holds a backslash escape: decode it before use.
    pub key_escaped: bool,
    pub value: &'a str,
}

impl<'a> Member<'a> {
    /// The key between its quotes.
    pub fn key(&self) -> &'a str {
        &self.key_json[1..self.key_json.len() - 1]
    }

    /// The key as a JSON parser reads it: borrowed unless it holds escapes
    /// (then decoded; None if that fails, which the scan's check rules out).
    pub fn decoded_key(&self) -> Option<Cow<'a, str>> {
        if self.key_escaped {
            serde_json::from_str::<String>(self.key_json)
                .ok()
                .map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(self.key()))
        }
    }
}

/// Checks `text` and calls `member` for each member of a top-level object, in
/// text order (duplicates included). Returns whether the text is an object.
pub(crate) fn scan<'a>(text: &'a str, mut member: impl FnMut(Member<'a>)) -> Result<bool, Invalid> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    let is_object = b.get(i) == Some(&b'{');
    // Bit d-1 is set when the container at depth d is an object (MAX_DEPTH < 128).
    let mut objects: u128 = 0;
    let mut depth = 0usize;
    // The top-level member being read: key range, escaped, value start.
    let (mut key, mut key_escaped, mut value_start) = ((0, 0), false, 0);
    'value: loop {
        // A value starts at b[i] (whitespace skipped).
        let c = *b.get(i).ok_or(Invalid)?;
        match c {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Invalid);
                }
                i = skip_ws(b, i + 1);
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    depth -= 1;
                } else if c == b'{' {
                    objects |= 1 << (depth - 1);
                    let (k, escaped) = object_key(b, &mut i)?;
                    if depth == 1 {
                        (key, key_escaped, value_start) = (k, escaped, i);
                    }
                    continue 'value;
                } else {
                    objects &= !(1 << (depth - 1));
                    continue 'value;
                }
            }
            b'"' => i = string(b, i)?.0,
            b'-' | b'0'..=b'9' => i = number(text, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            _ => return Err(Invalid),
        }
        // A value ended at b[i]: close containers until one continues.
        loop {
            if depth == 0 {
                return match skip_ws(b, i) == b.len() {
                    true => Ok(is_object),
                    false => Err(Invalid),
                };
            }
            let in_object = objects & (1 << (depth - 1)) != 0;
            if depth == 1 && in_object {
                member(Member {
                    key_json: &text[key.0..key.1],
                    key_escaped,
                    value: &text[value_start..i],
                });
            }
            i = skip_ws(b, i);
            match (b.get(i), in_object) {
                (Some(b','), true) => {
                    i = skip_ws(b, i + 1);
                    let (k, escaped) = object_key(b, &mut i)?;
                    if depth == 1 {
                        (key, key_escaped, value_start) = (k, escaped, i);
                    }
                    continue 'value;
                }
                (Some(b','), false) => {
                    i = skip_ws(b, i + 1);
                    continue 'value;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    i += 1;
                    depth -= 1;
                }
                _ => return Err(Invalid),
            }
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Reads `"key" :` at b[*i] and the whitespace after it; returns the key's
/// range (quotes included) and whether it holds escapes.
fn object_key(b: &[u8], i: &mut usize) -> Result<((usize, usize), bool), Invalid> {
    if b.get(*i) != Some(&b'"') {
        return Err(Invalid);
    }
    let (end, escaped) = string(b, *i)?;
    let range = (*i, end);
    let colon = skip_ws(b, end);
    if b.get(colon) != Some(&b':') {
        return Err(Invalid);
    }
    *i = skip_ws(b, colon + 1);
    Ok((range, escaped))
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, Invalid> {
    match b.get(i..i + word.len()) {
        Some(w) if w == word => Ok(i + word.len()),
        _ => Err(Invalid),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in each byte of `w` that is `"`, `\\` or a
/// control character, and maybe in bytes above such a byte (the borrow of
/// the subtractions): its lowest set bit always marks the first hit.
fn special_bytes(w: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero(w ^ (ONES * b'"' as u64));
    let backslash = zero(w ^ (ONES * b'\\' as u64));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    quote | backslash | control
}

/// The index of the first `"`, `\\` or control character from b[i] on (or
/// the end): eight bytes at a time, as strings are mostly plain text. (The
/// bytes JSON must escape: `build.rs` copies the runs between them.)
#[inline]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let hits = special_bytes(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Reads the string starting at the quote b[i]; returns the index after its
/// closing quote and whether it holds escapes.
fn string(b: &[u8], i: usize) -> Result<(usize, bool), Invalid> {
    let mut i = i + 1;
    let mut escaped = false;
    loop {
        i = skip_plain(b, i);
        match *b.get(i).ok_or(Invalid)? {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i = escape(b, i + 1)?;
            }
            _ => return Err(Invalid), // a control character
        }
    }
}

/// Reads the escape after a backslash at b[i]; an unpaired surrogate is refused.
fn escape(b: &[u8], i: usize) -> Result<usize, Invalid> {
    match b.get(i).ok_or(Invalid)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(i + 1),
        b'u' => {
            let unit = hex4(b, i + 1)?;
            let i = i + 5;
            if (0xD800..0xDC00).contains(&unit) {
                // A high surrogate must be followed by a low one.
                if b.get(i..i + 2) != Some(b"\\u") {
                    return Err(Invalid);
                }
                if !(0xDC00..0xE000).contains(&hex4(b, i + 2)?) {
                    return Err(Invalid);
                }
                Ok(i + 6)
            } else if (0xDC00..0xE000).contains(&unit) {
                Err(Invalid)
            } else {
                Ok(i)
            }
        }
        _ => Err(Invalid),
    }
}

fn hex4(b: &[u8], i: usize) -> Result<u16, Invalid> {
    let digits = b.get(i..i + 4).ok_or(Invalid)?;
    digits.iter().try_fold(0u16, |acc, &d| {
        let v = (d as char).to_digit(16).ok_or(Invalid)?;
        Ok(acc << 4 | v as u16)
    })
}

/// Reads the number at text[i] (JSON grammar); one beyond f64 is refused.
fn number(text: &str, start: usize) -> Result<usize, Invalid> {
    let b = text.as_bytes();
    let digits = |mut i: usize| -> Result<usize, Invalid> {
        let first = i;
        while let Some(b'0'..=b'9') = b.get(i) {
            i += 1;
        }
        if i == first {
            return Err(Invalid);
        }
        Ok(i)
    };
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => {
            i += 1;
            // One leading zero only.
            if let Some(b'0'..=b'9') = b.get(i) {
                return Err(Invalid);
            }
        }
        _ => i = digits(i)?,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    let mut exponent = false;
    if let Some(b'e' | b'E') = b.get(i) {
        exponent = true;
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(i)?;
    }
    // Without an exponent, fewer than 300 characters stay far below f64::MAX
    // (1.8e308); otherwise ask the standard parser.
    if (exponent || i - start >= 300) && !text[start..i].parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(Invalid);
    }
    Ok(i)
}
