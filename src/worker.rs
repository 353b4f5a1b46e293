//! The worker: one background thread per handle, the only place with I/O.
//!
//! Each turn of its loop: take everything from the in-memory queue, format it
//! and store it in SQLite in one transaction (group commit); confirm earlier
//! writes; enforce the buffer's limits; then, when a batch is due, send the
//! oldest rows and delete them once delivered. It sleeps on a timer or until
//! woken, never spins, and survives every error it meets.

use crate::buffer::{Buffer, Chunk, NewChunk};
use crate::config::{Config, OverflowPolicy, TransportKind};
use crate::layout::Layout;
use crate::queue::{Block, Entry};
use crate::shared::Shared;
use crate::stats::Counters;
use crate::transport::{SendError, Sent, Transport};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest chunk the worker builds, in bytes (an event larger than this gets a
/// chunk of its own).
const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Events per stored row where the transport does not care how events are
/// grouped (see `row_events`), and the bytes at which such a row is cut once
/// it holds `queued_events_batch_size` events. Fewer, bigger rows: a file
/// buffer's cost is mostly per row (b-tree balancing, WAL frames, deletes).
const BIG_ROW_EVENTS: usize = 1000;
const BIG_ROW_BYTES: usize = 256 << 10;

/// Chunks fetched from the buffer per query while sending.
const FETCH_CHUNKS: usize = 64;
/// How long one send turn may run before the queue is looked at again, so a
/// long backlog never starves ingestion (and memory stays bounded).
const SEND_TURN: Duration = Duration::from_millis(50);
/// How often written-but-unconfirmed TCP data is re-checked.
const CONFIRM_POLL: Duration = Duration::from_millis(20);

/// Formatted bytes stored per transaction while ingesting: bounds the memory
/// an ingest holds beyond the queue (a drain can be 100k events and more).
const INGEST_GROUP_BYTES: usize = 2 << 20;

/// Formatted chunks of one ingest transaction, with the seq of each chunk's
/// last event.
struct Group {
    chunks: Vec<NewChunk>,
    seqs: Vec<u64>,
    bytes: usize,
    /// Seq of the last event before this group's first chunk.
    prev_last_seq: u64,
}

/// Longest pause of new sends while a file retry waits for in-flight writes.
const FILE_RETRY_GRACE: Duration = Duration::from_secs(1);

/// Least time between two ingests woken by the queue filling up (flush,
/// shutdown and timers wait at most this much longer).
const INGEST_GAP: Duration = Duration::from_millis(1);

/// A chunk written to the transport, awaiting confirmation.
struct InFlight {
    chunk_id: i64,
    events: u32,
    bytes: u64,
    ticket: u64,
}

/// Exponential backoff with full jitter, capped.
struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    seed: u64,
}

impl Backoff {
    fn new(initial: Duration, max: Duration) -> Backoff {
        let seed = crate::sys::now_unix_ms() as u64 ^ u64::from(std::process::id()) << 32;
        Backoff {
            initial,
            max,
            current: initial,
            seed: seed | 1,
        }
    }

