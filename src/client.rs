//! `Client`: the Rust API of one handle. It creates the handle's queue,
//! buffer, transport and worker, and is the caller's side of emit, flush and
//! shutdown. The C ABI (src/ffi) is a thin layer over it, and the
//! command-line tool uses it directly.

use crate::buffer::Buffer;
use crate::config::Config;
use crate::event;
use crate::handshake::Handshake;
use crate::queue::Queue;
use crate::report::Reporter;
use crate::result::ResultCode;
use crate::shared::Shared;
use crate::stats::{Counters, Stats};
use crate::transport::{self, Interrupter, Transport};
use crate::worker;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One logging handle: an in-memory queue, a SQLite buffer and a worker thread.
/// `Client` is `Send + Sync`: share it (e.g. in an `Arc`) between threads.
pub struct Client {
    shared: Option<Arc<Shared>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    max_event_bytes: usize,
    fork_generation: u64,
    /// The `handle` label of its Prometheus statistics.
    label: String,
}

impl Client {
    /// Creates a handle from a JSON configuration (python-logstash-async's option names).
    pub fn from_json(config_json: &[u8]) -> Result<Client, String> {
        Client::new(Config::from_json(config_json)?)
    }

    /// Creates a handle: opens the buffer, loads TLS material and starts the
    /// worker. Blocks for that file I/O only; never for the network.
    pub fn new(config: Config) -> Result<Client, String> {
        Client::start(config, None)
    }

    /// Creates a handle that delivers through `transport` (the host's own
    /// channel) instead of the configured one, keeping the buffering, batching
    /// and retries. The transport runs on the worker thread only.
    pub fn with_transport(config: Config, transport: Box<dyn Transport>) -> Result<Client, String> {
        Client::start(config, Some(transport))
    }

    fn start(config: Config, custom: Option<Box<dyn Transport>>) -> Result<Client, String> {
        let fork_generation = crate::sys::fork_generation();
        let label = config
            .handle_name
            .clone()
            .unwrap_or_else(crate::prometheus::next_handle_label);
        if !config.enable {
            return Ok(Client {
                shared: None,
                worker: Mutex::new(None),
                max_event_bytes: config.max_event_bytes,
                fork_generation,
                label,
            });
        }
        let counters = Counters::default();
        let reporter = Reporter::new(config.stderr_errors);
        let buffer = match &config.database_path {
            None => Buffer::in_memory()?,
            Some(path) => match Buffer::open_file(path) {
                Ok((buffer, report)) => {
                    if let Some(aside) = report.moved_aside {
                        let message = format!(
                            "database {} was corrupt: moved aside to {} and started afresh",
                            path.display(),
                            aside.display()
                        );
                        counters.set_error(&message);
                        Counters::add(&counters.database_errors, 1);
                        reporter.report("database", &message);
                    }
                    buffer
                }
                Err(e) if e.contains("in use by another") => return Err(e),
                Err(e) => {
                    // An unwritable or missing location must not stop the host
                    // program: buffer in memory, and say so.
                    let message = format!("{e}; buffering in memory instead");
                    counters.set_error(&message);
                    Counters::add(&counters.database_errors, 1);
                    reporter.report("database", &message);
                    Buffer::in_memory()?
                }
            },
        };
        let interrupter = Interrupter::default();
        let transport = match custom {
            Some(t) => t,
            None => transport::build(&config, interrupter.clone())?,
        };
        let shared = Arc::new(Shared {
            queue: Queue::new(
                config.max_queue_events,
                config.queued_events_flush_count,
                config.overflow_policy,
                config.block_timeout,
            ),
            counters,
            reporter,
            handshake: Handshake::new(buffer.is_durable()),
            interrupter,
        });
        let max_event_bytes = config.max_event_bytes;
        let handle = worker::spawn(shared.clone(), config, buffer, transport)?;
        Ok(Client {
            shared: Some(shared),
            worker: Mutex::new(Some(handle)),
            max_event_bytes,
            fork_generation,
            label,
        })
    }

    fn check_fork(&self) -> Result<(), ResultCode> {
        if crate::sys::fork_generation() != self.fork_generation {
            return Err(ResultCode::LOGSTASH_ASYNC_FORKED);
        }
        Ok(())
    }

    /// Accepts one event (a JSON object). Validates and copies it, then
    /// returns; never waits for the network, the disk or the worker (unless
    /// the overflow policy is "block").
    pub fn emit_json(&self, event_json: &[u8]) -> Result<(), ResultCode> {
        self.check_fork()?;
        if let Err(code) = event::validate(event_json, self.max_event_bytes) {
            if let Some(shared) = &self.shared {
                Counters::add(&shared.counters.rejected, 1);
            }
            return Err(code);
        }
        let Some(shared) = &self.shared else {
            return Ok(()); // enable=false: accept and discard
        };
        match shared.queue.push_event(
            crate::sys::now_unix_ms(),
            crate::sys::current_thread_name(),
            event_json,
        ) {
            Ok(()) => {
                Counters::add(&shared.counters.emitted, 1);
                Ok(())
            }
            Err(code) => {
                if code == ResultCode::LOGSTASH_ASYNC_QUEUE_FULL {
                    Counters::add(&shared.counters.dropped_queue_full, 1);
                }
                Err(code)
            }
        }
    }

