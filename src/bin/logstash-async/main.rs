//! `logstash-async`: a command-line tool over the library's Rust API.
//!
//! - `listen`: a loopback-friendly Logstash receiver that prints what it gets;
//! - `send`: ships stdin, line by line, durably (like logger(1) for Logstash);
//! - `replay`: sends the events left in a database file by another process
//!   (or by python-logstash-async);
//! - `inspect`: what a database file holds, read-only.
//!
//! Exit codes (documented in the README and `--help`): 0 success, 1 events not
//! delivered, 2 usage or configuration error, 3 any other error (a port that
//! cannot be bound, an unreadable file, a database in use).

mod connection;
mod failure;
mod inspect;
mod listen;
mod progress;
mod python_replay;
mod python_staging;
mod replay;
mod send;

use failure::Failure;
use lexopt::prelude::*;

const HELP: &str = "\
logstash-async: ship log events to Logstash, and receive them for testing

Usage: logstash-async <command> [options]

Commands:
  listen   receive events (tcp, udp or tls) and print each one
  send     ship stdin line by line as events, then flush; non-zero if undelivered
  replay   send the events left in a database file by a stopped process
           (also python-logstash-async's: --python-database)
  inspect  what a database file holds, read-only (safe while its process runs)

Options:
  -h, --help     this help (`logstash-async <command> --help` for a command's)
  -V, --version  the version

Exit codes: 0 success, 1 events not delivered, 2 usage or configuration error,
3 other error (cannot bind, cannot read a file, database in use).
";

fn run() -> Result<(), Failure> {
    let mut parser = lexopt::Parser::from_env();
    match parser.next().map_err(Failure::usage)? {
        Some(Short('h') | Long("help")) => {
            print!("{HELP}");
            Ok(())
        }
        Some(Short('V') | Long("version")) => {
            println!("logstash-async {}", logstash_async::VERSION);
            Ok(())
        }
        Some(Value(command)) => match command.to_string_lossy().as_ref() {
            "listen" => listen::main(parser),
            "send" => send::main(parser),
            "replay" => replay::main(parser),
            "inspect" => inspect::main(parser),
            other => Err(Failure::Usage(format!(
                "unknown command '{other}' (expected listen, send, replay or inspect)"
            ))),
        },
        Some(arg) => Err(Failure::usage(arg.unexpected())),
        None => Err(Failure::Usage(
            "a command is required: listen, send, replay or inspect".into(),
        )),
    }
}

fn main() {
    if let Err(failure) = run() {
        failure.report_and_exit();
    }
}
