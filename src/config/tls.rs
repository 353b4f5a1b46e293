//! TLS options of the stream transports and http: `ssl_enable`, how the
//! server is verified (`ssl_verify`: true, false, "certificate" or a CA
//! file as in python-logstash-async), the CA, the client certificate and
//! its key's passphrase, the lowest protocol version and the server name.

use super::http::Secret;
use super::options::{option, ConfigOption};
use super::read::{boolean, both_or_neither, kind, opt_string};
use super::{Config, TransportKind};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// How the server's certificate is checked (`ssl_verify`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verify {
    /// The chain to a trusted CA and the host name (`true`, the default).
    #[default]
    Full,
    /// The chain only, any name (`"certificate"`: python-logstash-async's
    /// behaviour, Filebeat's `verification_mode: certificate`).
    ChainOnly,
    /// Nothing (`false`): encrypted, not authenticated.
    Off,
}

/// The lowest TLS version accepted (`ssl_min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// Options for TLS on stream transports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    pub enable: bool,
    pub verify: Verify,
    pub ca_certs: Option<PathBuf>,
    /// The option that named `ca_certs` (`ca_certs`, or `ssl_verify` given
    /// a path), for messages.
    pub ca_option: &'static str,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    /// The passphrase of an encrypted `keyfile`.
    pub key_password: Option<Secret>,
    /// None: the system OpenSSL's own minimum.
    pub min_version: Option<TlsVersion>,
    pub server_name: Option<String>,
    /// A CA file given as `ssl_verify` (moved to `ca_certs` by a rule).
    verify_ca: Option<PathBuf>,
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("ssl_enable", "false", |c, k, v| {
        c.tls.enable = boolean(k, v)?;
        Ok(())
    }),
    option("ssl_verify", "true", |c, _, v| {
        (c.tls.verify, c.tls.verify_ca) = match v {
            Value::Bool(true) => (Verify::Full, None),
            Value::Bool(false) => (Verify::Off, None),
            Value::String(s) if s == "certificate" => (Verify::ChainOnly, None),
            Value::String(s) if s.is_empty() => {
                return Err("ssl_verify: expected true, false, \"certificate\" or a CA file path, got an empty string".into())
            }
            // python-logstash-async (requests' `verify`): a CA bundle to verify with.
            Value::String(path) => (Verify::Full, Some(PathBuf::from(path))),
            other => {
                return Err(format!(
                    "ssl_verify: expected true, false, \"certificate\" or a CA file path, got {}",
                    kind(other)
                ))
            }
        };
        Ok(())
    }),
    option("ca_certs", "null", |c, k, v| {
        c.tls.ca_certs = opt_string(k, v)?.map(PathBuf::from);
        c.tls.ca_option = "ca_certs";
        Ok(())
    }),
    option("certfile", "null", |c, k, v| {
        c.tls.certfile = opt_string(k, v)?.map(PathBuf::from);
        Ok(())
    }),
    option("keyfile", "null", |c, k, v| {
        c.tls.keyfile = opt_string(k, v)?.map(PathBuf::from);
        Ok(())
    }),
    // The value is never echoed back in an error message.
    option("ssl_key_password", "null", |c, k, v| {
        c.tls.key_password = opt_string(k, v)?.map(Secret);
        Ok(())
    }),
    option("ssl_min_version", "null", |c, k, v| {
        c.tls.min_version = match opt_string(k, v)?.as_deref() {
            None => None,
            Some("1.2") => Some(TlsVersion::Tls12),
            Some("1.3") => Some(TlsVersion::Tls13),
            Some(other) => {
                return Err(format!(
                    "ssl_min_version: unknown version \"{other}\" (expected \"1.2\" or \"1.3\")"
                ))
            }
        };
        Ok(())
    }),
    option("ssl_server_name", "null", |c, k, v| {
        c.tls.server_name = opt_string(k, v)?;
        Ok(())
    }),
];

/// Rule: no TLS over udp.
pub(super) fn check_transport(c: &mut Config, _: &Map<String, Value>) -> Result<(), String> {
    if c.tls.enable && c.transport == TransportKind::Udp {
        return Err("ssl_enable: TLS is not available with the udp transport".into());
    }
    Ok(())
}

