//! How the tool fails: one line on stderr and an exit code that says which
//! kind of failure it was, so scripts can tell "fix your flags" from "the
//! receiver is down".

use std::fmt::Display;

#[derive(Debug)]
pub enum Failure {
    /// Exit 1: events were not delivered (they may be safe in a database file).
    Undelivered(String),
    /// Exit 2: bad flags, values or configuration.
    Usage(String),
    /// Exit 3: anything else (bind, file, database in use, stdin).
    Runtime(String),
}

impl Failure {
    pub fn usage(e: impl Display) -> Failure {
        Failure::Usage(e.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Undelivered(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 3,
        }
    }

    pub fn report_and_exit(self) -> ! {
        let code = self.exit_code();
        let message = match self {
            Failure::Undelivered(m) | Failure::Runtime(m) => m,
            Failure::Usage(m) => format!("{m} (try --help)"),
        };
        // One line, whatever the message carried (OS errors may hold newlines).
        let line = message.replace('\n', " ");
        eprintln!("logstash-async: {line}");
        std::process::exit(code);
    }
}
