//! What masking writes: a masked field's value (`mask_mode`: `"***"` or
//! `"sha256:<16 hex digits>"`) and the string values `mask_patterns` change.

use super::json::{skip_ws, string_content, string_end};
use super::tree::Node;
use super::write::write;
use crate::config::{MaskMode, MaskPattern};
use memchr::memchr;
use regex::{Captures, RegexSet};
use std::borrow::Cow;

/// The mask of a fixed-mode field or match.
const FIXED: &str = "***";
const FIXED_JSON: &str = "\"***\"";

pub(super) struct Masker {
    pub mode: MaskMode,
    pub patterns: Vec<MaskPattern>,
    /// All the patterns at once: one scan tells which (if any) match a
    /// string, most strings matching none (None: too large to combine).
    any: Option<RegexSet>,
}

impl Masker {
    pub fn new(mode: MaskMode, patterns: Vec<MaskPattern>) -> Masker {
        let any = match patterns.len() {
            0 | 1 => None,
            _ => RegexSet::new(patterns.iter().map(|p| p.regex.as_str())).ok(),
        };
        Masker {
            mode,
            patterns,
            any,
        }
    }

    /// The JSON that replaces a masked field's value: the hash is of a
    /// string's text, or of any other value's JSON.
    pub fn field(&self, value: &Node<'_>) -> String {
        let tag = match self.mode {
            MaskMode::Fixed => return FIXED_JSON.to_owned(),
            MaskMode::Sha256 => match value {
                Node::Raw(text) if text.starts_with('"') => {
                    let escaped = text.contains('\\');
                    sha256_tag(string_content(text, escaped).as_bytes())
                }
                Node::Raw(text) => sha256_tag(text.as_bytes()),
                Node::Written(text) => sha256_tag(text.as_bytes()),
                other => {
                    let mut json = Vec::new();
                    write(other, None, &mut json);
                    sha256_tag(&json)
                }
            },
        };
        format!("\"{tag}\"")
    }

    /// Copies the JSON `text` to `out` with `mask_patterns` applied to every
    /// string value (keys are left alone).
    pub fn write_patterns(&self, text: &str, out: &mut Vec<u8>) {
        let b = text.as_bytes();
        let mut copied = 0;
        let mut i = 0;
        while let Some(start) = next_quote(b, i) {
            let (end, escaped) = string_end(b, start);
            i = end;
            if b.get(skip_ws(b, end)) == Some(&b':') {
                continue; // a key
            }
            if let Some(changed) = self.on_string(&text[start..end], escaped) {
                out.extend_from_slice(&b[copied..start]);
                // serde_json escapes what JSON needs; ensure_ascii runs after.
                let _ = serde_json::to_writer(&mut *out, &changed);
                copied = end;
            }
        }
        out.extend_from_slice(&b[copied..]);
    }

    /// The string literal's text after the patterns; None when unchanged.
    fn on_string(&self, literal: &str, escaped: bool) -> Option<String> {
        let original = string_content(literal, escaped);
        if self
            .any
            .as_ref()
            .is_some_and(|set| !set.is_match(&original))
        {
            return None;
        }
        let mut text: Cow<'_, str> = Cow::Borrowed(&original);
        for pattern in &self.patterns {
            // A plain search first: replace_all sets up captures even for
            // a string it leaves alone.
            if !pattern.regex.is_match(&text) {
                continue;
            }
            if let Cow::Owned(new) = pattern
                .regex
                .replace_all(&text, |caps: &Captures<'_>| self.on_match(pattern, caps))
            {
                text = Cow::Owned(new);
            }
        }
        match text {
            Cow::Owned(new) if new != *original => Some(new),
            _ => None,
        }
    }

    /// What one match becomes. An empty match (`\b`, `x*`) changes nothing.
    fn on_match(&self, pattern: &MaskPattern, caps: &Captures<'_>) -> String {
        let matched = &caps[0];
        if matched.is_empty() {
            return String::new();
        }
        match (&pattern.replacement, self.mode) {
            (Some(replacement), _) => {
                let mut out = String::new();
                caps.expand(replacement, &mut out);
                out
            }
            (None, MaskMode::Fixed) => FIXED.to_owned(),
            (None, MaskMode::Sha256) => sha256_tag(matched.as_bytes()),
        }
    }
}

/// The next `"` from b[i] on: between two strings of a formatted event
/// there are a few bytes (`":"`, `","`, a number), a loop is quicker than
/// a call; memchr for long stretches.
fn next_quote(b: &[u8], i: usize) -> Option<usize> {
    let near = b.get(i..)?.iter().take(16).position(|&c| c == b'"');
    match near {
        Some(offset) => Some(i + offset),
        None => memchr(b'"', b.get(i + 16..)?).map(|offset| i + 16 + offset),
    }
}

/// `sha256:` and the first 16 hex digits (64 bits) of the SHA-256 of `bytes`.
fn sha256_tag(bytes: &[u8]) -> String {
    let digest = openssl::sha::sha256(bytes);
    let mut tag = String::with_capacity(7 + 16);
    tag.push_str("sha256:");
    for byte in &digest[..8] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_text() {
        // printf 'alice@example.com' | sha256sum
        assert_eq!(sha256_tag(b"alice@example.com"), "sha256:ff8d9819fc0e12bf");
    }
}