/// Rule: a client certificate needs both its certificate and its key; a
/// passphrase needs a key.
pub(super) fn check_client_certificate(
    c: &mut Config,
    _: &Map<String, Value>,
) -> Result<(), String> {
    both_or_neither(
        ("certfile", c.tls.certfile.is_some()),
        ("keyfile", c.tls.keyfile.is_some()),
        "a client certificate needs both",
    )?;
    if c.tls.key_password.is_some() && c.tls.keyfile.is_none() {
        return Err("ssl_key_password: only used with keyfile (the passphrase of its key)".into());
    }
    Ok(())
}

/// Rule: a CA file given as `ssl_verify` is the CA (`ca_certs`); both may
/// name only the same file.
pub(super) fn resolve_verify_ca(c: &mut Config, _: &Map<String, Value>) -> Result<(), String> {
    if c.tls.ca_option.is_empty() {
        c.tls.ca_option = "ca_certs";
    }
    let Some(path) = c.tls.verify_ca.take() else {
        return Ok(());
    };
    match &c.tls.ca_certs {
        Some(ca) if *ca != path => Err(format!(
            "ssl_verify: names the CA file {} while ca_certs names {}: give one",
            path.display(),
            ca.display()
        )),
        _ => {
            c.tls.ca_certs = Some(path);
            c.tls.ca_option = "ssl_verify";
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(json: &str) -> TlsOptions {
        Config::from_json(json.as_bytes()).unwrap().tls
    }

    fn err(json: &str) -> String {
        Config::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn ssl_verify_takes_a_mode_or_a_ca_file_like_python() {
        assert_eq!(tls(r#"{"host":"h"}"#).verify, Verify::Full);
        assert_eq!(
            tls(r#"{"host":"h","ssl_verify":false}"#).verify,
            Verify::Off
        );
        assert_eq!(
            tls(r#"{"host":"h","ssl_verify":"certificate"}"#).verify,
            Verify::ChainOnly
        );
        let t = tls(r#"{"host":"h","ssl_verify":"/etc/ca.pem"}"#);
        assert_eq!(
            (t.verify, t.ca_certs.as_deref(), t.ca_option),
            (
                Verify::Full,
                Some(std::path::Path::new("/etc/ca.pem")),
                "ssl_verify"
            )
        );
        let t = tls(r#"{"host":"h","ssl_verify":"/etc/ca.pem","ca_certs":"/etc/ca.pem"}"#);
        assert_eq!(
            t.ca_certs.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(tls(r#"{"host":"h","ca_certs":"/c"}"#).ca_option, "ca_certs");
        assert!(err(r#"{"host":"h","ssl_verify":"/a","ca_certs":"/b"}"#)
            .starts_with("ssl_verify: names"));
        assert!(err(r#"{"host":"h","ssl_verify":""}"#).starts_with("ssl_verify: expected"));
        assert!(err(r#"{"host":"h","ssl_verify":1}"#).starts_with("ssl_verify: expected"));
    }

    #[test]
    fn min_version_and_key_password_are_checked() {
        assert_eq!(tls(r#"{"host":"h"}"#).min_version, None);
        assert_eq!(
            tls(r#"{"host":"h","ssl_min_version":"1.3"}"#).min_version,
            Some(TlsVersion::Tls13)
        );
        assert!(err(r#"{"host":"h","ssl_min_version":"1.1"}"#)
            .starts_with("ssl_min_version: unknown version \"1.1\""));
        assert!(err(r#"{"host":"h","ssl_min_version":1.2}"#)
            .starts_with("ssl_min_version: expected a string"));
        let e = err(r#"{"host":"h","ssl_key_password":"hunter2"}"#);
        assert!(
            e.starts_with("ssl_key_password: only used with keyfile") && !e.contains("hunter2"),
            "{e}"
        );
        let t = tls(r#"{"host":"h","certfile":"/c","keyfile":"/k","ssl_key_password":"hunter2"}"#);
        assert!(!format!("{t:?}").contains("hunter2"), "redacted in Debug");
    }
}
