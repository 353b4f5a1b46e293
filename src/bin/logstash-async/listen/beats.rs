//! Beats (Lumberjack v2) receiver, as Logstash's beats input speaks it: each
//! window `2W count` is followed by that many events (JSON frames, possibly
//! inside a zlib-compressed frame); once the window's last event is handed
//! on, `2A seq` acknowledges it. The frames are decoded by the library's
//! codec, whose limits keep a peer from making it hold unbounded memory.

use super::Events;
use logstash_async::lumberjack::{encode_ack, Decoder, Frame};
use std::io::{Read, Write};

/// Reads windows until the peer closes or breaks the protocol (said on stderr).
pub fn read_windows(mut stream: impl Read + Write, events: &Events) {
    if let Err(e) = frames(&mut stream, events) {
        if !e.is_empty() {
            eprintln!("logstash-async: beats: {e}");
        }
    }
}

/// Hands on the events of every window and ACKs it; an empty error when the
/// peer closed or the printer is done.
fn frames(stream: &mut (impl Read + Write), events: &Events) -> Result<(), String> {
    let mut decoder = Decoder::default();
    let mut window_size = 0u32;
    loop {
        while let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            match frame {
                Frame::Window(size) => window_size = size,
                Frame::Json { seq, json } => {
                    if events.send(json).is_err() {
                        return Err(String::new()); // the printer is done (--count)
                    }
                    if seq >= window_size {
                        stream
                            .write_all(&encode_ack(seq))
                            .and_then(|_| stream.flush())
                            .map_err(|e| e.to_string())?;
                    }
                }
                // A sender's ACK; the decoder opens compressed frames itself.
                Frame::Ack(_) | Frame::Compressed(_) => {
                    return Err("unexpected frame type 'A'".into())
                }
            }
        }
        match decoder.read_from(stream) {
            Ok(0) => {
                return decoder
                    .finish()
                    .map_err(|e| e.to_string())
                    .and(Err(String::new()))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}
