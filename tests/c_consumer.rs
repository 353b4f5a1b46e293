//! A C program compiled with `cc -Wall -Wextra -Werror` against the generated
//! header and the shared library emits events that arrive at a loopback receiver.
//! Needs the cdylib built first (`cargo build`; the README's test command does it).

mod support;

use std::time::Duration;
use support::c_program::CProgram;
use support::{parse, TcpSink};

#[test]
fn c_program_emits_events_that_arrive() {
    let out = tempfile::tempdir().unwrap();
    let program = CProgram::compile("emit_basic.c", out.path());
    let sink = TcpSink::start();
    let run = program.run(&[&sink.port.to_string()]);
    assert!(
        run.status.success(),
        "C consumer failed: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let events = parse(&sink.wait_for(2, Duration::from_secs(10)));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"], "from C");
    assert_eq!(events[0]["extra"]["seq"], 1);
    assert_eq!(events[0]["extra"]["lang"], "c");
    assert!(events[0]["extra"].get("request_id").is_none());
    assert_eq!(events[1]["message"], "second from C");
    assert_eq!(events[1]["level"], "ERROR");
    assert_eq!(events[1]["extra"]["logger_name"], "c.consumer");
    assert_eq!(events[1]["extra"]["request_id"], "r-42");
    assert!(events[1]["program"]
        .as_str()
        .unwrap()
        .ends_with("emit_basic"));
}
