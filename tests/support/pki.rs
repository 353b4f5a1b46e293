//! A throwaway PKI made with the `openssl` command line in a temp dir: a CA,
//! server and client certificates, and the bad ones the negative tests need;
//! and a TLS acceptor with the server certificate for the test receivers.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Pki {
    pub dir: PathBuf,
}

const SERVER_EXT: &str = "basicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature,keyEncipherment\n\
extendedKeyUsage=serverAuth\n\
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n";
const WRONG_NAME_EXT: &str = "basicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature,keyEncipherment\n\
extendedKeyUsage=serverAuth\n\
subjectAltName=DNS:logstash.example\n";
const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature,keyEncipherment\n\
extendedKeyUsage=clientAuth\n";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Creates every file in `dir`:
    /// - `ca` (trusted) and `rogue-ca` (untrusted) authorities;
    /// - `server` (localhost, 127.0.0.1, ::1, by ca), `untrusted-server` (same
    ///   names, by rogue-ca), `wrong-name-server` (logstash.example, by ca);
    /// - `client` (by ca, PKCS#8 key), `client-rsa.key` (the same key in the
    ///   traditional RSA format), `client-ec` (by ca, traditional EC key),
    ///   `client-ec-pkcs8.key`, and `rogue-client` (by rogue-ca).
    pub fn create(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("server.ext"), SERVER_EXT).unwrap();
        std::fs::write(dir.join("wrong-name.ext"), WRONG_NAME_EXT).unwrap();
        std::fs::write(dir.join("client.ext"), CLIENT_EXT).unwrap();
        for (name, cn) in [("ca", "Test CA"), ("rogue-ca", "Rogue CA")] {
            openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        let sign = |name: &str, cn: &str, ext: &str, ca: &str, newkey: bool| {
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let subj = format!("/CN={cn}");
            if newkey {
                openssl(
                    dir,
                    &[
                        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr,
                        "-subj", &subj,
                    ],
                );
            } else {
                openssl(
                    dir,
                    &["req", "-new", "-key", &key, "-out", &csr, "-subj", &subj],
                );
            }
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    "30",
                    "-extfile",
                    ext,
                ],
            );
        };
        sign("server", "localhost", "server.ext", "ca", true);
        sign(
            "untrusted-server",
            "localhost",
            "server.ext",
            "rogue-ca",
            true,
        );
        sign(
            "wrong-name-server",
            "logstash.example",
            "wrong-name.ext",
            "ca",
            true,
        );
        sign("client", "test-client", "client.ext", "ca", true);
        sign("rogue-client", "rogue", "client.ext", "rogue-ca", true);
        openssl(
            dir,
            &[
                "rsa",
                "-in",
                "client.key",
                "-traditional",
                "-out",
                "client-rsa.key",
            ],
        );
        openssl(
            dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                "client-ec.key",
            ],
        );
        sign("client-ec", "test-client-ec", "client.ext", "ca", false);
        openssl(
            dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "client-ec.key",
                "-out",
                "client-ec-pkcs8.key",
            ],
        );
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    /// The path of a file of the PKI, as a string for a JSON configuration.
    pub fn path(&self, file: &str) -> String {
        let path = self.dir.join(file);
        assert!(path.exists(), "{} was not created", path.display());
        path.to_str().unwrap().to_owned()
    }

    /// A PEM file's first line (to check which key format a test uses).
    pub fn first_line(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// A TLS acceptor presenting `server.crt` (localhost, 127.0.0.1, ::1).
    pub fn acceptor(&self) -> native_tls::TlsAcceptor {
        native_tls::TlsAcceptor::new(self.identity("server")).expect("TLS acceptor")
    }

    /// The certificate `<name>.crt` with its key `<name>.key`.
    pub fn identity(&self, name: &str) -> native_tls::Identity {
        let cert = std::fs::read(self.path(&format!("{name}.crt"))).unwrap();
        let key = std::fs::read(self.path(&format!("{name}.key"))).unwrap();
        native_tls::Identity::from_pkcs8(&cert, &key).expect("identity")
    }
}
