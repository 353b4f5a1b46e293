//! The buffer's error: SQLite's, wrapped so that `rusqlite` stays inside
//! `buffer/` (the worker reports it as text and never looks inside).

/// A failed buffer operation.
#[derive(Debug)]
pub struct Error(rusqlite::Error);

pub type Result<T> = std::result::Result<T, Error>;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}
