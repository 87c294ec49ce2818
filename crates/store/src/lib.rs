//! Durable storage, behind one narrow interface ([`Store`]).
//!
//! Switchboard's state is rebuilt at start by replaying a log: every command the server applied,
//! and every instant at which deadlines fired, with their times. Beside the log the store keeps
//! what the engine lets go of and the API still serves: events (TaskRouter's Events resource) and
//! finished tasks. A [`Batch`] is written in one transaction, so what a response acknowledged is
//! on disk, whole, before the response leaves.
//!
//! Rows carry JSON text the store does not interpret: the server owns the shapes. The store knows
//! only the columns it filters on. SQLite ([`SqliteStore`]) is the embedded default, one file on
//! one node; PostgreSQL ([`PostgresStore`]) keeps the same tables in a schema of a server's
//! database. The URL given to [`open`] chooses. Both run the same test suite.
//!
//! Snapshots shorten the log: the server stores the core's state after entry `k`
//! ([`Store::write_snapshot`]), starts from the newest snapshot and the entries after it
//! ([`Store::read_log_after`]), and lets go of the entries every kept snapshot covers
//! ([`Store::prune_log`]). The newest [`KEPT_SNAPSHOTS`] are kept, and the log keeps everything
//! after the older one, so one damaged snapshot never leaves the server without a way to start.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod interface;
mod postgres;
mod sqlite;
#[cfg(test)]
mod suite;

pub use self::postgres::{
    Fence, PostgresLease, PostgresStore, ScratchSchema, TEST_SERVER_DEFAULT, TEST_SERVER_VAR,
};
pub use interface::{
    Batch, EventQuery, EventRow, Lease, LeaseHolder, LogEntry, PruneReport, Reads, SnapshotInfo,
    Store, StoreError, StoredSnapshot, TaskQuery, TaskRow, KEPT_SNAPSHOTS,
};
pub use sqlite::SqliteStore;

/// Whether a URL names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a URL names: `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`, or
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]` (`postgresql://` too; its
/// `options=-csearch_path%3DSCHEMA` parameter chooses a schema other than `public`).
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres(url) {
        return Ok(Box::new(PostgresStore::open(url)?));
    }
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
/// for a database in memory (only its one connection sees it). For PostgreSQL, a second
/// connection in read-only mode.
pub fn open_reader(url: &str) -> Result<Option<Box<dyn Reads>>, StoreError> {
    if is_postgres(url) {
        return Ok(Some(Box::new(PostgresStore::open_reader(url)?)));
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        assert!(matches!(
            crate::open("mysql://x"),
            Err(crate::StoreError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            crate::open_reader("sqlite:"),
            Err(crate::StoreError::UnsupportedUrl(_))
        ));
        assert!(crate::open("sqlite::memory:").is_ok());
        assert_eq!(crate::sqlite_path("sqlite://a/b.db"), Some("a/b.db"));
        assert_eq!(crate::sqlite_path("sqlite:a.db"), Some("a.db"));
        assert_eq!(crate::sqlite_path("sqlite::memory:"), None);
        assert_eq!(crate::sqlite_path("postgres://h/db"), None);
        assert!(crate::is_postgres("postgres://u@h:5432/db"));
        assert!(crate::is_postgres("postgresql://u@h/db"));
        assert!(!crate::is_postgres("sqlite://postgres://"));
        // A PostgreSQL URL that does not parse is the database's error, not "unsupported".
        assert!(matches!(
            crate::open("postgres://u@h:notaport/db"),
            Err(crate::StoreError::Postgres(_))
        ));
    }
}
