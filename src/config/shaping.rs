//! Options of event shaping (`rename_fields`, `drop_fields`, `mask_fields`,
//! `mask_mode`, `mask_patterns`): what the worker changes in each formatted
//! event before it is stored (`crate::shaping` applies them). Paths and
//! patterns are checked, and patterns compiled, here, once, at create.

use super::options::{option, ConfigOption};
use super::read::{kind, string};
use regex::Regex;
use serde_json::{Map, Value};

/// The most names in a path: events nest at most 100 levels (event::MAX_DEPTH)
/// and the result must stay within the 128 levels common parsers accept.
const MAX_SEGMENTS: usize = 20;

/// A field of the final layout named by its dot-separated path
/// (`extra.user.email`): non-empty names, no empty segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses `text`; the error says what is wrong (the caller names the option).
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        if text.is_empty() {
            return Err("is empty (expected a field path such as \"extra.user.email\")".into());
        }
        if text.split('.').any(str::is_empty) {
            return Err(format!(
                "\"{text}\" is not a field path (a name between the dots is empty)"
            ));
        }
        if text.split('.').count() > MAX_SEGMENTS {
            // A value renamed that deep could nest past what parsers accept.
            return Err(format!("\"{text}\" has more than {MAX_SEGMENTS} names"));
        }
        Ok(FieldPath {
            text: text.to_owned(),
            segments: text.split('.').map(str::to_owned).collect(),
        })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `self` is `other` or holds it (`a` holds `a.b`).
    pub fn holds(&self, other: &FieldPath) -> bool {
        other.segments.starts_with(&self.segments)
    }
}

/// What a masked value becomes (`mask_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaskMode {
    /// `"***"`.
    #[default]
    Fixed,
    /// `"sha256:"` and the first 16 hex digits of the value's SHA-256: equal
    /// values stay equal (searchable, countable) without being readable.
    Sha256,
}

/// One `mask_patterns` entry: a compiled regular expression and what its
/// matches become (None: the `mask_mode` replacement of the match).
#[derive(Debug, Clone)]
pub struct MaskPattern {
    pub regex: Regex,
    pub replacement: Option<String>,
}

impl PartialEq for MaskPattern {
    fn eq(&self, other: &MaskPattern) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.replacement == other.replacement
    }
}

/// The shaping options, checked (see `crate::shaping` for what they do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShapingOptions {
    /// Old path -> new path, in the old paths' order.
    pub rename_fields: Vec<(FieldPath, FieldPath)>,
    pub drop_fields: Vec<FieldPath>,
    pub mask_fields: Vec<FieldPath>,
    pub mask_mode: MaskMode,
    pub mask_patterns: Vec<MaskPattern>,
}

impl ShapingOptions {
    /// True when nothing is to be changed (the worker then skips shaping).
    pub fn is_empty(&self) -> bool {
        self.rename_fields.is_empty()
            && self.drop_fields.is_empty()
            && self.mask_fields.is_empty()
            && self.mask_patterns.is_empty()
    }
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("rename_fields", "{}", |c, k, v| {
        c.shaping.rename_fields = renames(k, v)?;
        Ok(())
    }),
    option("drop_fields", "[]", |c, k, v| {
        c.shaping.drop_fields = paths(k, v)?;
        Ok(())
    }),
    option("mask_fields", "[]", |c, k, v| {
        c.shaping.mask_fields = paths(k, v)?;
        Ok(())
    }),
    option("mask_mode", "\"fixed\"", |c, k, v| {
        c.shaping.mask_mode = match string(k, v)?.as_str() {
            "fixed" => MaskMode::Fixed,
            "sha256" => MaskMode::Sha256,
            other => {
                return Err(format!(
                    "mask_mode: unknown mode \"{other}\" (expected \"fixed\" or \"sha256\")"
                ))
            }
        };
        Ok(())
    }),
    option("mask_patterns", "[]", |c, k, v| {
        c.shaping.mask_patterns = patterns(k, v)?;
        Ok(())
    }),
];

/// An array of field paths (null: none).
fn paths(key: &str, v: &Value) -> Result<Vec<FieldPath>, String> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "{key}: expected an array of field paths, got {}",
                kind(other)
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = string(&format!("{key}[{i}]"), item)?;
            FieldPath::parse(&text).map_err(|why| format!("{key}[{i}]: {why}"))
        })
        .collect()
}

