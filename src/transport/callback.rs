//! A custom transport: the host's own function delivers each chunk (to Redis,
//! Kafka, a file...), while the library keeps the buffering, batching and
//! retries. Created by `logstash_async_create_with_transport`.
//!
//! Both functions are called on the worker thread only, never concurrently,
//! with batches of `queued_events_batch_size` events at most.

use super::{Batch, Capacity, Outcome, SendError, Transport};
use std::ffi::{c_char, c_int, c_void};
use std::time::Instant;

/// Delivers a batch: `events[i]` points to `lens[i]` bytes of one formatted
/// event (a JSON object, NOT NUL-terminated), for `i` in `0..count`, oldest
/// first. The pointers are valid only during the call. Returns 0 when the
/// whole batch was delivered, non-zero to have the whole batch retried later
/// (after the backoff).
pub type SendFn = unsafe extern "C" fn(
    user_data: *mut c_void,
    events: *const *const c_char,
    lens: *const usize,
    count: usize,
) -> c_int;

/// Called once at shutdown, after the last send, to release `user_data`.
pub type CloseFn = unsafe extern "C" fn(user_data: *mut c_void);

/// The host's `user_data` pointer, moved to the worker thread.
///
/// Safety contract (stated to C callers in the header): the host guarantees
/// that whatever `user_data` points to may be used from the worker thread,
/// and stays valid until `close_fn` was called (or, without `close_fn`, until
/// `logstash_async_shutdown` returned). The library never dereferences it.
struct UserData(*mut c_void);

// SAFETY: see the contract above; the pointer is only handed back to the host's
// own functions, on one thread at a time.
unsafe impl Send for UserData {}

pub struct CallbackTransport {
    send_fn: SendFn,
    close_fn: Option<CloseFn>,
    user_data: UserData,
    closed: bool,
    /// What the last calls returned, until the worker polls.
    outcomes: Vec<Outcome>,
}

impl CallbackTransport {
    /// # Safety
    /// `send_fn` and `close_fn` are valid functions with the documented
    /// signatures, and `user_data` satisfies the contract of [`UserData`].
    pub unsafe fn new(
        send_fn: SendFn,
        close_fn: Option<CloseFn>,
        user_data: *mut c_void,
    ) -> CallbackTransport {
        CallbackTransport {
            send_fn,
            close_fn,
            user_data: UserData(user_data),
            closed: false,
            outcomes: Vec::new(),
        }
    }

    fn call(&mut self, batch: &Batch) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::new("custom transport: already closed"));
        }
        let count = batch.len() as usize;
        let mut pointers: Vec<*const c_char> = Vec::with_capacity(count);
        let mut lens: Vec<usize> = Vec::with_capacity(count);
        for event in batch.events() {
            pointers.push(event.as_ptr().cast());
            lens.push(event.len());
        }
        // SAFETY: the pointers and lengths describe `batch`, alive for the call;
        // the function and user_data are the host's, per `new`'s contract.
        let status = unsafe {
            (self.send_fn)(
                self.user_data.0,
                pointers.as_ptr(),
                lens.as_ptr(),
                pointers.len(),
            )
        };
        if status == 0 {
            Ok(())
        } else {
            Err(SendError::new(format!(
                "custom transport: send function returned {status}"
            )))
        }
    }
}

impl Transport for CallbackTransport {
    /// The worker sizes the batches (`queued_events_batch_size`); the
    /// function is called one batch at a time, on the worker thread.
    fn capacity(&self, _now: Instant) -> Option<Capacity> {
        Some(Capacity {
            max_events: u32::MAX,
            max_bytes: usize::MAX,
        })
    }

    fn submit(&mut self, batch: Batch, _now: Instant) {
        match self.call(&batch) {
            Ok(()) => self.outcomes.push(Outcome::Done {
                ticket: batch.ticket,
                rejected: 0,
            }),
            Err(e) => {
                self.outcomes.push(Outcome::Failed(e));
                // The function may have delivered part of it: counted as resent.
                self.outcomes.push(Outcome::Returned {
                    ticket: batch.ticket,
                    finished: 0,
                    rejected: 0,
                    written: true,
                });
            }
        }
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Outcome>) {
        out.append(&mut self.outcomes);
    }

