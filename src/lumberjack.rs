//! The Lumberjack v2 frame codec (the protocol of Logstash's beats input):
//! encoding a window of events, and decoding the frames either side sends.
//! The beats transport, the CLI's `listen --transport beats` and the tests'
//! Lumberjack server all use it, so the protocol is written down once.
//!
//! Frames (integers are big-endian u32, every frame starts with version '2'):
//! `2W count` opens a window of `count` events, `2J seq len json` carries one
//! event, `2C len zlib` carries a zlib stream of whole frames, and the
//! receiver's `2A seq` acknowledges the window's events up to `seq`.
//!
//! Decoding never panics and allocates at most one frame's bytes (checked
//! against [`Limits`] before any allocation), however the input is formed.

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};

// No public constants here: cbindgen would put them in the C header.
/// The protocol version byte that starts every frame.
const VERSION: u8 = b'2';

/// The bytes of an ACK frame.
pub type AckFrame = [u8; 6];

/// `2A seq`: the acknowledgement of a window's events up to `seq`.
pub fn encode_ack(seq: u32) -> AckFrame {
    let mut frame = [VERSION, b'A', 0, 0, 0, 0];
    frame[2..].copy_from_slice(&seq.to_be_bytes());
    frame
}

/// The sequence of an ACK frame; `None` when the bytes are not an ACK.
pub fn decode_ack(frame: &AckFrame) -> Option<u32> {
    (frame[..2] == [VERSION, b'A'])
        .then(|| u32::from_be_bytes([frame[2], frame[3], frame[4], frame[5]]))
}

/// Encodes windows; keeps its scratch buffer from one window to the next.
pub struct WindowEncoder {
    compression_level: u32,
    /// The J frames of a compressed window, before compression.
    plain: Vec<u8>,
}

impl WindowEncoder {
    /// `compression_level` 0 sends plain J frames; 1-9 compresses each
    /// window's J frames into one C frame at that zlib level.
    pub fn new(compression_level: u32) -> WindowEncoder {
        WindowEncoder {
            compression_level,
            plain: Vec::new(),
        }
    }

    /// Appends one window to `out`: `2W n`, then the events as J frames
    /// numbered 1..=n (compressed together into one C frame when enabled).
    /// Returns n. Fails only for an event or a compressed frame of 4 GiB or more.
    pub fn encode<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a [u8]>,
        out: &mut Vec<u8>,
    ) -> io::Result<u32> {
        let window_at = out.len();
        out.extend_from_slice(&[VERSION, b'W', 0, 0, 0, 0]);
        let count = if self.compression_level == 0 {
            json_frames(events, out)?
        } else {
            self.plain.clear();
            let count = json_frames(events, &mut self.plain)?;
            let frame_at = out.len();
            out.extend_from_slice(&[VERSION, b'C', 0, 0, 0, 0]);
            let mut z = ZlibEncoder::new(&mut *out, Compression::new(self.compression_level));
            z.write_all(&self.plain)?;
            z.finish()?;
            let len = length_u32(out.len() - frame_at - 6)?;
            out[frame_at + 2..frame_at + 6].copy_from_slice(&len.to_be_bytes());
            count
        };
        out[window_at + 2..window_at + 6].copy_from_slice(&count.to_be_bytes());
        Ok(count)
    }
}

/// Appends the events as J frames numbered from 1; returns how many.
fn json_frames<'a>(
    events: impl IntoIterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) -> io::Result<u32> {
    let mut seq: u32 = 0;
    for event in events {
        seq += 1;
        out.extend_from_slice(&[VERSION, b'J']);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&length_u32(event.len())?.to_be_bytes());
        out.extend_from_slice(event);
    }
    Ok(seq)
}

fn length_u32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::other(format!("a frame of {len} bytes")))
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `2W count`: the next `count` events form a window.
    Window(u32),
    /// `2J seq len json`: one event, numbered within its window.
    Json { seq: u32, json: Vec<u8> },
    /// `2C len zlib`: the compressed bytes, as [`parse_frame`] returns them
    /// ([`Decoder`] hands out the frames inside instead).
    Compressed(Vec<u8>),
    /// `2A seq`: the receiver acknowledges the window's events up to `seq`.
    Ack(u32),
}

