//! The TLS options of issue 19, each with real handshakes: encrypted client
//! keys with `ssl_key_password` (against syslog-ng requiring a client
//! certificate), `ssl_verify: "certificate"` (chain only) and a CA file given
//! as `ssl_verify` (as python-logstash-async accepts it), and
//! `ssl_min_version` against servers limited to one TLS version.

mod support;

use logstash_async::{Client, ResultCode};
use native_tls::{Protocol, TlsAcceptor};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use support::syslog_ng::{Receiver, Source};
use support::tls_relay::TlsRelay;
use support::{
    assert_exactly, client as plain_client, config, emit_seq, merged, wait_for_error, TcpSink,
};

const LONG: Duration = Duration::from_secs(60);

fn client(port: u16, extra: Value) -> Client {
    plain_client(
        port,
        merged(json!({"ssl_enable": true, "stderr_errors": false}), extra),
    )
}

/// Delivers 200 events to `source` with the options `extra`.
fn delivers(r: &Receiver, source: Source, extra: Value, base: u64) {
    let c = client(r.syslog_ng.port(source), extra.clone());
    emit_seq(&c, base..base + 200);
    assert_eq!(c.flush(LONG), Ok(()), "{extra}: {:?}", c.stats());
    assert_eq!(c.shutdown(LONG), Ok(()));
    // Earlier calls' events are on the same source: keep this call's.
    let ours = || -> Vec<String> {
        let lines = r.syslog_ng.lines(source);
        let seqs = support::seqs(&lines);
        lines
            .into_iter()
            .zip(seqs)
            .filter(|(_, seq)| (base..base + 200).contains(seq))
            .map(|(line, _)| line)
            .collect()
    };
    support::wait_until(LONG, || ours().len() >= 200);
    assert_exactly(&ours(), base..base + 200);
}

/// The handshake fails: the error names the cause, nothing arrives.
fn refused(port: u16, extra: Value, why: &str) {
    let c = client(port, extra.clone());
    emit_seq(&c, 0..10);
    let error = wait_for_error(&c);
    assert!(error.contains(why), "{extra}: expected {why:?} in: {error}");
    assert_eq!(c.stats().sent, 0);
    assert_eq!(
        c.flush(Duration::from_millis(200)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    let _ = c.shutdown(Duration::from_millis(200));
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn encrypted_client_keys_work_with_ssl_key_password() {
    let r = Receiver::start();
    let dir = &r.pki.dir;
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.key",
            "-out",
            "client-enc-pkcs8.key",
            "-passout",
            "pass:s3cret phrase",
        ],
    );
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "client.key",
            "-aes256",
            "-traditional",
            "-out",
            "client-enc-rsa.key",
            "-passout",
            "pass:s3cret phrase",
        ],
    );
    assert_eq!(
        r.pki.first_line("client-enc-pkcs8.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----"
    );
    let rsa = std::fs::read_to_string(dir.join("client-enc-rsa.key")).unwrap();
    assert!(rsa.contains("Proc-Type: 4,ENCRYPTED"), "{rsa}");
    let ca = r.pki.path("ca.crt");
    let cert = r.pki.path("client.crt");
    for (i, key) in ["client-enc-pkcs8.key", "client-enc-rsa.key"]
        .iter()
        .enumerate()
    {
        let options = json!({"ca_certs": ca, "certfile": cert, "keyfile": r.pki.path(key),
                             "ssl_key_password": "s3cret phrase"});
        delivers(&r, Source::MutualTls, options, i as u64 * 1000);
    }

    // A wrong or missing passphrase fails create, naming the option, never the passphrase.
    let key = r.pki.path("client-enc-pkcs8.key");
    let create = |extra: Value| {
        let options = merged(
            json!({"ssl_enable": true, "certfile": cert, "keyfile": key}),
            extra,
        );
        Client::from_json(config(1, options).as_bytes())
            .err()
            .expect("create fails")
    };
    let e = create(json!({"ssl_key_password": "wrong guess"}));
    assert!(
        e.starts_with("ssl_key_password: cannot decrypt keyfile") && !e.contains("wrong guess"),
        "{e}"
    );
    let e = create(json!({}));
    assert!(
        e.starts_with("keyfile:") && e.contains("ssl_key_password"),
        "{e}"
    );
    // An unencrypted key ignores a passphrase.
    let options = json!({"ca_certs": ca, "certfile": cert, "keyfile": r.pki.path("client.key"),
                         "ssl_key_password": "unused"});
    delivers(&r, Source::MutualTls, options, 5000);
}