    /// The next delay: uniform in [current/2, current], then current doubles.
    fn next_delay(&mut self) -> Duration {
        // xorshift64: jitter needs no cryptographic quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = (self.seed % 1000) as f64 / 1000.0;
        let delay = self.current.mul_f64(0.5 + 0.5 * frac);
        self.current = (self.current * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.current = self.initial;
    }
}

pub struct Worker {
    shared: Arc<Shared>,
    config: Config,
    buffer: Buffer,
    transport: Box<dyn Transport>,
    formatter: Layout,
    /// Chunks of this session not yet delivered: (chunk id, seq of its first event).
    session_chunks: VecDeque<(i64, u64)>,
    /// Every event with a seq up to this one has been stored or dropped.
    assigned_seq: u64,
    inflight: VecDeque<InFlight>,
    /// Events in `inflight` (kept as a sum: it is read several times per turn).
    inflight_count: u64,
    /// Highest chunk id handed to the transport (sent or in flight).
    sent_through_id: i64,
    /// Events in the buffer (delivered rows excluded) and their bytes.
    buffered_events: u64,
    buffered_bytes: u64,
    /// When the oldest not-yet-sent event was stored (for the flush interval).
    pending_since: Option<Instant>,
    next_attempt: Instant,
    next_ingest: Instant,
    next_expiry: Instant,
    failing: bool,
    /// Shutdown was seen (it overrides the backoff once).
    stop_seen: bool,
    backoff: Backoff,
    last_ingest: Instant,
    /// Most events the worker stores in one row (see `row_events`).
    row_events: usize,
    /// Bytes to reserve for a new row (the size of recent ones).
    row_hint: usize,
    /// `database_path` is set but unusable (disk full, unwritable): when to
    /// try it again, and the delay after that (the send backoff's bounds).
    file_retry: Option<(Instant, Duration)>,
}

/// Most events per stored row. A TCP/TLS stream or UDP datagrams look the
/// same to the receiver whatever the rows, so there rows grow to
/// BIG_ROW_EVENTS. Elsewhere a row is a batch the receiver sees (HTTP
/// requests, Beats windows, the C callback's batches) and holds at most
/// `queued_events_batch_size`; likewise with load balancing (a row goes to one
/// host) and with database limits (whole rows are refused or evicted).
fn row_events(config: &Config) -> usize {
    let batch = config.queued_events_batch_size.max(1);
    // Broker transports send every event as a message of its own, too.
    let stream = matches!(
        config.transport,
        TransportKind::Tcp | TransportKind::Udp | TransportKind::Kafka | TransportKind::Redis
    );
    if stream
        && !config.loadbalance
        && config.max_database_events.is_none()
        && config.max_database_bytes.is_none()
    {
        batch.max(BIG_ROW_EVENTS)
    } else {
        batch
    }
}

impl Worker {
    pub fn new(
        shared: Arc<Shared>,
        config: Config,
        buffer: Buffer,
        transport: Box<dyn Transport>,
    ) -> Worker {
        let now = Instant::now();
        let row_events = row_events(&config);
        let mut worker = Worker {
            backoff: Backoff::new(config.backoff_initial, config.backoff_max),
            formatter: Layout::new(&config, "", ""),
            shared,
            config,
            buffer,
            transport,
            session_chunks: VecDeque::new(),
            assigned_seq: 0,
            inflight: VecDeque::new(),
            inflight_count: 0,
            sent_through_id: 0,
            buffered_events: 0,
            buffered_bytes: 0,
            pending_since: None,
            next_attempt: now,
            next_ingest: now,
            next_expiry: now,
            failing: false,
            stop_seen: false,
            last_ingest: now,
            row_events,
            row_hint: 4096,
            file_retry: None,
        };
        if worker.config.database_path.is_some() && !worker.buffer.is_durable() {
            // Create fell back to memory: the file may become usable later.
            worker.schedule_file_retry(None);
        }
        worker
    }

    pub fn run(mut self, program: String) {
        // Host lookups (FQDN) may block on DNS: done here, never in create or emit.
        let host = if self.config.fqdn {
            crate::sys::fqdn()
        } else {
            crate::sys::hostname()
        };
        self.formatter = Layout::new(&self.config, &host, &program);
        match self.buffer.totals() {
            Ok(t) => {
                self.buffered_events = t.events;
                self.buffered_bytes = t.bytes;
                if t.events > 0 {
                    // Rows left by an earlier process: send them without waiting.
                    self.pending_since =
                        Some(Instant::now() - self.config.queued_events_flush_interval);
                }
            }
            Err(e) => self.database_error("read the buffer", &e),
        }
        self.publish_buffered();

        loop {
            let now = Instant::now();
            let stopping = self.shared.stop.load(Ordering::Acquire);
            if self.shared.abort.load(Ordering::Acquire) {
                break;
            }
            if stopping || now >= self.next_ingest || !self.shared.queue.is_empty() {
                self.ingest(true);
                self.last_ingest = Instant::now();
                self.next_ingest = Instant::now() + self.config.queue_check_interval;
            }
            if now >= self.next_expiry {
                self.expire();
                self.next_expiry = now + Duration::from_secs(1);
            }
            if self.file_retry_due(now) {
                self.retry_file();
            } else if self
                .file_retry
                .is_some_and(|(at, _)| now >= at + FILE_RETRY_GRACE)
            {
                // Writes stayed unconfirmed through the pause: next time.
                let delay = self.file_retry.map(|(_, d)| d);
                self.schedule_file_retry(delay);
            }
            self.confirm(now);
            let flush_wanted = self.shared.take_flush_kick();
            if flush_wanted {
                self.next_attempt = self.next_attempt.min(now);
            }
            if stopping && !self.stop_seen {
                // Shutdown makes one immediate attempt, even during a backoff.
                self.stop_seen = true;
                self.next_attempt = self.next_attempt.min(now);
            }
            if self.send_at(now, stopping).is_some_and(|t| t <= now) {
                self.send_turn();
            }
            if stopping {
                let deadline = self.shared.stop_deadline();
                let done = self.session_done();
                if done || Instant::now() >= deadline {
                    self.finish(deadline);
                    return;
                }
            }
            self.sleep(stopping);
        }
        self.finish(Instant::now());
    }

