//! A real Kafka broker for the tests (scripts/services/kafka.sh: KRaft, one
//! node on loopback, with a SASL/PLAIN listener), topics created through
//! librdkafka's admin API, and events read back with kcat (Debian's), an
//! independent consumer program.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

pub struct Broker {
    dir: PathBuf,
    /// Plaintext listener, "127.0.0.1:port".
    pub bootstrap: String,
    /// SASL/PLAIN listener and its credentials.
    pub sasl_bootstrap: String,
    pub sasl_user: String,
    pub sasl_password: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services/kafka.sh")
}

/// Runs kafka.sh; panics with its output (the reason) when it fails.
fn run_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("KAFKA_PARENT_PID", std::process::id().to_string())
        .output()
        .expect("run scripts/services/kafka.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kafka.sh {args:?} failed:\n{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

static BROKER: OnceLock<Broker> = OnceLock::new();
/// Tests share the broker and some stop it: they take turns.
static TURN: Mutex<()> = Mutex::new(());

extern "C" fn kill_broker_at_exit() {
    if let Some(b) = BROKER.get() {
        let _ = Command::new("bash")
            .arg(script())
            .args(["kill", b.dir.to_str().unwrap()])
            .status();
        let _ = std::fs::remove_dir_all(&b.dir);
    }
}

impl Broker {
    /// The broker of this test binary (started on first use), and this test's turn.
    pub fn shared() -> (&'static Broker, MutexGuard<'static, ()>) {
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let broker = BROKER.get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("kafka-broker-")
                .tempdir()
                .unwrap()
                .keep();
            let b = Broker::start_in(dir);
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(kill_broker_at_exit) };
            b
        });
        broker.ensure_running();
        (broker, turn)
    }

    fn start_in(dir: PathBuf) -> Broker {
        let env = run_script(&["start", dir.to_str().unwrap(), "--sasl"]);
        let get = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} missing from kafka.sh's output: {env}"))
                .to_owned()
        };
        Broker {
            bootstrap: get("KAFKA_BOOTSTRAP"),
            sasl_bootstrap: get("KAFKA_SASL_BOOTSTRAP"),
            sasl_user: get("KAFKA_SASL_USER"),
            sasl_password: get("KAFKA_SASL_PASSWORD"),
            dir,
        }
    }

    fn running(&self) -> bool {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            // SAFETY: signal 0 only checks that the process exists.
            .is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
    }

    /// Starts the broker again if an earlier test left it stopped.
    pub fn ensure_running(&self) {
        if !self.running() {
            self.start();
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&self) {
        run_script(&["kill", self.dir.to_str().unwrap()]);
    }

    /// Starts it again on the same ports with the same data.
    pub fn start(&self) {
        run_script(&["start", self.dir.to_str().unwrap(), "--sasl"]);
    }

    /// Creates a topic (with topic configs such as max.message.bytes).
    pub fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client");
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = block_on(admin.create_topics([&topic], &opts)).expect("create topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
        }
    }

    /// Every message of `topic` (all partitions) as (partition, offset,
    /// payload), read with kcat until `n` arrived or `timeout` passed.
    pub fn consume(&self, topic: &str, n: usize, timeout: Duration) -> Vec<(i32, i64, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.read_all(topic);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn read_all(&self, topic: &str) -> Vec<(i32, i64, String)> {
        let out = Command::new("kcat")
            .args([
                "-C",
                "-b",
                &self.bootstrap,
                "-t",
                topic,
                "-o",
                "beginning",
                "-e",
                "-q",
            ])
            .args(["-f", "%p\t%o\t%s\n"])
            .output()
            .expect("run kcat (installed by scripts/setup.sh)");
        assert!(
            out.status.success(),
            "kcat: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                let p = f.next().unwrap().parse().unwrap();
                let o = f.next().unwrap().parse().unwrap();
                (p, o, f.next().unwrap_or("").to_owned())
            })
            .collect()
    }
}

/// Enough of an executor for the admin API's futures.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(Instant::now() < deadline, "admin request took over 60 s");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// A topic name unique to this run.
pub fn topic(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}
