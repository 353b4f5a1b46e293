//! Compiling and running the C consumers of tests/c/ against the generated
//! header and the freshly built shared library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

fn newest_source_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_source_mtime(&path)
        } else {
            entry.metadata().unwrap().modified().unwrap()
        };
        newest = newest.max(t);
    }
    newest
}

/// The directory of the freshly built shared library (`cargo test` does not
/// build the cdylib: the README's test command runs `cargo build` first), or a
/// clear failure when it is missing or older than src/.
pub fn shared_library_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("LOGSTASH_ASYNC_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/debug"));
    let so = dir.join("liblogstash_async.so");
    let built = std::fs::metadata(&so)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `cargo build` first", so.display()));
    assert!(
        built >= newest_source_mtime(&root.join("src")),
        "{} is older than src/: run `cargo build` first",
        so.display()
    );
    dir
}

/// A C program of tests/c/, compiled with `-Wall -Wextra -Werror` into `out_dir`.
pub struct CProgram {
    exe: PathBuf,
    lib: PathBuf,
}

impl CProgram {
    pub fn compile(source: &str, out_dir: &Path) -> CProgram {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = shared_library_dir();
        let exe = out_dir.join(source.trim_end_matches(".c"));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
            .arg(&exe)
            .arg(root.join("tests/c").join(source))
            .arg("-I")
            .arg(root.join("include"))
            .arg("-L")
            .arg(&lib)
            .arg("-llogstash_async")
            .status()
            .expect("a C compiler (cc)");
        assert!(status.success(), "{source} compiles cleanly");
        CProgram { exe, lib }
    }

    /// Runs the program with `args` against the shared library.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.exe)
            .args(args)
            .env("LD_LIBRARY_PATH", &self.lib)
            .output()
            .unwrap()
    }
}
