//! TLS against syslog-ng, an independent TLS server, with a throwaway PKI:
//! server verification, host names, client certificates, key formats, a
//! server crash, and every create-time error about the certificate files.

mod support;

use logstash_async::{Client, ResultCode};
use serde_json::json;
use std::time::{Duration, Instant};
use support::syslog_ng::{Receiver, Source};
use support::{
    assert_exactly, checked_seqs, client as plain_client, config, emit_seq, merged, unique,
    wait_drained, wait_for_error,
};

const LONG: Duration = Duration::from_secs(60);

fn client(r: &Receiver, source: Source, extra: serde_json::Value) -> Client {
    let options = merged(json!({"ssl_enable": true, "stderr_errors": false}), extra);
    if options.get("database_path").is_none() {
        return plain_client(r.syslog_ng.port(source), options);
    }
    // A shutdown that timed out leaves the previous handle's worker running
    // until its connection attempt ends (a loaded machine: seconds), and the
    // file stays in use until then.
    let text = config(r.syslog_ng.port(source), options);
    let deadline = Instant::now() + LONG;
    loop {
        match Client::from_json(text.as_bytes()) {
            Ok(c) => return c,
            Err(e) if e.contains("in use by another") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("create: {e}"),
        }
    }
}

#[test]
fn one_way_tls_with_ca_certs_delivers_10k_events_exactly_once() {
    let r = Receiver::start();
    let c = client(&r, Source::Tls, json!({"ca_certs": r.pki.path("ca.crt")}));
    emit_seq(&c, 0..10_000);
    assert_eq!(c.flush(LONG), Ok(()));
    assert_eq!(c.shutdown(LONG), Ok(()));
    r.syslog_ng.wait_for(Source::Tls, 10_000, LONG);
    let lines = r
        .syslog_ng
        .wait_quiet(Source::Tls, Duration::from_millis(300), LONG);
    assert_exactly(&lines, 0..10_000);
    let stats = c.stats();
    assert_eq!(
        (stats.sent, stats.send_errors, stats.connects.min(1)),
        (10_000, 0, 1)
    );
    assert_eq!(stats.dropped(), 0);
}