    /// Logs a message with a level (Python's names: DEBUG, INFO, WARNING,
    /// ERROR, CRITICAL; `None` = INFO) and an optional logger name.
    pub fn log(
        &self,
        level: Option<&str>,
        logger_name: Option<&str>,
        message: &str,
    ) -> Result<(), ResultCode> {
        let mut event = serde_json::Map::with_capacity(3);
        event.insert("level".into(), level.unwrap_or("INFO").into());
        if let Some(name) = logger_name {
            event.insert("logger_name".into(), name.into());
        }
        event.insert("message".into(), message.into());
        let json =
            serde_json::to_vec(&event).map_err(|_| ResultCode::LOGSTASH_ASYNC_INTERNAL_ERROR)?;
        self.emit_json(&json)
    }

    /// Adds (or with `None` removes) an extra field for every event emitted
    /// after this call. `value_json` is any JSON value.
    pub fn set_extra(&self, key: &str, value_json: Option<&[u8]>) -> Result<(), ResultCode> {
        self.check_fork()?;
        if key.is_empty() {
            return Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT);
        }
        let value = match value_json {
            None => None,
            Some(bytes) => {
                // The value joins every later event: the same checks as emit.
                event::validate_value(bytes, self.max_event_bytes)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
                Some(
                    RawValue::from_string(text.trim().to_owned())
                        .map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)?,
                )
            }
        };
        match &self.shared {
            None => Ok(()),
            Some(shared) => shared.queue.push_set_extra(key.to_owned(), value),
        }
    }

    /// Waits until every event accepted before the call is delivered.
    /// `Err(TIMEOUT)` if the timeout passes first; `Err(STORED_NOT_SENT)` when
    /// they are all safe in the database file but the transport is failing.
    pub fn flush(&self, timeout: Duration) -> Result<(), ResultCode> {
        let mark = self.flush_mark()?;
        self.flush_to(mark, timeout)
    }

    /// A mark of everything accepted so far (events and set_extra), for
    /// `flush_to`: a caller that waits in slices keeps one target.
    pub fn flush_mark(&self) -> Result<u64, ResultCode> {
        self.check_fork()?;
        Ok(self.shared.as_ref().map_or(0, |s| s.queue.accepted_seq()))
    }

    /// `flush` for what was accepted up to `mark` (from `flush_mark`); what
    /// was accepted after it is not waited for.
    pub fn flush_to(&self, mark: u64, timeout: Duration) -> Result<(), ResultCode> {
        self.check_fork()?;
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        // A mark from the future (not from flush_mark) waits for no more than flush would.
        let target = mark.min(shared.queue.accepted_seq());
        shared
            .handshake
            .wait_flushed(target, deadline, || shared.queue.wake())
    }

    /// Delivers what it can within `timeout`, stops the worker and releases
    /// the buffer. Undelivered events stay in a database file for the next
    /// handle that opens it. Idempotent: later calls return Ok.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ResultCode> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let Some(worker) = self.worker.lock().take() else {
            return Ok(());
        };
        if crate::sys::fork_generation() != self.fork_generation {
            // The worker thread does not exist in a forked child; the
            // parent's buffer is the parent's. Leave it all alone.
            std::mem::forget(worker);
            return Err(ResultCode::LOGSTASH_ASYNC_FORKED);
        }
        let deadline = Instant::now() + timeout;
        let target = shared.queue.accepted_seq();
        // Close the queue before the worker can see the stop request: an
        // emit that slipped in after its last drain would be accepted and
        // never sent.
        shared.queue.close();
        shared.handshake.request_stop(deadline);
        let stopped = shared.handshake.wait_stopped(target, deadline, || {
            shared.interrupter.interrupt();
            shared.queue.wake();
        });
        if stopped.worker_done {
            let _ = worker.join();
        }
        // Otherwise the worker is left detached: it owns everything it uses
        // (an Arc of the shared state) and exits at its next check.
        stopped.result
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        match &self.shared {
            None => Stats::default(),
            Some(shared) => shared.counters.snapshot(shared.queue.len() as u64),
        }
    }

    /// The `handle` label of its statistics: `handle_name`, or its number
    /// among the handles of the process ("1", "2", ...).
    pub fn handle_label(&self) -> &str {
        &self.label
    }

    /// Like `stats`, but refuses in a forked child (whose copy of the queue's
    /// lock may have been taken by a parent thread at the fork).
    pub fn stats_checked(&self) -> Result<Stats, ResultCode> {
        self.check_fork()?;
        Ok(self.stats())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A Rust owner that forgot shutdown still gets a bounded, clean stop.
        let _ = self.shutdown(Duration::from_secs(5));
    }
}
