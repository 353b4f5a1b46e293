//! A C host compiled with `cc -Wall -Wextra -Werror` against the generated
//! header and the shared library delivers events through its own function
//! (logstash_async_create_with_transport). Needs `cargo build` first.

mod support;

use support::c_program::CProgram;

#[test]
fn c_host_delivers_through_its_own_send_function() {
    let out = tempfile::tempdir().unwrap();
    let run = CProgram::compile("custom_transport.c", out.path()).run(&[]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.trim() == "ok",
        "C host failed: {stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