    /// Moves everything queued into the buffer, formatted, in transactions of
    /// up to INGEST_GROUP_BYTES (group commit, without holding a whole drain's
    /// formatted events in memory at once). With `send_between`, due sends
    /// run between those transactions: chunks then go out from the buffer's
    /// in-memory tail and their rows are deleted before a WAL checkpoint
    /// copies them into the database file (storing a whole backlog first
    /// made every row be written twice and read back, most of the file
    /// buffer's cost).
    fn ingest(&mut self, send_between: bool) {
        let shared = Arc::clone(&self.shared);
        let mut drained = shared.queue.drain();
        let last_seq = drained.last_seq;
        Counters::add(&self.shared.counters.dropped_oldest, drained.evicted);
        let mut group = Group {
            chunks: Vec::new(),
            seqs: Vec::new(),
            bytes: 0,
            prev_last_seq: self.assigned_seq,
        };
        let mut all_stored = true;
        let mut current: NewChunk = (Vec::with_capacity(self.row_hint), 0, 0);
        // Drained events not yet released back to the queue's capacity.
        let mut unreleased = 0usize;
        // Seq of the last event consumed.
        let mut seq = 0;
        // Each release also hands the consumed blocks back to the queue: it
        // refills while a long drain is stored, and its events are bounded
        // by the capacity only if their blocks go back too.
        while let Some((entry_seq, bytes, entry)) = drained.next_entry() {
            if let Entry::SetExtra(_) = entry {
                if let Entry::SetExtra(extra) = std::mem::replace(entry, Entry::Gone) {
                    let (key, value) = *extra;
                    self.formatter.set_extra(key, value);
                }
                continue;
            }
            let Some(ev) = Block::event(bytes, entry) else {
                continue;
            };
            seq = entry_seq;
            unreleased += 1;
            let before = current.0.len();
            match self.formatter.format(ev, &mut current.0) {
                Ok(()) => {
                    current.0.push(b'\n');
                    current.1 += 1;
                    current.2 = current.2.max(ev.unix_ms);
                }
                Err(e) => {
                    current.0.truncate(before);
                    Counters::add(&self.shared.counters.dropped_undeliverable, 1);
                    self.shared.counters.set_error(&format!("format: {e}"));
                }
            }
            let events = current.1 as usize;
            if events >= self.row_events
                || current.0.len() >= MAX_CHUNK_BYTES
                || (events >= self.config.queued_events_batch_size
                    && current.0.len() >= BIG_ROW_BYTES)
            {
                group.bytes += current.0.len();
                // The next row is sized like this one: growing a row by
                // doubling copied it about twice over.
                self.row_hint = (current.0.len() + current.0.len() / 8).min(MAX_CHUNK_BYTES);
                let next = (Vec::with_capacity(self.row_hint), 0, 0);
                group.chunks.push(std::mem::replace(&mut current, next));
                group.seqs.push(seq);
                if group.bytes >= INGEST_GROUP_BYTES {
                    all_stored &= self.store_group(&mut group);
                    drained.release(std::mem::take(&mut unreleased));
                    if send_between {
                        self.send_if_due();
                    }
                }
            }
        }
        if current.1 > 0 {
            group.chunks.push(current);
            group.seqs.push(seq);
        }
        all_stored &= self.store_group(&mut group);
        drained.release(unreleased);
        drop(drained);
        // Events up to last_seq that made no chunk (evicted, unformattable,
        // over a limit) are done as soon as everything stored before them is.
        self.assigned_seq = self.assigned_seq.max(last_seq);
        self.update_completion();
        // "Persisted" only when every event of the drain reached the file (or
        // was dropped and counted by a limit), never for a failed insert.
        if self.buffer.is_durable() && all_stored {
            self.shared.progress.lock().persisted_seq = last_seq;
            self.shared.progress_cv.notify_all();
        }
    }

    /// Confirms earlier writes and sends when a send is due (what the main
    /// loop does after an ingest), so a long ingest does not hold back sends.
    fn send_if_due(&mut self) {
        let now = Instant::now();
        self.confirm(now);
        let stopping = self.shared.stop.load(Ordering::Acquire);
        if self.send_at(now, stopping).is_some_and(|t| t <= now) {
            self.send_turn();
        }
    }

    /// Stores one group of formatted chunks in one transaction and empties
    /// it; false when some of them could not be stored.
    fn store_group(&mut self, group: &mut Group) -> bool {
        let mut chunks = std::mem::take(&mut group.chunks);
        let mut chunk_seqs = std::mem::take(&mut group.seqs);
        group.bytes = 0;
        let Some(&group_last_seq) = chunk_seqs.last() else {
            return true;
        };
        self.apply_database_limits(&mut chunks, &mut chunk_seqs);
        let prev_last_seq = std::mem::replace(&mut group.prev_last_seq, group_last_seq);
        if chunks.is_empty() {
            return true;
        }
        // (events, bytes) per chunk: the chunks move into the buffer.
        let sizes: Vec<(u32, usize)> = chunks.iter().map(|c| (c.1, c.0.len())).collect();
        let ids = self.store(&mut chunks);
        for (i, ((count, bytes), id)) in sizes.iter().zip(&ids).enumerate() {
            let first_seq = if i == 0 {
                prev_last_seq + 1
            } else {
                chunk_seqs[i - 1] + 1
            };
            self.session_chunks.push_back((*id, first_seq));
            self.buffered_events += u64::from(*count);
            self.buffered_bytes += *bytes as u64;
        }
        let all_stored = ids.len() == sizes.len();
        if !ids.is_empty() && self.pending_since.is_none() {
            self.pending_since = Some(Instant::now());
        }
        self.publish_buffered();
        all_stored
    }

