//! The Lumberjack v2 decoder (src/lumberjack.rs: the beats transport's ACK
//! reader, `listen --transport beats` and the tests' server) on arbitrary
//! bytes: no panic, no allocation beyond the limits, the same frames
//! whichever way the bytes are cut into reads; and windows the encoder
//! makes from the input decode into exactly their events.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logstash_async::lumberjack::{Decoder, Frame, FrameError, Limits, WindowEncoder};

/// Small limits: a fuzzed length field must be refused, not allocated.
const LIMITS: Limits = Limits {
    max_frame: 1 << 16,
    max_inflated: 1 << 20,
};

/// Every frame the decoder hands out, and how it ended, for bytes pushed
/// in the pieces `cuts` makes.
fn decode(bytes: &[u8], cuts: &[usize]) -> (Vec<Frame>, Result<(), FrameError>) {
    let mut decoder = Decoder::new(LIMITS);
    let mut frames = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(Some(&bytes.len())) {
        let cut = cut.clamp(at, bytes.len());
        decoder.push(&bytes[at..cut]);
        at = cut;
        // Bounded: each turn takes a frame out of what was pushed.
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(!matches!(frame, Frame::Compressed(_)));
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, Err(e)),
            }
        }
    }
    (frames, decoder.finish())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Arbitrary bytes: in one piece, and cut where the mode says.
        let whole = decode(bytes, &[]);
        let step = usize::from(mode >> 1) + 1;
        let cuts: Vec<usize> = (step..bytes.len()).step_by(step).collect();
        assert_eq!(decode(bytes, &cuts), whole);
    } else {
        // The input as events (cut at newlines) in a window, plain or
        // compressed at the level the mode gives.
        let events: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let mut encoder = WindowEncoder::new(u32::from(mode >> 1) % 10);
        let mut wire = Vec::new();
        let n = encoder.encode(events.iter().copied(), &mut wire).unwrap();
        assert_eq!(n as usize, events.len());
        let (frames, end) = decode(&wire, &[wire.len() / 2]);
        if wire.len() > LIMITS.max_frame as usize {
            return; // a compressed frame may be over the small limit
        }
        assert_eq!(end, Ok(()));
        let mut expected = vec![Frame::Window(n)];
        expected.extend(events.iter().enumerate().map(|(i, e)| Frame::Json {
            seq: i as u32 + 1,
            json: e.to_vec(),
        }));
        assert_eq!(frames, expected);
    }
});
