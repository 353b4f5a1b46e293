//! What the buffer stores and hands out: chunks of formatted events, and the
//! sizes the worker keeps its books with.

/// A chunk to store: a batch of formatted events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChunk {
    /// The events, each one JSON line terminated by `\n`.
    pub lines: Vec<u8>,
    pub count: u32,
    /// Wall-clock time (Unix ms) the newest event of the chunk was accepted.
    pub newest_ms: i64,
}

/// One stored row: a batch of events in send order.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub id: i64,
    /// The events, each one JSON line terminated by `\n`.
    pub lines: Vec<u8>,
    pub count: u32,
    /// Wall-clock time (Unix ms) the newest event of the chunk was accepted.
    pub newest_ms: i64,
}

impl Chunk {
    /// The events without their newlines.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.lines
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
    }

    /// Its id and size.
    pub fn size(&self) -> ChunkSize {
        ChunkSize {
            id: self.id,
            events: u64::from(self.count),
            bytes: self.lines.len() as u64,
        }
    }
}

/// A stored chunk's id and size, without its events: what deleting it and
/// keeping totals need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSize {
    pub id: i64,
    pub events: u64,
    pub bytes: u64,
}

/// Totals over every stored row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub chunks: u64,
    pub events: u64,
    pub bytes: u64,
}
