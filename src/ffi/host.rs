//! The fence around calls into the host's code (a custom transport's
//! functions, the notice callback): once `logstash_async_shutdown` has
//! closed it, no such call starts, and shutdown can wait for one that is
//! running. So the host's `user_data` is never touched after shutdown
//! returns, whatever its timeout, even when the worker is left running.

use parking_lot::{Condvar, Mutex};

#[derive(Default)]
pub struct HostFence {
    state: Mutex<State>,
    idle: Condvar,
}

#[derive(Default)]
struct State {
    /// Calls into the host running now (one at most: the worker's).
    running: u32,
    closed: bool,
}

impl HostFence {
    /// Runs `call` unless the fence is closed (then None).
    pub fn call<R>(&self, call: impl FnOnce() -> R) -> Option<R> {
        {
            let mut s = self.state.lock();
            if s.closed {
                return None;
            }
            s.running += 1;
        }
        // Ends the call's registration even if `call` unwinds.
        struct Done<'a>(&'a HostFence);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut s = self.0.state.lock();
                s.running -= 1;
                if s.running == 0 {
                    self.0.idle.notify_all();
                }
            }
        }
        let _done = Done(self);
        Some(call())
    }

    /// Closes the fence: no call starts from now on. With `wait`, returns
    /// once no call is running.
    pub fn close(&self, wait: bool) {
        let mut s = self.state.lock();
        s.closed = true;
        while wait && s.running > 0 {
            self.idle.wait(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn closing_waits_for_the_running_call_and_refuses_later_ones() {
        let fence = Arc::new(HostFence::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn({
            let fence = fence.clone();
            move || {
                fence.call(|| {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(200));
                })
            }
        });
        started_rx.recv().unwrap();
        let t = Instant::now();
        fence.close(true);
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "waited for the call"
        );
        assert_eq!(worker.join().unwrap(), Some(()));
        assert_eq!(fence.call(|| 1), None);
    }
}
