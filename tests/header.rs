//! The committed C header must be exactly what cbindgen generates today.
//! Regenerate with `LOGSTASH_ASYNC_BLESS=1 cargo test --test header`.

use std::path::Path;

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    // Only the C boundary makes the header: src/ffi/ (following its `mod`
    // lines), the result codes and the version. Nothing else of the crate
    // can leak a name into it.
    cbindgen::Builder::new()
        .with_src(root.join("src/ffi/mod.rs"))
        .with_src(root.join("src/result.rs"))
        .with_src(root.join("src/version.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = root.join("include/logstash_async.h");
    if std::env::var_os("LOGSTASH_ASYNC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/logstash_async.h is stale: run `LOGSTASH_ASYNC_BLESS=1 cargo test --test header` and commit it"
    );
}

/// Every name the header declares: macros, types, tags, enum values,
/// functions (inline helpers included). Comments and literals are skipped;
/// struct and union members and parameters are not names of their own.
fn declared_names(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut code = String::new();
    for line in strip_comments_and_literals(header).lines() {
        let line = line.trim_start();
        if let Some(directive) = line.strip_prefix('#') {
            let mut words = directive.split(|c: char| !(c.is_alphanumeric() || c == '_'));
            let words: Vec<&str> = words.by_ref().filter(|w| !w.is_empty()).collect();
            if words.first() == Some(&"define") {
                names.push(words[1].to_owned());
            }
        } else {
            code.push_str(line);
            code.push('\n');
        }
    }
    let tokens = tokenize(&code);
    // A statement at file level: the tokens up to `;` or a body's `}`.
    let mut statement: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if t == "extern" && tokens.get(i + 1..i + 4) == Some(&["\"", "\"", "{"][..]) {
            i += 4; // extern "C" { ... }: its braces hold file-level code
            continue;
        }
        if t == "}" && statement.is_empty() {
            i += 1; // the end of extern "C"
            continue;
        }
        if t == "{" {
            // A body: an aggregate's (struct/union/enum NAME {) or a function's.
            let close = matching_brace(&tokens, i);
            let tag = statement
                .len()
                .checked_sub(2)
                .map(|k| (statement[k], statement[k + 1]));
            if let Some((kind @ ("struct" | "union" | "enum"), name)) = tag {
                names.push(name.to_owned());
                if kind == "enum" {
                    let body = &tokens[i + 1..close];
                    for (j, tok) in body.iter().enumerate() {
                        if j == 0 || body[j - 1] == "," {
                            names.push((*tok).to_owned());
                        }
                    }
                }
                statement.push("{}");
                i = close + 1;
                continue;
            }
            // A function definition ends the statement.
            names.extend(function_name(&statement));
            statement.clear();
            i = close + 1;
            continue;
        }
        if t == ";" {
            if statement.first() == Some(&"typedef") {
                let pointer = statement.windows(2).position(|w| w == ["(", "*"]);
                let name = match pointer {
                    Some(p) => statement[p + 2],
                    None => statement.last().expect("a typedef names something"),
                };
                names.push(name.to_owned());
            } else {
                names.extend(function_name(&statement));
            }
            statement.clear();
        } else {
            statement.push(t);
        }
        i += 1;
    }
    names
}

/// The name of a function declared by a file-level statement, if it is one.
fn function_name(statement: &[&str]) -> Option<String> {
    let paren = statement.iter().position(|t| *t == "(")?;
    let name = statement[..paren].last()?;
    (!matches!(*name, "__attribute__")).then(|| (*name).to_owned())
}

fn matching_brace(tokens: &[&str], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match *t {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in the header");
}

fn tokenize(code: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push(&code[start..i]);
        } else {
            if !c.is_ascii_whitespace() {
                tokens.push(&code[i..i + 1]);
            }
            i += 1;
        }
    }
    tokens
}

