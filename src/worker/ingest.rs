//! Ingest: turns a drain of the queue into rows of formatted events (one JSON
//! line each) and gathers the rows into groups, each stored in one
//! transaction (group commit). It owns the layout, so set_extra lands here.

use crate::buffer::NewChunk;
use crate::config::{Config, TransportKind};
use crate::layout::Layout;
use crate::queue::{Drained, Item};
use crate::stats::Counters;

/// Largest chunk the worker builds, in bytes (an event larger than this gets a
/// chunk of its own).
const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Events per stored row where the transport does not care how events are
/// grouped (see `row_events`), and the bytes at which such a row is cut once
/// it holds `queued_events_batch_size` events. Fewer, bigger rows: a file
/// buffer's cost is mostly per row (b-tree balancing, WAL frames, deletes).
const BIG_ROW_EVENTS: usize = 1000;
const BIG_ROW_BYTES: usize = 256 << 10;

/// Formatted bytes stored per transaction while ingesting: bounds the memory
/// an ingest holds beyond the queue (a drain can be 100k events and more).
const INGEST_GROUP_BYTES: usize = 2 << 20;

pub struct Ingest {
    layout: Layout,
    /// Most events in one row (see `row_events`).
    row_events: usize,
    /// `queued_events_batch_size`: a row this full is cut at BIG_ROW_BYTES.
    batch_size: usize,
    /// Bytes to reserve for a new row (the size of recent ones).
    row_hint: usize,
}

/// Formatted rows of one ingest transaction, with the seq of each row's last
/// event.
pub struct Group {
    rows: Vec<NewChunk>,
    last_seqs: Vec<u64>,
    bytes: usize,
    /// Seq of the last event before this group's first row.
    prev_last_seq: u64,
    /// Drained events this group consumed (formatted or not), for the queue
    /// to release once the group is stored.
    drained_events: usize,
}

/// The rows of a group, taken to be stored.
pub struct Rows {
    pub chunks: Vec<NewChunk>,
    /// The seq of each chunk's last event.
    last_seqs: Vec<u64>,
    /// Seq of the last event before the first chunk.
    prev_last_seq: u64,
}

impl Ingest {
    pub fn new(config: &Config, layout: Layout) -> Ingest {
        Ingest {
            layout,
            row_events: row_events(config),
            batch_size: config.queued_events_batch_size,
            row_hint: 4096,
        }
    }

    /// Formats drained items into rows until `group` is full (true: store it,
    /// then call again) or the drain is consumed (false; its last, partial
    /// row included).
    pub fn fill(
        &mut self,
        drained: &mut Drained<'_>,
        group: &mut Group,
        counters: &Counters,
    ) -> bool {
        let mut row = self.new_row();
        // Seq of the last event consumed.
        let mut seq = 0;
        while let Some(item) = drained.next_item() {
            let event = match item {
                Item::SetExtra { key, value, .. } => {
                    self.layout.set_extra(key, value);
                    continue;
                }
                Item::Event {
                    seq: event_seq,
                    event,
                } => {
                    seq = event_seq;
                    event
                }
            };
            group.drained_events += 1;
            let before = row.lines.len();
            match self.layout.format(event, &mut row.lines) {
                Ok(()) => {
                    row.lines.push(b'\n');
                    row.count += 1;
                    row.newest_ms = row.newest_ms.max(event.unix_ms);
                }
                Err(e) => {
                    row.lines.truncate(before);
                    Counters::add(&counters.dropped_undeliverable, 1);
                    counters.set_error(&format!("format: {e}"));
                }
            }
            let events = row.count as usize;
            if events >= self.row_events
                || row.lines.len() >= MAX_CHUNK_BYTES
                || (events >= self.batch_size && row.lines.len() >= BIG_ROW_BYTES)
            {
                // The next row is sized like this one: growing a row by
                // doubling copied it about twice over.
                self.row_hint = (row.lines.len() + row.lines.len() / 8).min(MAX_CHUNK_BYTES);
                group.push(row, seq);
                if group.bytes >= INGEST_GROUP_BYTES {
                    return true;
                }
                row = self.new_row();
            }
        }
        if row.count > 0 {
            group.push(row, seq);
        }
        false
    }

    fn new_row(&self) -> NewChunk {
        NewChunk {
            lines: Vec::with_capacity(self.row_hint),
            count: 0,
            newest_ms: 0,
        }
    }
}

impl Group {
    /// An empty group whose first event follows `prev_last_seq`.
    pub fn after(prev_last_seq: u64) -> Group {
        Group {
            rows: Vec::new(),
            last_seqs: Vec::new(),
            bytes: 0,
            prev_last_seq,
            drained_events: 0,
        }
    }

    fn push(&mut self, row: NewChunk, last_seq: u64) {
        self.bytes += row.lines.len();
        self.rows.push(row);
        self.last_seqs.push(last_seq);
    }

    /// The drained events consumed since the last call.
    pub fn take_drained_events(&mut self) -> usize {
        std::mem::take(&mut self.drained_events)
    }

    /// Takes the rows to store, leaving the group empty (None: it was).
    pub fn take_rows(&mut self) -> Option<Rows> {
        let &last = self.last_seqs.last()?;
        self.bytes = 0;
        Some(Rows {
            chunks: std::mem::take(&mut self.rows),
            last_seqs: std::mem::take(&mut self.last_seqs),
            prev_last_seq: std::mem::replace(&mut self.prev_last_seq, last),
        })
    }
}

impl Rows {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn events(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.count)).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.lines.len() as u64).sum()
    }

    /// Removes the oldest chunk; its events count as done with the next one.
    pub fn drop_oldest(&mut self) -> NewChunk {
        self.last_seqs.remove(0);
        self.chunks.remove(0)
    }

    pub fn drop_newest(&mut self) -> Option<NewChunk> {
        self.last_seqs.pop();
        self.chunks.pop()
    }

    /// The seq of each chunk's first event (events dropped before a chunk
    /// count as its own: done when it is).
    pub fn first_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.prev_last_seq)
            .chain(self.last_seqs.iter().copied())
            .take(self.last_seqs.len())
            .map(|seq| seq + 1)
    }
}

/// Most events per stored row. A TCP/TLS stream, UDP datagrams and the
/// broker transports (kafka, redis: a message or list element per event) look
/// the same to the receiver whatever the rows, so there rows grow to
/// BIG_ROW_EVENTS. Elsewhere a row is a batch the receiver sees (HTTP
/// requests, Beats windows, the C callback's batches) and holds at most
/// `queued_events_batch_size`; likewise with load balancing (a row goes to one
/// host) and with database limits (whole rows are refused or evicted).
fn row_events(config: &Config) -> usize {
    let batch = config.queued_events_batch_size.max(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(json: &str) -> usize {
        row_events(&Config::from_json(json.as_bytes()).unwrap())
    }

    #[test]
    fn only_streams_and_brokers_store_rows_bigger_than_a_batch() {
        assert_eq!(rows_of(r#"{"host":"h"}"#), BIG_ROW_EVENTS);
        assert_eq!(rows_of(r#"{"host":"h","transport":"udp"}"#), BIG_ROW_EVENTS);
        assert_eq!(
            rows_of(r#"{"host":"h","transport":"kafka"}"#),
            BIG_ROW_EVENTS
        );
        assert_eq!(
            rows_of(r#"{"host":"h","transport":"redis"}"#),
            BIG_ROW_EVENTS
        );
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
