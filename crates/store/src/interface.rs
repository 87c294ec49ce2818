//! The interface every store implements: the rows it keeps, the batch it commits, the queries it
//! answers and its error.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one we can open.
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH, sqlite::memory: or \
         postgres://USER@HOST[:PORT]/DATABASE (postgresql:// too)"
    )]
    UnsupportedUrl(String),
    /// The database itself failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL failed: connecting, or a statement.
    #[error("PostgreSQL error: {}", postgres_detail(.0))]
    Postgres(#[from] postgres::Error),
    /// The thread that owns a PostgreSQL connection is gone (it panicked).
    #[error("the PostgreSQL connection's thread stopped")]
    ConnectionLost,
    /// A PostgreSQL connection's thread could not be started.
    #[error("cannot start a thread for the PostgreSQL connection: {0}")]
    Thread(String),
    /// Another server writes to this PostgreSQL schema (it holds the writer's lock).
    #[error("another Switchboard server is writing to the PostgreSQL schema {0:?}")]
    InUse(String),
    /// The PostgreSQL connection's `search_path` names no schema that exists.
    #[error("no PostgreSQL schema to use: the search_path names none that exists")]
    NoSchema,
    /// A write on a read-only connection.
    #[error("this connection to the database is read-only")]
    ReadOnly,
    /// The database was written by a newer Switchboard.
    #[error("the database's schema version {found} is newer than this program's ({supported})")]
    SchemaTooNew {
        /// In the file.
        found: i64,
        /// Known here.
        supported: i64,
    },
    /// A visitor refused a row (replay failed).
    #[error("{0}")]
    Visit(String),
    /// A fenced writer's lease has passed to another holder: this writer may not write again.
    #[error(
        "fenced: the lease {lease:?} now has token {current} (this writer holds {token}); \
         another node owns the state"
    )]
    Fenced {
        /// The lease's name.
        lease: String,
        /// The token this writer was opened with.
        token: i64,
        /// The token the lease row holds now (0 if the row is gone).
        current: i64,
    },
    /// This store keeps no leases (SQLite: one node only).
    #[error("this database keeps no leases: several nodes need PostgreSQL")]
    NoLeases,
    /// A snapshot that cannot be stored where it was asked to go.
    #[error("snapshot through log entry {seq} refused: {why}")]
    SnapshotRefused {
        /// The `seq` it was to cover.
        seq: i64,
        /// Why not.
        why: String,
    },
}

/// A PostgreSQL error with what the server said: the client's own message is only its kind
/// ("db error").
fn postgres_detail(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// One log entry: what happened, at what time (milliseconds since the Unix epoch), as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the log, from 1; assigned by the store on commit.
    pub seq: i64,
    /// When it was applied.
    pub at_ms: i64,
    /// The entry, as JSON.
    pub body: String,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventRow {
    /// `EV…`.
    pub sid: String,
    /// `WS…`.
    pub workspace_sid: String,
    /// `task.created`, ...
    pub event_type: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Filter columns (empty when not applicable).
    pub task_sid: String,
    /// Filter column.
    pub worker_sid: String,
    /// Filter column.
    pub reservation_sid: String,
    /// Filter column.
    pub workflow_sid: String,
    /// Filter column.
    pub queue_sid: String,
    /// Filter column: the task channel's unique name.
    pub channel: String,
    /// The whole event, as JSON.
    pub data: String,
}

/// One finished (completed or canceled) task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskRow {
    /// `WT…`.
    pub sid: String,
    /// `WS…`.
    pub workspace_sid: String,
    /// `completed` or `canceled`.
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub date_created_ms: i64,
    /// Milliseconds since the Unix epoch.
    pub date_updated_ms: i64,
    /// The task and its reservations, as JSON.
    pub data: String,
}