    /// Flush progress: every event before the oldest undelivered chunk of this
    /// session is done (delivered, or dropped and counted).
    fn update_completion(&self) {
        let done = match self.session_chunks.front() {
            Some((_, first_seq)) => first_seq - 1,
            None => self.assigned_seq,
        };
        self.shared.complete_through(done);
    }

    /// Inserts chunks; on a database error (disk full, unwritable file) the
    /// handle goes on with an in-memory buffer rather than losing the events.
    fn store(&mut self, chunks: &mut Vec<NewChunk>) -> Vec<i64> {
        match self.buffer.insert(chunks) {
            Ok(ids) => {
                if let Some(e) = self.buffer.take_spill_error() {
                    // Nothing lost: the chunks stay in memory outside SQLite.
                    self.database_error("move events into the in-memory database", &e);
                }
                ids
            }
            Err(e) => {
                self.database_error("store events", &e);
                if self.buffer.is_durable() {
                    self.fall_back_to_memory();
                    if let Ok(ids) = self.buffer.insert(chunks) {
                        return ids;
                    }
                }
                let lost: u64 = chunks.iter().map(|c| u64::from(c.1)).sum();
                Counters::add(&self.shared.counters.dropped_database_full, lost);
                Vec::new()
            }
        }
    }

    fn fall_back_to_memory(&mut self) {
        let Ok(memory) = Buffer::in_memory() else {
            return;
        };
        let path = self
            .buffer
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.shared.reporter.report(
            "database fallback",
            &format!("database {path} is not writable: buffering in memory until it is usable again (rows already in the file stay there)"),
        );
        self.buffer = memory;
        // Ids of the old file mean nothing in the new buffer. Its chunks stay
        // in the file for the next handle: this session counts them as done
        // but "stored, not sent" (flush and shutdown say so).
        if let Some(&(_, first_seq)) = self.session_chunks.front() {
            let mut p = self.shared.progress.lock();
            p.stranded_from = first_seq;
            p.stranded_through = self.assigned_seq;
        }
        self.session_chunks.clear();
        self.inflight.clear();
        self.inflight_count = 0;
        self.sent_through_id = 0;
        self.buffered_events = 0;
        self.buffered_bytes = 0;
        self.shared.progress.lock().durable = false;
        self.update_completion();
        self.schedule_file_retry(None);
    }

    fn schedule_file_retry(&mut self, previous: Option<Duration>) {
        let delay = previous.map_or(
            self.config.backoff_initial.max(Duration::from_millis(100)),
            |d| (d * 2).min(self.config.backoff_max.max(d)),
        );
        self.file_retry = Some((Instant::now() + delay, delay));
    }

    /// A file retry is due, and nothing is in flight (unconfirmed writes
    /// refer to ids of the memory buffer).
    fn file_retry_due(&self, now: Instant) -> bool {
        self.file_retry.is_some_and(|(at, _)| now >= at) && self.inflight.is_empty()
    }

    /// A file retry waits for in-flight writes to be confirmed: no new sends
    /// start meanwhile (for at most FILE_RETRY_GRACE), or a steady stream
    /// would always have some in flight and the file would never be retried.
    fn file_retry_pending(&self, now: Instant) -> bool {
        self.file_retry
            .is_some_and(|(at, _)| now >= at && now < at + FILE_RETRY_GRACE)
    }

