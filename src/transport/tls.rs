//! TLS for stream transports (native-tls: the system's OpenSSL on Linux).
//!
//! Everything that can be wrong with the certificate files is found here, at
//! create, on the caller's thread, with the file named in the error; the
//! handshake itself runs on the worker.

use crate::config::TlsOptions;
use native_tls::{Certificate, Identity, TlsConnector, TlsStream};
use std::net::TcpStream;
use std::path::Path;

pub struct TlsSettings {
    connector: TlsConnector,
    /// The name checked against the server certificate (and sent as SNI).
    server_name: String,
    /// True when `ssl_server_name` set it (then it applies to every host).
    explicit_name: bool,
}

fn read_file(option: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{option}: cannot read {}: {e}", path.display()))
}

impl TlsSettings {
    pub fn load(opts: &TlsOptions, host: &str) -> Result<TlsSettings, String> {
        let mut builder = TlsConnector::builder();
        if let Some(ca) = &opts.ca_certs {
            let pem = read_file("ca_certs", ca)?;
            let certs = pem_blocks(&pem, "CERTIFICATE");
            if certs.is_empty() {
                return Err(format!(
                    "ca_certs: {} contains no PEM certificate",
                    ca.display()
                ));
            }
            for block in certs {
                let cert = Certificate::from_pem(&block)
                    .map_err(|e| format!("ca_certs: {}: invalid certificate: {e}", ca.display()))?;
                builder.add_root_certificate(cert);
            }
            // An explicit CA file replaces the system roots, as in the original
            // (ssl.create_default_context(cafile=...) with a private CA).
            builder.disable_built_in_roots(true);
        }
        if let (Some(certfile), Some(keyfile)) = (&opts.certfile, &opts.keyfile) {
            let cert = read_file("certfile", certfile)?;
            let key = read_file("keyfile", keyfile)?;
            if pem_blocks(&cert, "CERTIFICATE").is_empty() {
                return Err(format!(
                    "certfile: {} contains no PEM certificate",
                    certfile.display()
                ));
            }
            let identity = Identity::from_pkcs8(&cert, &key).map_err(|e| {
                format!(
                    "keyfile: {} is not a usable PEM private key for {}: {e}",
                    keyfile.display(),
                    certfile.display()
                )
            })?;
            builder.identity(identity);
        }
        if !opts.verify {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        let connector = builder.build().map_err(|e| {
            if opts.certfile.is_some() {
                format!("keyfile: does not match certfile or cannot be used: {e}")
            } else {
                format!("ssl_enable: cannot set up TLS: {e}")
            }
        })?;
        if !opts.verify {
            crate::report::warn_once(
                "ssl_verify is false: the server certificate and host name are not checked",
            );
        }
        Ok(TlsSettings {
            connector,
            server_name: opts.server_name.clone().unwrap_or_else(|| host.to_owned()),
            explicit_name: opts.server_name.is_some(),
        })
    }

    /// The connector and the name to verify, for clients that drive the
    /// handshake themselves (the http transport).
    pub fn into_parts(self) -> (TlsConnector, String) {
        (self.connector, self.server_name)
    }

    pub fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        self.connector
            .connect(&self.server_name, stream)
            .map_err(|e| format!("TLS handshake: {e}"))
    }

    /// Handshake with one of several hosts: its own name is checked unless
    /// `ssl_server_name` names one for all.
    pub fn handshake_with(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = if self.explicit_name {
            self.server_name.as_str()
        } else {
            host
        };
        self.connector
            .connect(name, stream)
            .map_err(|e| format!("TLS handshake: {e}"))
    }
}

/// The PEM blocks of one label (`-----BEGIN <label>-----` ... `END`), whole.
fn pem_blocks(pem: &[u8], label: &str) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(&begin) {
        let Some(len) = rest[start..].find(&end) else {
            break;
        };
        let stop = start + len + end.len();
        out.push(rest.as_bytes()[start..stop].to_vec());
        rest = &rest[stop..];
    }
    out
}