/// What one request (or one firing of deadlines) wrote, committed together.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// New log entries (`seq` is ignored; the store numbers them).
    pub log: Vec<LogEntry>,
    /// New events.
    pub events: Vec<EventRow>,
    /// Tasks that finished.
    pub finished: Vec<TaskRow>,
    /// Tasks deleted through the API (removed from the finished tasks too).
    pub deleted_tasks: Vec<String>,
    /// Settings to set.
    pub settings: Vec<(String, String)>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
            && self.events.is_empty()
            && self.finished.is_empty()
            && self.deleted_tasks.is_empty()
            && self.settings.is_empty()
    }
}

/// Which events to read. Empty strings and `None` mean "any".
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// The workspace.
    pub workspace_sid: String,
    /// Exactly this event.
    pub sid: String,
    /// Any of these types.
    pub event_types: Vec<String>,
    /// At or after.
    pub from_ms: Option<i64>,
    /// At or before.
    pub to_ms: Option<i64>,
    /// Filter.
    pub task_sid: String,
    /// Filter.
    pub worker_sid: String,
    /// Filter.
    pub reservation_sid: String,
    /// Filter.
    pub workflow_sid: String,
    /// Filter.
    pub queue_sid: String,
    /// Filter.
    pub channel: String,
}

/// Which finished tasks to read.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// The workspace.
    pub workspace_sid: String,
    /// Any of these statuses (`completed`, `canceled`); empty = both.
    pub statuses: Vec<String>,
}

/// What one [`Store::prune`] call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Events deleted.
    pub events: usize,
    /// Finished tasks deleted.
    pub finished_tasks: usize,
}

impl PruneReport {
    /// Rows deleted in all.
    pub fn total(&self) -> usize {
        self.events + self.finished_tasks
    }
}

/// How many snapshots a store keeps: the newest and the one before it. The log keeps every entry
/// after the older one, so a newest snapshot that cannot be read (damaged, or written by a newer
/// program) still leaves a way to start: the older one and a longer tail.
pub const KEPT_SNAPSHOTS: usize = 2;

/// What the store knows of one snapshot, without its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The `seq` of the last log entry it covers: it is the state after entries `1..=seq`.
    pub seq: i64,
    /// The format its bytes are in, as the writer gave it.
    pub format: i64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Its size in bytes.
    pub size: i64,
}

/// One stored snapshot, with its bytes (which the store does not interpret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// What it is.
    pub info: SnapshotInfo,
    /// The encoded state.
    pub bytes: Vec<u8>,
}

