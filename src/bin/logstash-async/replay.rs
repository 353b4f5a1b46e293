//! `replay`: opens a client on a database file left by a stopped or crashed
//! process; its worker sends the rows it finds there at once. This command
//! waits until they are all delivered (or the first attempt fails, or the
//! timeout passes) and reports how many were sent. With --python-database,
//! python_replay.rs does the same for python-logstash-async's file.

use crate::connection::{self, ConnectionArgs};
use crate::failure::Failure;
use crate::progress;
use crate::send::seconds_value;
use logstash_async::buffer::Buffer;
use logstash_async::Client;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HELP: &str = "\
logstash-async replay: send the events left in a database file

Usage: logstash-async replay --database FILE [options]
       logstash-async replay --python-database FILE [options]

Sends the events a stopped or crashed process left in its database file
(its `database_path`), then reports how many were sent. Stops at the first
failed delivery attempt: the events not sent stay in the file.

With --python-database, the file is python-logstash-async's (its handler's
database_path): every row of its event table is sent, those marked
pending_delete too (in flight when that process died), as Python formatted
them, with the transport the options choose; each row is deleted from the
file once delivered. Stop the Python process first.

Options:
  --python-database FILE python-logstash-async's database file
  --timeout SECS         how long to keep sending [default: 60]
  -h, --help             this help

Exit codes: 0 all delivered, 1 events not delivered, 2 usage or configuration
error, 3 other error (cannot read a file, database in use).
";

const POLL: Duration = Duration::from_millis(20);

pub fn main(mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut conn = ConnectionArgs::default();
    let mut timeout = Duration::from_secs(60);
    let mut python_database: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(Failure::usage)? {
        let name = match arg {
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => {
                print!("{HELP}\n{}", connection::HELP);
                return Ok(());
            }
            lexopt::Arg::Long(long) => format!("--{long}"),
            other => return Err(Failure::usage(other.unexpected())),
        };
        match name.as_str() {
            "--timeout" => timeout = seconds_value(&mut parser, &name)?,
            "--python-database" => {
                python_database = Some(parser.value().map_err(Failure::usage)?.into())
            }
            other => {
                if !conn.accept(other, &mut parser)? {
                    return Err(Failure::Usage(format!("replay: unknown option '{other}'")));
                }
            }
        }
    }
    if let Some(path) = python_database {
        return crate::python_replay::run(&path, &conn, timeout);
    }
    let Some(path) = conn.database() else {
        return Err(Failure::Usage(
            "replay: --database FILE is required (or --python-database FILE)".into(),
        ));
    };
    let config = conn.config()?;
    let destination = connection::destination(&config);
    let total = events_in(&path)?;
    if total == 0 {
        println!("nothing to replay: {} holds no events", path.display());
        return Ok(());
    }

    let client = Client::new(config).map_err(Failure::Runtime)?;
    let deadline = Instant::now() + timeout;
    progress::while_running(&client, "replayed", || loop {
        let s = client.stats();
        // Sent, or dropped and counted by the library (too large for a datagram, expired).
        let settled = s.sent + s.dropped_undeliverable + s.expired;
        if settled >= total || s.send_errors > 0 || s.database_errors > 0 {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    });
    // Events written but not yet confirmed are confirmed by the clean close.
    let _ = client.shutdown(deadline.saturating_duration_since(Instant::now()).max(POLL));
    let s = client.stats();
    let left = events_in(&path).unwrap_or(total.saturating_sub(s.sent));
    if left > 0 {
        let why = s
            .last_error
            .unwrap_or_else(|| format!("not done within {:.0}s", timeout.as_secs_f64()));
        return Err(Failure::Undelivered(format!(
            "replayed {} of {total} events to {destination}; {left} left in {} ({why})",
            s.sent,
            path.display()
        )));
    }
    let dropped = s.dropped_undeliverable + s.expired;
    if dropped > 0 {
        println!(
            "replayed {} events from {} to {destination} ({dropped} dropped: too large or expired)",
            s.sent,
            path.display()
        );
    } else {
        println!(
            "replayed {} events from {} to {destination}",
            s.sent,
            path.display()
        );
    }
    Ok(())
}

/// Events stored in the file, read with the library's own buffer (which also
/// takes the file's lock: a file still in use by its process is refused).
fn events_in(path: &Path) -> Result<u64, Failure> {
    if !path.is_file() {
        return Err(Failure::Runtime(format!(
            "--database {}: no such file",
            path.display()
        )));
    }
    let (buffer, _) = Buffer::open_file(path).map_err(Failure::Runtime)?;
    buffer
        .totals()
        .map(|t| t.events)
        .map_err(|e| Failure::Runtime(format!("--database {}: {e}", path.display())))
}
