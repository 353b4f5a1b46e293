//! Between the beats transport (on the worker) and one link thread: the
//! windows handed to the link, the orders to finish or stop, and a bell the
//! thread waits on together with its socket (poll(2)), so a new window or
//! an order reaches it while it waits for ACKs.

use crate::transport::Batch;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::os::unix::io::RawFd;
use std::time::{Duration, Instant};

/// What the worker has for a link thread.
pub struct Mailbox {
    inbox: Mutex<Inbox>,
    bell: Bell,
}

#[derive(Default)]
struct Inbox {
    windows: VecDeque<Batch>,
    /// Finish the windows out, then end (shutdown, or failover moved on).
    finish: bool,
    /// End now, whatever is out (the shutdown's deadline passed).
    abort: bool,
    /// The thread ended: nothing more is taken.
    closed: bool,
}

/// What a link thread does next.
pub enum Next {
    Window(Batch),
    /// Wait for ACKs, a window or an order.
    Wait,
    /// Nothing left and told to finish: end (the mailbox is closed).
    Finish,
    Abort,
}

impl Mailbox {
    pub fn new() -> std::io::Result<Mailbox> {
        Ok(Mailbox {
            inbox: Mutex::new(Inbox::default()),
            bell: Bell::new()?,
        })
    }

    /// Hands a window over; gives it back when the thread has ended.
    pub fn push(&self, window: Batch) -> Result<(), Batch> {
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            return Err(window);
        }
        inbox.windows.push_back(window);
        drop(inbox);
        self.bell.ring();
        Ok(())
    }

    /// The thread ends once every window is acknowledged.
    pub fn finish(&self) {
        self.inbox.lock().finish = true;
        self.bell.ring();
    }

    pub fn abort(&self) {
        self.inbox.lock().abort = true;
        self.bell.ring();
    }

    /// Thread: the next thing to do; `idle`: no window awaits its ACK.
    pub fn next(&self, idle: bool) -> Next {
        let mut inbox = self.inbox.lock();
        if inbox.abort {
            inbox.closed = true;
            return Next::Abort;
        }
        if let Some(window) = inbox.windows.pop_front() {
            return Next::Window(window);
        }
        if idle && inbox.finish {
            inbox.closed = true;
            return Next::Finish;
        }
        Next::Wait
    }

    /// Thread: it ends; the windows never taken (to be sent again).
    pub fn close(&self) -> Vec<Batch> {
        let mut inbox = self.inbox.lock();
        inbox.closed = true;
        inbox.windows.drain(..).collect()
    }

    pub fn bell(&self) -> &Bell {
        &self.bell
    }
}

/// An eventfd: rung by the worker, waited on by a link thread.
pub struct Bell(RawFd);

impl Bell {
    fn new() -> std::io::Result<Bell> {
        // SAFETY: plain syscall; the descriptor is owned by the Bell.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Bell(fd))
    }

    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our (non-blocking) eventfd.
        unsafe { libc::read(self.0, (&mut count as *mut u64).cast(), 8) };
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// What ended a wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    /// The socket has bytes (or an EOF, or an error) to read.
    Socket,
    Bell,
    Timeout,
}

/// Waits for the socket `fd` to be readable, the bell, or `until`.
pub fn wait(fd: RawFd, bell: &Bell, until: Option<Instant>) -> Woken {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: bell.0,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let timeout_ms = until.map_or(-1, |t| {
        let left = t.saturating_duration_since(Instant::now());
        // Rounded up: a wake before the deadline would only poll again.
        (left + Duration::from_micros(999))
            .as_millis()
            .min(i32::MAX as u128) as i32
    });
    // SAFETY: two valid pollfd entries.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if n <= 0 {
        // 0: the time is up; < 0: EINTR, looked at again by the caller.
        return if n == 0 { Woken::Timeout } else { Woken::Bell };
    }
    if fds[1].revents != 0 {
        bell.clear();
    }
    if fds[0].revents != 0 {
        Woken::Socket
    } else {
        Woken::Bell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bell_ends_a_wait_and_a_closed_mailbox_gives_windows_back() {
        let mailbox = Mailbox::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::unix::io::AsRawFd;
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(
            wait(a.as_raw_fd(), mailbox.bell(), Some(soon)),
            Woken::Timeout
        );
        mailbox.push(Batch::default()).unwrap();
        assert_eq!(wait(a.as_raw_fd(), mailbox.bell(), None), Woken::Bell);
        assert!(matches!(mailbox.next(true), Next::Window(_)));
        assert!(matches!(mailbox.next(true), Next::Wait));
        mailbox.finish();
        assert!(matches!(mailbox.next(false), Next::Wait), "a window is out");
        assert!(matches!(mailbox.next(true), Next::Finish));
        assert!(mailbox.push(Batch::default()).is_err(), "ended");
        assert!(mailbox.close().is_empty());
    }
}
