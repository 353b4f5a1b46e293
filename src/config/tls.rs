//! TLS options of the stream transports (`ssl_enable`, verification, CA,
//! client certificate, server name), python-logstash-async's names.

use super::options::{option, ConfigOption};
use super::read::{boolean, both_or_neither, opt_string};
use super::{Config, TransportKind};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Options for TLS on stream transports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    pub enable: bool,
    pub verify: bool,
    pub ca_certs: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    pub server_name: Option<String>,
}

pub(super) const OPTIONS: &[ConfigOption] = &[
    option("ssl_enable", "false", |c, k, v| {
        c.tls.enable = boolean(k, v)?;
        Ok(())
    }),
    option("ssl_verify", "true", |c, k, v| {
        c.tls.verify = boolean(k, v)?;
        Ok(())
    }),
    option("ca_certs", "null", |c, k, v| {
        c.tls.ca_certs = opt_string(k, v)?.map(PathBuf::from);
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

/// Rule: a client certificate needs both its certificate and its key.
pub(super) fn check_client_certificate(
    c: &mut Config,
    _: &Map<String, Value>,
) -> Result<(), String> {
    both_or_neither(
        ("certfile", c.tls.certfile.is_some()),
        ("keyfile", c.tls.keyfile.is_some()),
        "a client certificate needs both",
    )
}
