//! Facts about the process and the calling thread, gathered once and cached.

use std::cell::RefCell;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the real-time clock.
pub fn now_unix_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(_) => 0,
    }
}

/// The short host name (`gethostname`), as Python's `socket.gethostname()`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; gethostname NUL-terminates on success
    // (we also reserve the last byte so a truncated name stays terminated).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The fully qualified domain name, as Python's `socket.getfqdn()`: the canonical
/// name of the host name, or the host name when the resolver knows no better.
/// May block on DNS: only called from the worker thread.
pub fn fqdn() -> String {
    let host = hostname();
    let Ok(c_host) = std::ffi::CString::new(host.clone()) else {
        return host;
    };
    // SAFETY: hints is zero-initialised as getaddrinfo requires; res is freed below.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        hints.ai_family = libc::AF_UNSPEC;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) != 0 {
            return host;
        }
        let mut name = host;
        if !res.is_null() && !(*res).ai_canonname.is_null() {
            name = CStr::from_ptr((*res).ai_canonname)
                .to_string_lossy()
                .into_owned();
        }
        libc::freeaddrinfo(res);
        name
    }
}

/// `argv[0]` of the process, as Python's `sys.argv[0]`.
pub fn program_name() -> String {
    if let Some(arg0) = std::env::args_os().next() {
        return arg0.to_string_lossy().into_owned();
    }
    // Fallback for hosts where std did not see argv (it reads /proc as a last resort).
    std::fs::read("/proc/self/cmdline")
        .ok()
        .and_then(|b| {
            b.split(|&c| c == 0)
                .next()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        })
        .unwrap_or_default()
}

thread_local! {
    static THREAD_NAME: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The calling thread's name, cached per thread (the first lookup is a syscall).
/// Works for threads the host created (pthread_getname_np), not just Rust threads.
pub fn current_thread_name() -> Arc<str> {
    THREAD_NAME.with(|cell| {
        if let Some(name) = cell.borrow().as_ref() {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(lookup_thread_name());
        *cell.borrow_mut() = Some(name.clone());
        name
    })
}

/// The calling thread's name, looked up now (a syscall): for threads whose
/// thread-locals are already gone.
pub fn lookup_thread_name() -> String {
    let mut buf = [0u8; 64];
    // SAFETY: buf is writable for its length; pthread_self is always valid.
    let rc = unsafe {
        libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), buf.len())
    };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
        if end > 0 {
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    format!("thread-{}", unsafe { libc::gettid() })
}

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

extern "C" fn bump_fork_generation() {
    // Runs in the child right after fork(): only async-signal-safe work here.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The number of fork()s this process descends from since the library was first
/// used. A handle compares it with the value at its creation: a mismatch means the
/// handle was inherited across fork and its worker thread does not exist here.
pub fn fork_generation() -> u64 {
    ATFORK.call_once(|| {
        // SAFETY: registering a plain extern "C" fn with no prepare/parent hooks.
        unsafe {
            libc::pthread_atfork(None, None, Some(bump_fork_generation));
        }
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_name_is_cached_and_named() {
        let n = std::thread::Builder::new()
            .name("worker-7".into())
            .spawn(current_thread_name)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(&*n, "worker-7");
    }
}