    /// Goes back to the configured file after a fallback to memory: opens
    /// it, moves every chunk the memory buffer holds into it (in order, ids
    /// remapped) and carries on there. Any failure leaves the memory buffer
    /// in place and schedules the next attempt.
    fn retry_file(&mut self) {
        let Some((_, delay)) = self.file_retry.take() else {
            return;
        };
        let Some(path) = self.config.database_path.clone() else {
            return;
        };
        let moved = Buffer::open_file(&path).and_then(|(mut file, _)| {
            file.probe_write().map_err(|e| e.to_string())?;
            // Spilled rows first, then the tail: one fetch per part.
            let mut chunks = Vec::new();
            loop {
                let after = chunks.last().map_or(0, |c: &Arc<Chunk>| c.id);
                let more = self
                    .buffer
                    .fetch_after(after, usize::MAX)
                    .map_err(|e| e.to_string())?;
                if more.is_empty() {
                    break;
                }
                chunks.extend(more);
            }
            let old_ids: Vec<i64> = chunks.iter().map(|c| c.id).collect();
            let mut rows: Vec<NewChunk> = chunks
                .into_iter()
                .map(|c| (c.lines.clone(), c.count, c.newest_ms))
                .collect();
            let new_ids = file.insert(&mut rows).map_err(|e| e.to_string())?;
            let totals = file.totals().map_err(|e| e.to_string())?;
            Ok((file, old_ids, new_ids, totals))
        });
        match moved {
            Ok((file, old_ids, new_ids, totals)) => {
                let map: std::collections::HashMap<i64, i64> =
                    old_ids.into_iter().zip(new_ids).collect();
                for (id, _) in self.session_chunks.iter_mut() {
                    if let Some(&new) = map.get(id) {
                        *id = new;
                    }
                }
                self.buffer = file;
                self.sent_through_id = 0;
                self.buffered_events = totals.events;
                self.buffered_bytes = totals.bytes;
                if totals.events > 0 && self.pending_since.is_none() {
                    self.pending_since = Some(Instant::now());
                }
                self.publish_buffered();
                {
                    let mut p = self.shared.progress.lock();
                    p.durable = true;
                    p.persisted_seq = self.assigned_seq;
                }
                self.shared.progress_cv.notify_all();
                self.shared.reporter.report(
                    "database recovered",
                    &format!(
                        "database {} is usable again: buffering in the file",
                        path.display()
                    ),
                );
            }
            Err(e) => {
                self.shared
                    .counters
                    .set_error(&format!("database: still unusable: {e}"));
                self.schedule_file_retry(Some(delay));
            }
        }
    }

    fn apply_database_limits(&mut self, chunks: &mut Vec<NewChunk>, seqs: &mut Vec<u64>) {
        let (max_events, max_bytes) = (
            self.config.max_database_events,
            self.config.max_database_bytes,
        );
        if max_events.is_none() && max_bytes.is_none() {
            return;
        }
        let over = |w: &Worker, chunks: &[NewChunk]| {
            let events = w.buffered_events + chunks.iter().map(|c| u64::from(c.1)).sum::<u64>();
            let bytes = w.buffered_bytes + chunks.iter().map(|c| c.0.len() as u64).sum::<u64>();
            max_events.is_some_and(|m| events > m) || max_bytes.is_some_and(|m| bytes > m)
        };
        if self.config.overflow_policy == OverflowPolicy::DropOldest {
            // Evict the oldest stored rows not in flight, then, if still over,
            // the oldest of the new chunks themselves.
            while over(self, chunks) {
                let Ok(mut oldest) = self.buffer.fetch_after(self.sent_through_id, 1) else {
                    break;
                };
                let Some(victim) = oldest.pop() else { break };
                if let Err(e) = self.buffer.delete(&[victim.id]) {
                    self.database_error("evict old events", &e);
                    break;
                }
                let count = u64::from(victim.count);
                Counters::add(&self.shared.counters.dropped_oldest, count);
                self.forget_chunk(victim.id, count, victim.lines.len() as u64);
            }
            while !chunks.is_empty() && over(self, chunks) {
                let (_, count, _) = chunks.remove(0);
                seqs.remove(0);
                Counters::add(&self.shared.counters.dropped_oldest, u64::from(count));
            }
            return;
        }
        // drop_newest / block (the worker never blocks): refuse what does not fit.
        while !chunks.is_empty() && over(self, chunks) {
            let (_, count, _) = chunks.pop().expect("not empty");
            seqs.pop();
            Counters::add(
                &self.shared.counters.dropped_database_full,
                u64::from(count),
            );
        }
    }

    /// Bookkeeping for a chunk removed without delivery (evicted or expired).
    fn forget_chunk(&mut self, id: i64, events: u64, bytes: u64) {
        self.buffered_events = self.buffered_events.saturating_sub(events);
        self.buffered_bytes = self.buffered_bytes.saturating_sub(bytes);
        self.finish_chunks(&[id]);
    }

    fn expire(&mut self) {
        let Some(ttl) = self.config.event_ttl else {
            return;
        };
        let cutoff = crate::sys::now_unix_ms() - ttl.as_millis() as i64;
        // Never expire rows that are in flight (their fate is the
        // transport's), nor rows after them; only ids, sizes and counts are read.
        let below = self.inflight.front().map_or(i64::MAX, |f| f.chunk_id);
        let victims = match self.buffer.expired_before(cutoff, below) {
            Ok(victims) => victims,
            Err(e) => {
                self.database_error("expire events", &e);
                return;
            }
        };
        if victims.is_empty() {
            return;
        }
        let ids: Vec<i64> = victims.iter().map(|c| c.0).collect();
        if let Err(e) = self.buffer.delete(&ids) {
            self.database_error("expire events", &e);
            return;
        }
        for &(id, events, bytes) in &victims {
            Counters::add(&self.shared.counters.expired, events);
            self.forget_chunk(id, events, bytes);
        }
        self.publish_buffered();
    }

