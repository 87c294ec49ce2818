//! Durable storage, behind one narrow interface ([`Store`]).
//!
//! Switchboard's state is rebuilt at start by replaying a log: every command the server applied,
//! and every instant at which deadlines fired, with their times. Beside the log the store keeps
//! what the engine lets go of and the API still serves: events (TaskRouter's Events resource) and
//! finished tasks. A [`Batch`] is written in one transaction, so what a response acknowledged is
//! on disk, whole, before the response leaves.
//!
//! Rows carry JSON text the store does not interpret: the server owns the shapes. The store knows
//! only the columns it filters on. SQLite is the embedded default; a PostgreSQL implementation
//! would implement the same trait.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod interface;
mod sqlite;

pub use interface::{
    Batch, EventQuery, EventRow, LogEntry, Reads, Store, StoreError, TaskQuery, TaskRow,
};
pub use sqlite::SqliteStore;

/// Opens the store a URL names: `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url == "sqlite::memory:" {
        return Ok(Box::new(SqliteStore::open_in_memory()?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
    Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?))
}

/// A read-only connection to the database a URL names, for reads beside the writer; `None`
/// for a database in memory (only its one connection sees it).
pub fn open_reader(url: &str) -> Result<Option<Box<dyn Reads>>, StoreError> {
    match sqlite_path(url) {
        Some(path) => Ok(Some(Box::new(SqliteStore::open_reader(
            std::path::Path::new(path),
        )?))),
        None if url == "sqlite::memory:" => Ok(None),
        None => Err(StoreError::UnsupportedUrl(url.to_owned())),
    }
}

/// The file a `sqlite://` URL names, if it names one.
pub fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty() && *p != ":memory:")
}
