//! The names of the ECS layout: which event keys stay on the top level,
//! which are renamed to which ECS field (python-logstash-async's
//! LogstashEcsFormatter schema and its Django/Flask request fields), and the
//! lookups the one-pass writer runs for every member of every event.

/// The ECS version the layout follows (as the Python formatter).
pub(crate) const ECS_VERSION: &str = "8.11.0";

/// Input names (python-logstash-async's record and extra fields, and the
/// keys this library documents for events) and the ECS field each becomes.
/// Where two names become one field, the later in this list wins.
pub(crate) const ECS_FIELDS: [(&str, &str); 23] = [
    ("level", "log.level"),
    ("logger_name", "log.logger"),
    ("func_name", "log.origin.function"),
    ("path", "log.origin.file.name"),
    ("file", "log.origin.file.name"),
    ("line", "log.origin.file.line"),
    ("error_type", "error.type"),
    ("stack_trace", "error.stack_trace"),
    ("thread_name", "process.thread.name"),
    ("process_name", "process.name"),
    ("pid", "process.pid"),
    ("program", "process.executable"),
    ("type", "event.module"),
    // The web framework fields of the Django and Flask formatters.
    ("req_useragent", "user_agent.original"),
    ("req_remote_address", "client.ip"),
    ("req_host", "client.domain"),
    ("req_uri", "url.original"),
    ("req_user", "user.name"),
    ("req_method", "http.request.method"),
    ("req_referer", "http.request.referrer"),
    ("request_id", "http.request.id"),
    ("status_code", "http.response.status_code"),
    ("logsource", "log.syslog.hostname"),
];

/// Every field the layout may write on the top level, bar the prefix object
/// (a slot each): TOP_LEVEL_FIELDS, then ECS_FIELDS' targets, then the
/// fields only the layout itself fills (`ecs.version`, `host.hostname`). An
/// event key named so is placed as it is.
pub(crate) const SLOT_NAMES: [&str; 30] = [
    "@timestamp",
    "@version",
    "@metadata",
    "message",
    "labels",
    "tags",
    "log.level",
    "log.logger",
    "log.origin.function",
    "log.origin.file.name",
    "log.origin.file.line",
    "error.type",
    "error.stack_trace",
    "process.thread.name",
    "process.name",
    "process.pid",
    "process.executable",
    "event.module",
    "user_agent.original",
    "client.ip",
    "client.domain",
    "url.original",
    "user.name",
    "http.request.method",
    "http.request.referrer",
    "http.request.id",
    "http.response.status_code",
    "log.syslog.hostname",
    "ecs.version",
    "host.hostname",
];

/// Event keys kept at the top level as they are, the first slots
/// (python-logstash-async's FORMATTER_LOGSTASH_ECS_MESSAGE_FIELD_LIST).
pub(crate) const TOP_LEVEL_FIELDS: &[&str] = SLOT_NAMES.split_at(6).0;

/// The slot of `@timestamp` and of `process.thread.name` in SLOT_NAMES.
pub(crate) const TIMESTAMP: usize = 0;
pub(crate) const THREAD: usize = 13;

/// The slot of a key an event may set directly (a match: it runs for every
/// member of every event; a unit test checks it against SLOT_NAMES).
pub(crate) fn slot_index(key: &str) -> Option<usize> {
    Some(match key {
        "@timestamp" => 0,
        "@version" => 1,
        "@metadata" => 2,
        "message" => 3,
        "labels" => 4,
        "tags" => 5,
        "log.level" => 6,
        "log.logger" => 7,
        "log.origin.function" => 8,
        "log.origin.file.name" => 9,
        "log.origin.file.line" => 10,
        "error.type" => 11,
        "error.stack_trace" => 12,
        "process.thread.name" => 13,
        "process.name" => 14,
        "process.pid" => 15,
        "process.executable" => 16,
        "event.module" => 17,
        "user_agent.original" => 18,
        "client.ip" => 19,
        "client.domain" => 20,
        "url.original" => 21,
        "user.name" => 22,
        "http.request.method" => 23,
        "http.request.referrer" => 24,
        "http.request.id" => 25,
        "http.response.status_code" => 26,
        "log.syslog.hostname" => 27,
        "ecs.version" => 28,
        "host.hostname" => 29,
        _ => return None,
    })
}

/// The index in ECS_FIELDS of an input name that is renamed (checked against
/// ECS_FIELDS by a unit test).
pub(crate) fn rename_index(key: &str) -> Option<usize> {
    Some(match key {
        "level" => 0,
        "logger_name" => 1,
        "func_name" => 2,
        "path" => 3,
        "file" => 4,
        "line" => 5,
        "error_type" => 6,
        "stack_trace" => 7,
        "thread_name" => 8,
        "process_name" => 9,
        "pid" => 10,
        "program" => 11,
        "type" => 12,
        "req_useragent" => 13,
        "req_remote_address" => 14,
        "req_host" => 15,
        "req_uri" => 16,
        "req_user" => 17,
        "req_method" => 18,
        "req_referer" => 19,
        "request_id" => 20,
        "status_code" => 21,
        "logsource" => 22,
        _ => return None,
    })
}

/// The first segment of a dotted slot name: an object on the top level
/// (checked against SLOT_NAMES by a unit test).
pub(crate) fn is_slot_root(key: &str) -> bool {
    matches!(
        key,
        "log"
            | "error"
            | "process"
            | "event"
            | "user_agent"
            | "client"
            | "url"
            | "user"
            | "http"
            | "ecs"
            | "host"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_tables_match_the_field_lists() {
        assert_eq!(
            TOP_LEVEL_FIELDS,
            [
                "@timestamp",
                "@version",
                "@metadata",
                "message",
                "labels",
                "tags"
            ]
        );
        let mut expected: Vec<&str> = TOP_LEVEL_FIELDS.to_vec();
        for (_, ecs) in ECS_FIELDS {
            if !expected.contains(&ecs) {
                expected.push(ecs);
            }
        }
        expected.extend(["ecs.version", "host.hostname"]);
        assert_eq!(SLOT_NAMES.to_vec(), expected);
        for (i, name) in SLOT_NAMES.iter().enumerate() {
            assert_eq!(slot_index(name), Some(i), "{name}");
        }
        for (i, (name, _)) in ECS_FIELDS.iter().enumerate() {
            assert_eq!(rename_index(name), Some(i), "{name}");
        }
        assert_eq!(SLOT_NAMES[TIMESTAMP], "@timestamp");
        assert_eq!(SLOT_NAMES[THREAD], "process.thread.name");
        for name in SLOT_NAMES {
            let (root, rest) = name.split_once('.').unwrap_or((name, ""));
            assert_eq!(is_slot_root(root), !rest.is_empty(), "{name}");
        }
    }
}