#[test]
fn ssl_verify_certificate_checks_the_chain_and_not_the_name() {
    let r = Receiver::start();
    let ca = r.pki.path("ca.crt");
    // The certificate is for logstash.example; we connect to 127.0.0.1.
    refused(
        r.syslog_ng.port(Source::WrongNameTls),
        json!({"ca_certs": ca}),
        "certificate verify failed",
    );
    delivers(
        &r,
        Source::WrongNameTls,
        json!({"ca_certs": ca, "ssl_verify": "certificate"}),
        0,
    );
    // The chain still counts: a server of another CA is refused.
    refused(
        r.syslog_ng.port(Source::UntrustedTls),
        json!({"ca_certs": ca, "ssl_verify": "certificate"}),
        "certificate verify failed",
    );
}

#[test]
fn ssl_verify_given_a_ca_file_verifies_with_it() {
    let r = Receiver::start();
    delivers(
        &r,
        Source::Tls,
        json!({"ssl_verify": r.pki.path("ca.crt")}),
        0,
    );
    // The same file in both options is fine.
    let ca = r.pki.path("ca.crt");
    delivers(
        &r,
        Source::Tls,
        json!({"ssl_verify": ca, "ca_certs": ca}),
        1000,
    );
    // Another CA's file: refused, as with ca_certs; the name is still checked.
    refused(
        r.syslog_ng.port(Source::Tls),
        json!({"ssl_verify": r.pki.path("rogue-ca.crt")}),
        "certificate verify failed",
    );
    refused(
        r.syslog_ng.port(Source::WrongNameTls),
        json!({"ssl_verify": r.pki.path("ca.crt")}),
        "certificate verify failed",
    );
    // A bad file is named under the option it was given as.
    let missing = r.dir.path().join("missing.pem");
    let options = json!({"ssl_enable": true, "ssl_verify": missing.to_str().unwrap()});
    let e = Client::from_json(config(1, options).as_bytes())
        .err()
        .unwrap();
    assert!(
        e.starts_with("ssl_verify: cannot read") && e.contains("missing.pem"),
        "{e}"
    );
    let options = json!({"ssl_enable": true, "ssl_verify": r.pki.path("client.key")});
    let e = Client::from_json(config(1, options).as_bytes())
        .err()
        .unwrap();
    assert!(
        e.starts_with("ssl_verify:") && e.contains("no PEM certificate"),
        "{e}"
    );
}

/// A TLS front for `sink` that speaks TLS 1.2 only.
fn tls12_relay(r: &Receiver, sink: &TcpSink) -> TlsRelay {
    let acceptor = TlsAcceptor::builder(r.pki.identity("server"))
        .min_protocol_version(Some(Protocol::Tlsv12))
        .max_protocol_version(Some(Protocol::Tlsv12))
        .build()
        .unwrap();
    TlsRelay::start_with(acceptor, sink.port)
}

#[test]
fn ssl_min_version_refuses_an_older_server() {
    let r = Receiver::start();
    let ca = r.pki.path("ca.crt");
    let sink = TcpSink::start();
    let tls12 = tls12_relay(&r, &sink);
    refused(
        tls12.port,
        json!({"ca_certs": ca, "ssl_min_version": "1.3"}),
        "protocol version",
    );
    for (i, min) in [Value::Null, json!("1.2")].into_iter().enumerate() {
        let c = client(tls12.port, json!({"ca_certs": ca, "ssl_min_version": min}));
        let base = i as u64 * 100;
        emit_seq(&c, base..base + 100);
        assert_eq!(c.flush(LONG), Ok(()), "min {min}: {:?}", c.stats());
        assert_eq!(c.shutdown(LONG), Ok(()));
    }
    assert_exactly(&sink.wait_for(200, LONG), 0..200);
    // syslog-ng speaks TLS 1.3: a 1.3 minimum connects.
    delivers(
        &r,
        Source::Tls,
        json!({"ca_certs": ca, "ssl_min_version": "1.3"}),
        0,
    );
}
