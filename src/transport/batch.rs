//! What the worker hands a transport and what comes back: a `Batch` of events
//! taken from one or more stored chunks (`Part`s), the `Capacity` that sizes
//! the next one, and the `Outcome`s a transport reports later, per batch and
//! in any order.

use crate::buffer::Chunk;
use std::sync::Arc;
use std::time::Duration;

/// Events `[first, first + count)` of a stored chunk: the bytes
/// `chunk.lines[start..end]`, each event a JSON line ending in `\n`.
#[derive(Debug, Clone)]
pub struct Part {
    pub chunk: Arc<Chunk>,
    pub first: u32,
    pub count: u32,
    pub start: usize,
    pub end: usize,
}

impl Part {
    /// The part's lines, each event followed by `\n`.
    pub fn lines(&self) -> &[u8] {
        &self.chunk.lines[self.start..self.end]
    }

    /// The events without their newlines.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.lines()
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
    }

    /// Splits after `n` events (0 < n < count): the part keeps the first
    /// `n`, the rest is returned.
    pub fn split_off(&mut self, n: u32) -> Part {
        let cut = event_end(&self.chunk.lines, self.start, n);
        self.split_at(n, cut)
    }

    /// `split_off` where the `n`th event ends at byte `cut` (known already).
    pub fn split_at(&mut self, n: u32, cut: usize) -> Part {
        debug_assert!(n > 0 && n < self.count);
        let rest = Part {
            chunk: Arc::clone(&self.chunk),
            first: self.first + n,
            count: self.count - n,
            start: cut,
            end: self.end,
        };
        self.count = n;
        self.end = cut;
        rest
    }
}

/// The byte offset after the `n`th event that starts at `start`.
pub(crate) fn event_end(lines: &[u8], start: usize, n: u32) -> usize {
    let mut at = start;
    for _ in 0..n {
        at += find_newline(&lines[at..]).map_or(lines.len() - at, |p| p + 1);
    }
    at
}

/// The index of the first `\n`, eight bytes at a time: a batch that ends
/// inside a stored row is cut by scanning it (a byte at a time, that scan
/// was a seventh of the worker's time with TCP's 256 KiB rows).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        // The lowest byte of x that is zero sets the lowest flag (bytes above
        // a zero byte may flag falsely; the lowest one is exact).
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(i * 8 + (zero.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let at = bytes.len() - tail.len();
    tail.iter().position(|&b| b == b'\n').map(|p| at + p)
}

/// Events handed to a transport in one go: a Beats window, an HTTP request,
/// a write on a TCP connection, a call of the custom send function.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Names the batch in its `Outcome`.
    pub ticket: u64,
    pub parts: Vec<Part>,
}

impl Batch {
    /// Events in the batch.
    pub fn len(&self) -> u32 {
        self.parts.iter().map(|p| p.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Bytes of its lines (every event with its `\n`).
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.end - p.start).sum()
    }

    /// The events in order, without their newlines.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.parts.iter().flat_map(|p| p.events())
    }
}

/// How large the next batch may be. A batch holds at least one event even
/// when that one event is larger than `max_bytes` (the transport then
/// decides: an HTTP receiver could never take it, a TCP one can).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub max_events: u32,
    /// Bytes of the batch's lines, each event counted with its `\n`.
    pub max_bytes: usize,
}

/// What became of a batch (or of a connection), reported by `Transport::poll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every event of the batch is finished: `rejected` of them were refused
    /// for good by the receiver (counted as dropped), the rest delivered.
    Done { ticket: u64, rejected: u32 },
    /// The first `finished` events of the batch are finished (`rejected` of
    /// them refused for good), the rest must be sent again. `written`: some
    /// of that rest went out, so the receiver may have it (a possible
    /// duplicate, counted in `resent`).
    Returned {
        ticket: u64,
        finished: u32,
        rejected: u32,
        written: bool,
    },
    /// A connection or request failed: counted and reported once, and the
    /// worker waits out its backoff unless another host is ready. The batches
    /// it cut short are reported `Returned`, each on its own.
    Failed(SendError),
    /// Why the receiver refused events (counted in a `Done` or `Returned`),
    /// for the worker to report.
    Rejected(String),
}

impl Outcome {
    /// Nothing of the batch went out: every event is sent again.
    pub fn unsent(ticket: u64) -> Outcome {
        Outcome::Returned {
            ticket,
            finished: 0,
            rejected: 0,
            written: false,
        }
    }
}

/// A failed connection or request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// Another host can take over at once: retry without the worker's backoff
    /// (the failed host has its own).
    pub another_host_ready: bool,
    /// The receiver asked for this pause (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn new(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            another_host_ready: false,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(lines: &str, count: u32) -> Part {
        let chunk = Arc::new(Chunk {
            id: 1,
            lines: lines.as_bytes().to_vec(),
            count,
            newest_ms: 0,
        });
        Part {
            end: chunk.lines.len(),
            chunk,
            first: 0,
            count,
            start: 0,
        }
    }

    #[test]
    fn newlines_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(find_newline(&bytes), Some(at), "{len} {at}");
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[test]
    fn a_part_splits_between_events_and_keeps_its_bytes() {
        let mut p = part("{\"a\":1}\n{\"b\":22}\n{\"c\":333}\n", 3);
        let rest = p.split_off(1);
        assert_eq!(p.lines(), b"{\"a\":1}\n");
        assert_eq!((rest.first, rest.count), (1, 2));
        let mut rest = rest;
        let last = rest.split_off(1);
        assert_eq!(rest.events().collect::<Vec<_>>(), [b"{\"b\":22}"]);
        assert_eq!(last.events().collect::<Vec<_>>(), [b"{\"c\":333}"]);
        assert_eq!((last.first, last.start), (2, 17));
        let batch = Batch {
            ticket: 1,
            parts: vec![p, rest, last],
        };
        assert_eq!((batch.len(), batch.bytes()), (3, 27));
        assert_eq!(batch.events().count(), 3);
    }
}
