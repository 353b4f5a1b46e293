//! Mutation fuzzing without a fuzzer: cargo-fuzz needs a nightly toolchain,
//! which this project's machines cannot install, so this test derives a large,
//! deterministic set of inputs from a seed corpus (bit flips, byte insertions,
//! truncations, splices, nesting bombs) and feeds them to the configuration
//! parser, to emit_json's validation and to the worker's layouts, through
//! the C ABI too. The property: no panic, no crash, and every accepted event
//! formats into valid JSON. Inputs that once broke something live in
//! tests/corpus/ and run first.
//!
//! `LOGSTASH_ASYNC_FUZZ_ITERATIONS` raises the count (default 20,000 per target).

use logstash_async::event::{validate, validate_value, AcceptedEvent};
use logstash_async::layout::Layout;
use logstash_async::Config;
use std::sync::Arc;

#[path = "reference/validate_v1.rs"]
mod reference;

#[path = "reference/ecs.rs"]
mod ecs_reference;

/// xorshift64*: reproducible, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b":",
    b",",
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"\x00",
    b"\xff",
    b"\xc3\x28",
    b"\xf0\x9f\x98\x80",
    b"\xed\xa0\x80",
    b"\"@timestamp\":",
    b"\"extra\":{",
    b"\"message\":",
    b"9007199254740993",
    b"\t\n\r ",
];

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, piece.iter().copied());
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i + 1);
                v.drain(i..i + n);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let i = rng.below(v.len() + 1);
                let j = rng.below(other.len() + 1);
                v.splice(i..i, other[j..].iter().copied());
            }
            5 => {
                let depth = rng.below(300);
                let mut bomb = b"{\"a\":".to_vec();
                bomb.extend(std::iter::repeat_n(b'[', depth));
                bomb.extend(std::iter::repeat_n(b']', depth));
                bomb.push(b'}');
                v = bomb;
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let b = rng.next() as u8;
                v.insert(i, b);
            }
        }
    }
    v
}

