//! The TLS server side. OpenSSL directly (the library's native-tls is built on
//! it on Linux, so this adds no code) because native-tls's acceptor cannot
//! require client certificates, which `--ca` does.

use crate::failure::Failure;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslStream, SslVerifyMode};
use std::net::TcpStream;
use std::path::Path;

pub struct Acceptor(SslAcceptor);

pub fn acceptor(cert: &Path, key: &Path, ca: Option<&Path>) -> Result<Acceptor, Failure> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())
        .map_err(|e| Failure::Runtime(format!("cannot set up TLS: {e}")))?;
    builder
        .set_certificate_chain_file(cert)
        .map_err(|e| Failure::Runtime(format!("--cert {}: {e}", cert.display())))?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| Failure::Runtime(format!("--key {}: {e}", key.display())))?;
    builder.check_private_key().map_err(|e| {
        Failure::Runtime(format!(
            "--key {} does not match --cert {}: {e}",
            key.display(),
            cert.display()
        ))
    })?;
    if let Some(ca) = ca {
        builder
            .set_ca_file(ca)
            .map_err(|e| Failure::Runtime(format!("--ca {}: {e}", ca.display())))?;
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(Acceptor(builder.build()))
}

impl Acceptor {
    pub fn accept(&self, stream: TcpStream) -> Result<SslStream<TcpStream>, String> {
        self.0.accept(stream).map_err(|e| e.to_string())
    }
}
