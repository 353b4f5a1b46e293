//! The delay between failed send attempts: exponential, capped, and jittered
//! so that processes that lost the same receiver do not retry in step.

use std::time::Duration;

/// Exponential backoff with jitter, capped.
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let seed = crate::sys::now_unix_ms() as u64 ^ u64::from(std::process::id()) << 32;
        Backoff {
            initial,
            max,
            current: initial,
            seed: seed | 1,
        }
    }

    /// The next delay: uniform in [current/2, current], then current doubles.
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64: jitter needs no cryptographic quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = (self.seed % 1000) as f64 / 1000.0;
        let delay = self.current.mul_f64(0.5 + 0.5 * frac);
        self.current = (self.current * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}
