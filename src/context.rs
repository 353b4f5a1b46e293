//! Per-thread context (logback's MDC; the request id of the request a thread
//! is serving): keys and values a thread attaches to its own later events on
//! one handle. Other threads never see them.
//!
//! The caller's side stays cheap: each thread keeps, per handle, an
//! immutable snapshot (`Origin`: the thread's name and its context as one
//! JSON object, split into members once) that every event it queues shares
//! by reference. Emit clones one `Arc`, as it cloned the thread name's
//! before; setting a key builds a new snapshot. The layouts merge the
//! context on the worker, as members of the event placed before its own
//! (so the event's win; both win over set_extra and `extra`).

use crate::event::scan::{self, Member};
use crate::result::ResultCode;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Most keys one thread's context may hold on a handle (as many as the
/// fields of one call).
pub const MAX_CONTEXT_KEYS: usize = crate::event::build::MAX_FIELDS;

/// Who queued an event: the thread's name and its context on the handle.
/// Shared by every event the thread queues until its context changes.
#[derive(Debug)]
pub struct Origin {
    pub thread_name: Arc<str>,
    pub context: Option<Context>,
}

impl Origin {
    /// An origin without a context, for tests and benchmarks.
    pub fn named(thread_name: &str) -> Arc<Origin> {
        Arc::new(Origin {
            thread_name: Arc::from(thread_name),
            context: None,
        })
    }
}

/// A thread's context as one JSON object and its members' places in it.
#[derive(Debug)]
pub struct Context {
    text: String,
    members: Vec<Span>,
}

/// Where a member lies in `Context::text`.
#[derive(Debug, Clone, Copy)]
struct Span {
    key: (u32, u32),
    key_escaped: bool,
    value: (u32, u32),
}

impl Context {
    /// The snapshot of `entries` (None when there are none).
    fn of(entries: &BTreeMap<String, Box<RawValue>>) -> Option<Context> {
        if entries.is_empty() {
            return None;
        }
        let mut text = String::from("{");
        for (key, value) in entries {
            if text.len() > 1 {
                text.push(',');
            }
            let mut quoted = Vec::with_capacity(key.len() + 2);
            crate::event::build::write_string(&mut quoted, key, "");
            text.push_str(std::str::from_utf8(&quoted).expect("escaped UTF-8"));
            text.push(':');
            text.push_str(value.get());
        }
        text.push('}');
        let base = text.as_ptr() as usize;
        let offset = |s: &str| (s.as_ptr() as usize - base) as u32;
        let mut members = Vec::with_capacity(entries.len());
        // Every value was checked when it was set; the keys are escaped here.
        let scanned = scan::scan(&text, |m| {
            let key = offset(m.key_json);
            let value = offset(m.value);
            members.push(Span {
                key: (key, key + m.key_json.len() as u32),
                key_escaped: m.key_escaped,
                value: (value, value + m.value.len() as u32),
            });
        });
        debug_assert_eq!(scanned, Ok(true));
        Some(Context { text, members })
    }

    /// The members, in key order, as the scanner hands out an event's.
    pub(crate) fn members(&self) -> impl Iterator<Item = Member<'_>> {
        let text = self.text.as_str();
        self.members.iter().map(move |s| Member {
            key_json: &text[s.key.0 as usize..s.key.1 as usize],
            key_escaped: s.key_escaped,
            value: &text[s.value.0 as usize..s.value.1 as usize],
        })
    }

    /// The context as a JSON object.
    pub fn as_json(&self) -> &str {
        &self.text
    }
}

/// A handle's side of the thread contexts: its id in every thread's table,
/// and the token whose end tells threads to forget its contexts.
pub struct Contexts {
    id: u64,
    alive: Arc<()>,
}

/// One thread's contexts, by handle.
#[derive(Default)]
struct ThreadContexts {
    /// The thread's origin without a context (shared by all handles).
    plain: Option<Arc<Origin>>,
    handles: Vec<HandleContext>,
}

struct HandleContext {
    id: u64,
    alive: Weak<()>,
    entries: BTreeMap<String, Box<RawValue>>,
    origin: Arc<Origin>,
}

thread_local! {
    static THREAD: RefCell<ThreadContexts> = RefCell::new(ThreadContexts::default());
}

impl Default for Contexts {
    fn default() -> Contexts {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Contexts {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
        }
    }
}

impl Contexts {
    /// The calling thread's origin for an event of this handle (the emit
    /// path: a thread-local lookup and one `Arc` clone).
    #[inline]
    pub fn origin(&self) -> Arc<Origin> {
        let found = THREAD.try_with(|t| {
            {
                let t = t.borrow();
                if let Some(plain) = &t.plain {
                    if t.handles.is_empty() {
                        return plain.clone();
                    }
                    if let Some(h) = t.handles.iter().find(|h| h.id == self.id) {
                        return h.origin.clone();
                    }
                    return plain.clone();
                }
            }
            t.borrow_mut().plain().clone()
        });
        // The thread is exiting (its thread-locals are gone): no context.
        found.unwrap_or_else(|_| {
            Arc::new(Origin {
                thread_name: Arc::from(crate::sys::lookup_thread_name()),
                context: None,
            })
        })
    }