    /// When the next send is due (None: nothing to send). The one rule for
    /// both the loop and `sleep`, so the worker never wakes for a send it then
    /// does not make (a busy loop) nor sleeps through one.
    fn send_at(&self, now: Instant, stopping: bool) -> Option<Instant> {
        let unsent = self.buffered_events.saturating_sub(self.inflight_events());
        if unsent == 0 || (self.file_retry_pending(now) && !stopping) {
            return None;
        }
        if self.failing {
            // Retrying: at the end of the backoff, whatever the batch size.
            return Some(self.next_attempt);
        }
        let batch_due = if stopping
            || self.shared.flush_pending()
            || unsent >= self.config.queued_events_flush_count as u64
        {
            now
        } else {
            self.pending_since
                .map_or(now, |t| t + self.config.queued_events_flush_interval)
        };
        Some(batch_due.max(self.next_attempt))
    }

    fn inflight_events(&self) -> u64 {
        self.inflight_count
    }

    /// Sends the oldest unsent chunks for up to SEND_TURN.
    fn send_turn(&mut self) {
        let started = Instant::now();
        let mut delivered: Vec<(i64, u64, u64)> = Vec::new();
        let mut outcome: Result<(), (SendError, Option<Arc<Chunk>>, u32)> = Ok(());
        let mut handed_over = 0usize;
        'turn: while started.elapsed() < SEND_TURN {
            if !self.transport.ready() {
                break; // (before the query: a busy transport is asked every turn)
            }
            let chunks = match self.buffer.fetch_after(self.sent_through_id, FETCH_CHUNKS) {
                Ok(c) => c,
                Err(e) => {
                    // Treated like a send failure: retried after the backoff,
                    // not in a tight loop.
                    self.database_error("read events to send", &e);
                    outcome = Err((SendError::new(format!("database: {e}")), None, 0));
                    break;
                }
            };
            if chunks.is_empty() {
                break;
            }
            for chunk in chunks {
                if !self.transport.ready() {
                    break 'turn;
                }
                handed_over += 1;
                let result = self.transport.send(&chunk);
                let rejection = self.transport.take_rejection();
                if let Some(r) = &rejection {
                    self.report_rejection(&r.message);
                }
                match result {
                    Ok(sent) => {
                        self.sent_through_id = chunk.id;
                        match sent {
                            Sent::Delivered { rejected } => {
                                Counters::add(
                                    &self.shared.counters.dropped_undeliverable,
                                    u64::from(rejected),
                                );
                                Counters::add(
                                    &self.shared.counters.sent,
                                    u64::from(chunk.count.saturating_sub(rejected)),
                                );
                                delivered.push((
                                    chunk.id,
                                    u64::from(chunk.count),
                                    chunk.lines.len() as u64,
                                ));
                            }
                            Sent::Written { ticket } => {
                                self.inflight_count += u64::from(chunk.count);
                                self.inflight.push_back(InFlight {
                                    chunk_id: chunk.id,
                                    events: chunk.count,
                                    bytes: chunk.lines.len() as u64,
                                    ticket,
                                })
                            }
                        }
                    }
                    Err(e) => {
                        let rejected = rejection.map_or(0, |r| r.in_failed_prefix);
                        outcome = Err((e, Some(chunk), rejected));
                        break 'turn;
                    }
                }
                if started.elapsed() >= SEND_TURN {
                    break 'turn;
                }
            }
        }
        self.delete_delivered(&delivered);
        self.shared
            .counters
            .connects
            .store(self.transport.connections_opened(), Ordering::Relaxed);
        match outcome {
            Ok(()) if handed_over > 0 => self.succeeded(),
            Ok(()) => {}
            Err((e, chunk, rejected)) => {
                if let Some(chunk) = chunk.filter(|_| e.delivered_prefix > 0) {
                    self.keep_undelivered_tail(&chunk, e.delivered_prefix, rejected);
                }
                self.failed(&e);
            }
        }
        // Events left unsent keep their age (they are due as before); with
        // nothing left the flush interval starts again with the next event.
        self.pending_since = (self.buffered_events > self.inflight_events())
            .then(|| self.pending_since.unwrap_or_else(Instant::now));
    }