/// Why bytes are not Lumberjack v2 frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The first byte of a frame is not '2'.
    Version(u8),
    /// An unknown frame type (or a compressed frame inside a compressed frame).
    Type(u8),
    /// A frame's length is over the limit.
    TooLarge { len: u64, max: u64 },
    /// The input ended inside a frame.
    Truncated,
    /// A compressed frame's data is not a zlib stream.
    Zlib(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Version(v) => write!(f, "unsupported protocol version {:?}", *v as char),
            FrameError::Type(t) => write!(f, "unexpected frame type {:?}", *t as char),
            FrameError::TooLarge { len, max } => {
                write!(f, "a frame of {len} bytes (the limit is {max})")
            }
            FrameError::Truncated => write!(f, "truncated frame"),
            FrameError::Zlib(e) => write!(f, "compressed frame: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// How large a frame may be, so no peer can make a decoder hold unbounded memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest J or C frame payload.
    pub max_frame: u32,
    /// Largest decompressed content of one C frame.
    pub max_inflated: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: 64 << 20,
            max_inflated: 256 << 20,
        }
    }
}

/// One whole frame at the start of `buf`, and its length; `Ok(None)` while
/// `buf` holds only the beginning of one.
pub fn parse_frame(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, FrameError> {
    let u32_at = |i: usize| {
        buf.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let payload = |len_at: usize, start: usize| -> Result<Option<(Vec<u8>, usize)>, FrameError> {
        let Some(len) = u32_at(len_at) else {
            return Ok(None);
        };
        if len > limits.max_frame {
            return Err(FrameError::TooLarge {
                len: len.into(),
                max: limits.max_frame.into(),
            });
        }
        let end = start + len as usize;
        Ok(buf.get(start..end).map(|body| (body.to_vec(), end)))
    };
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let Some(&kind) = buf.get(1) else {
        return Ok(None);
    };
    Ok(match kind {
        b'W' => u32_at(2).map(|n| (Frame::Window(n), 6)),
        b'A' => u32_at(2).map(|n| (Frame::Ack(n), 6)),
        b'J' => match u32_at(2) {
            None => None,
            Some(seq) => payload(6, 10)?.map(|(json, end)| (Frame::Json { seq, json }, end)),
        },
        b'C' => payload(2, 6)?.map(|(data, end)| (Frame::Compressed(data), end)),
        other => return Err(FrameError::Type(other)),
    })
}

/// The frames inside a compressed frame's data (none of them compressed).
pub fn inflate(data: &[u8], limits: &Limits) -> Result<Vec<Frame>, FrameError> {
    let mut inflated = Vec::new();
    ZlibDecoder::new(data)
        .take(limits.max_inflated as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| FrameError::Zlib(e.to_string()))?;
    if inflated.len() > limits.max_inflated {
        return Err(FrameError::TooLarge {
            len: inflated.len() as u64,
            max: limits.max_inflated as u64,
        });
    }
    let mut frames = Vec::new();
    let mut at = 0;
    while at < inflated.len() {
        match parse_frame(&inflated[at..], limits)? {
            Some((Frame::Compressed(_), _)) => return Err(FrameError::Type(b'C')),
            Some((frame, used)) => {
                frames.push(frame);
                at += used;
            }
            None => return Err(FrameError::Truncated),
        }
    }
    Ok(frames)
}

/// Decodes a byte stream into frames, the frames of compressed frames
/// handed out in their place. Feed it with [`Decoder::read_from`] or
/// [`Decoder::push`]; take frames with [`Decoder::next_frame`].
pub struct Decoder {
    limits: Limits,
    /// Received bytes; those before `start` are decoded.
    buffer: Vec<u8>,
    start: usize,
    /// The rest of the last compressed frame.
    inner: VecDeque<Frame>,
    compressed_frames: u64,
}

/// How much [`Decoder::read_from`] asks for at a time.
const READ_CHUNK: usize = 64 << 10;

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(Limits::default())
    }
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            buffer: Vec::new(),
            start: 0,
            inner: VecDeque::new(),
            compressed_frames: 0,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buffer.extend_from_slice(bytes);
    }

    /// One `read` from `input` into the decoder; returns what `read` returned
    /// (0: the input ended).
    pub fn read_from(&mut self, input: &mut impl Read) -> io::Result<usize> {
        self.compact();
        let old = self.buffer.len();
        self.buffer.resize(old + READ_CHUNK, 0);
        let got = input.read(&mut self.buffer[old..]);
        self.buffer.truncate(old + *got.as_ref().unwrap_or(&0));
        got
    }

    /// The next frame (never [`Frame::Compressed`]); `Ok(None)` until more
    /// bytes arrive. After an error the stream cannot be decoded further.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        // Bounded: each turn consumes a frame of the buffer.
        loop {
            if let Some(frame) = self.inner.pop_front() {
                return Ok(Some(frame));
            }
            let Some((frame, used)) = parse_frame(&self.buffer[self.start..], &self.limits)? else {
                return Ok(None);
            };
            self.start += used;
            match frame {
                Frame::Compressed(data) => {
                    self.compressed_frames += 1;
                    self.inner = inflate(&data, &self.limits)?.into();
                }
                frame => return Ok(Some(frame)),
            }
        }
    }

    /// At the end of the input: an error when it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.start < self.buffer.len() {
            Err(FrameError::Truncated)
        } else {
            Ok(())
        }
    }

    /// How many compressed frames were decoded.
    pub fn compressed_frames(&self) -> u64 {
        self.compressed_frames
    }

    /// Drops decoded bytes, so the buffer holds at most one frame and a read.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(events: &[&str], level: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let n = WindowEncoder::new(level)
            .encode(events.iter().map(|e| e.as_bytes()), &mut out)
            .unwrap();
        assert_eq!(n as usize, events.len());
        out
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut decoder = Decoder::default();
        decoder.push(bytes);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame);
        }
        decoder.finish()?;
        Ok(frames)
    }

    fn json(seq: u32, text: &str) -> Frame {
        Frame::Json {
            seq,
            json: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_window_round_trips_plain_and_compressed() {
        let events = ["{\"a\":1}", "", "{\"b\":\"\u{e9}\"}"];
        let expected = vec![
            Frame::Window(3),
            json(1, events[0]),
            json(2, events[1]),
            json(3, events[2]),
        ];
        for level in [0, 1, 6, 9] {
            let bytes = window(&events, level);
            assert_eq!(&bytes[..2], b"2W");
            assert_eq!(bytes[6], b'2');
            assert_eq!(bytes[7], if level == 0 { b'J' } else { b'C' });
            assert_eq!(decode_all(&bytes).unwrap(), expected, "level {level}");
        }
    }

    #[test]
    fn the_plain_wire_format_is_the_documented_one() {
        let bytes = window(&["hi"], 0);
        assert_eq!(bytes, b"2W\0\0\0\x012J\0\0\0\x01\0\0\0\x02hi");
        assert_eq!(encode_ack(258), *b"2A\0\0\x01\x02");
        assert_eq!(decode_ack(&encode_ack(7)), Some(7));
        assert_eq!(decode_ack(b"2W\0\0\0\x07"), None);
        assert_eq!(decode_all(&encode_ack(9)).unwrap(), [Frame::Ack(9)]);
    }

    #[test]
    fn an_empty_window_and_windows_back_to_back() {
        let mut bytes = window(&[], 0);
        bytes.extend(window(&["x"], 3));
        bytes.extend(window(&["y", "z"], 0));
        assert_eq!(
            decode_all(&bytes).unwrap(),
            [
                Frame::Window(0),
                Frame::Window(1),
                json(1, "x"),
                Frame::Window(2),
                json(1, "y"),
                json(2, "z"),
            ]
        );
    }

    #[test]
    fn frames_split_at_every_byte_decode_once_complete() {
        let bytes = window(&["one", "two"], 0);
        let mut compressed = window(&["three"], 9);
        compressed.extend(encode_ack(1));
        for stream in [bytes, compressed] {
            let expected = decode_all(&stream).unwrap();
            let mut decoder = Decoder::default();
            let mut frames = Vec::new();
            for byte in &stream {
                decoder.push(std::slice::from_ref(byte));
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames, expected);
            assert!(decoder.finish().is_ok());
        }
    }

    #[test]
    fn read_from_feeds_the_decoder_from_a_reader() {
        let bytes = window(&["a", "b"], 3);
        let mut reader = &bytes[..];
        let mut decoder = Decoder::default();
        let mut frames = Vec::new();
        while decoder.read_from(&mut reader).unwrap() > 0 {
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, [Frame::Window(2), json(1, "a"), json(2, "b")]);
        assert_eq!(decoder.compressed_frames(), 1);
    }

    #[test]
    fn a_truncated_frame_waits_for_more_and_is_an_error_at_the_end() {
        let bytes = window(&["event"], 0);
        for cut in 1..bytes.len() {
            if cut == 6 {
                continue; // a whole W frame
            }
            let mut decoder = Decoder::default();
            decoder.push(&bytes[..cut]);
            let mut frames = 0;
            while decoder.next_frame().unwrap().is_some() {
                frames += 1;
            }
            assert_eq!(frames, usize::from(cut > 6), "cut at {cut}");
            assert_eq!(decoder.finish(), Err(FrameError::Truncated), "cut at {cut}");
        }
        assert_eq!(parse_frame(b"2", &Limits::default()), Ok(None));
        assert_eq!(parse_frame(b"", &Limits::default()), Ok(None));
    }

    #[test]
    fn a_bad_version_or_type_is_an_error() {
        assert_eq!(decode_all(b"1W\0\0\0\x01"), Err(FrameError::Version(b'1')));
        assert_eq!(decode_all(b"2Q\0\0\0\x01"), Err(FrameError::Type(b'Q')));
        assert_eq!(
            FrameError::Version(b'1').to_string(),
            "unsupported protocol version '1'"
        );
        // Garbage in a compressed frame, and a frame cut inside one.
        let mut c = b"2C\0\0\0\x03abc".to_vec();
        assert!(matches!(decode_all(&c), Err(FrameError::Zlib(_))));
        let mut z = ZlibEncoder::new(Vec::new(), Compression::new(1));
        z.write_all(b"2J\0\0\0\x01\0\0\0\x09{}").unwrap();
        let data = z.finish().unwrap();
        c = b"2C".to_vec();
        c.extend((data.len() as u32).to_be_bytes());
        c.extend(&data);
        assert_eq!(decode_all(&c), Err(FrameError::Truncated));
    }

    #[test]
    fn a_compressed_frame_inside_a_compressed_frame_is_refused() {
        let inner = window(&["x"], 1);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::new(1));
        z.write_all(&inner[6..]).unwrap();
        let data = z.finish().unwrap();
        let mut c = b"2C".to_vec();
        c.extend((data.len() as u32).to_be_bytes());
        c.extend(&data);
        assert_eq!(decode_all(&c), Err(FrameError::Type(b'C')));
    }

    #[test]
    fn oversized_lengths_are_refused_before_anything_is_allocated() {
        let limits = Limits {
            max_frame: 16,
            max_inflated: 64,
        };
        // A length of 4 GiB - 1 with no body: refused from the header alone.
        for header in [&b"2J\0\0\0\x01\xff\xff\xff\xff"[..], b"2C\xff\xff\xff\xff"] {
            assert_eq!(
                parse_frame(header, &Limits::default()),
                Err(FrameError::TooLarge {
                    len: u32::MAX.into(),
                    max: (64 << 20) as u64
                })
            );
        }
        let mut decoder = Decoder::new(limits);
        decoder.push(&window(&["a payload of 17 b"], 0));
        assert_eq!(decoder.next_frame(), Ok(Some(Frame::Window(1))));
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
        // A small compressed frame that inflates past the limit (a zip bomb).
        let events: Vec<String> = (0..8).map(|_| "0123456789".to_owned()).collect();
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        let bytes = window(&refs, 9);
        let mut decoder = Decoder::new(Limits {
            max_frame: 1024,
            ..limits
        });
        decoder.push(&bytes);
        assert_eq!(decoder.next_frame(), Ok(Some(Frame::Window(8))));
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { max: 64, .. })
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seed = window(&["{\"k\":1}", "{}"], 1);
        for _ in 0..2_000 {
            let mut bytes = seed.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            bytes.truncate(1 + (next() as usize) % bytes.len());
            let _ = decode_all(&bytes);
        }
    }
}
