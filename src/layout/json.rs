//! The JSON writing both layouts share: strings and keys, Python's
//! `ensure_ascii`, and the emitting thread's name serialised once per run.

use std::cell::{Ref, RefCell};
use std::io::Write;
use std::sync::Arc;

/// `s` as a JSON string.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Appends `"key":`, escaping the key only where JSON needs it.
pub(crate) fn write_key(out: &mut Vec<u8>, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        write_plain_key(out, key);
    } else {
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
    }
}

/// Appends `"key":` for a key known to need no escapes (one that stood in
/// an event without any).
#[inline]
pub(crate) fn write_plain_key(out: &mut Vec<u8>, key: &str) {
    out.reserve(key.len() + 3);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"key":`, as write_key appends it.
pub(crate) fn key_json(key: &str) -> String {
    let mut out = Vec::with_capacity(key.len() + 3);
    write_key(&mut out, key);
    String::from_utf8(out).expect("a serialised key is UTF-8")
}

/// Python's `json.dumps(ensure_ascii=True)`: every non-ASCII character of
/// `out[start..]` as \uXXXX. In JSON text non-ASCII bytes occur only inside
/// strings, so a byte-level pass over the serialised line is exact.
pub(crate) fn escape_non_ascii(out: &mut Vec<u8>, start: usize) {
    if out[start..].is_ascii() {
        return;
    }
    let tail = out.split_off(start);
    let text = String::from_utf8_lossy(&tail);
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch as u8);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

/// The last emitting thread's name and its JSON string: events come in runs
/// from one thread, so escaping the name once per run is enough.
#[derive(Default)]
pub(crate) struct ThreadNameJson {
    last: RefCell<(Option<Arc<str>>, String)>,
}

impl ThreadNameJson {
    /// The JSON string of `name`, borrowed until the event is written.
    #[inline(always)]
    pub(crate) fn get(&self, name: &Arc<str>) -> Ref<'_, str> {
        {
            let mut last = self.last.borrow_mut();
            if !last.0.as_ref().is_some_and(|t| Arc::ptr_eq(t, name)) {
                *last = (Some(name.clone()), json_string(name));
            }
        }
        Ref::map(self.last.borrow(), |last| last.1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_only_where_needed() {
        assert_eq!(key_json("plain"), "\"plain\":");
        assert_eq!(key_json("q\"k"), "\"q\\\"k\":");
        assert_eq!(key_json("\u{1}"), "\"\\u0001\":");
        assert_eq!(key_json("caf\u{e9}"), "\"caf\u{e9}\":");
    }

    #[test]
    fn ensure_ascii_escapes_like_python() {
        let mut out = b"{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}".to_vec();
        escape_non_ascii(&mut out, 0);
        assert_eq!(out, br#"{"a":"caf\u00e9 \ud83d\ude00"}"#);
    }

    #[test]
    fn the_thread_name_follows_the_thread() {
        let names = ThreadNameJson::default();
        let (a, b) = (Arc::from("a\u{e9}"), Arc::from("b"));
        assert_eq!(&*names.get(&a), "\"a\u{e9}\"");
        assert_eq!(&*names.get(&b), "\"b\"");
        assert_eq!(&*names.get(&a), "\"a\u{e9}\"");
    }
}