/// `rename_fields`: an object of old path -> new path. No two renames may
/// end up at the same place or one inside the other (the result would
/// depend on their order), and no field is renamed to itself.
fn renames(key: &str, v: &Value) -> Result<Vec<(FieldPath, FieldPath)>, String> {
    let map = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "{key}: expected an object of \"old.path\": \"new.path\", got {}",
                kind(other)
            ))
        }
    };
    let mut out: Vec<(FieldPath, FieldPath)> = Vec::with_capacity(map.len());
    for (old, new) in map {
        let from = FieldPath::parse(old).map_err(|why| format!("{key}: {why}"))?;
        let to = string(&format!("{key}.{old}"), new)?;
        let to = FieldPath::parse(&to).map_err(|why| format!("{key}: \"{old}\": {why}"))?;
        if from == to {
            return Err(format!("{key}: \"{old}\" is renamed to itself"));
        }
        if let Some((other, _)) = out
            .iter()
            .find(|(_, earlier)| earlier.holds(&to) || to.holds(earlier))
        {
            return Err(format!(
                "{key}: \"{}\" and \"{old}\" are renamed to the same place or one into the other",
                other.as_str()
            ));
        }
        out.push((from, to));
    }
    Ok(out)
}

/// `mask_patterns`: an array of regular expressions, each a string (its
/// matches masked as `mask_mode` says) or `{"pattern": ..., "replacement":
/// ...}` (`$1`, `${name}` insert groups; `$$` is a dollar sign).
fn patterns(key: &str, v: &Value) -> Result<Vec<MaskPattern>, String> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "{key}: expected an array of regular expressions, got {}",
                kind(other)
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| pattern(&format!("{key}[{i}]"), item))
        .collect()
}

fn pattern(key: &str, item: &Value) -> Result<MaskPattern, String> {
    let (source, replacement) = match item {
        Value::String(s) => (s.clone(), None),
        Value::Object(map) => object_pattern(key, map)?,
        other => {
            return Err(format!(
                "{key}: expected a regular expression or {{\"pattern\": ..., \"replacement\": ...}}, got {}",
                kind(other)
            ))
        }
    };
    if source.is_empty() {
        return Err(format!("{key}: the regular expression is empty"));
    }
    let regex = Regex::new(&source).map_err(|e| {
        let why = e.to_string().replace('\n', " ");
        format!("{key}: invalid regular expression \"{source}\": {why}")
    })?;
    if let Some(r) = &replacement {
        check_groups(&regex, r).map_err(|why| format!("{key}.replacement: {why}"))?;
    }
    Ok(MaskPattern { regex, replacement })
}

fn object_pattern(key: &str, map: &Map<String, Value>) -> Result<(String, Option<String>), String> {
    if let Some(other) = map.keys().find(|k| *k != "pattern" && *k != "replacement") {
        return Err(format!(
            "{key}: unknown key \"{other}\" (expected \"pattern\" and \"replacement\")"
        ));
    }
    let source = match map.get("pattern") {
        Some(v) => string(&format!("{key}.pattern"), v)?,
        None => return Err(format!("{key}.pattern: required")),
    };
    let replacement = match map.get("replacement") {
        None | Some(Value::Null) => None,
        Some(v) => Some(string(&format!("{key}.replacement"), v)?),
    };
    Ok((source, replacement))
}