/// The header with comments removed and string and character literals
/// emptied (newlines kept).
fn strip_comments_and_literals(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' | '\'' => {
                out.push_str("\"\"");
                let mut escaped = false;
                for d in chars.by_ref() {
                    if !escaped && d == c {
                        break;
                    }
                    escaped = !escaped && d == '\\';
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[test]
fn every_name_in_the_header_is_prefixed() {
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("include/logstash_async.h"),
    )
    .expect("the header");
    let names = declared_names(&header);
    // The parser sees what is there: a few names it must find.
    for expected in [
        "LOGSTASH_ASYNC_H",
        "logstash_async_result",
        "LOGSTASH_ASYNC_CLOSED",
        "logstash_async_handle",
        "logstash_async_send_fn",
        "logstash_async_field",
        "logstash_async_value",
        "logstash_async_create",
        "logstash_async_field_str",
        "logstash_async_logf_at",
        "LOGSTASH_ASYNC_INFOF",
        "LOGSTASH_ASYNC_LEVEL_WARNING",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found in {names:?}"
        );
    }
    let unprefixed: Vec<&String> = names
        .iter()
        .filter(|n| !n.starts_with("logstash_async_") && !n.starts_with("LOGSTASH_ASYNC_"))
        .collect();
    assert!(
        unprefixed.is_empty(),
        "unprefixed names in the header: {unprefixed:?}"
    );
}

#[test]
fn the_prefix_check_catches_what_used_to_leak() {
    let leaky = "#define MAX_PENDING_OUTPUT (4 << 20)\n\
                 typedef enum logstash_async_result ResultCode;\n\
                 typedef enum logstash_async_level { A = 1, LOGSTASH_ASYNC_B = 2 } logstash_async_level;\n\
                 ResultCode helper(int x);\n\
                 static inline int inline_helper(void) { return 0; }\n\
                 typedef void (*callback)(void *p);\n";
    let names = declared_names(leaky);
    for leak in [
        "MAX_PENDING_OUTPUT",
        "ResultCode",
        "A",
        "helper",
        "inline_helper",
        "callback",
    ] {
        assert!(
            names.iter().any(|n| n == leak),
            "{leak} not found in {names:?}"
        );
    }
}

/// The paragraph that starts with "ABI rule:" in `text`, without comment
/// and markup characters, whitespace collapsed.
fn abi_rule(text: &str, name: &str) -> String {
    let start = text
        .find("ABI rule:")
        .unwrap_or_else(|| panic!("{name} states no ABI rule"));
    let mut words = Vec::new();
    for line in text[start..].lines() {
        let line: String = line
            .trim()
            .trim_start_matches(['#', '*', '/'])
            .chars()
            .filter(|c| !matches!(c, '*' | '`'))
            .collect();
        if line.trim().is_empty() {
            break;
        }
        words.extend(line.split_whitespace().map(str::to_owned));
    }
    words.join(" ")
}

#[test]
fn the_abi_rule_is_stated_once_the_same_in_header_readme_and_cmake() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let header = abi_rule(&read("include/logstash_async.h"), "the header");
    assert!(
        header.contains("SONAME is liblogstash_async.so.0.<minor>"),
        "{header}"
    );
    assert_eq!(abi_rule(&read("README.md"), "README.md"), header);
    assert_eq!(
        abi_rule(&read("cmake/CMakeLists.txt"), "cmake/CMakeLists.txt"),
        header
    );
}

#[test]
fn the_cpp_headers_define_prefixed_macros_only() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    for header in ["logstash_async.hpp", "logstash_async_spdlog.hpp"] {
        let text = std::fs::read_to_string(include.join(header)).unwrap();
        let macros: Vec<String> = declared_names(&text)
            .into_iter()
            .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(!macros.is_empty(), "{header}: its include guard at least");
        let unprefixed: Vec<&String> = macros
            .iter()
            .filter(|m| !m.starts_with("LOGSTASH_ASYNC_"))
            .collect();
        assert!(unprefixed.is_empty(), "{header}: {unprefixed:?}");
    }
}
