//! Result codes shared by the Rust API and the C ABI.
//!
//! The numbers are part of the ABI: a code is never renumbered or reused; new
//! codes are appended.

/// The outcome of a library call. `LOGSTASH_ASYNC_OK` (0) is success; every
/// other value is a specific failure, described by `logstash_async_result_str`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum logstash_async_result {
    /// Success.
    LOGSTASH_ASYNC_OK = 0,
    /// A required pointer argument was NULL.
    LOGSTASH_ASYNC_NULL_ARGUMENT = 1,
    /// The event (or a string argument) is not valid UTF-8.
    LOGSTASH_ASYNC_INVALID_UTF8 = 2,
    /// The event (or a JSON argument) is not valid JSON, or nests deeper than 100 levels.
    LOGSTASH_ASYNC_INVALID_JSON = 3,
    /// The event is valid JSON but not an object.
    LOGSTASH_ASYNC_NOT_AN_OBJECT = 4,
    /// The event is larger than `max_event_bytes`.
    LOGSTASH_ASYNC_EVENT_TOO_LARGE = 5,
    /// The in-memory queue is full (`max_queue_events`); the event was not accepted and is counted as dropped.
    LOGSTASH_ASYNC_QUEUE_FULL = 6,
    /// flush/shutdown: the timeout passed before every event was delivered.
    LOGSTASH_ASYNC_TIMEOUT = 7,
    /// flush: every event is stored durably in the database file, but the transport is failing; they will be sent later.
    LOGSTASH_ASYNC_STORED_NOT_SENT = 8,
    /// The handle is shutting down; no new events are accepted.
    LOGSTASH_ASYNC_SHUTTING_DOWN = 9,
    /// An argument has an invalid value (for example an empty key).
    LOGSTASH_ASYNC_INVALID_ARGUMENT = 10,
    /// The handle was created before a fork() and is used in the child: create a new handle in the child.
    LOGSTASH_ASYNC_FORKED = 11,
    /// An output buffer is too small; nothing or a truncated value was written.
    LOGSTASH_ASYNC_BUFFER_TOO_SMALL = 12,
    /// An internal error (a bug): the call did nothing; the handle keeps working.
    LOGSTASH_ASYNC_INTERNAL_ERROR = 13,
    /// A level that is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or WARN, FATAL; any case), or a level number other than 10, 20, 30, 40, 50.
    LOGSTASH_ASYNC_UNKNOWN_LEVEL = 14,
    /// More fields than `LOGSTASH_ASYNC_MAX_FIELDS` in one call.
    LOGSTASH_ASYNC_TOO_MANY_FIELDS = 15,
    /// A field's type is not one of the `LOGSTASH_ASYNC_FIELD_*` values.
    LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE = 16,
    /// The handle was shut down: nothing was done (a second shutdown included).
    LOGSTASH_ASYNC_CLOSED = 17,
}

/// The Rust name of the result enum.
pub type ResultCode = logstash_async_result;

impl logstash_async_result {
    /// Every code, in numeric order (for tests and bindings).
    pub const ALL: [ResultCode; 18] = [
        Self::LOGSTASH_ASYNC_OK,
        Self::LOGSTASH_ASYNC_NULL_ARGUMENT,
        Self::LOGSTASH_ASYNC_INVALID_UTF8,
        Self::LOGSTASH_ASYNC_INVALID_JSON,
        Self::LOGSTASH_ASYNC_NOT_AN_OBJECT,
        Self::LOGSTASH_ASYNC_EVENT_TOO_LARGE,
        Self::LOGSTASH_ASYNC_QUEUE_FULL,
        Self::LOGSTASH_ASYNC_TIMEOUT,
        Self::LOGSTASH_ASYNC_STORED_NOT_SENT,
        Self::LOGSTASH_ASYNC_SHUTTING_DOWN,
        Self::LOGSTASH_ASYNC_INVALID_ARGUMENT,
        Self::LOGSTASH_ASYNC_FORKED,
        Self::LOGSTASH_ASYNC_BUFFER_TOO_SMALL,
        Self::LOGSTASH_ASYNC_INTERNAL_ERROR,
        Self::LOGSTASH_ASYNC_UNKNOWN_LEVEL,
        Self::LOGSTASH_ASYNC_TOO_MANY_FIELDS,
        Self::LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE,
        Self::LOGSTASH_ASYNC_CLOSED,
    ];

    /// The code for a raw integer, if it is one.
    pub fn from_raw(raw: i32) -> Option<ResultCode> {
        Self::ALL.iter().copied().find(|c| *c as i32 == raw)
    }

    /// A static, NUL-terminated description.
    pub fn description(self) -> &'static str {
        self.description_nul().trim_end_matches('\0')
    }

    pub(crate) fn description_nul(self) -> &'static str {
        use logstash_async_result::*;
        match self {
            LOGSTASH_ASYNC_OK => "ok\0",
            LOGSTASH_ASYNC_NULL_ARGUMENT => "a required pointer argument is NULL\0",
            LOGSTASH_ASYNC_INVALID_UTF8 => "not valid UTF-8\0",
            LOGSTASH_ASYNC_INVALID_JSON => "not valid JSON (or nested deeper than 100 levels)\0",
            LOGSTASH_ASYNC_NOT_AN_OBJECT => "the event is not a JSON object\0",
            LOGSTASH_ASYNC_EVENT_TOO_LARGE => "the event is larger than max_event_bytes\0",
            LOGSTASH_ASYNC_QUEUE_FULL => "the queue is full; the event was dropped\0",
            LOGSTASH_ASYNC_TIMEOUT => "timed out before every event was delivered\0",
            LOGSTASH_ASYNC_STORED_NOT_SENT => {
                "events are stored in the database file but the transport is failing\0"
            }
            LOGSTASH_ASYNC_SHUTTING_DOWN => "the handle is shutting down\0",
            LOGSTASH_ASYNC_INVALID_ARGUMENT => "invalid argument\0",
            LOGSTASH_ASYNC_FORKED => {
                "the handle was created before fork(); create a new one in the child\0"
            }
            LOGSTASH_ASYNC_BUFFER_TOO_SMALL => "the output buffer is too small\0",
            LOGSTASH_ASYNC_INTERNAL_ERROR => "internal error\0",
            LOGSTASH_ASYNC_UNKNOWN_LEVEL => {
                "unknown level (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)\0"
            }
            LOGSTASH_ASYNC_TOO_MANY_FIELDS => "more fields than LOGSTASH_ASYNC_MAX_FIELDS\0",
            LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE => "unknown field type\0",
            LOGSTASH_ASYNC_CLOSED => "the handle was shut down\0",
        }
    }
}

impl std::fmt::Display for logstash_async_result {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for logstash_async_result {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_stable_and_described() {
        for (i, c) in ResultCode::ALL.iter().enumerate() {
            assert_eq!(*c as i32, i as i32, "codes are never renumbered");
            assert_eq!(ResultCode::from_raw(i as i32), Some(*c));
            assert!(c.description_nul().ends_with('\0'));
            assert!(!c.description().is_empty());
        }
        assert_eq!(ResultCode::from_raw(99), None);
    }
}
