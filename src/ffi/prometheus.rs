//! The statistics in Prometheus's text exposition format, for a scrape
//! endpoint of the host program (src/prometheus.rs writes them).

use super::boundary::{guard, write_whole};
use super::handle::{handle, logstash_async_handle};
use crate::result::logstash_async_result;
use std::ffi::c_char;

/// Writes the handle's counters in Prometheus's text exposition format
/// (version 0.0.4, `Content-Type: text/plain; version=0.0.4`) to `buf`,
/// NUL-terminated: `logstash_async_events_emitted_total`, `_sent_total`,
/// `_dropped_total{reason=...}`, `_queued`, `_buffered` and the other
/// counters, each with a `handle` label (the `handle_name` option, or the
/// handle's number in the process: "1", "2", ...). Each family comes once
/// with its HELP and TYPE lines: to serve several handles on one endpoint,
/// merge their samples family by family (the Go and Ruby bindings do).
/// `*out_len` (if not NULL) receives the length the text needs, without the NUL.
///
/// Returns LOGSTASH_ASYNC_OK, LOGSTASH_ASYNC_BUFFER_TOO_SMALL (nothing useful
/// written: call again with `*out_len + 1` bytes), LOGSTASH_ASYNC_NULL_ARGUMENT,
/// LOGSTASH_ASYNC_FORKED (in a forked child: the counters are the parent's).
/// Thread-safety: safe from any thread. Never blocks on I/O.
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is NULL or writable for `buf_len`
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn logstash_async_stats_prometheus(
    h: *mut logstash_async_handle,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> logstash_async_result {
    guard(
        || match handle(h).and_then(|client| client.stats_prometheus()) {
            Ok(text) => write_whole(buf, buf_len, out_len, &text),
            Err(e) => e,
        },
    )
}
