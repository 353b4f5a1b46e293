//! Writing the shaped tree back as one JSON line: what was not split is
//! copied as written (with `mask_patterns` applied to its string values),
//! the rest member by member.

use super::mask::Masker;
use super::tree::Node;

/// Appends `node` as JSON; with `patterns`, every string value that is not
/// a mask goes through them.
pub(super) fn write(node: &Node<'_>, patterns: Option<&Masker>, out: &mut Vec<u8>) {
    match node {
        Node::Raw(text) => match patterns {
            Some(masker) => masker.write_patterns(text, out),
            None => out.extend_from_slice(text.as_bytes()),
        },
        Node::Written(text) => out.extend_from_slice(text.as_bytes()),
        Node::Object(members) => {
            out.push(b'{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match m.key_json {
                    Some(json) => out.extend_from_slice(json.as_bytes()),
                    None => {
                        let _ = serde_json::to_writer(&mut *out, &*m.key);
                    }
                }
                out.push(b':');
                write(&m.value, patterns, out);
            }
            out.push(b'}');
        }
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, patterns, out);
            }
            out.push(b']');
        }
    }
}