#[test]
fn mutual_tls_accepts_pkcs8_and_traditional_rsa_and_ec_keys() {
    let r = Receiver::start();
    let keys = [
        ("client.crt", "client.key", "-----BEGIN PRIVATE KEY-----"),
        (
            "client.crt",
            "client-rsa.key",
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        (
            "client-ec.crt",
            "client-ec.key",
            "-----BEGIN EC PRIVATE KEY-----",
        ),
        (
            "client-ec.crt",
            "client-ec-pkcs8.key",
            "-----BEGIN PRIVATE KEY-----",
        ),
    ];
    for (i, (cert, key, format)) in keys.iter().enumerate() {
        assert_eq!(
            &r.pki.first_line(key),
            format,
            "{key} has the format under test"
        );
        let c = client(
            &r,
            Source::MutualTls,
            json!({"ca_certs": r.pki.path("ca.crt"), "certfile": r.pki.path(cert),
                   "keyfile": r.pki.path(key)}),
        );
        let base = i as u64 * 1000;
        emit_seq(&c, base..base + 1000);
        assert_eq!(c.flush(LONG), Ok(()), "{key}: {:?}", c.stats());
        assert_eq!(c.shutdown(LONG), Ok(()));
        assert_eq!(c.stats().send_errors, 0, "{key}: {:?}", c.stats());
    }
    let lines = r.syslog_ng.wait_for(Source::MutualTls, 4000, LONG);
    assert_exactly(&lines, 0..4000);
}

/// The server rejects the client (no certificate, or one from another CA):
/// with TLS 1.3 the handshake looks fine to the client and the rejection
/// arrives as an alert after the first write. Nothing may be deleted; a later
/// handle with the right certificate on the same file delivers everything.
fn rejected_client_keeps_events(identity: Option<(&str, &str)>) {
    let r = Receiver::start();
    let db = r.db("buffer.db");
    let mut bad = json!({"ca_certs": r.pki.path("ca.crt"), "database_path": db});
    if let Some((cert, key)) = identity {
        bad["certfile"] = r.pki.path(cert).into();
        bad["keyfile"] = r.pki.path(key).into();
    }
    let c = client(&r, Source::MutualTls, bad);
    emit_seq(&c, 0..2000);
    let error = wait_for_error(&c);
    assert!(
        error.contains("alert") || error.contains("certificate"),
        "the TLS error is reported: {error}"
    );
    // Several attempts (with the backoff) must all fail without deleting rows.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.flush(Duration::from_secs(20)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    assert_eq!(
        c.shutdown(Duration::from_secs(2)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    let stats = c.stats();
    assert_eq!(stats.sent, 0, "nothing counted as sent: {stats:?}");
    assert_eq!(stats.buffered, 2000, "nothing deleted: {stats:?}");
    assert!(stats.send_errors >= 2, "retried: {stats:?}");
    drop(c);
    assert!(
        r.syslog_ng.lines(Source::MutualTls).is_empty(),
        "nothing arrived"
    );

    let good = client(
        &r,
        Source::MutualTls,
        json!({"ca_certs": r.pki.path("ca.crt"), "database_path": db,
               "certfile": r.pki.path("client.crt"), "keyfile": r.pki.path("client.key")}),
    );
    wait_drained(&good, 2000, LONG);
    assert_eq!(good.shutdown(LONG), Ok(()));
    let lines = r
        .syslog_ng
        .wait_quiet(Source::MutualTls, Duration::from_millis(300), LONG);
    assert_exactly(&lines, 0..2000);
    assert_eq!(good.stats().buffered, 0);
}

#[test]
fn mutual_tls_without_a_client_certificate_loses_nothing() {
    rejected_client_keeps_events(None);
}

#[test]
fn mutual_tls_with_a_certificate_from_another_ca_loses_nothing() {
    rejected_client_keeps_events(Some(("rogue-client.crt", "rogue-client.key")));
}

#[test]
fn rejected_client_shut_down_right_after_a_write_loses_nothing() {
    // The close path must read the alert too: a shutdown that takes the
    // receiver's closing (after its alert) for an EOF would delete the rows.
    let r = Receiver::start();
    let db = r.db("buffer.db");
    let cfg = json!({"ca_certs": r.pki.path("ca.crt"), "database_path": db,
                     "certfile": r.pki.path("rogue-client.crt"),
                     "keyfile": r.pki.path("rogue-client.key")});
    for (i, ms) in [0u64, 10, 30, 60, 120, 250].iter().enumerate() {
        let c = client(&r, Source::MutualTls, cfg.clone());
        let base = i as u64 * 100;
        emit_seq(&c, base..base + 100);
        let _ = c.flush(Duration::from_millis(*ms));
        assert_eq!(
            c.shutdown(Duration::from_millis(*ms)),
            Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT),
            "{:?}",
            c.stats()
        );
        assert_eq!(c.stats().sent, 0, "{:?}", c.stats());
    }
    assert!(r.syslog_ng.lines(Source::MutualTls).is_empty());
    let good = client(
        &r,
        Source::MutualTls,
        json!({"ca_certs": r.pki.path("ca.crt"), "database_path": db,
               "certfile": r.pki.path("client.crt"), "keyfile": r.pki.path("client.key")}),
    );
    wait_drained(&good, 600, LONG);
    assert_eq!(good.shutdown(LONG), Ok(()));
    let lines = r
        .syslog_ng
        .wait_quiet(Source::MutualTls, Duration::from_millis(300), LONG);
    assert_exactly(&lines, 0..600);
}

#[test]
fn rejected_client_shut_down_at_once_keeps_rows_an_earlier_handle_left() {
    // A handle that finds rows in its file sends them, and its shutdown does
    // not wait for them (flush and shutdown cover this handle's events): it
    // closes at once. The receiver's close after its alert must not be taken
    // for the EOF that confirms those writes.
    let r = Receiver::start();
    let db = r.db("buffer.db");
    let rogue = json!({"ca_certs": r.pki.path("ca.crt"), "database_path": db,
                       "certfile": r.pki.path("rogue-client.crt"),
                       "keyfile": r.pki.path("rogue-client.key")});
    let c = client(&r, Source::MutualTls, rogue.clone());
    emit_seq(&c, 0..500);
    assert_eq!(
        c.shutdown(Duration::from_millis(0)),
        Err(ResultCode::LOGSTASH_ASYNC_STORED_NOT_SENT)
    );
    drop(c);
    for round in 0..5 {
        let c = client(&r, Source::MutualTls, rogue.clone());
        // Let the worker open the file and write the old rows.
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.stats().buffered == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = c.shutdown(Duration::from_secs(2));
        let stats = c.stats();
        assert_eq!(
            (stats.sent, stats.buffered),
            (0, 500),
            "round {round}: {stats:?}"
        );
    }
    assert!(r.syslog_ng.lines(Source::MutualTls).is_empty());
}

/// A refused server: the error is reported, nothing is sent (in clear text or
/// otherwise), the events stay buffered.
fn assert_refused(r: &Receiver, source: Source, extra: serde_json::Value, why: &str) {
    let c = client(r, source, extra);
    emit_seq(&c, 0..100);
    let error = wait_for_error(&c);
    assert!(
        error.contains(why),
        "error names the cause ({why}): {error}"
    );
    assert_eq!(
        c.flush(Duration::from_millis(500)),
        Err(ResultCode::LOGSTASH_ASYNC_TIMEOUT)
    );
    let stats = c.stats();
    assert_eq!((stats.sent, stats.buffered), (0, 100), "{stats:?}");
    let _ = c.shutdown(Duration::from_millis(200));
    assert!(r.syslog_ng.lines(source).is_empty(), "nothing arrived");
}

#[test]
fn server_certificate_from_an_untrusted_ca_is_refused_unless_ssl_verify_is_false() {
    let r = Receiver::start();
    assert_refused(
        &r,
        Source::UntrustedTls,
        json!({"ca_certs": r.pki.path("ca.crt")}),
        "certificate verify failed",
    );
    // Without ca_certs the system roots are used: our throwaway CA is not one.
    assert_refused(
        &r,
        Source::UntrustedTls,
        json!({}),
        "certificate verify failed",
    );

    let c = client(&r, Source::UntrustedTls, json!({"ssl_verify": false}));
    emit_seq(&c, 0..1000);
    assert_eq!(c.flush(LONG), Ok(()));
    assert_eq!(c.shutdown(LONG), Ok(()));
    let lines = r.syslog_ng.wait_for(Source::UntrustedTls, 1000, LONG);
    assert_exactly(&lines, 0..1000);
}

#[test]
fn wrong_host_name_is_refused_and_ssl_server_name_fixes_it() {
    let r = Receiver::start();
    let ca = r.pki.path("ca.crt");
    // The certificate is for logstash.example; we connect to 127.0.0.1.
    assert_refused(
        &r,
        Source::WrongNameTls,
        json!({"ca_certs": ca}),
        "certificate verify failed",
    );
    // And by the name localhost: also not the certificate's name.
    assert_refused(
        &r,
        Source::WrongNameTls,
        json!({"ca_certs": ca, "host": "localhost"}),
        "certificate verify failed",
    );
    // The right server certificate, but a wrong name asked for explicitly.
    assert_refused(
        &r,
        Source::Tls,
        json!({"ca_certs": ca, "ssl_server_name": "logstash.example"}),
        "certificate verify failed",
    );

    let c = client(
        &r,
        Source::WrongNameTls,
        json!({"ca_certs": ca, "ssl_server_name": "logstash.example"}),
    );
    emit_seq(&c, 0..1000);
    assert_eq!(c.flush(LONG), Ok(()));
    assert_eq!(c.shutdown(LONG), Ok(()));
    let lines = r.syslog_ng.wait_for(Source::WrongNameTls, 1000, LONG);
    assert_exactly(&lines, 0..1000);

    // localhost is one of the good server certificate's names.
    let c = client(
        &r,
        Source::Tls,
        json!({"ca_certs": ca, "host": "localhost"}),
    );
    emit_seq(&c, 0..10);
    assert_eq!(c.flush(LONG), Ok(()));
    assert_eq!(c.shutdown(LONG), Ok(()));
    assert_eq!(r.syslog_ng.wait_for(Source::Tls, 10, LONG).len(), 10);
}

#[test]
fn syslog_ng_killed_and_restarted_mid_stream_over_mutual_tls_loses_nothing() {
    let mut r = Receiver::start();
    let c = client(
        &r,
        Source::MutualTls,
        json!({"ca_certs": r.pki.path("ca.crt"), "certfile": r.pki.path("client.crt"),
               "keyfile": r.pki.path("client.key")}),
    );
    emit_seq(&c, 0..10_000);
    r.syslog_ng.wait_for(Source::MutualTls, 2_000, LONG);
    r.syslog_ng.kill();
    emit_seq(&c, 10_000..20_000);
    std::thread::sleep(Duration::from_millis(500));
    r.syslog_ng.restart();
    assert_eq!(c.flush(LONG), Ok(()), "{:?}", c.stats());
    assert_eq!(c.shutdown(LONG), Ok(()));
    let lines = r
        .syslog_ng
        .wait_quiet(Source::MutualTls, Duration::from_millis(500), LONG);
    let all = checked_seqs(&lines);
    let got = unique(&all);
    let missing: Vec<u64> = (0..20_000).filter(|s| !got.contains(s)).collect();
    assert!(
        missing.is_empty() && got.len() == 20_000,
        "every event arrived: {} missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let stats = c.stats();
    let duplicates = (all.len() - got.len()) as u64;
    assert!(
        duplicates <= stats.resent,
        "duplicates ({duplicates}) are bounded by what was counted as resent ({stats:?})"
    );
    assert!(stats.send_errors > 0 && stats.connects >= 2, "{stats:?}");
}

/// Create fails, and the message names the option and the file.
fn create_error(extra: serde_json::Value) -> String {
    let mut options = json!({"ssl_enable": true, "stderr_errors": false});
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    match Client::from_json(config(1, options).as_bytes()) {
        Ok(_) => panic!("create succeeded with {extra}"),
        Err(e) => e,
    }
}

#[test]
fn bad_certificate_files_fail_create_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // No syslog-ng needed: create never touches the network.
    let pki = support::pki::Pki::create(dir.path());
    let p = |f: &str| pki.dir.join(f).to_str().unwrap().to_owned();
    let missing = p("missing.pem");
    let ca = p("ca.crt");
    let (cert, key) = (p("client.crt"), p("client.key"));

    let e = create_error(json!({"ca_certs": missing}));
    assert!(e.starts_with("ca_certs:") && e.contains(&missing), "{e}");
    let e = create_error(json!({"ca_certs": key}));
    assert!(
        e.starts_with("ca_certs:") && e.contains(&key) && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = create_error(json!({"ca_certs": ca, "certfile": missing, "keyfile": key}));
    assert!(e.starts_with("certfile:") && e.contains(&missing), "{e}");
    let e = create_error(json!({"ca_certs": ca, "certfile": cert, "keyfile": missing}));
    assert!(e.starts_with("keyfile:") && e.contains(&missing), "{e}");
    let e = create_error(json!({"certfile": key, "keyfile": key}));
    assert!(e.starts_with("certfile:") && e.contains(&key), "{e}");
    let e = create_error(json!({"certfile": cert, "keyfile": cert}));
    assert!(e.starts_with("keyfile:") && e.contains(&cert), "{e}");
    let rogue_key = p("rogue-client.key");
    let e = create_error(json!({"certfile": cert, "keyfile": rogue_key}));
    assert!(
        e.starts_with("keyfile:") && e.contains(&rogue_key) && e.contains("does not match"),
        "{e}"
    );
    let e = create_error(json!({"certfile": cert}));
    assert!(e.starts_with("keyfile: required"), "{e}");
    let e = create_error(json!({"keyfile": key}));
    assert!(e.starts_with("certfile: required"), "{e}");
    // An encrypted key is refused at create, never prompted for.
    let encrypted = p("client-encrypted.key");
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-in",
            &key,
            "-out",
            &encrypted,
            "-passout",
            "pass:secret",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let e = create_error(json!({"certfile": cert, "keyfile": encrypted}));
    assert!(e.starts_with("keyfile:") && e.contains("encrypted"), "{e}");
}
