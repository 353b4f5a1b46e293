//! `Client`: the Rust API of one handle. It creates the handle's queue,
//! buffer, transport and worker, and is the caller's side of emit, flush and
//! shutdown. The C ABI (src/ffi) is a thin layer over it, and the
//! command-line tool uses it directly.

use crate::buffer::Buffer;
use crate::config::Config;
use crate::context::Contexts;
use crate::event;
use crate::event::build::{self, EventWriter, Field, Record};
use crate::handshake::Handshake;
use crate::level::Level;
use crate::notice::{Notice, NoticeSink};
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

/// What a handle may get besides its configuration.
#[derive(Default)]
pub struct Options {
    /// Delivers instead of the configured transport (on the worker thread).
    pub transport: Option<Box<dyn Transport>>,
    /// Gets the handle's notices on the worker thread (else they wait for
    /// `Client::poll_notice`).
    pub notice_sink: Option<Box<dyn NoticeSink>>,
}

/// One logging handle: an in-memory queue, a SQLite buffer and a worker thread.
/// `Client` is `Send + Sync`: share it (e.g. in an `Arc`) between threads.
pub struct Client {
    shared: Option<Arc<Shared>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    max_event_bytes: usize,
    /// The `level` option: events below it are discarded before any copy.
    min_level: Level,
    /// The threads' contexts on this handle.
    contexts: Contexts,
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
        Client::start(config, Options::default())
    }

    /// Creates a handle that delivers through `transport` (the host's own
    /// channel) instead of the configured one, keeping the buffering, batching
    /// and retries. The transport runs on the worker thread only.
    pub fn with_transport(config: Config, transport: Box<dyn Transport>) -> Result<Client, String> {
        Client::start(
            config,
            Options {
                transport: Some(transport),
                ..Options::default()
            },
        )
    }

    /// Creates a handle with the options a configuration document cannot
    /// hold: a custom transport, a notice sink.
    pub fn with_options(config: Config, options: Options) -> Result<Client, String> {
        Client::start(config, options)
    }

    fn start(config: Config, options: Options) -> Result<Client, String> {
        let Options {
            transport: custom,
            notice_sink,
        } = options;
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
                min_level: config.level,
                contexts: Contexts::default(),
                fork_generation,
                label,
            });
        }
        let counters = Counters::default();
        let reporter = Reporter::new(config.stderr_errors, notice_sink);
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
                    reporter.report("database fallback", &message);
                    Buffer::in_memory()?
                }
            },
        };
        let interrupter = Interrupter::default();
        let transport = match custom {
            Some(t) => t,
            None => transport::build(&config, interrupter.clone(), &counters)?,
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
        let (max_event_bytes, min_level) = (config.max_event_bytes, config.level);
        let handle = worker::spawn(shared.clone(), config, buffer, transport)?;
        Ok(Client {
            shared: Some(shared),
            worker: Mutex::new(Some(handle)),
            max_event_bytes,
            min_level,
            contexts: Contexts::default(),
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
    ///
    /// With a `level` option above DEBUG, an event whose own `level` (a
    /// known name; INFO when absent) is below it is discarded after the
    /// check, before the copy, and counted in `below_level`.
    pub fn emit_json(&self, event_json: &[u8]) -> Result<(), ResultCode> {
        self.check_fork()?;
        if self.min_level > Level::Debug {
            // The one pass that checks the event also reads its level.
            match event::validate_with_level(event_json, self.max_event_bytes) {
                Err(code) => return Err(self.rejected(code)),
                Ok(level) => {
                    if crate::level::rank_of_json(level).is_some_and(|l| l < self.min_level) {
                        return self.below_level();
                    }
                }
            }
        } else if let Err(code) = event::validate(event_json, self.max_event_bytes) {
            return Err(self.rejected(code));
        }
        self.push(event_json, None)
    }

    /// Counts a refused event; returns its code.
    fn rejected(&self, code: ResultCode) -> ResultCode {
        if let Some(shared) = &self.shared {
            Counters::add(&shared.counters.rejected, 1);
        }
        code
    }

    /// Counts an event discarded by the `level` option.
    fn below_level(&self) -> Result<(), ResultCode> {
        if let Some(shared) = &self.shared {
            Counters::add(&shared.counters.below_level, 1);
        }
        Ok(())
    }

    /// Whether an event of `level` would be kept (not below the `level`
    /// option), so that a caller can skip formatting one that would not.
    pub fn level_enabled(&self, level: Level) -> bool {
        level >= self.min_level
    }

    /// Queues a copy of a checked event, with the calling thread's origin.
    fn push(&self, event_json: &[u8], unix_ms: Option<i64>) -> Result<(), ResultCode> {
        let Some(shared) = &self.shared else {
            return Ok(()); // enable=false: accept and discard
        };
        match shared.queue.push_event(
            unix_ms.unwrap_or_else(crate::sys::now_unix_ms),
            self.contexts.origin(),
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

    /// Logs a message with a level (DEBUG, INFO, WARNING, ERROR, CRITICAL,
    /// or WARN, FATAL, in any case; `None` = INFO; another name is refused
    /// with UNKNOWN_LEVEL) and an optional logger name.
    pub fn log(
        &self,
        level: Option<&str>,
        logger_name: Option<&str>,
        message: &str,
    ) -> Result<(), ResultCode> {
        let level = match level {
            None => Level::Info,
            Some(name) => Level::from_name(name)
                .ok_or_else(|| self.rejected(ResultCode::LOGSTASH_ASYNC_UNKNOWN_LEVEL))?,
        };
        let mut record = Record::new(level, message);
        record.logger_name = logger_name;
        self.log_record(&record, &[])
    }

    /// Logs a record and typed fields, without JSON written by the caller:
    /// validated and copied like `emit_json` (an event below the `level`
    /// option is discarded before anything is built).
    pub fn log_record(&self, record: &Record<'_>, fields: &[Field<'_>]) -> Result<(), ResultCode> {
        self.log_record_with(record, |w| {
            fields.iter().try_for_each(|f| w.field(f.key, f.value))
        })
    }

    /// `log_record` with the fields written by `write_fields` (the C ABI
    /// converts its field array on the way).
    pub fn log_record_with(
        &self,
        record: &Record<'_>,
        write_fields: impl FnOnce(&mut EventWriter<'_>) -> Result<(), ResultCode>,
    ) -> Result<(), ResultCode> {
        self.check_fork()?;
        if record.level < self.min_level {
            return self.below_level();
        }
        build::with_buffer(|buf| {
            let mut writer = EventWriter::new(buf);
            write_fields(&mut writer).map_err(|code| self.rejected(code))?;
            let (json, has_raw) = writer.end(record);
            if json.len() > self.max_event_bytes {
                return Err(self.rejected(ResultCode::LOGSTASH_ASYNC_EVENT_TOO_LARGE));
            }
            if has_raw {
                // Raw JSON values: the checks emit_json makes (syntax, depth...).
                event::validate(json, self.max_event_bytes).map_err(|code| self.rejected(code))?;
            }
            self.push(json, record.unix_ms)
        })
    }

    /// Sets `key` in the calling thread's context on this handle: added to
    /// every event this thread emits later, below the event's own fields and
    /// above set_extra and `extra`. `value_json` is any JSON value.
    pub fn set_context(&self, key: &str, value_json: &[u8]) -> Result<(), ResultCode> {
        self.check_fork()?;
        if key.is_empty() {
            return Err(ResultCode::LOGSTASH_ASYNC_INVALID_ARGUMENT);
        }
        let value = raw_value(value_json, self.max_event_bytes)?;
        self.contexts.set(key, value)
    }

    /// `set_context` with a typed value.
    pub fn set_context_field(&self, field: &Field<'_>) -> Result<(), ResultCode> {
        self.set_context(field.key, &build::value_json(field.value)?)
    }

    /// Removes `key` from the calling thread's context on this handle.
    pub fn remove_context(&self, key: &str) -> Result<(), ResultCode> {
        self.check_fork()?;
        self.contexts.remove(key);
        Ok(())
    }

    /// Empties the calling thread's context on this handle.
    pub fn clear_context(&self) -> Result<(), ResultCode> {
        self.check_fork()?;
        self.contexts.clear();
        Ok(())
    }

    /// The calling thread's context on this handle, as a JSON object.
    pub fn context(&self) -> Option<String> {
        self.contexts.current()
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
            Some(bytes) => Some(raw_value(bytes, self.max_event_bytes)?),
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

    /// The oldest notice waiting for the application (see `crate::notice`),
    /// taken when its message is shorter than `max_message_len` bytes, else
    /// `Err(its length)`. None with a notice sink (the sink gets them all),
    /// or with `"enable": false`.
    pub fn poll_notice(&self, max_message_len: usize) -> Result<Option<Notice>, usize> {
        match &self.shared {
            None => Ok(None),
            Some(shared) => shared.reporter.notices.poll(max_message_len),
        }
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

/// A JSON value that joins every later event (set_extra, a thread's
/// context): the same checks as emit.
fn raw_value(bytes: &[u8], max_bytes: usize) -> Result<Box<RawValue>, ResultCode> {
    event::validate_value(bytes, max_bytes)?;
    let text = std::str::from_utf8(bytes).map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_UTF8)?;
    RawValue::from_string(text.trim().to_owned())
        .map_err(|_| ResultCode::LOGSTASH_ASYNC_INVALID_JSON)
}

impl Drop for Client {
    fn drop(&mut self) {
        // A Rust owner that forgot shutdown still gets a bounded, clean stop.
        let _ = self.shutdown(Duration::from_secs(5));
    }
}
