//! A real Redis for the tests: Debian's redis-server on a free loopback port
//! (killed on drop), read back with redis-cli, optionally serving TLS with
//! the test PKI's server certificate.

use super::free_port;
use super::pki::Pki;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
    /// For redis-cli: the password, and TLS files (CA).
    password: Option<String>,
    tls_ca: Option<PathBuf>,
}

impl RedisServer {
    /// A server on a free port with extra redis-server arguments
    /// (`["--requirepass", "x"]`), no persistence unless asked.
    pub fn start(args: &[&str]) -> RedisServer {
        let mut s = RedisServer::configure(free_port(), args);
        s.start_again();
        s
    }

    /// A server whose port is chosen but which is not started yet.
    pub fn configure(port: u16, args: &[&str]) -> RedisServer {
        let password = args
            .iter()
            .position(|a| *a == "--requirepass")
            .map(|i| args[i + 1].to_owned());
        RedisServer {
            port,
            dir: tempfile::tempdir().unwrap(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            password,
            tls_ca: None,
        }
    }

    /// Serves TLS only (on `port`), with the test PKI's server certificate
    /// (127.0.0.1), made now.
    pub fn with_tls(mut self) -> RedisServer {
        let pki = Pki::create(&self.dir.path().join("pki"));
        let (cert, key, ca) = (
            pki.path("server.crt"),
            pki.path("server.key"),
            pki.path("ca.crt"),
        );
        for a in [
            "--port",
            "0",
            "--tls-port",
            &self.port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ] {
            self.args.push(a.to_owned());
        }
        self.tls_ca = Some(ca.into());
        self
    }

    /// The CA file that verifies the server (with TLS).
    pub fn ca(&self) -> &Path {
        self.tls_ca.as_deref().expect("a TLS server")
    }

    /// Starts (or restarts) the server with its data directory; waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let dir = self.dir.path();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .expect("run redis-server (installed by scripts/setup.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.cli(&["PING"]).is_ok_and(|o| o.trim() == "PONG") {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                panic!("redis-server exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs redis-cli against the server; its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"]);
        if let Some(p) = &self.password {
            cmd.args(["-a", p, "--no-auth-warning"]);
        }
        if let Some(ca) = &self.tls_ca {
            cmd.arg("--tls").arg("--cacert").arg(ca);
        }
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every element of the list `key` in database `db`, head first.
    pub fn list(&self, db: u32, key: &str) -> Vec<String> {
        let out = self
            .cli(&["-n", &db.to_string(), "LRANGE", key, "0", "-1"])
            .expect("LRANGE");
        // (An empty list prints one empty line; events are never empty.)
        out.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
