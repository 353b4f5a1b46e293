//! syslog-ng as an independent receiver: a real TLS/TCP/UDP server the
//! project did not write. Each instance runs in the foreground as an ordinary
//! process with its own configuration, persist file, pid file and control
//! socket in a temp dir, on free loopback ports, and writes every line it
//! receives, unchanged ("${MESSAGE}\n"), to one file per source. The raw line
//! is the ground truth (syslog-ng's own JSON re-encoding turns numbers into
//! strings). [`Receiver`] bundles one with its PKI in a temp dir.

use super::pki::Pki;
use super::{free_port, wait_until};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long syslog-ng may take to listen (generous: the machine is shared).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The sources of one instance; each writes `<name>.raw` in the output dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Plain TCP, newline-delimited.
    Tcp,
    /// UDP, one event per datagram.
    Udp,
    /// TLS with a client certificate required: peer-verify(required-trusted).
    MutualTls,
    /// TLS, client certificate optional (verified if sent): optional-trusted.
    Tls,
    /// TLS with a server certificate from the rogue CA (untrusted by clients).
    UntrustedTls,
    /// TLS with a server certificate for logstash.example only.
    WrongNameTls,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Tcp,
        Source::Udp,
        Source::MutualTls,
        Source::Tls,
        Source::UntrustedTls,
        Source::WrongNameTls,
    ];

    fn name(self) -> &'static str {
        match self {
            Source::Tcp => "tcp",
            Source::Udp => "udp",
            Source::MutualTls => "mtls",
            Source::Tls => "tls",
            Source::UntrustedTls => "untrusted",
            Source::WrongNameTls => "wrongname",
        }
    }
}

pub struct SyslogNg {
    dir: PathBuf,
    ports: Vec<(Source, u16)>,
    child: Option<Child>,
}

/// The syslog-ng binary: /usr/sbin is not on every user's PATH.
fn binary() -> PathBuf {
    for candidate in ["/usr/sbin/syslog-ng", "/usr/bin/syslog-ng"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    "syslog-ng".into()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SyslogNg {
    /// Writes the configuration for `pki` under `dir` and starts syslog-ng.
    pub fn start(dir: &Path, pki: &Pki) -> SyslogNg {
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let ports: Vec<(Source, u16)> = Source::ALL
            .iter()
            .map(|&s| {
                let port = if s == Source::Udp {
                    free_udp_port()
                } else {
                    free_port()
                };
                (s, port)
            })
            .collect();
        let mut me = SyslogNg {
            dir: dir.to_path_buf(),
            ports,
            child: None,
        };
        std::fs::write(dir.join("syslog-ng.conf"), me.config(&pki.dir)).unwrap();
        me.spawn();
        me
    }

    pub fn port(&self, source: Source) -> u16 {
        self.ports.iter().find(|(s, _)| *s == source).unwrap().1
    }

    fn config(&self, pki: &Path) -> String {
        let out = self.dir.join("out");
        let mut c = String::from(
            "@version: 3.38\n\
             options { chain-hostnames(no); use-dns(no); use-fqdn(no); keep-hostname(yes);\n\
             stats-freq(0); log-msg-size(1048576); create-dirs(yes); flush-lines(0); };\n\
             template t_raw { template(\"${MESSAGE}\\n\"); };\n",
        );
        for &(source, port) in &self.ports {
            let name = source.name();
            // Flow control bounds what syslog-ng holds in memory between its
            // socket and the file: the window per connection is
            // log-iw-size / max-connections = 1000 lines.
            let stream =
                "flags(no-parse) max-connections(10) log-iw-size(10000) log-fetch-limit(100)";
            let tls = |cert: &str, verify: &str| {
                format!(
                    "transport(\"tls\") {stream} tls(key-file(\"{p}/{cert}.key\") \
                     cert-file(\"{p}/{cert}.crt\") ca-file(\"{p}/ca.crt\") peer-verify({verify}))",
                    p = pki.display()
                )
            };
            let transport = match source {
                Source::Tcp => format!("transport(\"tcp\") {stream}"),
                Source::Udp => "transport(\"udp\") flags(no-parse) so-rcvbuf(8388608)".to_owned(),
                Source::MutualTls => tls("server", "required-trusted"),
                Source::Tls => tls("server", "optional-trusted"),
                Source::UntrustedTls => tls("untrusted-server", "optional-trusted"),
                Source::WrongNameTls => tls("wrong-name-server", "optional-trusted"),
            };
            c.push_str(&format!(
                "source s_{name} {{ network(ip(\"127.0.0.1\") port({port}) {transport}); }};\n\
                 destination d_{name} {{ file(\"{out}/{name}.raw\" template(t_raw) log-fifo-size(20000)); }};\n\
                 log {{ source(s_{name}); destination(d_{name}); flags(flow-control); }};\n",
                out = out.display()
            ));
        }
        c
    }

    fn spawn(&mut self) {
        let d = &self.dir;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("syslog-ng.log"))
            .unwrap();
        let child = Command::new(binary())
            .arg("-F")
            .arg("--no-caps")
            .arg(format!("--cfgfile={}", d.join("syslog-ng.conf").display()))
            .arg(format!("--persist-file={}", d.join("persist").display()))
            .arg(format!("--pidfile={}", d.join("pid").display()))
            .arg(format!("--control={}", d.join("ctl").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("syslog-ng (scripts/setup.sh installs syslog-ng-core)");
        self.child = Some(child);
        self.wait_listening();
    }

    /// Polls every TCP port (bounded) until syslog-ng accepts connections.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for &(source, port) in &self.ports {
            if source == Source::Udp {
                continue;
            }
            loop {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("syslog-ng exited ({status}): {}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "syslog-ng did not listen on {port} within {START_TIMEOUT:?}: {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// syslog-ng's own output (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("syslog-ng.log")).unwrap_or_default()
    }

    /// Kills syslog-ng with SIGKILL, like a crash: what it had read but not
    /// written is lost, connections are reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports, appending to the same files.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The complete lines received so far on `source`.
    pub fn lines(&self, source: Source) -> Vec<String> {
        let path = self.dir.join("out").join(format!("{}.raw", source.name()));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // A line still being written has no newline yet: leave it out.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        complete.lines().map(str::to_owned).collect()
    }

    /// Waits (bounded) until at least `n` lines arrived on `source`.
    pub fn wait_for(&self, source: Source, n: usize, timeout: Duration) -> Vec<String> {
        wait_until(timeout, || self.lines(source).len() >= n);
        self.lines(source)
    }

    /// Waits until `source`'s file stops growing for `quiet` (bounded by `timeout`).
    pub fn wait_quiet(&self, source: Source, quiet: Duration, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut last = self.lines(source).len();
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.lines(source).len();
            if now != last {
                last = now;
                since = Instant::now();
            }
            if since.elapsed() >= quiet || Instant::now() >= deadline {
                return self.lines(source);
            }
        }
    }
}

impl Drop for SyslogNg {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A temp dir with a PKI and a running syslog-ng (killed on drop).
pub struct Receiver {
    pub pki: Pki,
    pub syslog_ng: SyslogNg,
    pub dir: tempfile::TempDir,
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::create(&dir.path().join("pki"));
        let syslog_ng = SyslogNg::start(&dir.path().join("syslog-ng"), &pki);
        Receiver {
            pki,
            syslog_ng,
            dir,
        }
    }

    /// A database file path in the temp dir.
    pub fn db(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}