/// Every `$group` of a replacement names a group of the pattern (regex
/// would silently insert nothing for the others).
fn check_groups(regex: &Regex, replacement: &str) -> Result<(), String> {
    let b = replacement.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &replacement[i + 1..];
        let (name, used) = if rest.starts_with('$') {
            (None, 1)
        } else if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (Some(&braced[..end]), end + 2),
                None => return Err(format!("\"{replacement}\": a \"${{\" is not closed")),
            }
        } else {
            let len = rest
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            if len == 0 {
                return Err(format!(
                    "\"{replacement}\": a \"$\" names no group (write \"$$\" for a dollar sign)"
                ));
            }
            (Some(&rest[..len]), len)
        };
        if let Some(name) = name {
            let known = match name.parse::<usize>() {
                Ok(n) => n < regex.captures_len(),
                Err(_) => regex.capture_names().any(|n| n == Some(name)),
            };
            if !known {
                return Err(format!(
                    "\"{replacement}\": \"{name}\" is not a group of the pattern"
                ));
            }
        }
        i += 1 + used;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(json: &str) -> String {
        Config::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn paths_and_renames_are_checked() {
        let c = Config::from_json(
            br#"{"host":"h","drop_fields":["extra.a","pid"],"rename_fields":{"extra.b":"b"},
                 "mask_fields":["message"],"mask_mode":"sha256"}"#,
        )
        .unwrap();
        assert_eq!(c.shaping.drop_fields[0].segments(), ["extra", "a"]);
        assert_eq!(c.shaping.rename_fields[0].1.as_str(), "b");
        assert!(!c.shaping.is_empty());
        assert!(Config::new("h").shaping.is_empty());
        assert!(
            err(r#"{"host":"h","drop_fields":"a"}"#).starts_with("drop_fields: expected an array")
        );
        assert!(err(r#"{"host":"h","drop_fields":["a",1]}"#)
            .starts_with("drop_fields[1]: expected a string"));
        assert!(
            err(r#"{"host":"h","drop_fields":["a..b"]}"#).starts_with("drop_fields[0]: \"a..b\"")
        );
        assert!(err(r#"{"host":"h","mask_fields":[""]}"#).starts_with("mask_fields[0]: is empty"));
        assert!(err(r#"{"host":"h","mask_fields":[".a"]}"#).starts_with("mask_fields[0]:"));
        let deep = vec!["a"; 21].join(".");
        assert!(err(&format!(
            r#"{{"host":"h","rename_fields":{{"x":"{deep}"}}}}"#
        ))
        .contains("more than 20 names"));
        assert!(err(r#"{"host":"h","rename_fields":[]}"#)
            .starts_with("rename_fields: expected an object"));
        assert!(err(r#"{"host":"h","rename_fields":{"a":1}}"#)
            .starts_with("rename_fields.a: expected a string"));
        assert!(err(r#"{"host":"h","rename_fields":{"a":"a"}}"#).contains("renamed to itself"));
        assert!(err(r#"{"host":"h","rename_fields":{"a.":"b"}}"#).starts_with("rename_fields:"));
        assert!(err(r#"{"host":"h","rename_fields":{"a":"x","b":"x.y"}}"#)
            .contains("one into the other"));
        assert!(err(r#"{"host":"h","rename_fields":{"a":"x","b":"x"}}"#).contains("same place"));
        assert!(err(r#"{"host":"h","mask_mode":"blur"}"#).starts_with("mask_mode: unknown mode"));
    }

    #[test]
    fn patterns_are_compiled_at_create_and_a_bad_one_is_named() {
        let c = Config::from_json(
            br#"{"host":"h","mask_patterns":["\\d{16}",{"pattern":"(?P<user>\\w+)@\\w+","replacement":"${user}@***"}]}"#,
        )
        .unwrap();
        assert_eq!(c.shaping.mask_patterns.len(), 2);
        assert_eq!(c.shaping.mask_patterns[0].replacement, None);
        let e = err(r#"{"host":"h","mask_patterns":["ok","(unclosed"]}"#);
        assert!(
            e.starts_with("mask_patterns[1]: invalid regular expression \"(unclosed\""),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
        assert!(err(r#"{"host":"h","mask_patterns":[""]}"#).contains("empty"));
        assert!(
            err(r#"{"host":"h","mask_patterns":[1]}"#).starts_with("mask_patterns[0]: expected")
        );
        assert!(err(r#"{"host":"h","mask_patterns":{"a":"b"}}"#)
            .starts_with("mask_patterns: expected an array"));
        assert!(err(r#"{"host":"h","mask_patterns":[{"replacement":"x"}]}"#)
            .starts_with("mask_patterns[0].pattern: required"));
        assert!(
            err(r#"{"host":"h","mask_patterns":[{"pattern":"a","with":"x"}]}"#)
                .contains("unknown key \"with\"")
        );
        let e = err(r#"{"host":"h","mask_patterns":[{"pattern":"(a)","replacement":"$2"}]}"#);
        assert!(
            e.starts_with("mask_patterns[0].replacement:") && e.contains("\"2\""),
            "{e}"
        );
        assert!(
            err(r#"{"host":"h","mask_patterns":[{"pattern":"a","replacement":"5$"}]}"#)
                .contains("$$")
        );
        assert!(
            err(r#"{"host":"h","mask_patterns":[{"pattern":"a","replacement":"${x"}]}"#)
                .contains("not closed")
        );
        // Valid group references and escaped dollars.
        Config::from_json(
            br#"{"host":"h","mask_patterns":[{"pattern":"(a)(?P<n>b)","replacement":"$1 ${n} $$ $0"}]}"#,
        )
        .unwrap();
    }
}
