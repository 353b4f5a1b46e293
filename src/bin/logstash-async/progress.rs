//! A progress line on stderr (events sent, events/s) for long sends and
//! replays, only when stderr is a terminal: scripts and logs never see it.

use logstash_async::Client;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Nothing is shown for runs shorter than this.
const SHOW_AFTER: Duration = Duration::from_secs(1);
const EVERY: Duration = Duration::from_millis(500);

pub fn stderr_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDERR_FILENO) == 1 }
}

/// Runs `work` while a scoped thread redraws the progress line from the
/// client's counters; the line is finished with a newline when work ends.
pub fn while_running<T>(client: &Client, verb: &str, work: impl FnOnce() -> T) -> T {
    if !stderr_is_terminal() {
        return work();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let drawer = scope.spawn(|| {
            let started = Instant::now();
            let mut shown = false;
            let draw = |shown: &mut bool| {
                let sent = client.stats().sent;
                let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\r\x1b[K{verb} {sent} events ({rate:.0}/s)");
                let _ = std::io::stderr().flush();
                *shown = true;
            };
            while !done.load(Ordering::Acquire) {
                std::thread::park_timeout(EVERY);
                if !done.load(Ordering::Acquire) && started.elapsed() >= SHOW_AFTER {
                    draw(&mut shown);
                }
            }
            if shown {
                draw(&mut shown);
                eprintln!();
            }
        });
        let result = work();
        done.store(true, Ordering::Release);
        drawer.thread().unpark();
        let _ = drawer.join();
        result
    })
}
