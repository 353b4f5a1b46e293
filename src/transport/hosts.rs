//! The receivers of a stream transport and their health: which host to try
//! next, with failover or load balancing, and a per-host backoff.
//!
//! A host that fails is skipped for a delay (exponential with jitter, reset on
//! success) while others are healthy. When every host is failing they are all
//! offered anyway, soonest-due first: the worker's own backoff paces those
//! attempts, so a lone host behaves exactly like the single-host transport.

use crate::config::Endpoint;
use std::time::{Duration, Instant};

struct HostState {
    endpoint: Endpoint,
    /// Skipped until then (while another host is healthy).
    retry_at: Option<Instant>,
    delay: Duration,
}

pub struct HostSet {
    hosts: Vec<HostState>,
    loadbalance: bool,
    /// Round-robin cursor (load balancing).
    next: usize,
    initial: Duration,
    max: Duration,
    seed: u64,
}

impl HostSet {
    pub fn new(
        endpoints: Vec<Endpoint>,
        loadbalance: bool,
        initial: Duration,
        max: Duration,
    ) -> HostSet {
        assert!(!endpoints.is_empty(), "at least one host");
        let seed = crate::sys::now_unix_ms() as u64 ^ (u64::from(std::process::id()) << 32);
        HostSet {
            hosts: endpoints
                .into_iter()
                .map(|endpoint| HostState {
                    endpoint,
                    retry_at: None,
                    delay: initial,
                })
                .collect(),
            loadbalance,
            next: 0,
            initial,
            max,
            seed: seed | 1,
        }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn endpoint(&self, i: usize) -> &Endpoint {
        &self.hosts[i].endpoint
    }

    pub fn loadbalance(&self) -> bool {
        self.loadbalance
    }

    fn healthy(&self, i: usize, now: Instant) -> bool {
        self.hosts[i].retry_at.is_none_or(|t| now >= t)
    }

    /// Hosts to try for the next batch, best first: the healthy ones (in
    /// configured order for failover, so the first host is taken back once its
    /// delay is over; rotating for load balancing), then the failing ones,
    /// soonest due first. Advances the round-robin cursor.
    pub fn order(&mut self, now: Instant) -> Vec<usize> {
        let order = self.peek(now);
        if self.loadbalance {
            if let Some(&first) = order.first() {
                self.took(first);
            }
        }
        order
    }

    /// `order` without advancing the round-robin cursor.
    pub fn peek(&self, now: Instant) -> Vec<usize> {
        let n = self.hosts.len();
        let start = if self.loadbalance { self.next % n } else { 0 };
        let mut healthy: Vec<usize> = (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| self.healthy(i, now))
            .collect();
        let mut failing: Vec<usize> = (0..n).filter(|&i| !self.healthy(i, now)).collect();
        failing.sort_by_key(|&i| self.hosts[i].retry_at);
        healthy.append(&mut failing);
        healthy
    }

    /// Load balancing: host `i` took a batch, the next one goes to the host after it.
    pub fn took(&mut self, i: usize) {
        self.next = i + 1;
    }

    /// True when a host other than `i` could be tried right now.
    pub fn other_healthy(&self, i: usize, now: Instant) -> bool {
        (0..self.hosts.len()).any(|j| j != i && self.healthy(j, now))
    }

    pub fn succeeded(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        h.retry_at = None;
        h.delay = self.initial;
    }

    /// Host `i` failed: skip it for a delay uniform in [d/2, d], then d doubles.
    /// A lone host keeps no delay of its own (the worker's backoff is enough).
    pub fn failed(&mut self, i: usize, now: Instant) {
        self.failed_for(i, now, None);
    }

    /// Host `i` failed and asked for a pause (HTTP `Retry-After`, capped at
    /// the largest delay): skipped at least that long.
    pub fn failed_for(&mut self, i: usize, now: Instant, asked: Option<Duration>) {
        if self.hosts.len() == 1 {
            return;
        }
        let asked = asked.map(|d| d.min(self.max)).unwrap_or_default();
        // xorshift64: jitter needs no cryptographic quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = (self.seed % 1000) as f64 / 1000.0;
        let h = &mut self.hosts[i];
        h.retry_at = Some(now + h.delay.mul_f64(0.5 + 0.5 * frac).max(asked));
        h.delay = (h.delay * 2).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize, lb: bool) -> HostSet {
        let endpoints = (0..n)
            .map(|i| Endpoint {
                host: format!("h{i}"),
                port: 1,
            })
            .collect();
        HostSet::new(
            endpoints,
            lb,
            Duration::from_secs(1),
            Duration::from_secs(8),
        )
    }

    #[test]
    fn failover_prefers_the_first_healthy_host_and_returns_to_it() {
        let mut s = set(3, false);
        let t0 = Instant::now();
        assert_eq!(s.order(t0), vec![0, 1, 2]);
        s.failed(0, t0);
        assert_eq!(s.order(t0), vec![1, 2, 0]);
        assert!(s.other_healthy(0, t0));
        // After its delay (at most the initial 1 s) the first host is first again.
        assert_eq!(s.order(t0 + Duration::from_secs(1)), vec![0, 1, 2]);
        s.failed(1, t0);
        s.failed(2, t0);
        assert!(!s.other_healthy(0, t0));
        assert_eq!(
            s.order(t0).len(),
            3,
            "all failing: every host is still offered"
        );
        s.succeeded(1);
        assert_eq!(s.order(t0)[0], 1);
    }

    #[test]
    fn loadbalance_rotates_over_healthy_hosts() {
        let mut s = set(3, true);
        let t0 = Instant::now();
        let firsts: Vec<usize> = (0..6).map(|_| s.order(t0)[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
        s.failed(1, t0);
        let firsts: Vec<usize> = (0..4).map(|_| s.order(t0)[0]).collect();
        assert!(!firsts.contains(&1), "{firsts:?}");
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_resets_on_success() {
        let mut s = set(2, false);
        let t0 = Instant::now();
        for _ in 0..10 {
            s.failed(0, t0);
        }
        let wait = s.hosts[0].retry_at.unwrap() - t0;
        assert!(
            wait >= Duration::from_secs(4) && wait <= Duration::from_secs(8),
            "{wait:?}"
        );
        s.succeeded(0);
        assert_eq!(s.hosts[0].delay, Duration::from_secs(1));
        assert!(s.healthy(0, t0));
    }
}