fn corpus(kind: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn iterations() -> usize {
    std::env::var("LOGSTASH_ASYNC_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn config_parser_never_panics() {
    let seeds = corpus("config");
    let mut rng = Rng(0x5eed_c0f1_9000_0001);
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    for _ in 0..iterations() {
        let seed = &seeds[rng.below(seeds.len())];
        inputs.push(mutate(&mut rng, seed, &seeds));
    }
    let mut accepted = 0;
    for input in &inputs {
        let outcome = std::panic::catch_unwind(|| Config::from_json(input));
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(message)) => assert!(!message.is_empty(), "an error always says why"),
            Err(_) => panic!(
                "Config::from_json panicked on {:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }
    assert!(accepted > 0, "the corpus has valid configurations");
}

#[test]
fn emit_validation_and_formatting_never_panic_and_emit_valid_json() {
    let seeds = corpus("event");
    let mut rng = Rng(0x5eed_e7e0_0000_0002);
    let configs = [
        Config::from_json(br#"{"host":"h","extra":{"app":"x"},"tags":["t"]}"#).unwrap(),
        Config::from_json(br#"{"host":"h","extra_prefix":"","ensure_ascii":false}"#).unwrap(),
        Config::from_json(br#"{"host":"h","formatter":"ecs"}"#).unwrap(),
        // Event shaping over whatever the events hold (issue 19).
        Config::from_json(br#"{"host":"h","rename_fields":{"extra.a":"b.c","message":"extra.m"},"drop_fields":["extra.k","pid"],"mask_fields":["extra.x.y","host"],"mask_patterns":["\\d{2}",{"pattern":"(a)(b)?","replacement":"$2$1"}]}"#).unwrap(),
        Config::from_json(br#"{"host":"h","formatter":"ecs","extra_prefix":"","rename_fields":{"a.b":"log.x"},"drop_fields":["log.level"],"mask_fields":["a"],"mask_mode":"sha256","mask_patterns":["[^\\x00-\\x7f]+","\\\\"]}"#).unwrap(),
    ];
    let layouts: Vec<Layout> = configs
        .iter()
        .map(|c| Layout::new(c, "host", "prog"))
        .collect();
    // The shipped ECS layout and its independent definition: the same bytes.
    let ecs_pairs: Vec<_> = [
        r#"{"host":"h","formatter":"ecs"}"#,
        r#"{"host":"h","formatter":"ecs","ensure_ascii":false,"extra":{"logger_name":"s","app":{"b":1,"a":2}}}"#,
        r#"{"host":"h","formatter":"ecs","extra_prefix":"dev","tags":["t"],"metadata":{"m":1}}"#,
        r#"{"host":"h","formatter":"ecs","extra_prefix":""}"#,
    ]
    .iter()
    .map(|text| {
        let config = Config::from_json(text.as_bytes()).unwrap();
        (
            Layout::new(&config, "host", "prog"),
            ecs_reference::ReferenceEcsLayout::new(&config, "host", "prog"),
        )
    })
    .collect();
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    for _ in 0..iterations() {
        let seed = &seeds[rng.below(seeds.len())];
        inputs.push(mutate(&mut rng, seed, &seeds));
    }
    let (mut accepted, mut out, mut expected) = (0, Vec::new(), Vec::new());
    let thread: Arc<str> = Arc::from("fuzz");
    for input in &inputs {
        let verdict = std::panic::catch_unwind(|| validate(input, 1 << 20));
        let Ok(verdict) = verdict else {
            panic!("validate panicked on {:?}", String::from_utf8_lossy(input));
        };
        // The one-pass scanner accepts exactly what the first, three-pass
        // definition accepted, with the same result code.
        assert_eq!(
            (verdict, validate_value(input, 1 << 20)),
            (
                reference::reference_validate(input, 1 << 20),
                reference::reference_validate_value(input, 1 << 20)
            ),
            "validate differs from the reference on {:?}",
            String::from_utf8_lossy(input)
        );
        if verdict.is_err() {
            continue;
        }
        accepted += 1;
        let event = AcceptedEvent {
            unix_ms: 1_700_000_000_123,
            thread_name: thread.clone(),
            json: input.clone().into(),
        };
        for (shipped, reference) in &ecs_pairs {
            out.clear();
            expected.clear();
            let got = shipped.format(&event, &mut out);
            let want = reference.format(&event, &mut expected);
            assert!(
                got == want && out == expected,
                "the ECS layout differs from the reference on {:?}:\n shipped   {}\n reference {}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
        }
        for layout in &layouts {
            out.clear();
            let formatted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                layout.format(&event, &mut out)
            }));
            match formatted {
                Ok(Ok(())) => {
                    // Strictly valid JSON; numbers beyond f64 (valid JSON that
                    // serde_json's Value refuses) are passed through verbatim.
                    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out);
                    let valid = match parsed {
                        Ok(v) => v.is_object(),
                        Err(e) => {
                            e.to_string().contains("number out of range")
                                && serde_json::from_slice::<serde::de::IgnoredAny>(&out).is_ok()
                        }
                    };
                    assert!(
                        valid,
                        "formatted event is not a JSON object: {:?} from {:?}",
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(input)
                    );
                }
                Ok(Err(_)) => panic!(
                    "an accepted event failed to format: {:?}",
                    String::from_utf8_lossy(input)
                ),
                Err(_) => panic!(
                    "formatting panicked on {:?}",
                    String::from_utf8_lossy(input)
                ),
            }
        }
    }
    assert!(
        accepted > seeds.len() / 2,
        "enough mutated events are valid to exercise the layouts"
    );
}

#[test]
fn the_c_abi_survives_fuzzed_events_and_configs() {
    use logstash_async::ffi::*;
    let mut rng = Rng(0x5eed_0abc_0000_0003);
    let configs = corpus("config");
    let events = corpus("event");
    let mut err = [0 as std::ffi::c_char; 128];
    for _ in 0..iterations() / 20 {
        let pick = rng.below(configs.len());
        let mut cfg = mutate(&mut rng, &configs[pick], &configs);
        cfg.retain(|&b| b != 0);
        cfg.push(0);
        let h = unsafe { logstash_async_create(cfg.as_ptr().cast(), err.as_mut_ptr(), err.len()) };
        if h.is_null() {
            continue;
        }
        for _ in 0..20 {
            let pick = rng.below(events.len());
            let ev = mutate(&mut rng, &events[pick], &events);
            unsafe { logstash_async_emit_json(h, ev.as_ptr().cast(), ev.len()) };
        }
        unsafe { logstash_async_shutdown(h, 0) };
    }
}

#[test]
fn the_one_pass_scanner_matches_the_reference_on_grammar_edges() {
    let edges: &[&[u8]] = &[
        b"",
        b" ",
        b"{",
        b"}",
        b"{}",
        b" {} ",
        b"{}\x0c",
        b"\x0c{}",
        b"{} x",
        b"[]",
        b"[1,]",
        b"{\"a\":1,}",
        b"{,}",
        b"{\"a\"}",
        b"{\"a\" : 1 }",
        b"{1:1}",
        b"{\"a\":01}",
        b"{\"a\":-}",
        b"{\"a\":-0}",
        b"{\"a\":1.}",
        b"{\"a\":.5}",
        b"{\"a\":1e}",
        b"{\"a\":1e+}",
        b"{\"a\":1E-5}",
        b"{\"a\":+1}",
        b"{\"a\":1.5e308}",
        b"{\"a\":1.8e308}",
        b"{\"a\":1.7976931348623157e308}",
        b"{\"a\":1.7976931348623158e308}",
        b"{\"a\":1.7976931348623159e308}",
        b"{\"a\":-1.797693134862316e308}",
        b"{\"a\":1e-99999999999}",
        b"{\"a\":0e99999999999}",
        b"{\"a\":1e99999999999}",
        b"{\"a\":18446744073709551616}",
        b"{\"a\":-9223372036854775809}",
        b"{\"a\":tru}",
        b"{\"a\":true}",
        b"{\"a\":nul}",
        b"{\"a\":falsey}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":\"\\u12\"}",
        b"{\"a\":\"\\u12G4\"}",
        b"{\"a\":\"\\uDBFF\\uDFFF\"}",
        b"{\"a\":\"\\uD800\\uD800\"}",
        b"{\"a\":\"\\uD800\\n\"}",
        b"{\"a\":\"\\uD800\"}",
        b"{\"a\":\"\\u+123\"}",
        b"{\"a\":\"\t\"}",
        b"{\"a\":\"\x7f\"}",
        b"{\"a\":\"/\\/\"}",
        b"{\"a\":[1 2]}",
        b"{\"a\":[1,[2,{\"b\":[]}],{}]}",
        b"{\"a\":{\"b\":1}\"c\":2}",
        b"{\"a\"\n:\r[\t]\n}\n",
        b"null",
        b"\"s\"",
        b"1",
        b"[[]]]",
        b"{\"a\":1}}",
    ];
    let mut inputs: Vec<Vec<u8>> = edges.iter().map(|e| e.to_vec()).collect();
    // Long numbers without an exponent, around where f64 ends.
    for digits in [299, 300, 308, 309, 310, 400] {
        inputs.push(format!("{{\"a\":{}}}", "9".repeat(digits)).into_bytes());
        inputs.push(format!("{{\"a\":0.{}1}}", "0".repeat(digits)).into_bytes());
    }
    // Short random texts over the JSON alphabet reach the grammar's corners.
    const ALPHABET: &[u8] = b"{}[]\":,\\ \t\n/u0123456789abcdefABCDEFeE.+-truefalsnl\x01\xc3\xa9";
    let mut rng = Rng(0x5eed_9a44_0000_0004);
    for _ in 0..iterations() * 5 {
        let len = 1 + rng.below(14);
        let mut v = vec![b'{', b'"', b'k', b'"', b':'];
        if rng.below(4) == 0 {
            v.clear();
        }
        v.extend((0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]));
        if rng.below(2) == 0 {
            v.push(b'}');
        }
        inputs.push(v);
    }
    for input in &inputs {
        assert_eq!(
            (validate(input, 1 << 20), validate_value(input, 1 << 20)),
            (
                reference::reference_validate(input, 1 << 20),
                reference::reference_validate_value(input, 1 << 20)
            ),
            "validate differs from the reference on {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// A string of characters JSON escaping must get right: quotes, backslashes,
/// every control character, DEL, non-ASCII of every width, line separators.
fn tricky_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "\"",
        "\\",
        "/",
        "a",
        " ",
        "\u{7f}",
        "\u{e9}",
        "\u{2028}",
        "\u{2029}",
        "\u{fffd}",
        "\u{1F600}",
        "\\u0041",
        "\\\"",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\u{0}",
        "\u{1f}",
    ];
    let mut s = String::new();
    for _ in 0..rng.below(12) {
        if rng.below(3) == 0 {
            s.push(char::from(rng.below(0x20) as u8));
        } else {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    s
}

#[test]
fn typed_fields_escape_like_serde_json_and_format_in_every_layout() {
    use logstash_async::event::build::{build_event, Field, FieldValue, Location, Record};
    use logstash_async::ffi::*;
    use logstash_async::Level;
    use serde_json::{Map, Value};

    let raw_seeds = corpus("event");
    let layouts: Vec<Layout> = [
        r#"{"host":"h"}"#,
        r#"{"host":"h","ensure_ascii":false,"extra_prefix":""}"#,
        r#"{"host":"h","formatter":"ecs"}"#,
    ]
    .iter()
    .map(|c| Layout::new(&Config::from_json(c.as_bytes()).unwrap(), "host", "prog"))
    .collect();
    let h = unsafe {
        logstash_async_create(
            c"{\"host\":\"h\",\"enable\":false}".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    assert!(!h.is_null());
    let mut rng = Rng(0x5eed_f1e1_d500_0005);
    let thread: Arc<str> = Arc::from("fuzz");
    let (mut built, mut out) = (0, Vec::new());
    for _ in 0..iterations() / 4 {
        let keys: Vec<String> = (0..rng.below(6)).map(|_| tricky_string(&mut rng)).collect();
        let strings: Vec<String> = (0..keys.len()).map(|_| tricky_string(&mut rng)).collect();
        let raws: Vec<String> = (0..keys.len())
            .map(|_| {
                let seed = &raw_seeds[rng.below(raw_seeds.len())];
                String::from_utf8_lossy(&mutate(&mut rng, seed, &raw_seeds)).into_owned()
            })
            .collect();
        let numbers = [0.0, -1.5, 1e300, f64::NAN, f64::INFINITY, 5e-324];
        let fields: Vec<Field> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let value = match rng.below(7) {
                    0 => FieldValue::Str(&strings[i]),
                    1 => FieldValue::Int(rng.next() as i64),
                    2 => FieldValue::UInt(rng.next()),
                    3 => FieldValue::Float(numbers[rng.below(numbers.len())]),
                    4 => FieldValue::Bool(rng.below(2) == 0),
                    5 => FieldValue::Null,
                    _ => FieldValue::Json(&raws[i]),
                };
                Field::new(key, value)
            })
            .collect();
        let (message, logger, file) = (
            tricky_string(&mut rng),
            tricky_string(&mut rng),
            tricky_string(&mut rng),
        );
        let mut record = Record::new(Level::ALL[rng.below(5)], &message);
        record.logger_name = Some(&logger);
        record.location = Location {
            file: Some(&file),
            line: rng.below(5000) as u32,
            function: Some("f"),
        };
        record.truncated = rng.below(4) == 0;

        let Ok(event) = build_event(&record, &fields) else {
            // Refused: an empty key or a bad raw JSON value only.
            assert!(
                keys.iter().any(String::is_empty)
                    || fields
                        .iter()
                        .any(|f| matches!(f.value, FieldValue::Json(_))),
                "refused without a reason: {fields:?}"
            );
            continue;
        };
        built += 1;
        // What a JSON parser reads: the fields (the last of equal keys), then
        // the fixed parts over them.
        let mut expected = Map::new();
        for f in &fields {
            let v = match f.value {
                FieldValue::Str(s) => Value::from(s),
                FieldValue::Int(n) => Value::from(n),
                FieldValue::UInt(n) => Value::from(n),
                FieldValue::Float(x) => {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                }
                FieldValue::Bool(b) => Value::from(b),
                FieldValue::Null => Value::Null,
                FieldValue::Json(text) => {
                    serde_json::from_str(text).expect("accepted raw JSON parses")
                }
            };
            expected.insert(f.key.to_owned(), v);
        }
        expected.insert("path".into(), Value::from(file.as_str()));
        if record.location.line > 0 {
            expected.insert("line".into(), Value::from(record.location.line));
        }
        expected.insert("func_name".into(), Value::from("f"));
        expected.insert("logger_name".into(), Value::from(logger.as_str()));
        if record.truncated {
            expected.insert("message_truncated".into(), Value::from(true));
        }
        expected.insert("level".into(), Value::from(record.level.name()));
        let mark = if record.truncated { "\u{2026}" } else { "" };
        expected.insert("message".into(), Value::from(format!("{message}{mark}")));
        let parsed: Value = serde_json::from_slice(&event).expect("the builder writes valid JSON");
        assert_eq!(
            parsed,
            Value::Object(expected),
            "{}",
            String::from_utf8_lossy(&event)
        );
        assert_eq!(
            validate(&event, usize::MAX),
            Ok(()),
            "emit_json's checks pass too"
        );
        for layout in &layouts {
            out.clear();
            let ev = AcceptedEvent {
                unix_ms: 0,
                thread_name: thread.clone(),
                json: event.clone().into(),
            };
            layout.format(&ev, &mut out).unwrap();
            let _: Value = serde_json::from_slice(&out).expect("every layout writes valid JSON");
        }
        // The C ABI with the same bytes, and with invalid UTF-8 spliced in:
        // a code, never a panic (INTERNAL_ERROR).
        // The values' bytes, owned here for the call (not leaked: the
        // suite runs under LeakSanitizer too, scripts/asan.sh).
        let values: Vec<Vec<u8>> = strings
            .iter()
            .map(|v| {
                let mut bytes = v.as_bytes().to_vec();
                if rng.below(3) == 0 {
                    bytes.insert(rng.below(bytes.len() + 1), 0xff);
                }
                bytes
            })
            .collect();
        let c_fields: Vec<logstash_async_field> = keys
            .iter()
            .zip(&values)
            .map(|(k, value)| logstash_async_field {
                key: k.as_ptr().cast(),
                key_len: k.len(),
                r#type: 1 + rng.below(8) as u32,
                value: logstash_async_value {
                    string: logstash_async_string {
                        ptr: value.as_ptr().cast(),
                        len: value.len(),
                    },
                },
            })
            .collect();
        let r = unsafe {
            logstash_async_log_fields(
                h,
                20,
                std::ptr::null(),
                c"m".as_ptr(),
                c_fields.as_ptr(),
                c_fields.len(),
            )
        };
        assert_ne!(
            r,
            logstash_async::result::ResultCode::LOGSTASH_ASYNC_INTERNAL_ERROR
        );
    }
    assert!(built > iterations() / 20, "most field sets build: {built}");
    unsafe { logstash_async_shutdown(h, 100) };
}