    /// After a partial delivery: the chunk keeps only the events not yet
    /// delivered. `rejected` of the first `delivered` were refused, not delivered.
    fn keep_undelivered_tail(&mut self, chunk: &Chunk, delivered: u32, rejected: u32) {
        let mut tail = Vec::new();
        let mut count = 0u32;
        for event in chunk.events().skip(delivered as usize) {
            tail.extend_from_slice(event);
            tail.push(b'\n');
            count += 1;
        }
        if let Err(e) = self.buffer.replace(chunk.id, &tail, count) {
            self.database_error("record a partial delivery", &e);
            return;
        }
        let rejected = rejected.min(delivered);
        Counters::add(
            &self.shared.counters.dropped_undeliverable,
            u64::from(rejected),
        );
        Counters::add(&self.shared.counters.sent, u64::from(delivered - rejected));
        self.buffered_events = self.buffered_events.saturating_sub(u64::from(delivered));
        self.buffered_bytes = self
            .buffered_bytes
            .saturating_sub((chunk.lines.len() - tail.len()) as u64);
        self.publish_buffered();
    }

    fn confirm(&mut self, now: Instant) {
        if self.inflight.is_empty() {
            return;
        }
        match self.transport.confirmed_through(now) {
            Ok(ticket) => {
                let refused = self.transport.take_rejection().map_or(0, |r| {
                    self.report_rejection(&r.message);
                    r.in_failed_prefix
                });
                if self.confirm_through(ticket, refused) && self.failing {
                    // Deliveries resumed after a trouble (see below).
                    self.succeeded();
                }
            }
            Err(e) => self.failed(&e),
        }
        if let Some(message) = self.transport.take_trouble() {
            self.troubled(&message);
        }
    }

    /// Confirms the writes up to `ticket`, of whose events `refused` were
    /// refused for good. True when some were confirmed.
    fn confirm_through(&mut self, ticket: u64, refused: u32) -> bool {
        let mut done = Vec::new();
        while self.inflight.front().is_some_and(|f| f.ticket <= ticket) {
            let f = self.inflight.pop_front().expect("checked");
            self.inflight_count -= u64::from(f.events);
            done.push((f.chunk_id, u64::from(f.events), f.bytes));
        }
        let events: u64 = done.iter().map(|d| d.1).sum();
        let refused = u64::from(refused).min(events);
        Counters::add(&self.shared.counters.dropped_undeliverable, refused);
        Counters::add(&self.shared.counters.sent, events - refused);
        self.delete_delivered(&done);
        !done.is_empty()
    }

    /// A trouble the transport works through itself (its writes stay valid):
    /// counted and reported like a failed send, nothing is resent. New sends
    /// wait for the backoff.
    fn troubled(&mut self, message: &str) {
        Counters::add(&self.shared.counters.send_errors, 1);
        self.shared.counters.set_error(message);
        let delay = self.backoff.next_delay();
        self.shared.reporter.report(
            "send",
            &format!("cannot deliver events: {message}; events stay buffered, retrying"),
        );
        self.next_attempt = Instant::now() + delay;
        self.failing = true;
        self.shared.set_failing(true);
    }

    fn delete_delivered(&mut self, chunks: &[(i64, u64, u64)]) {
        if chunks.is_empty() {
            return;
        }
        let ids: Vec<i64> = chunks.iter().map(|c| c.0).collect();
        if let Err(e) = self.buffer.delete(&ids) {
            // The rows stay and would be sent again by the next process: report it.
            self.database_error("delete delivered events", &e);
        }
        for (_, events, bytes) in chunks {
            self.buffered_events = self.buffered_events.saturating_sub(*events);
            self.buffered_bytes = self.buffered_bytes.saturating_sub(*bytes);
        }
        if self.buffered_events == 0 {
            self.buffered_bytes = 0;
            if self.buffer.is_durable() {
                // Rows stranded by a fallback to memory were in this file,
                // which is back in use and now empty: they are delivered.
                let mut p = self.shared.progress.lock();
                (p.stranded_from, p.stranded_through) = (0, 0);
            }
        }
        // Counters first: a flush woken by finish_chunks sees them current.
        self.publish_buffered();
        self.finish_chunks(&ids);
    }

    /// Marks chunks handled and advances the flush progress.
    fn finish_chunks(&mut self, ids: &[i64]) {
        // Chunks are finished oldest first almost always: pop those, and only
        // search the rest for ids finished out of order (evictions, expiry).
        let mut rest = ids;
        while let (Some(&(front, _)), Some((&id, tail))) =
            (self.session_chunks.front(), rest.split_first())
        {
            if front != id {
                break;
            }
            self.session_chunks.pop_front();
            rest = tail;
        }
        if !rest.is_empty() {
            let rest: std::collections::HashSet<i64> = rest.iter().copied().collect();
            self.session_chunks.retain(|(id, _)| !rest.contains(id));
        }
        self.update_completion();
    }

    fn succeeded(&mut self) {
        if self.failing {
            self.failing = false;
            self.shared.set_failing(false);
        }
        self.backoff.reset();
    }

