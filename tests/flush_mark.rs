//! `flush_mark` / `flush_to` (and their C exports): a flush that waits in
//! slices keeps the target of its first slice, so it never waits for events
//! emitted after it began (the Go binding's `Flush(ctx)` relies on it).

mod support;

use logstash_async::ffi::{
    logstash_async_create, logstash_async_emit_json, logstash_async_flush_mark,
    logstash_async_flush_to, logstash_async_shutdown,
};
use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn flush_to_waits_for_what_came_before_the_mark_only() {
    // Nothing listens: no event can be delivered.
    let client = Client::from_json(config(free_port(), json!({})).as_bytes()).unwrap();
    let before_anything = client.flush_mark().unwrap();
    client
        .emit_json(br#"{"message":"after the mark"}"#)
        .unwrap();

    let started = Instant::now();
    assert_eq!(
        client.flush_to(before_anything, Duration::from_secs(10)),
        Ok(())
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for a later event"
    );
    assert_eq!(
        client.flush(Duration::from_millis(100)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT),
        "flush itself waits for it"
    );

    let mark = client.flush_mark().unwrap();
    assert!(mark > before_anything);
    assert_eq!(
        client.flush_to(mark, Duration::from_millis(100)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    // A mark from the future waits no longer than flush.
    assert_eq!(
        client.flush_to(u64::MAX, Duration::from_millis(100)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    let _ = client.shutdown(Duration::from_millis(100));
}

#[test]
fn flush_to_returns_once_the_marked_events_are_delivered() {
    let sink = TcpSink::start();
    let client = Client::from_json(config(sink.port, json!({})).as_bytes()).unwrap();
    for i in 0..100 {
        client
            .emit_json(format!(r#"{{"message":"m","seq":{i}}}"#).as_bytes())
            .unwrap();
    }
    let mark = client.flush_mark().unwrap();
    assert_eq!(client.flush_to(mark, Duration::from_secs(30)), Ok(()));
    assert!(sink.count() >= 100);
    assert_eq!(client.shutdown(Duration::from_secs(5)), Ok(()));
}

#[test]
fn c_exports_check_their_arguments() {
    unsafe {
        let mut mark = 7u64;
        assert_eq!(
            logstash_async_flush_mark(std::ptr::null_mut(), &mut mark),
            ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_flush_to(std::ptr::null_mut(), 0, 0),
            ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        let cfg = format!("{}\0", config(free_port(), json!({})));
        let h = logstash_async_create(cfg.as_ptr().cast(), std::ptr::null_mut(), 0);
        assert!(!h.is_null());
        assert_eq!(
            logstash_async_flush_mark(h, std::ptr::null_mut()),
            ResultCode::LOGSTASH_ASYNC_NULL_ARGUMENT
        );
        assert_eq!(
            logstash_async_flush_mark(h, &mut mark),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        assert_eq!(mark, 0);
        let ev = br#"{"message":"x"}"#;
        assert_eq!(
            logstash_async_emit_json(h, ev.as_ptr().cast(), ev.len()),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        assert_eq!(
            logstash_async_flush_to(h, mark, 0),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        assert_eq!(
            logstash_async_flush_mark(h, &mut mark),
            ResultCode::LOGSTASH_ASYNC_OK
        );
        assert_eq!(mark, 1);
        assert_eq!(
            logstash_async_flush_to(h, mark, 50),
            ResultCode::LOGSTASH_ASYNC_TIMEOUT
        );
        logstash_async_shutdown(h, 50);
    }
}
