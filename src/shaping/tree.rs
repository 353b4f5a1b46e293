//! A formatted event as a partial tree: objects and arrays are split into
//! members only where a path leads (`Node::Raw` keeps the rest as written),
//! so a rule on `extra.user.email` costs a split of the top level, `extra`
//! and `user`, and nothing else.
//!
//! How a path meets the event: each name matches a member's key; a key
//! written with dots matches that many names (`extra.user.email` finds both
//! `{"user":{"email":…}}` and `{"user.email":…}` under `extra`, as
//! Elasticsearch reads them alike); drop and mask go through arrays (the rest
//! of the path applies to each element), rename does not.

use super::json::{elements, members, string_content};
use std::borrow::Cow;

pub(super) enum Node<'a> {
    /// A value as the layout wrote it.
    Raw(&'a str),
    Object(Vec<Member<'a>>),
    Array(Vec<Node<'a>>),
    /// A value shaping wrote (a mask): final, patterns leave it alone.
    Written(String),
}

pub(super) struct Member<'a> {
    pub key: Cow<'a, str>,
    /// The key as written (None for a key shaping made).
    pub key_json: Option<&'a str>,
    pub value: Node<'a>,
}

impl<'a> Node<'a> {
    /// The members, splitting a raw object first; None for any other value.
    fn object(&mut self) -> Option<&mut Vec<Member<'a>>> {
        if let Node::Raw(text) = *self {
            if text.starts_with('{') {
                let mut split = Vec::with_capacity(16);
                members(text, |key_json, escaped, value| {
                    split.push(Member {
                        key: string_content(key_json, escaped),
                        key_json: Some(key_json),
                        value: Node::Raw(value),
                    })
                });
                *self = Node::Object(split);
            }
        }
        match self {
            Node::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The elements, splitting a raw array first; None for any other value.
    fn array(&mut self) -> Option<&mut Vec<Node<'a>>> {
        if let Node::Raw(text) = *self {
            if text.starts_with('[') {
                *self = Node::Array(elements(text).into_iter().map(Node::Raw).collect());
            }
        }
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// How many names of `path` the key `key` matches (each dot-separated part
/// of the key one name), or None.
fn key_match(key: &str, path: &[String]) -> Option<usize> {
    let mut rest = key.as_bytes();
    let mut n = 0;
    loop {
        let name = path.get(n)?.as_bytes();
        // Most keys differ at once: no call to compare them.
        if rest.first() != name.first() {
            return None;
        }
        rest = rest.strip_prefix(name)?;
        n += 1;
        match rest.split_first() {
            None => return Some(n),
            Some((b'.', after)) => rest = after,
            Some(_) => return None,
        }
    }
}

/// Removes and returns the first value at `path` (through objects only).
pub(super) fn take<'a>(node: &mut Node<'a>, path: &[String]) -> Option<Node<'a>> {
    let members = node.object()?;
    for i in 0..members.len() {
        let Some(n) = key_match(&members[i].key, path) else {
            continue;
        };
        if n == path.len() {
            return Some(members.remove(i).value);
        }
        if let Some(found) = take(&mut members[i].value, &path[n..]) {
            return Some(found);
        }
    }
    None
}

/// Whether `place` would succeed: every value on the way that exists is an
/// object (one that does not exist is created).
pub(super) fn can_place(node: &mut Node<'_>, path: &[String]) -> bool {
    let Some(members) = node.object() else {
        return false;
    };
    for m in members.iter_mut() {
        if let Some(n) = key_match(&m.key, path) {
            return n == path.len() || can_place(&mut m.value, &path[n..]);
        }
    }
    true
}

/// Puts `value` at `path`: it replaces what was there, missing objects on
/// the way are created. Gives the value back when a non-object is in the way.
pub(super) fn place<'a>(
    node: &mut Node<'a>,
    path: &[String],
    value: Node<'a>,
) -> Result<(), Node<'a>> {
    let Some(members) = node.object() else {
        return Err(value);
    };
    for m in members.iter_mut() {
        if let Some(n) = key_match(&m.key, path) {
            if n == path.len() {
                m.value = value;
                return Ok(());
            }
            return place(&mut m.value, &path[n..], value);
        }
    }
    let mut nested = value;
    for name in path[1..].iter().rev() {
        nested = Node::Object(vec![Member::made(name, nested)]);
    }
    members.push(Member::made(&path[0], nested));
    Ok(())
}

/// Removes every value at `path` (through objects and arrays).
pub(super) fn remove(node: &mut Node<'_>, path: &[String]) {
    if let Some(items) = node.array() {
        for item in items {
            remove(item, path);
        }
        return;
    }
    let Some(members) = node.object() else {
        return;
    };
    members.retain_mut(|m| match key_match(&m.key, path) {
        Some(n) if n == path.len() => false,
        Some(n) => {
            remove(&mut m.value, &path[n..]);
            true
        }
        None => true,
    });
}

/// Replaces every value at `path` (through objects and arrays) by
/// `mask(value)`.
pub(super) fn replace(node: &mut Node<'_>, path: &[String], mask: &dyn Fn(&Node<'_>) -> String) {
    if let Some(items) = node.array() {
        for item in items {
            replace(item, path, mask);
        }
        return;
    }
    let Some(members) = node.object() else {
        return;
    };
    for m in members.iter_mut() {
        match key_match(&m.key, path) {
            Some(n) if n == path.len() => m.value = Node::Written(mask(&m.value)),
            Some(n) => replace(&mut m.value, &path[n..], mask),
            None => {}
        }
    }
}

impl<'a> Member<'a> {
    fn made(key: &str, value: Node<'a>) -> Member<'a> {
        Member {
            key: Cow::Owned(key.to_owned()),
            key_json: None,
            value,
        }
    }
}
