//! Shaping through both layouts: the order, paths with dots and arrays,
//! renames that create, replace or cannot move, masks and patterns.

use crate::layout::testing::{layout, line, parsed};
use serde_json::{json, Value};

/// The event `event` formatted with `config` (Logstash layout unless it says).
fn shaped(config: Value, event: &str) -> Value {
    let mut config = config;
    config["host"] = json!("x");
    parsed(&layout(&config), 1_700_000_000_000, event)
}

const USER: &str = r#"{"message":"signed in as alice@example.com","user":{"email":"alice@example.com","id":7},"card":"4111 1111 1111 1111","token":"t0k3n"}"#;

#[test]
fn without_options_the_line_is_the_layouts_own() {
    let plain = layout(&json!({"host":"x"}));
    let empty = layout(
        &json!({"host":"x","drop_fields":[],"rename_fields":{},"mask_fields":[],"mask_patterns":[]}),
    );
    let options = crate::Config::from_json(
        br#"{"host":"x","drop_fields":[],"rename_fields":{},"mask_fields":[],"mask_patterns":[],"mask_mode":"sha256"}"#,
    )
    .unwrap()
    .shaping;
    assert!(super::Shaper::new(&options).is_none(), "no shaper, no cost");
    assert_eq!(line(&plain, 1, USER), line(&empty, 1, USER));
}

#[test]
fn rename_then_drop_then_mask() {
    let v = shaped(
        json!({
            "rename_fields": {"extra.user.email": "email", "extra.token": "extra.secret"},
            "drop_fields": ["extra.secret", "pid", "extra.logstash_async_version"],
            "mask_fields": ["email", "extra.card"],
        }),
        USER,
    );
    // Renamed first: the drop of the new name removes the renamed token.
    assert!(v["extra"].get("token").is_none() && v["extra"].get("secret").is_none());
    // Then masked under its new name.
    assert_eq!(v["email"], "***");
    assert_eq!(v["extra"]["user"], json!({"id": 7}));
    assert_eq!(v["extra"]["card"], "***");
    assert!(v.get("pid").is_none());
    assert!(v["extra"].get("logstash_async_version").is_none());
    // Untouched fields keep their values and their order.
    assert_eq!(v["message"], "signed in as alice@example.com");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.first(), Some(&"@timestamp"));
}

#[test]
fn top_level_order_is_kept_and_new_fields_come_last() {
    let f = layout(&json!({"host":"x","rename_fields":{"extra.user":"account"}}));
    let text = line(&f, 0, USER);
    let at = |k: &str| {
        text.find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} in {text}"))
    };
    assert!(at("@timestamp") < at("host") && at("host") < at("message"));
    assert!(at("extra") < at("account"), "{text}");
    assert!(
        text.ends_with(r#""account":{"email":"alice@example.com","id":7}}"#),
        "{text}"
    );
}

#[test]
fn a_dotted_key_matches_like_the_nested_one() {
    // The Logstash layout keeps an event's dotted key as it is.
    let v = shaped(
        json!({"drop_fields":["extra.user.email"],"mask_fields":["extra.a.b.c"]}),
        r#"{"user.email":"x@y","user":{"email":"x@y","name":"n"},"a.b":{"c":1,"d":2},"user.emails":1}"#,
    );
    assert!(v["extra"].get("user.email").is_none());
    assert_eq!(v["extra"]["user"], json!({"name":"n"}));
    assert_eq!(v["extra"]["a.b"], json!({"c":"***","d":2}));
    assert_eq!(v["extra"]["user.emails"], 1, "names match whole");
    // A path ending inside a dotted key does not match it.
    let v = shaped(
        json!({"drop_fields":["extra.user"]}),
        r#"{"user.email":"x@y"}"#,
    );
    assert_eq!(v["extra"]["user.email"], "x@y");
}

#[test]
fn drop_and_mask_go_through_arrays_rename_does_not() {
    let v = shaped(
        json!({"drop_fields":["extra.items.secret"],"mask_fields":["extra.items.owner"],
               "rename_fields":{"extra.items.id":"item_id"}}),
        r#"{"items":[{"id":1,"secret":"s","owner":"o"},[{"secret":"s2"}],"plain",{"id":2}]}"#,
    );
    assert_eq!(
        v["extra"]["items"],
        json!([{"id":1,"owner":"***"},[{}],"plain",{"id":2}])
    );
    assert!(v.get("item_id").is_none());
}

