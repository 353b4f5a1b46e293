//! An exclusive lock on a database file, held for the life of a handle.
//!
//! Two handles (in one process or two) sending from the same file would both
//! send every row. Instead the second one is refused at create with a message
//! naming the file; each process should use a file of its own.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes `<database>.lock` with flock(LOCK_EX | LOCK_NB). A separate file is
    /// used because closing any descriptor of the database itself would drop
    /// SQLite's own POSIX locks.
    pub fn acquire(database: &Path) -> Result<FileLock, String> {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "database_path {}: cannot open lock file: {e}",
                    database.display()
                )
            })?;
        // SAFETY: the descriptor is owned by `file` and stays open while we hold it.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(format!(
                    "database_path {}: in use by another handle or process (each needs its own file)",
                    database.display()
                ));
            }
            return Err(format!(
                "database_path {}: cannot lock: {err}",
                database.display()
            ));
        }
        Ok(FileLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
