//! Connecting off the worker: one connection attempt (TCP connect, TLS
//! handshake, a protocol's greeting) runs on a short-lived thread and hands
//! its connection back,
//! so a receiver that does not answer (a dropped SYN, a stalled handshake)
//! never stops the worker from ingesting, storing, expiring or flushing.

use super::stream::Conn;
use super::tls::TlsSettings;
use super::{InterruptSlot, Interrupter, Waker};
use crate::config::Endpoint;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// A connection with the interrupt slot its socket is registered in.
pub type Connected = (Conn, InterruptSlot);

/// A connection attempt in progress; `T`: what it hands back.
pub struct Connecting<T = Connected> {
    result: Arc<Mutex<Option<Result<T, String>>>>,
}

impl<T: Send + 'static> Connecting<T> {
    /// Runs `attempt` on a thread of its own; `waker` is called when it has
    /// ended.
    pub fn start(
        attempt: impl FnOnce() -> Result<T, String> + Send + 'static,
        waker: Waker,
    ) -> Connecting<T> {
        let result = Arc::new(Mutex::new(None));
        let out = Arc::clone(&result);
        let spawned = std::thread::Builder::new()
            .name("logstash-connect".into())
            .spawn(move || {
                let outcome = attempt();
                *out.lock() = Some(outcome);
                waker.wake();
            });
        if let Err(e) = spawned {
            *result.lock() = Some(Err(format!("cannot start a connection thread: {e}")));
        }
        Connecting { result }
    }

    /// The attempt's result, once it has ended (taken once).
    pub fn take(&self) -> Option<Result<T, String>> {
        self.result.lock().take()
    }
}

/// The usual attempt: a TCP connection to `endpoint`, with the TLS
/// handshake when `tls` is given. Its socket is registered with
/// `interrupter`, so a shutdown cuts it short.
pub fn connect(
    endpoint: Endpoint,
    timeout: Duration,
    tls: Option<Arc<TlsSettings>>,
    interrupter: &Interrupter,
) -> impl FnOnce() -> Result<Connected, String> + Send + 'static {
    let slot = interrupter.slot();
    move || {
        let conn = Conn::connect(&endpoint, timeout, tls.as_deref(), &slot)?;
        Ok((conn, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    fn wait(c: &Connecting) -> Result<Connected, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = c.take() {
                return r;
            }
            assert!(Instant::now() < deadline, "the attempt never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn an_attempt_hands_its_connection_or_error_back_and_wakes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        let waker = Waker::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        });
        let interrupter = Interrupter::default();
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
        };
        let timeout = Duration::from_secs(2);
        let attempt = connect(endpoint.clone(), timeout, None, &interrupter);
        let ok = Connecting::start(attempt, waker.clone());
        assert!(wait(&ok).is_ok());
        drop(listener);
        let refused = Connecting::start(connect(endpoint, timeout, None, &interrupter), waker);
        let e = wait(&refused).err().expect("refused");
        assert!(e.contains("refused"), "{e}");
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        assert!(refused.take().is_none(), "taken once");
    }
}
