//! TLS for stream transports (native-tls: the system's OpenSSL on Linux).
//!
//! Everything that can be wrong with the certificate files is found here, at
//! create, on the caller's thread, with the file named in the error; the
//! handshake itself runs on the worker.

use crate::config::{TlsOptions, TlsVersion, Verify};
use native_tls::{Certificate, HandshakeError, Identity, Protocol, TlsConnector, TlsStream};
use openssl::pkey::PKey;
use openssl::x509::X509;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

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
            let option = opts.ca_option;
            let pem = read_file(option, ca)?;
            let certs = pem_blocks(&pem, "CERTIFICATE");
            if certs.is_empty() {
                return Err(format!(
                    "{option}: {} contains no PEM certificate",
                    ca.display()
                ));
            }
            for block in certs {
                let cert = Certificate::from_pem(&block)
                    .map_err(|e| format!("{option}: {}: invalid certificate: {e}", ca.display()))?;
                builder.add_root_certificate(cert);
            }
            // An explicit CA file replaces the system roots, as in the original
            // (ssl.create_default_context(cafile=...) with a private CA).
            builder.disable_built_in_roots(true);
        }
        if let (Some(certfile), Some(keyfile)) = (&opts.certfile, &opts.keyfile) {
            let password = opts.key_password.as_ref().map(|p| p.0.as_str());
            builder.identity(load_identity(certfile, keyfile, password)?);
        }
        match opts.verify {
            Verify::Full => {}
            // The chain is still checked: only the name is not.
            Verify::ChainOnly => {
                builder.danger_accept_invalid_hostnames(true);
            }
            Verify::Off => {
                builder.danger_accept_invalid_certs(true);
                builder.danger_accept_invalid_hostnames(true);
            }
        }
        // Unset: native-tls's own minimum, as before the option existed.
        if let Some(version) = opts.min_version {
            builder.min_protocol_version(Some(match version {
                TlsVersion::Tls12 => Protocol::Tlsv12,
                TlsVersion::Tls13 => Protocol::Tlsv13,
            }));
        }
        let connector = builder.build().map_err(|e| match &opts.keyfile {
            Some(keyfile) => format!("keyfile: {} cannot be used: {e}", keyfile.display()),
            None => format!("ssl_enable: cannot set up TLS: {e}"),
        })?;
        if opts.verify == Verify::Off {
            crate::report::warn_once(
                "ssl_verify is false: the server certificate and host name are not checked",
            );
        }
        if opts.verify == Verify::ChainOnly && opts.ca_certs.is_none() {
            // report::warn_once has one Once for every message: this one needs its own.
            static CHAIN_ONLY: std::sync::Once = std::sync::Once::new();
            CHAIN_ONLY.call_once(|| {
                eprintln!(
                    "logstash-async: warning: ssl_verify is \"certificate\" with the system roots: \
                     a certificate of any public site is accepted (give ca_certs)"
                )
            });
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

    /// The handshake with `host` (one of several hosts: its own name is checked
    /// unless `ssl_server_name` names one for all), bounded by the stream's
    /// read/write timeouts.
    pub fn handshake(
        &self,
        host: &str,
        stream: TcpStream,
        timeout: Duration,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = if self.explicit_name {
            self.server_name.as_str()
        } else {
            host
        };
        self.connector.connect(name, stream).map_err(|e| match e {
            // A blocking socket whose timeout expired looks like WouldBlock.
            HandshakeError::WouldBlock(_) => format!(
                "TLS handshake with {name}: no answer within {:.1}s",
                timeout.as_secs_f64()
            ),
            HandshakeError::Failure(e) => format!("TLS handshake with {name}: {e}"),
        })
    }
}

/// The client certificate and its key. native-tls takes unencrypted PKCS#8
/// keys only; traditional RSA and EC keys ("BEGIN RSA/EC PRIVATE KEY", what
/// many tools still write) and encrypted keys (with `ssl_key_password`) are
/// read with OpenSSL and handed over as PKCS#8, in memory only. Each problem
/// is reported with the option and file it is about.
fn load_identity(
    certfile: &Path,
    keyfile: &Path,
    password: Option<&str>,
) -> Result<Identity, String> {
    let cert_pem = read_file("certfile", certfile)?;
    let key_pem = read_file("keyfile", keyfile)?;
    if pem_blocks(&cert_pem, "CERTIFICATE").is_empty() {
        return Err(format!(
            "certfile: {} contains no PEM certificate",
            certfile.display()
        ));
    }
    let cert = X509::from_pem(&cert_pem)
        .map_err(|e| format!("certfile: {}: invalid certificate: {e}", certfile.display()))?;
    // "BEGIN ENCRYPTED PRIVATE KEY" (PKCS#8) or "Proc-Type: 4,ENCRYPTED" (traditional).
    let encrypted = String::from_utf8_lossy(&key_pem).contains("ENCRYPTED");
    let key = match (encrypted, password) {
        (true, None) => {
            return Err(format!(
                "keyfile: {} is encrypted; give its passphrase in ssl_key_password",
                keyfile.display()
            ))
        }
        (true, Some(password)) => {
            PKey::private_key_from_pem_passphrase(&key_pem, password.as_bytes()).map_err(|e| {
                format!(
                    "ssl_key_password: cannot decrypt keyfile {} (wrong passphrase?): {e}",
                    keyfile.display()
                )
            })?
        }
        // The callback refuses any passphrase request: OpenSSL must never
        // prompt on the terminal of the host program.
        (false, _) => PKey::private_key_from_pem_callback(&key_pem, |_| Ok(0)).map_err(|e| {
            format!(
                "keyfile: {} is not a PEM private key (PKCS#8, RSA or EC): {e}",
                keyfile.display()
            )
        })?,
    };
    let matches = cert.public_key().map(|public| public.public_eq(&key));
    if !matches.unwrap_or(false) {
        return Err(format!(
            "keyfile: {} does not match the certificate in {}",
            keyfile.display(),
            certfile.display()
        ));
    }
    let pkcs8 = key
        .private_key_to_pem_pkcs8()
        .map_err(|e| format!("keyfile: {}: cannot convert: {e}", keyfile.display()))?;
    Identity::from_pkcs8(&cert_pem, &pkcs8)
        .map_err(|e| format!("certfile: {}: cannot be used: {e}", certfile.display()))
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
