//! `inspect`: what a database file holds (a buffer of this library, or a
//! python-logstash-async database), without sending anything and without
//! disturbing the process that may be using it (read-only, no lock taken).

use crate::failure::Failure;
use logstash_async::buffer::inspect::{inspect, oldest_events, Inspection, Kind};
use serde_json::json;
use std::path::PathBuf;

const HELP: &str = "\
logstash-async inspect: what a database file holds, without sending anything

Usage: logstash-async inspect --database FILE [--format text|json] [--show N]

Prints the events a buffer file (a `database_path`) holds, their bytes, the
oldest and newest event's @timestamp, the schema version and the file's size.
Also reads python-logstash-async's database files (see `replay
--python-database`). Safe while the owning process runs: the file is only
read, its lock is not taken, nothing is written.

Options:
  --database FILE        the database file
  --format text|json     text (default) or one JSON object
  --show N               also print the oldest N events, one per line
  -h, --help             this help

Exit codes: 0 success, 2 usage error, 3 the file cannot be read.
";

pub fn main(mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut database: Option<PathBuf> = None;
    let mut json_format = false;
    let mut show = 0usize;
    while let Some(arg) = parser.next().map_err(Failure::usage)? {
        match arg {
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => {
                print!("{HELP}");
                return Ok(());
            }
            lexopt::Arg::Long("database") => {
                database = Some(parser.value().map_err(Failure::usage)?.into());
            }
            lexopt::Arg::Long("format") => {
                let value = parser.value().map_err(Failure::usage)?;
                json_format = match value.to_string_lossy().as_ref() {
                    "text" => false,
                    "json" => true,
                    other => {
                        return Err(Failure::Usage(format!(
                            "--format: '{other}' is not text or json"
                        )))
                    }
                };
            }
            lexopt::Arg::Long("show") => {
                let value = parser.value().map_err(Failure::usage)?;
                show = value.to_string_lossy().parse().map_err(|_| {
                    Failure::Usage(format!(
                        "--show: '{}' is not a count",
                        value.to_string_lossy()
                    ))
                })?;
            }
            other => return Err(Failure::usage(other.unexpected())),
        }
    }
    let Some(path) = database else {
        return Err(Failure::Usage(
            "inspect: --database FILE is required".into(),
        ));
    };
    let found = inspect(&path).map_err(Failure::Runtime)?;
    if json_format {
        println!("{}", as_json(&path, &found));
    } else {
        print_text(&path, &found);
    }
    if show > 0 {
        for event in oldest_events(&path, show).map_err(Failure::Runtime)? {
            println!("{event}");
        }
    }
    Ok(())
}

fn as_json(path: &std::path::Path, found: &Inspection) -> serde_json::Value {
    let (format, schema_version, pending_delete) = match found.kind {
        Kind::Buffer { schema_version } => ("logstash-async", Some(schema_version), None),
        Kind::Python { pending_delete } => ("python-logstash-async", None, Some(pending_delete)),
    };
    json!({
        "database": path.display().to_string(),
        "format": format,
        "schema_version": schema_version,
        "events": found.events,
        "rows": found.rows,
        "bytes": found.bytes,
        "pending_delete": pending_delete,
        "database_bytes": found.database_bytes,
        "wal_bytes": found.wal_bytes,
        "oldest": found.oldest,
        "newest": found.newest,
    })
}

fn print_text(path: &std::path::Path, found: &Inspection) {
    println!("database        {}", path.display());
    match found.kind {
        Kind::Buffer { schema_version } => {
            println!("format          logstash-async buffer, schema version {schema_version}");
            println!(
                "events          {} (in {} chunks)",
                found.events, found.rows
            );
        }
        Kind::Python { pending_delete } => {
            println!(
                "format          python-logstash-async database (replay it with --python-database)"
            );
            println!(
                "events          {} ({pending_delete} marked pending_delete: in flight when its process stopped)",
                found.events
            );
        }
    }
    println!("bytes           {} (the events' JSON)", found.bytes);
    println!(
        "file            {} (database {}, WAL {})",
        size(found.database_bytes + found.wal_bytes),
        size(found.database_bytes),
        size(found.wal_bytes)
    );
    let none = || "-".to_owned();
    println!(
        "oldest event    {}",
        found.oldest.clone().unwrap_or_else(none)
    );
    println!(
        "newest event    {}",
        found.newest.clone().unwrap_or_else(none)
    );
}

fn size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    }
}
