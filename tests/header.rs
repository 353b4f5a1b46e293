//! The committed C header must be exactly what cbindgen generates today.
//! Regenerate with `LOGSTASH_ASYNC_BLESS=1 cargo test --test header`.

use std::path::Path;

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
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
