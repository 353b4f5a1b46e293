//! Event shaping: what the worker renames, drops and masks in every
//! formatted event before it is stored and sent (`rename_fields`,
//! `drop_fields`, `mask_fields` with `mask_mode`, `mask_patterns`), so that
//! fields never leave the host in a form the operator did not want.
//!
//! It runs on the worker, on the layout's output (paths name fields of the
//! final layout: `extra.user.email` in the Logstash layout), in a fixed
//! order: renames, then drops, then masked fields, then the patterns over
//! every string value left (masked values excepted). Without shaping
//! options the layout does not call it at all.
//!
//! `tree.rs` splits the event only along the configured paths, `mask.rs`
//! writes masks and applies patterns, `write.rs` writes the line back,
//! `json.rs` splits JSON text the layout wrote.

mod json;
mod mask;
mod tree;
mod write;

use crate::config::{FieldPath, ShapingOptions};
use mask::Masker;
use std::cell::RefCell;
use tree::Node;

/// The shaping of one layout, compiled from its options. Lives on the worker.
pub struct Shaper {
    /// Old path -> new path.
    renames: Vec<(FieldPath, FieldPath)>,
    drops: Vec<FieldPath>,
    masks: Vec<FieldPath>,
    masker: Masker,
    /// A copy of the line being shaped (the tree borrows from it while the
    /// result is written in its place); kept to reuse its allocation.
    line: RefCell<Vec<u8>>,
}

impl Shaper {
    /// None when the options change nothing.
    pub fn new(options: &ShapingOptions) -> Option<Shaper> {
        if options.is_empty() {
            return None;
        }
        Some(Shaper {
            renames: options.rename_fields.clone(),
            drops: options.drop_fields.clone(),
            masks: options.mask_fields.clone(),
            masker: Masker::new(options.mask_mode, options.mask_patterns.clone()),
            line: RefCell::new(Vec::new()),
        })
    }

    /// Shapes the JSON object in `out[start..]` (one formatted event) in place.
    pub fn apply(&self, out: &mut Vec<u8>, start: usize) {
        let mut line = self.line.borrow_mut();
        line.clear();
        line.extend_from_slice(&out[start..]);
        let Ok(text) = std::str::from_utf8(&line) else {
            return; // the layouts write UTF-8: left as it is
        };
        out.truncate(start);
        let mut event = Node::Raw(text);
        self.rename(&mut event);
        for path in &self.drops {
            tree::remove(&mut event, path.segments());
        }
        for path in &self.masks {
            tree::replace(&mut event, path.segments(), &|value| {
                self.masker.field(value)
            });
        }
        let patterns = (!self.masker.patterns.is_empty()).then_some(&self.masker);
        write::write(&event, patterns, out);
    }

    /// Every rename at once: all the values are taken, then placed (so
    /// `a`->`b` with `b`->`a` swaps them). A value whose new place lies
    /// under a non-object (`host.name` while `host` is a string) stays
    /// where it was.
    fn rename(&self, event: &mut Node<'_>) {
        let mut moving = Vec::new();
        for (from, to) in &self.renames {
            let placeable = from.holds(to) || tree::can_place(event, to.segments());
            if !placeable {
                continue;
            }
            if let Some(value) = tree::take(event, from.segments()) {
                moving.push((from, to, value));
            }
        }
        for (from, to, value) in moving {
            if let Err(value) = tree::place(event, to.segments(), value) {
                // Not reached (checked above); never lose the value.
                let _ = tree::place(event, from.segments(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests;
