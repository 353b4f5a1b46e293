//! The HTTP request reader of the tests' receiver (tests/support/
//! http_server.rs, the Logstash http input the HTTP transport is tested
//! against; the command-line tool has no HTTP listener) on arbitrary bytes:
//! no panic; a request is whole or waits for more, and reading it from a
//! longer buffer gives the same request; a gzip body decodes or is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The receiver's module and what it uses of tests/support, as they are (at
// the crate root: the receiver reaches them through `super`).
#[allow(dead_code)]
#[path = "../../tests/support/listener.rs"]
mod listener;

#[allow(dead_code)]
#[path = "../../tests/support/http_server.rs"]
mod http_server;

fn wait_until(timeout: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    true
}

use http_server::{decoded_body, parse_request};

fuzz_target!(|data: &[u8]| {
    match parse_request(data, 1) {
        Ok(Some((request, used))) => {
            assert!(used <= data.len());
            assert_eq!(request.body.len(), request.wire_len);
            // More bytes after a request do not change it.
            let mut longer = data.to_vec();
            longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            let (again, used_again) = parse_request(&longer, 1).ok().flatten().unwrap();
            assert_eq!(
                (again.body, again.headers, used_again),
                (request.body.clone(), request.headers.clone(), used)
            );
            let _ = decoded_body(&request);
        }
        Ok(None) => {
            // Incomplete: a prefix is incomplete too.
            // (Below the head limit: a longer head without its end is refused.)
            if let Some(shorter) = data.len().checked_sub(1).filter(|&n| n < 64 << 10) {
                assert!(matches!(parse_request(&data[..shorter], 1), Ok(None)));
            }
        }
        Err(_) => {}
    }
});
