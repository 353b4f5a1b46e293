//! Unblocking sockets from another thread, and waking the worker.
//!
//! `Interrupter`: a shutdown past its deadline must not wait for a socket
//! call stuck on a receiver, on the worker or on a transport's own threads.
//! Each connection registers its descriptor in a slot of its own; `interrupt`
//! calls shutdown(2) on every registered one, and on any registered after it.
//! A slot's lock keeps a descriptor from being closed (and its number reused)
//! while an interrupt uses it.
//!
//! `Waker`: how a transport's threads tell the worker an outcome is ready.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::unix::io::RawFd;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Interrupter(Arc<Mutex<Slots>>);

#[derive(Default)]
struct Slots {
    next: u64,
    fds: HashMap<u64, RawFd>,
    /// Set by `interrupt`: later registrations are shut down at once.
    interrupted: bool,
}

/// One connection's place in an `Interrupter`.
pub struct InterruptSlot {
    owner: Interrupter,
    id: u64,
}

fn shut(fd: RawFd) {
    // SAFETY: the descriptor is registered, so it is open and ours.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

impl Interrupter {
    /// A slot for one connection at a time.
    pub fn slot(&self) -> InterruptSlot {
        let mut slots = self.0.lock();
        slots.next += 1;
        InterruptSlot {
            owner: self.clone(),
            id: slots.next,
        }
    }

    /// Shuts down every registered descriptor, and any registered later.
    pub fn interrupt(&self) {
        let mut slots = self.0.lock();
        slots.interrupted = true;
        for &fd in slots.fds.values() {
            shut(fd);
        }
    }

    /// Forgets every descriptor (the worker is gone: they are closed).
    pub fn clear_all(&self) {
        self.0.lock().fds.clear();
    }
}

impl InterruptSlot {
    /// Makes `fd` this slot's descriptor.
    pub fn register(&self, fd: RawFd) {
        let mut slots = self.owner.0.lock();
        slots.fds.insert(self.id, fd);
        if slots.interrupted {
            shut(fd);
        }
    }

    /// Runs `close` (which closes the registered descriptor) under the lock.
    pub fn clear_while<T>(&self, close: impl FnOnce() -> T) -> T {
        let mut slots = self.owner.0.lock();
        slots.fds.remove(&self.id);
        close()
    }

    /// Shuts down this slot's descriptor (a connection told to stop).
    pub fn interrupt(&self) {
        if let Some(&fd) = self.owner.0.lock().fds.get(&self.id) {
            shut(fd);
        }
    }
}

impl Drop for InterruptSlot {
    fn drop(&mut self) {
        self.owner.0.lock().fds.remove(&self.id);
    }
}

/// Wakes the worker (a transport thread has an outcome for it).
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Waker {
        Waker(Arc::new(wake))
    }

    /// A waker that does nothing (a transport used without a worker).
    pub fn none() -> Waker {
        Waker::new(|| {})
    }

    pub fn wake(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::io::AsRawFd;

    #[test]
    fn interrupt_shuts_every_registered_socket_and_later_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let interrupter = Interrupter::default();
        let (a, b) = (interrupter.slot(), interrupter.slot());
        let mut first = TcpStream::connect(addr).unwrap();
        let mut second = TcpStream::connect(addr).unwrap();
        a.register(first.as_raw_fd());
        b.register(second.as_raw_fd());
        interrupter.interrupt();
        let mut buf = [0u8; 1];
        assert_eq!(first.read(&mut buf).unwrap(), 0);
        assert_eq!(second.read(&mut buf).unwrap(), 0);
        let mut third = TcpStream::connect(addr).unwrap();
        interrupter.slot().register(third.as_raw_fd());
        assert_eq!(
            third.read(&mut buf).unwrap(),
            0,
            "registered after the interrupt"
        );
        b.clear_while(|| drop(second));
        drop(a);
        assert!(interrupter.0.lock().fds.len() <= 1);
    }
}
