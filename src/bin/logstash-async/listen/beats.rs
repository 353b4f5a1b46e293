//! Beats (Lumberjack v2) receiver, as Logstash's beats input speaks it: each
//! window `'2' 'W' count` is followed by that many events, as JSON frames
//! `'2' 'J' seq len json` or inside a zlib-compressed frame `'2' 'C' len data`;
//! once the window's last event is handed on, `'2' 'A' seq` acknowledges it.

use super::Events;
use flate2::read::ZlibDecoder;
use std::io::{Read, Write};

/// Largest frame accepted (compressed or JSON): a test receiver must not be
/// made to hold unbounded memory.
const MAX_FRAME: u32 = 64 << 20;

/// Reads windows until the peer closes or breaks the protocol (said on stderr).
pub fn read_windows(mut stream: impl Read + Write, events: &Events) {
    let mut window = Window::default();
    if let Err(e) = frames(&mut stream, events, &mut window, true) {
        if !e.is_empty() {
            eprintln!("logstash-async: beats: {e}");
        }
    }
}

#[derive(Default)]
struct Window {
    size: u32,
    last_seq: u32,
}

/// Handles frames from `input`; ACKs go to `acks` (the connection). Inside a
/// compressed frame `top` is false: the frames end with the data, not the peer.
fn frames(
    input: &mut (impl Read + Write),
    events: &Events,
    window: &mut Window,
    top: bool,
) -> Result<(), String> {
    loop {
        let mut head = [0u8; 2];
        match read_exact_or_end(input, &mut head)? {
            false if top => return Err(String::new()), // the peer closed
            false => return Ok(()),                    // end of a compressed frame
            true => {}
        }
        if head[0] != b'2' {
            return Err(format!(
                "unsupported protocol version {:?}",
                head[0] as char
            ));
        }
        match head[1] {
            b'W' => {
                window.size = read_u32(input)?;
                window.last_seq = 0;
            }
            b'J' => {
                let seq = read_u32(input)?;
                let len = read_u32(input)?;
                if len > MAX_FRAME {
                    return Err(format!("JSON frame of {len} bytes"));
                }
                let mut json = vec![0u8; len as usize];
                input.read_exact(&mut json).map_err(|e| e.to_string())?;
                if events.send(json).is_err() {
                    return Err(String::new()); // the printer is done (--count)
                }
                window.last_seq = seq;
                if top && seq >= window.size {
                    ack(input, seq)?;
                }
            }
            b'C' => {
                let len = read_u32(input)?;
                if len > MAX_FRAME {
                    return Err(format!("compressed frame of {len} bytes"));
                }
                let mut data = vec![0u8; len as usize];
                input.read_exact(&mut data).map_err(|e| e.to_string())?;
                let mut inner = Inner(ZlibDecoder::new(&data[..]).take(u64::from(MAX_FRAME) * 4));
                frames(&mut inner, events, window, false)?;
                if window.size > 0 && window.last_seq >= window.size {
                    ack(input, window.last_seq)?;
                }
            }
            other => return Err(format!("unexpected frame type {:?}", other as char)),
        }
    }
}

fn ack(stream: &mut impl Write, seq: u32) -> Result<(), String> {
    let mut frame = [b'2', b'A', 0, 0, 0, 0];
    frame[2..].copy_from_slice(&seq.to_be_bytes());
    stream
        .write_all(&frame)
        .and_then(|_| stream.flush())
        .map_err(|e| e.to_string())
}

fn read_u32(input: &mut impl Read) -> Result<u32, String> {
    let mut b = [0u8; 4];
    input
        .read_exact(&mut b)
        .map_err(|e| format!("truncated frame: {e}"))?;
    Ok(u32::from_be_bytes(b))
}

/// Fills `buf`, or returns false at a clean end of input before its first byte.
fn read_exact_or_end(input: &mut impl Read, buf: &mut [u8]) -> Result<bool, String> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err("truncated frame".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
}

/// The decompressed frames: readable; never written to (ACKs go to the peer).
struct Inner<R>(R);

impl<R: Read> Read for Inner<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R> Write for Inner<R> {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(
            "no acknowledgements inside a compressed frame",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