/// Reads of what the store keeps beside the log. A second connection to the same database can
/// serve them while the writer commits (SQLite's WAL lets readers run beside one writer, and
/// PostgreSQL's snapshots do the same), so slow reads need not wait behind changes, nor changes
/// behind them.
pub trait Reads: Send {
    /// Events matching the query, oldest first, `limit` from `offset`.
    fn events(
        &mut self,
        query: &EventQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// How many events of each type match the query.
    fn event_counts(&mut self, query: &EventQuery) -> Result<Vec<(String, i64)>, StoreError>;
    /// A finished task.
    fn finished_task(
        &mut self,
        workspace_sid: &str,
        sid: &str,
    ) -> Result<Option<TaskRow>, StoreError>;
    /// Finished tasks, oldest first.
    fn finished_tasks(&mut self, query: &TaskQuery) -> Result<Vec<TaskRow>, StoreError>;
    /// A setting.
    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError>;
}

/// Durable storage for one Switchboard server: the log and its reads.
pub trait Store: Reads {
    /// Writes a batch atomically and durably; returns the `seq` of its first log entry.
    fn commit(&mut self, batch: &Batch) -> Result<i64, StoreError>;
    /// Visits the log in order (what is left of it: snapshots shorten it from the front).
    fn read_log(
        &mut self,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        self.read_log_after(0, visit)
    }
    /// Visits, in order, the log entries whose `seq` is greater than `after` (the tail a
    /// snapshot through `after` leaves to replay).
    fn read_log_after(
        &mut self,
        after: i64,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), String>,
    ) -> Result<(), StoreError>;
    /// The first and last `seq` the log holds now; `None` when it holds none. The first is 1
    /// until snapshots let the front of the log go ([`Store::prune_log`]).
    fn log_bounds(&mut self) -> Result<Option<(i64, i64)>, StoreError>;
    /// Stores, in one transaction, a snapshot of the state after log entries `1..=through_seq`
    /// in `format`, and lets go of the snapshots older than the newest [`KEPT_SNAPSHOTS`]. It is
    /// visible whole or not at all, and the snapshots before it stay until it is committed.
    /// Refused ([`StoreError::SnapshotRefused`]) unless `through_seq` is past the newest
    /// snapshot and is a `seq` the log has reached. A fenced writer checks its fence first.
    fn write_snapshot(
        &mut self,
        through_seq: i64,
        format: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError>;
    /// The snapshots kept, newest first, without their bytes.
    fn snapshots(&mut self) -> Result<Vec<SnapshotInfo>, StoreError>;
    /// One kept snapshot, by the `seq` it covers.
    fn read_snapshot(&mut self, seq: i64) -> Result<Option<StoredSnapshot>, StoreError>;
    /// The newest snapshot, if any.
    fn latest_snapshot(&mut self) -> Result<Option<StoredSnapshot>, StoreError> {
        match self.snapshots()?.first() {
            Some(info) => self.read_snapshot(info.seq),
            None => Ok(None),
        }
    }
    /// Deletes, in one short transaction, at most `limit` of the oldest log entries that every
    /// kept snapshot covers (none until [`KEPT_SNAPSHOTS`] are kept: the log before the only
    /// snapshot is its fallback). Returns how many it deleted: fewer than `limit` means none
    /// of those is left. `seq`s are never reused: the log goes on from where it was.
    fn prune_log(&mut self, limit: usize) -> Result<usize, StoreError>;
    /// For tests of crashes only (never called by a server a user starts): makes every later
    /// [`Store::write_snapshot`] sleep `pause` inside its transaction, after the snapshot is
    /// written and before it commits, so a test can kill the process in the middle of one.
    #[doc(hidden)]
    fn set_test_pause_inside_snapshot_writes(&mut self, pause: std::time::Duration) {
        let _ = pause;
    }
    /// Deletes, in one short transaction, at most `limit` rows in all: events older than
    /// `before_ms` (`at_ms`), oldest first, then finished tasks that finished before it
    /// (`date_updated_ms`). The log is never touched (snapshots shorten it, not retention).
    /// A report with fewer than `limit` rows means nothing older is left; call again otherwise.
    fn prune(&mut self, before_ms: i64, limit: usize) -> Result<PruneReport, StoreError>;
}

/// Who holds a lease, as the lease row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holder's node id (empty when nobody ever held it).
    pub holder: String,
    /// The URL the holder serves at (its advertised URL).
    pub url: String,
    /// The fencing token of the holder's current term: it grows by one at every acquisition.
    pub token: i64,
    /// Whether the lease is unexpired by the database's clock.
    pub live: bool,
}

/// A lease on shared state with a fencing token: one holder at a time, for a bounded time that
/// the holder renews. Every acquisition (by anyone, the last holder included) gives a new,
/// larger token; a writer bound to a token ([`crate::PostgresStore::open_fenced`]) can commit
/// only while the lease still has that token. Times are the database's, so the nodes' clocks do
/// not matter.
pub trait Lease: Send {
    /// Takes the lease for `ttl` if it has expired or this node held it last; the new token.
    fn acquire(&mut self, ttl: std::time::Duration) -> Result<Option<i64>, StoreError>;
    /// Extends the lease held with `token` by `ttl` from now; `false` if it is no longer ours.
    fn renew(&mut self, token: i64, ttl: std::time::Duration) -> Result<bool, StoreError>;
    /// Lets the lease held with `token` expire at once (a clean stop hands over without wait).
    fn release(&mut self, token: i64) -> Result<(), StoreError>;
    /// Who holds it.
    fn holder(&mut self) -> Result<LeaseHolder, StoreError>;
}
