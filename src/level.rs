//! Log levels: the one documented set, Python's names and numbers (DEBUG 10,
//! INFO 20, WARNING 30, ERROR 40, CRITICAL 50). WARN and FATAL are accepted
//! for WARNING and CRITICAL, in any case; every other name is refused, so a
//! typo never reaches Logstash as a level of its own. The `level` option
//! (`Threshold`) drops events below it on the caller's thread.

use std::fmt;

/// One of the five levels; ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    /// The name Logstash sees (Python's).
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// The name as a JSON string, quotes included.
    pub(crate) fn json(self) -> &'static str {
        match self {
            Level::Debug => "\"DEBUG\"",
            Level::Info => "\"INFO\"",
            Level::Warning => "\"WARNING\"",
            Level::Error => "\"ERROR\"",
            Level::Critical => "\"CRITICAL\"",
        }
    }

    /// A level name in any case, WARN and FATAL included; None for others.
    pub fn from_name(name: &str) -> Option<Level> {
        // The longest name is 8 bytes: compare upper-cased on the stack.
        if name.len() > 8 {
            return None;
        }
        let mut upper = [0u8; 8];
        upper[..name.len()].copy_from_slice(name.as_bytes());
        upper.make_ascii_uppercase();
        Some(match &upper[..name.len()] {
            b"DEBUG" => Level::Debug,
            b"INFO" => Level::Info,
            b"WARNING" | b"WARN" => Level::Warning,
            b"ERROR" => Level::Error,
            b"CRITICAL" | b"FATAL" => Level::Critical,
            _ => return None,
        })
    }

    /// Python's number of a level (10, 20, 30, 40, 50); None for others.
    pub fn from_number(n: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| *l as i64 == n)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rank an event's own `level` value (its JSON text, as emit_json got
/// it) has for the threshold: a known name's level, INFO when absent (what
/// the layouts write then), None for any other value (never filtered: the
/// caller's JSON is sent as written).
pub(crate) fn rank_of_json(value: Option<&str>) -> Option<Level> {
    match value {
        None => Some(Level::Info),
        Some(v) if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
            Level::from_name(&v[1..v.len() - 1])
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_aliases() {
        for level in Level::ALL {
            assert_eq!(Level::from_name(level.name()), Some(level));
            assert_eq!(Level::from_number(level as i64), Some(level));
            assert_eq!(level.json(), format!("\"{level}\""));
        }
        assert_eq!(Level::from_name("warn"), Some(Level::Warning));
        assert_eq!(Level::from_name("Fatal"), Some(Level::Critical));
        assert_eq!(Level::from_name("info"), Some(Level::Info));
        for bad in [
            "",
            "NOTICE",
            "TRACE",
            "WARNINGS",
            "INFO ",
            "CRITICALLY",
            "\u{e9}",
        ] {
            assert_eq!(Level::from_name(bad), None, "{bad:?}");
        }
        assert_eq!(Level::from_number(25), None);
        assert!(Level::Debug < Level::Info && Level::Error < Level::Critical);
    }

    #[test]
    fn ranks_of_an_events_own_level() {
        assert_eq!(rank_of_json(None), Some(Level::Info));
        assert_eq!(rank_of_json(Some("\"WARNING\"")), Some(Level::Warning));
        assert_eq!(rank_of_json(Some("\"debug\"")), Some(Level::Debug));
        assert_eq!(rank_of_json(Some("\"NOTICE\"")), None);
        assert_eq!(rank_of_json(Some("30")), None);
        assert_eq!(rank_of_json(Some("\"\\u0044EBUG\"")), None);
    }
}
