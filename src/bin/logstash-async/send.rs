//! `send`: stdin, line by line, as events through the library (queue, SQLite
//! buffer, worker), then a flush. Like logger(1), for Logstash.

use crate::connection::{self, ConnectionArgs};
use crate::failure::Failure;
use crate::progress;
use logstash_async::{Client, ResultCode};
use std::io::BufRead;
use std::time::Duration;

const HELP: &str = "\
logstash-async send: ship stdin line by line as events, then flush

Usage: logstash-async send [options] < lines

Each line becomes an event whose `message` is the line (with --json, each line
is an event object). Events go through the library's buffer: with --database
they are stored in that file until delivered, and stay there if delivery fails
(send them later with `logstash-async replay --database FILE`).

Options:
  --json                 each line is a JSON object (blank lines are skipped)
  --level LEVEL          level of plain-text events [default: INFO]
  --logger NAME          logger_name of plain-text events
  --timeout SECS         how long to wait for delivery at the end [default: 10]
  -h, --help             this help

Exit codes: 0 all delivered, 1 events not delivered, 2 usage or configuration
error, 3 other error (cannot read a file, database in use).
";

pub fn main(mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut conn = ConnectionArgs::default();
    let mut json = false;
    let mut level = "INFO".to_owned();
    let mut logger: Option<String> = None;
    let mut timeout = Duration::from_secs(10);
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
            "--json" => json = true,
            "--level" => level = string_value(&mut parser, &name)?,
            "--logger" => logger = Some(string_value(&mut parser, &name)?),
            "--timeout" => timeout = seconds_value(&mut parser, &name)?,
            other => {
                if !conn.accept(other, &mut parser)? {
                    return Err(Failure::Usage(format!("send: unknown option '{other}'")));
                }
            }
        }
    }
    if logstash_async::Level::from_name(&level).is_none() {
        return Err(Failure::Usage(format!(
            "--level: unknown level \"{level}\" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)"
        )));
    }
    let config = conn.config()?;
    let destination = connection::destination(&config);
    let database = config.database_path.clone();
    let client = Client::new(config).map_err(Failure::Runtime)?;
    if let Some(path) = &database {
        // The library falls back to memory rather than stop a host program; a
        // command asked to keep events in a file must not silently do otherwise.
        let stats = client.stats();
        if stats.database_errors > 0 {
            let why = stats.last_error.unwrap_or_default();
            let _ = client.shutdown(Duration::ZERO);
            return Err(Failure::Runtime(format!(
                "--database {}: {why}",
                path.display()
            )));
        }
    }

    let outcome = progress::while_running(&client, "sent", || {
        let read = read_lines(&client, json, &level, logger.as_deref());
        (read, client.flush(timeout))
    });
    let (read, flushed) = outcome;
    let rejected = match read {
        Ok(rejected) => rejected,
        Err(e) => {
            let _ = client.shutdown(timeout);
            return Err(e);
        }
    };
    let flushed = flushed.and_then(|()| client.shutdown(timeout));
    if let Err(code) = flushed {
        let stats = client.stats();
        let _ = client.shutdown(Duration::ZERO);
        let why = stats
            .last_error
            .clone()
            .unwrap_or_else(|| code.description().to_owned());
        let left = stats.queued + stats.buffered;
        return Err(Failure::Undelivered(match (&database, code) {
            (Some(path), _) => format!(
                "{left} events not delivered to {destination} ({why}); they are kept in {} (send them with: logstash-async replay --database {})",
                path.display(),
                path.display()
            ),
            (None, ResultCode::LOGSTASH_ASYNC_TIMEOUT) => format!(
                "{left} events not delivered to {destination} within {:.1}s ({why}); use --database FILE to keep them",
                timeout.as_secs_f64()
            ),
            (None, _) => format!("{left} events not delivered to {destination} ({why})"),
        }));
    }
    if rejected > 0 {
        return Err(Failure::Undelivered(format!(
            "{rejected} lines were not valid events and were skipped; the others were delivered to {destination}"
        )));
    }
    Ok(())
}

/// Emits every line of stdin; returns how many lines were refused.
fn read_lines(
    client: &Client,
    json: bool,
    level: &str,
    logger: Option<&str>,
) -> Result<u64, Failure> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut rejected = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Runtime(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            return Ok(rejected);
        }
        number += 1;
        let text = trim_newline(&line);
        if json && text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = emit_waiting(|| {
            if json {
                client.emit_json(text)
            } else {
                client.log(Some(level), logger, &String::from_utf8_lossy(text))
            }
        });
        match result {
            Ok(()) => {}
            Err(code @ ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN) => {
                return Err(Failure::Runtime(format!("line {number}: {code}")))
            }
            Err(code) => {
                rejected += 1;
                eprintln!("logstash-async: line {number}: {code}; skipped");
            }
        }
    }
}

/// The tool must not drop lines: when the queue is full (the worker is
/// behind), wait for room instead. The worker always drains the queue into
/// the buffer, so this ends.
fn emit_waiting(emit: impl Fn() -> Result<(), ResultCode>) -> Result<(), ResultCode> {
    loop {
        match emit() {
            Err(ResultCode::LOGSTASH_ASYNC_QUEUE_FULL) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            other => return other,
        }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub fn string_value(parser: &mut lexopt::Parser, name: &str) -> Result<String, Failure> {
    parser
        .value()
        .map_err(Failure::usage)?
        .into_string()
        .map_err(|v| Failure::Usage(format!("{name}: not valid UTF-8: {v:?}")))
}

pub fn seconds_value(parser: &mut lexopt::Parser, name: &str) -> Result<Duration, Failure> {
    let text = string_value(parser, name)?;
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (0.0..=86400.0).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Failure::Usage(format!(
                "{name}: '{text}' is not a number of seconds (0..=86400)"
            ))
        })
}
