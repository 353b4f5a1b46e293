//! `listen`: a receiver that prints every event it gets.
//!
//! One module per transport. Each has a `serve` that binds, starts its own
//! threads and returns the bound address; they all hand each received event
//! (one JSON document, without its newline) to the same channel, and this
//! module prints them in arrival order. The Beats receiver decodes frames,
//! sends each event's JSON to the channel and acknowledges the window.

mod beats;
mod print;
mod stream;
mod tls;
mod udp;

use crate::failure::Failure;
use crate::send::string_value;
use print::Format;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// After `--count` events, how long senders get to close their connections:
/// exiting under an open TCP connection makes a sender see a reset and send
/// again (at-least-once), which would turn a clean test into a failed one.
const LINGER: Duration = Duration::from_secs(2);

const HELP: &str = "\
logstash-async listen: receive events and print each one

Usage: logstash-async listen [options]

Prints `listening on <transport>://<address>` on stderr once ready (with
--bind HOST:0 the system picks a free port), then one line per event on
stdout, until interrupted or --count events arrived.

Options:
  --transport tcp|udp|tls|beats
                            beats: Lumberjack v2 (Logstash's beats input),
                            windows acknowledged [default: tcp]
  --bind ADDRESS:PORT       [default: 127.0.0.1:5959]
  --cert FILE --key FILE    tls: server certificate (PEM) and its PEM key
  --ca FILE                 tls: require client certificates signed by this CA
  --format pretty|json      pretty: `timestamp level logger: message {extra}`;
                            json: each event as received [default: pretty]
  --count N                 exit after N events
  -h, --help                this help
";

/// Where transports put each received event: one JSON document, framing removed.
pub type Events = mpsc::SyncSender<Vec<u8>>;

pub fn main(mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut transport = "tcp".to_owned();
    let mut bind = "127.0.0.1:5959".to_owned();
    let (mut cert, mut key, mut ca) = (None, None, None);
    let mut format = Format::Pretty;
    let mut count: Option<u64> = None;
    while let Some(arg) = parser.next().map_err(Failure::usage)? {
        let name = match arg {
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => {
                print!("{HELP}");
                return Ok(());
            }
            lexopt::Arg::Long(long) => format!("--{long}"),
            other => return Err(Failure::usage(other.unexpected())),
        };
        let mut value = || string_value(&mut parser, &name);
        match name.as_str() {
            "--transport" => transport = value()?,
            "--bind" => bind = value()?,
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            "--ca" => ca = Some(PathBuf::from(value()?)),
            "--format" => {
                format = match value()?.as_str() {
                    "pretty" => Format::Pretty,
                    "json" => Format::Json,
                    other => {
                        return Err(Failure::Usage(format!(
                            "--format: unknown format '{other}' (expected pretty or json)"
                        )))
                    }
                }
            }
            "--count" => {
                let text = value()?;
                count = Some(text.parse().map_err(|_| {
                    Failure::Usage(format!("--count: '{text}' is not a number of events"))
                })?);
            }
            other => return Err(Failure::Usage(format!("listen: unknown option '{other}'"))),
        }
    }
    let address: SocketAddr = bind.parse().map_err(|_| {
        Failure::Usage(format!(
            "--bind: '{bind}' is not an ADDRESS:PORT (e.g. 127.0.0.1:5959 or [::1]:5959)"
        ))
    })?;
    if transport != "tls" && (cert.is_some() || key.is_some() || ca.is_some()) {
        return Err(Failure::Usage(
            "--cert, --key and --ca need --transport tls".into(),
        ));
    }

    let (events, received) = mpsc::sync_channel::<Vec<u8>>(4096);
    let open = stream::OpenConnections::default();
    let bound = match transport.as_str() {
        "tcp" => stream::serve(address, None, stream::Protocol::Lines, events, open.clone()),
        "beats" => stream::serve(address, None, stream::Protocol::Beats, events, open.clone()),
        "tls" => {
            let (Some(cert), Some(key)) = (cert, key) else {
                return Err(Failure::Usage(
                    "--transport tls needs --cert and --key".into(),
                ));
            };
            let acceptor = tls::acceptor(&cert, &key, ca.as_deref())?;
            stream::serve(
                address,
                Some(acceptor),
                stream::Protocol::Lines,
                events,
                open.clone(),
            )
        }
        "udp" => udp::serve(address, events),
        other => {
            return Err(Failure::Usage(format!(
                "--transport: unknown transport '{other}' (expected tcp, udp, tls or beats)"
            )))
        }
    }
    .map_err(|e| Failure::Runtime(format!("cannot listen on {transport}://{address}: {e}")))?;
    eprintln!("listening on {transport}://{bound}");

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut printed = 0u64;
    let wanted = count.unwrap_or(u64::MAX);
    while printed < wanted {
        let Ok(event) = received.recv() else { break };
        let line = format.render(&event);
        // A closed stdout (`listen | head -3`) ends the command quietly.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
        printed += 1;
        if printed == wanted {
            break;
        }
    }
    // Let the senders close first; what they send meanwhile is not printed.
    let deadline = Instant::now() + LINGER;
    while open.count() > 0 && Instant::now() < deadline {
        let _ = received.recv_timeout(Duration::from_millis(20));
    }
    Ok(())
}