    /// A send or confirmation failed: unconfirmed writes are void, and the
    /// next attempt waits for the backoff.
    fn failed(&mut self, e: &SendError) {
        if let Some(first) = self.inflight.front() {
            self.sent_through_id = first.chunk_id - 1;
            Counters::add(&self.shared.counters.resent, self.inflight_events());
        } else {
            // Retry the chunk that failed (and everything after it).
            self.sent_through_id = self
                .buffer
                .fetch_after(0, 1)
                .ok()
                .and_then(|c| c.first().map(|c| c.id - 1))
                .unwrap_or(0);
        }
        self.inflight.clear();
        self.inflight_count = 0;
        Counters::add(&self.shared.counters.send_errors, 1);
        self.shared.counters.set_error(&e.message);
        if e.another_host_ready {
            // Failover: the failed host waits out its own backoff; others are up.
            self.next_attempt = Instant::now();
            return;
        }
        let delay = self.backoff.next_delay();
        self.shared.reporter.report(
            "send",
            &format!(
                "cannot deliver events: {e}; events stay buffered, retrying in {:.1}s",
                delay.as_secs_f64()
            ),
        );
        self.next_attempt = Instant::now() + delay;
        self.failing = true;
        self.shared.set_failing(true);
    }

    /// Events the receiver refused for good: counted by the caller, reported here.
    fn report_rejection(&self, message: &str) {
        let message = format!("events rejected by the receiver (not retried): {message}");
        self.shared.counters.set_error(&message);
        self.shared.reporter.report("rejected", &message);
    }

    fn database_error(&self, what: &str, e: &rusqlite::Error) {
        Counters::add(&self.shared.counters.database_errors, 1);
        let message = format!("database: cannot {what}: {e}");
        self.shared.counters.set_error(&message);
        self.shared.reporter.report("database", &message);
    }

    fn publish_buffered(&self) {
        self.shared
            .counters
            .buffered
            .store(self.buffered_events, Ordering::Relaxed);
    }

    fn session_done(&self) -> bool {
        self.shared.queue.is_empty() && self.session_chunks.is_empty()
    }

    fn sleep(&mut self, stopping: bool) {
        let now = Instant::now();
        let mut wake = self.next_ingest;
        if !self.inflight.is_empty() {
            wake = wake.min(now + CONFIRM_POLL);
        }
        if let Some(due) = self.send_at(now, stopping) {
            // A turn that sent nothing (the transport not ready) must not spin.
            wake = wake.min(due.max(now + Duration::from_millis(1)));
        }
        if self.config.event_ttl.is_some() && self.buffered_events > 0 {
            wake = wake.min(self.next_expiry);
        }
        if let Some((at, _)) = self.file_retry.filter(|_| self.inflight.is_empty()) {
            wake = wake.min(at.max(now + Duration::from_millis(1)));
        }
        if stopping {
            wake = wake.min(self.shared.stop_deadline());
        }
        if wake > now {
            // At high rates the worker ingests at most once per INGEST_GAP, so
            // a producer pays a futex wake once per ~1 ms of events rather
            // than once per `queued_events_flush_count` events (p99 of emit).
            let not_before = if stopping {
                now
            } else {
                self.last_ingest + INGEST_GAP
            };
            self.shared.queue.wait(wake, not_before);
        }
    }

    /// Closes the transport within the deadline and records what it confirmed.
    fn finish(&mut self, deadline: Instant) {
        self.ingest(false);
        let ticket = self.transport.close(deadline.max(Instant::now()));
        let refused = self
            .transport
            .take_rejection()
            .map_or(0, |r| r.in_failed_prefix);
        self.confirm_through(ticket, refused);
        self.inflight.clear();
        self.inflight_count = 0;
        if !self.buffer.is_durable() {
            // An in-memory buffer dies with the handle: count what it held.
            let lost = self
                .buffer
                .totals()
                .map(|t| t.events)
                .unwrap_or(self.buffered_events);
            Counters::add(&self.shared.counters.dropped_at_shutdown, lost);
        }
        self.shared.worker_finished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(json: &str) -> usize {
        row_events(&Config::from_json(json.as_bytes()).unwrap())
    }

    #[test]
    fn only_plain_streams_store_rows_bigger_than_a_batch() {
        assert_eq!(rows_of(r#"{"host":"h"}"#), BIG_ROW_EVENTS);
        assert_eq!(rows_of(r#"{"host":"h","transport":"udp"}"#), BIG_ROW_EVENTS);
        assert_eq!(
            rows_of(r#"{"host":"h","queued_events_batch_size":5000}"#),
            5000
        );
        assert_eq!(rows_of(r#"{"host":"h","transport":"http"}"#), 50);
        assert_eq!(rows_of(r#"{"host":"h","transport":"beats"}"#), 50);
        assert_eq!(rows_of(r#"{"host":"h","loadbalance":true}"#), 50);
        assert_eq!(rows_of(r#"{"host":"h","max_database_events":1000}"#), 50);
        assert_eq!(rows_of(r#"{"host":"h","max_database_bytes":100000}"#), 50);
    }
}