    fn close(&mut self, _deadline: Instant, out: &mut Vec<Outcome>) {
        out.append(&mut self.outcomes);
        if !self.closed {
            self.closed = true;
            if let Some(close) = self.close_fn {
                // SAFETY: per `new`'s contract; called once (guarded by `closed`).
                unsafe { close(self.user_data.0) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, Config};
    use std::sync::Mutex;
    use std::time::Duration;

    /// What the host side of the test keeps behind `user_data`.
    struct Recorder {
        failures_left: u32,
        calls: u32,
        events: Vec<String>,
        closed: u32,
        thread: Option<String>,
    }

    unsafe extern "C" fn record(
        user_data: *mut c_void,
        events: *const *const c_char,
        lens: *const usize,
        count: usize,
    ) -> c_int {
        let recorder = &*(user_data as *const Mutex<Recorder>);
        let mut r = recorder.lock().unwrap();
        r.calls += 1;
        r.thread = std::thread::current().name().map(str::to_owned);
        if r.failures_left > 0 {
            r.failures_left -= 1;
            return -1;
        }
        for i in 0..count {
            let bytes = std::slice::from_raw_parts((*events.add(i)).cast::<u8>(), *lens.add(i));
            r.events.push(String::from_utf8(bytes.to_vec()).unwrap());
        }
        0
    }

    unsafe extern "C" fn close(user_data: *mut c_void) {
        let recorder = &*(user_data as *const Mutex<Recorder>);
        recorder.lock().unwrap().closed += 1;
    }

    #[test]
    fn fails_twice_then_delivers_each_event_once_in_order_and_closes_once() {
        let recorder: &'static Mutex<Recorder> = Box::leak(Box::new(Mutex::new(Recorder {
            failures_left: 2,
            calls: 0,
            events: Vec::new(),
            closed: 0,
            thread: None,
        })));
        let config = Config::from_json_custom_transport(
            br#"{"queue_check_interval":0.02,"backoff_initial":0.02,"backoff_max":0.1}"#,
        )
        .unwrap();
        // SAFETY: the recorder is leaked (lives forever) and is a Mutex.
        let transport = unsafe {
            CallbackTransport::new(record, Some(close), recorder as *const _ as *mut c_void)
        };
        let client = Client::with_transport(config, Box::new(transport)).unwrap();
        for i in 0..10 {
            client
                .emit_json(format!(r#"{{"message":"m{i}","seq":{i}}}"#).as_bytes())
                .unwrap();
        }
        assert_eq!(client.flush(Duration::from_secs(30)), Ok(()));
        assert_eq!(client.shutdown(Duration::from_secs(30)), Ok(()));
        let r = recorder.lock().unwrap();
        // Two failures, then the delivery: one batch, or more when the
        // worker took events before all ten were emitted (a slow machine,
        // a sanitizer's build).
        assert!(
            r.calls >= 3,
            "two failures, then delivery: {} calls",
            r.calls
        );
        let seqs: Vec<u64> = r
            .events
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(e).unwrap()["extra"]["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, (0..10).collect::<Vec<_>>());
        assert_eq!(r.closed, 1);
        assert_eq!(
            r.thread.as_deref(),
            Some("logstash-async"),
            "worker thread only"
        );
        let stats = client.stats();
        assert_eq!((stats.sent, stats.send_errors), (10, 2));
    }

    #[test]
    fn custom_transport_configuration_needs_no_host_and_refuses_transport() {
        let c = Config::from_json_custom_transport(b"{}").unwrap();
        assert_eq!(c.transport, crate::config::TransportKind::Custom);
        let e = Config::from_json_custom_transport(br#"{"transport":"tcp"}"#).unwrap_err();
        assert!(
            e.starts_with("transport: not used with a custom transport"),
            "{e}"
        );
        assert!(Config::from_json(b"{}")
            .unwrap_err()
            .starts_with("host: required"));
    }
}