    /// Sets `key` in the calling thread's context (`value` is checked JSON).
    /// TOO_MANY_FIELDS when the context already holds MAX_CONTEXT_KEYS
    /// other keys.
    pub fn set(&self, key: &str, value: Box<RawValue>) -> Result<(), ResultCode> {
        self.change(|entries| {
            if entries.len() >= MAX_CONTEXT_KEYS && !entries.contains_key(key) {
                return Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS);
            }
            entries.insert(key.to_owned(), value);
            Ok(())
        })
    }

    /// Removes `key` from the calling thread's context.
    pub fn remove(&self, key: &str) {
        let _ = self.change(|entries| {
            entries.remove(key);
            Ok(())
        });
    }

    /// Empties the calling thread's context.
    pub fn clear(&self) {
        let _ = self.change(|entries| {
            entries.clear();
            Ok(())
        });
    }

    /// The calling thread's context on this handle, as a JSON object.
    pub fn current(&self) -> Option<String> {
        let origin = self.origin();
        origin.context.as_ref().map(|c| c.as_json().to_owned())
    }

    /// Applies `edit` to this thread's entries and makes the new snapshot.
    fn change(
        &self,
        edit: impl FnOnce(&mut BTreeMap<String, Box<RawValue>>) -> Result<(), ResultCode>,
    ) -> Result<(), ResultCode> {
        THREAD
            .try_with(|t| {
                let mut t = t.borrow_mut();
                let plain = t.plain().clone();
                // Forget the contexts of handles that are gone.
                t.handles.retain(|h| h.alive.strong_count() > 0);
                let i = match t.handles.iter().position(|h| h.id == self.id) {
                    Some(i) => i,
                    None => {
                        t.handles.push(HandleContext {
                            id: self.id,
                            alive: Arc::downgrade(&self.alive),
                            entries: BTreeMap::new(),
                            origin: plain.clone(),
                        });
                        t.handles.len() - 1
                    }
                };
                let h = &mut t.handles[i];
                edit(&mut h.entries)?;
                if h.entries.is_empty() {
                    t.handles.swap_remove(i);
                } else {
                    h.origin = Arc::new(Origin {
                        thread_name: plain.thread_name.clone(),
                        context: Context::of(&h.entries),
                    });
                }
                Ok(())
            })
            // A thread that is exiting has no later events.
            .unwrap_or(Ok(()))
    }
}

impl ThreadContexts {
    fn plain(&mut self) -> &Arc<Origin> {
        self.plain.get_or_insert_with(|| {
            Arc::new(Origin {
                thread_name: crate::sys::current_thread_name(),
                context: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    fn members(origin: &Origin) -> Vec<(String, String)> {
        origin
            .context
            .as_ref()
            .map(|c| {
                c.members()
                    .map(|m| (m.decoded_key().unwrap().into_owned(), m.value.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_threads_context_is_its_own_and_per_handle() {
        let (a, b) = (Contexts::default(), Contexts::default());
        assert!(a.origin().context.is_none());
        a.set("request_id", raw("\"r-1\"")).unwrap();
        a.set("k\"q", raw("{\"n\":[1]}")).unwrap();
        assert_eq!(
            members(&a.origin()),
            [
                ("k\"q".to_owned(), "{\"n\":[1]}".to_owned()),
                ("request_id".to_owned(), "\"r-1\"".to_owned())
            ]
        );
        assert!(b.origin().context.is_none(), "another handle");
        // The same snapshot until it changes.
        assert!(Arc::ptr_eq(&a.origin(), &a.origin()));
        a.remove("k\"q");
        assert_eq!(members(&a.origin()).len(), 1);
        a.clear();
        assert!(a.origin().context.is_none());
        assert_eq!(
            &*a.origin().thread_name,
            &*crate::sys::current_thread_name()
        );
    }

    #[test]
    fn another_thread_never_sees_it() {
        let a = Arc::new(Contexts::default());
        a.set("request_id", raw("\"main\"")).unwrap();
        let seen = std::thread::spawn({
            let a = a.clone();
            move || a.origin().context.is_none()
        })
        .join()
        .unwrap();
        assert!(seen);
        assert!(a.current().unwrap().contains("main"));
    }

    #[test]
    fn contexts_of_dropped_handles_are_forgotten_and_keys_are_bounded() {
        let gone = Contexts::default();
        gone.set("k", raw("1")).unwrap();
        drop(gone);
        let live = Contexts::default();
        for i in 0..MAX_CONTEXT_KEYS {
            live.set(&format!("k{i}"), raw("1")).unwrap();
        }
        assert_eq!(
            live.set("one more", raw("1")),
            Err(ResultCode::LOGSTASH_ASYNC_TOO_MANY_FIELDS)
        );
        assert_eq!(live.set("k0", raw("2")), Ok(()), "replacing is fine");
        THREAD.with(|t| assert_eq!(t.borrow().handles.len(), 1));
        live.clear();
    }
}
