//! Real Python peers from PyPI: python-logstash-async (to make the database
//! files its handler leaves) and prometheus_client (an independent parser
//! of the Prometheus text format), in a virtual environment made once under
//! target/ and reused (a second run costs a file check).

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pinned versions: python-logstash-async 4.x is the reference.
const PACKAGES: [&str; 2] = ["python-logstash-async==4.1.0", "prometheus-client==0.26.0"];

/// The venv's python, with PACKAGES installed (made on first use; test
/// binaries running at once wait for each other on a lock file).
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-python");
    let python = root.join("bin/python");
    let ready = root.join(format!("ready-{}", PACKAGES.join("-")));
    if ready.exists() {
        return python;
    }
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let lock = File::create(root.with_extension("lock")).unwrap();
    // SAFETY: flock on a descriptor `lock` owns; released when it closes.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&root);
        run(Command::new("python3").args(["-m", "venv"]).arg(&root));
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PACKAGES));
        std::fs::write(&ready, "").unwrap();
    }
    python
}

fn run(command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| {
        panic!("{command:?}: {e} (scripts/setup.sh installs python3 and python3-venv)")
    });
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python script with the venv's python; `args` follow the script.
pub fn run_script(script: &str, args: &[&str]) -> Output {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("the venv's python");
    assert!(
        out.status.success(),
        "python script failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