#[test]
fn renames_create_replace_swap_and_never_lose_a_value() {
    let v = shaped(
        json!({"rename_fields":{"extra.a":"extra.b","extra.b":"extra.a","extra.c":"labels.team.name",
               "extra.d":"host.name","extra.e":"message"}}),
        r#"{"a":1,"b":2,"c":"core","d":"db-1","e":"replaced"}"#,
    );
    assert_eq!(
        (v["extra"]["a"].clone(), v["extra"]["b"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(v["labels"], json!({"team":{"name":"core"}}));
    // `host` is a string in this layout: the value stays where it was.
    assert_eq!(v["extra"]["d"], "db-1");
    assert_eq!(v["host"], "myhost");
    assert_eq!(v["message"], "replaced");
    assert!(v["extra"].get("e").is_none());
    // Into its own old place's child.
    let v = shaped(
        json!({"rename_fields":{"message":"message.text"}}),
        r#"{"message":"m"}"#,
    );
    assert_eq!(v["message"], json!({"text":"m"}));
    // A missing source is no error.
    let v = shaped(json!({"rename_fields":{"extra.none":"x"}}), r#"{}"#);
    assert!(v.get("x").is_none());
}

#[test]
fn mask_modes_hash_strings_by_their_text_and_other_values_by_their_json() {
    let v = shaped(
        json!({"mask_fields":["extra.user.email","extra.user.id","extra.obj"],"mask_mode":"sha256"}),
        r#"{"user":{"email":"alice@example.com","id":7},"obj":{"k":[1]}}"#,
    );
    assert_eq!(v["extra"]["user"]["email"], "sha256:ff8d9819fc0e12bf");
    let hash = |text: &str| {
        let d = openssl::sha::sha256(text.as_bytes());
        format!(
            "sha256:{}",
            d[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    assert_eq!(v["extra"]["user"]["id"], hash("7"));
    assert_eq!(v["extra"]["obj"], hash(r#"{"k":[1]}"#));
}

#[test]
fn patterns_change_string_values_not_keys_nor_masks() {
    let v = shaped(
        json!({
            "mask_fields": ["extra.token"],
            "mask_patterns": [
                "\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b",
                {"pattern": "(?P<name>[\\w.]+)@(?P<domain>[\\w.]+)", "replacement": "***@$domain"},
                {"pattern": "t0k", "replacement": "X"},
                "\\b",
            ],
        }),
        r#"{"card":"4111 1111 1111 1111","nested":{"list":["pay 4111-1111-1111-1111 now",5]},
            "alice@example.com":"key stays","token":"t0k3n","quote":"say \"bob@b.org\"\n"}"#,
    );
    assert_eq!(v["extra"]["card"], "***");
    assert_eq!(v["extra"]["nested"]["list"], json!(["pay *** now", 5]));
    assert_eq!(v["message"], "");
    assert_eq!(v["extra"]["alice@example.com"], "key stays");
    assert_eq!(v["extra"]["token"], "***", "masked, then left alone");
    assert_eq!(
        v["extra"]["quote"], "say \"***@b.org\"\n",
        "escaped text is matched decoded"
    );
    assert_eq!(
        v["extra"]["thread_name"], "main",
        "a zero-width match changes nothing"
    );
    let v = shaped(
        json!({"mask_patterns":["secret-\\w+"],"mask_mode":"sha256"}),
        r#"{"message":"a secret-abc b"}"#,
    );
    let tag = v["message"].as_str().unwrap();
    assert!(
        tag.starts_with("a sha256:") && tag.ends_with(" b") && tag.len() == 2 + 23 + 2,
        "{tag}"
    );
}

#[test]
fn non_ascii_is_masked_then_escaped_like_python() {
    let f = layout(&json!({"host":"x","mask_patterns":[{"pattern":"café","replacement":"bar"}]}));
    let s = line(&f, 0, "{\"message\":\"café ☕\",\"k\":\"é\"}");
    assert!(s.contains(r#""message":"bar \u2615""#), "{s}");
    assert!(s.contains(r#""k":"\u00e9""#), "{s}");
}

#[test]
fn ecs_paths_are_the_ecs_names() {
    let v = shaped(
        json!({"formatter":"ecs","drop_fields":["process","log.origin"],"mask_fields":["extra.user.email"],
               "rename_fields":{"log.logger":"labels.logger"}}),
        r#"{"logger_name":"auth","line":3,"func_name":"f","user":{"email":"a@b"},"user.phone":"1"}"#,
    );
    assert!(v.get("process").is_none());
    assert!(v["log"].get("origin").is_none() && v["log"].get("logger").is_none());
    assert_eq!(v["labels"]["logger"], "auth");
    assert_eq!(v["extra"]["user"], json!({"email":"***","phone":"1"}));
    // Without a prefix, extras are top-level ECS-style names.
    let v = shaped(
        json!({"formatter":"ecs","extra_prefix":"","mask_fields":["user.email"]}),
        r#"{"user.email":"a@b","req_user":"alice"}"#,
    );
    assert_eq!(v["user"], json!({"email":"***","name":"alice"}));
}
