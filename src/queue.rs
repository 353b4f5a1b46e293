//! The bounded in-memory queue between emit (many caller threads) and the worker.
//!
//! Callers hold the lock only to push into a VecDeque; the worker swaps the
//! whole deque out in one go, so the lock is never held across I/O or
//! formatting (a deque, so that drop_oldest evicts from the front in O(1)). The
//! worker is woken only when enough events piled up (`wake_at`) or on request
//! (flush, shutdown), not once per event: a futex wake per emit would dominate
//! its cost.

use crate::config::OverflowPolicy;
use crate::event::AcceptedEvent;
use crate::result::ResultCode;
use parking_lot::{Condvar, Mutex};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::Instant;

/// One entry of the queue, in the order the callers made them.
#[derive(Debug)]
pub enum Item {
    Event(AcceptedEvent),
    /// set_extra: applies to every event queued after it.
    SetExtra(String, Option<Box<RawValue>>),
}

#[derive(Default)]
struct State {
    items: VecDeque<Item>,
    /// Events (not SetExtra items) currently in `items`.
    events: usize,
    /// Sequence number of the last accepted event (1-based; 0 = none yet).
    accepted_seq: u64,
    wake_requested: bool,
    closed: bool,
}

/// What the worker takes out of the queue in one go.
pub struct Drained {
    pub items: VecDeque<Item>,
    /// Sequence number of the last event in `items` (or of the last accepted event).
    pub last_seq: u64,
    /// Events evicted by drop_oldest since the last drain.
    pub evicted: u64,
}

pub struct Queue {
    state: Mutex<State>,
    worker_cv: Condvar,
    space_cv: Condvar,
    capacity: usize,
    wake_at: usize,
    policy: OverflowPolicy,
    block_timeout: std::time::Duration,
    evicted: std::sync::atomic::AtomicU64,
}

/// How a push ended.
pub enum Pushed {
    /// Accepted with this sequence number.
    Accepted(u64),
    /// Accepted after evicting this many of the oldest queued events.
    AcceptedEvicting(u64, u64),
}

impl Queue {
    pub fn new(
        capacity: usize,
        wake_at: usize,
        policy: OverflowPolicy,
        block_timeout: std::time::Duration,
    ) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            worker_cv: Condvar::new(),
            space_cv: Condvar::new(),
            capacity,
            wake_at: wake_at.clamp(1, capacity),
            policy,
            block_timeout,
            evicted: Default::default(),
        }
    }

    /// Queues an event. Never blocks unless the policy is `block`.
    pub fn push_event(&self, ev: AcceptedEvent) -> Result<Pushed, ResultCode> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        let mut evicted = 0;
        if st.events >= self.capacity {
            match self.policy {
                OverflowPolicy::DropNewest => return Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL),
                OverflowPolicy::Block => {
                    let deadline = Instant::now() + self.block_timeout;
                    while st.events >= self.capacity && !st.closed {
                        self.worker_cv.notify_one();
                        if self.space_cv.wait_until(&mut st, deadline).timed_out() {
                            break;
                        }
                    }
                    if st.closed {
                        return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
                    }
                    if st.events >= self.capacity {
                        return Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL);
                    }
                }
                OverflowPolicy::DropOldest => {
                    if let Some(pos) = st.items.iter().position(|i| matches!(i, Item::Event(_))) {
                        st.items.remove(pos);
                        st.events -= 1;
                        evicted = 1;
                        self.evicted
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
        st.items.push_back(Item::Event(ev));
        st.events += 1;
        st.accepted_seq += 1;
        let seq = st.accepted_seq;
        let wake = st.events == self.wake_at;
        drop(st);
        if wake {
            self.worker_cv.notify_one();
        }
        Ok(if evicted > 0 {
            Pushed::AcceptedEvicting(seq, evicted)
        } else {
            Pushed::Accepted(seq)
        })
    }

    /// Queues a set_extra; it is ordered with the events around it.
    pub fn push_control(&self, item: Item) -> Result<(), ResultCode> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN);
        }
        st.items.push_back(item);
        Ok(())
    }

    /// The sequence number of the last accepted event.
    pub fn accepted_seq(&self) -> u64 {
        self.state.lock().accepted_seq
    }

    /// Asks the worker to run now (flush, shutdown).
    pub fn wake(&self) {
        self.state.lock().wake_requested = true;
        self.worker_cv.notify_one();
    }

    /// Refuses further events; the worker drains what is there.
    pub fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        st.wake_requested = true;
        drop(st);
        self.worker_cv.notify_one();
        self.space_cv.notify_all();
    }

    /// Worker: waits until woken, enough events queued, or the deadline.
    pub fn wait(&self, deadline: Instant) {
        let mut st = self.state.lock();
        while !st.wake_requested && st.events < self.wake_at && Instant::now() < deadline {
            if self.worker_cv.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.wake_requested = false;
    }

    /// Worker: takes everything queued, leaving `spare` (an empty Vec) in its place.
    pub fn drain(&self, spare: VecDeque<Item>) -> Drained {
        let mut st = self.state.lock();
        let items = std::mem::replace(&mut st.items, spare);
        st.events = 0;
        let last_seq = st.accepted_seq;
        drop(st);
        if self.policy == OverflowPolicy::Block {
            self.space_cv.notify_all();
        }
        Drained {
            items,
            last_seq,
            evicted: self.evicted.swap(0, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Events waiting in memory now.
    pub fn len(&self) -> usize {
        self.state.lock().events
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
