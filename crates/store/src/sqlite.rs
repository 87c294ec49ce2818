//! The SQLite store: one file, WAL journal, `synchronous=FULL` so a committed batch survives a
//! crash or power loss.
//!
//! In WAL mode `synchronous=FULL` syncs the WAL at every commit: that one fsync is what makes a
//! commit durable (`NORMAL` would leave it to the next checkpoint, and a power cut could lose
//! commits already acknowledged). Copying the WAL back into the database file (a checkpoint, and
//! its fsync of the database file) is not needed for durability, and it costs more than the
//! commit itself when commits are large (the server commits a group of changes at a time), so
//! the writer never does it inside a commit: a thread of its own, on a connection of its own,
//! checkpoints after commits, beside the writer ([`Checkpointer`]).

use std::path::Path;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};

use crate::interface::{
    Batch, EventQuery, EventRow, LogEntry, PruneReport, Reads, SnapshotInfo, Store, StoreError,
    StoredSnapshot, TaskQuery, TaskRow, KEPT_SNAPSHOTS,
};

/// The schema version this program writes: [`SCHEMA`] is version 1 (every statement in it may
/// run again), and version `n > 1` adds `MIGRATIONS[n - 2]`. Append only.
const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// The migrations after version 1, in order.
const MIGRATIONS: &[&str] = &[
    // 2: snapshots of the core's state; `seq` is the last log entry each covers.
    "
CREATE TABLE IF NOT EXISTS snapshots (
    seq           INTEGER PRIMARY KEY,
    format        INTEGER NOT NULL,
    bytes         BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
",
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    body  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    sid             TEXT PRIMARY KEY,
    workspace_sid   TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    task_sid        TEXT NOT NULL,
    worker_sid      TEXT NOT NULL,
    reservation_sid TEXT NOT NULL,
    workflow_sid    TEXT NOT NULL,
    queue_sid       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    data            TEXT NOT NULL,
    ord             INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (workspace_sid, at_ms, ord);
CREATE INDEX IF NOT EXISTS events_by_task ON events (task_sid);
CREATE INDEX IF NOT EXISTS events_by_worker ON events (worker_sid);
CREATE TABLE IF NOT EXISTS finished_tasks (
    sid             TEXT PRIMARY KEY,
    workspace_sid   TEXT NOT NULL,
    status          TEXT NOT NULL,
    date_created_ms INTEGER NOT NULL,
    date_updated_ms INTEGER NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS finished_by_workspace ON finished_tasks (workspace_sid, date_created_ms);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_age ON events (at_ms);
CREATE INDEX IF NOT EXISTS finished_by_age ON finished_tasks (date_updated_ms);
";

/// Free pages handed back to the file system after one prune, at most (8 MiB of 4 KiB pages),
/// so reclaiming space never holds the write lock for long either.
const VACUUM_PAGES: i64 = 2048;

/// WAL pages (4 KiB each) past which the checkpointer blocks the writer for one checkpoint that
/// copies every frame and truncates the WAL (64 MiB). Below it, checkpoints run beside commits,
/// and under steady load the WAL may not get back to its start.
const WAL_LIMIT_PAGES: i64 = 16_384;

/// How long a truncating checkpoint waits for the writer and the readers before it gives up.
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(200);

/// The writer's page cache, in KiB (SQLite's default is 2 MiB).
const WRITER_CACHE_KIB: i64 = 64 << 10;

/// A SQLite database file.
pub struct SqliteStore {
    conn: Connection,
    next_ord: i64,
    /// See [`Store::set_test_pause_inside_snapshot_writes`].
    snapshot_pause: std::time::Duration,
    /// Checkpoints the writer's commits (a file's writer only).
    checkpointer: Option<Checkpointer>,
}

/// A thread that checkpoints the WAL after commits, on a connection of its own, so the writer's
/// commits never wait for the database file's fsync. A passive checkpoint runs beside the
/// writer; once the WAL passes [`WAL_LIMIT_PAGES`], one truncating checkpoint holds the writer
/// back (up to its busy timeout) so the WAL stays bounded. Stopped and joined when the store is
/// dropped.
struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        // Short: a truncating checkpoint holds the writer back while it waits for readers, so it
        // gives up soon (and is tried again after a later commit) rather than hold up commits.
        conn.busy_timeout(CHECKPOINT_BUSY)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("switchboard-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    if let Err(e) = checkpoint(&conn) {
                        tracing::warn!("checkpointing the database failed (retried after the next commit): {e}");
                    }
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint (at most one waits; it covers every commit before it).
    fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One checkpoint: passive, then a truncating one if the WAL is still past the limit.
fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let (_busy, log, _done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if log > WAL_LIMIT_PAGES {
        let started = std::time::Instant::now();
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        tracing::debug!(
            wal_pages = log,
            busy,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "the WAL passed its limit: truncated"
        );
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut store = SqliteStore::init(Connection::open(path)?)?;
        store.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A group commit touches many pages (each event's row and its five index entries): a
        // cache that holds them spares reading them back and spilling them before the commit.
        store
            .conn
            .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        store.checkpointer = Some(Checkpointer::spawn(path)?);
        Ok(store)
    }

    /// A read-only connection to an existing database, for reads beside the writer.
    pub fn open_reader(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(SqliteStore {
            conn,
            next_ord: 0,
            snapshot_pause: std::time::Duration::ZERO,
            checkpointer: None,
        })
    }

    /// A database in memory, gone when dropped (for tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        // Before anything writes the file's header (switching to WAL does).
        enable_incremental_vacuum(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            let tx = conn.transaction()?;
            tx.execute_batch(SCHEMA)?;
            for sql in MIGRATIONS
                .iter()
                .skip(usize::try_from(version - 1).unwrap_or(0))
            {
                tx.execute_batch(sql)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
            if version > 0 {
                tracing::info!(from = version, to = SCHEMA_VERSION, "migrated the database");
            }
        }
        let next_ord: i64 =
            conn.query_row("SELECT COALESCE(MAX(ord), 0) + 1 FROM events", [], |r| {
                r.get(0)
            })?;
        Ok(SqliteStore {
            conn,
            next_ord,
            snapshot_pause: std::time::Duration::ZERO,
            checkpointer: None,
        })
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, batch: &Batch) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut first = 0;
        {
            let mut log = tx.prepare_cached("INSERT INTO log (at_ms, body) VALUES (?1, ?2)")?;
            for e in &batch.log {
                log.execute(params![e.at_ms, e.body])?;
                if first == 0 {
                    first = tx.last_insert_rowid();
                }
            }
            let mut ev = tx.prepare_cached(
                "INSERT OR REPLACE INTO events (sid, workspace_sid, event_type, at_ms, task_sid, worker_sid,
                 reservation_sid, workflow_sid, queue_sid, channel, data, ord)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for e in &batch.events {
                ev.execute(params![
                    e.sid,
                    e.workspace_sid,
                    e.event_type,
                    e.at_ms,
                    e.task_sid,
                    e.worker_sid,
                    e.reservation_sid,
                    e.workflow_sid,
                    e.queue_sid,
                    e.channel,
                    e.data,
                    self.next_ord
                ])?;
                self.next_ord += 1;
            }
            let mut fin = tx.prepare_cached(
                "INSERT OR REPLACE INTO finished_tasks (sid, workspace_sid, status, date_created_ms, date_updated_ms, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for t in &batch.finished {
                fin.execute(params![
                    t.sid,
                    t.workspace_sid,
                    t.status,
                    t.date_created_ms,
                    t.date_updated_ms,
                    t.data
                ])?;
            }
            let mut del = tx.prepare_cached("DELETE FROM finished_tasks WHERE sid = ?1")?;
            for sid in &batch.deleted_tasks {
                del.execute(params![sid])?;
            }
            let mut set = tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (k, v) in &batch.settings {
                set.execute(params![k, v])?;
            }
        }
        tx.commit()?;
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
        Ok(first)
    }

    fn read_log_after(
        &mut self,
        after: i64,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at_ms, body FROM log WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = stmt.query(params![after])?;
        while let Some(row) = rows.next()? {
            let entry = LogEntry {
                seq: row.get(0)?,
                at_ms: row.get(1)?,
                body: row.get(2)?,
            };
            visit(entry).map_err(StoreError::Visit)?;
        }
        Ok(())
    }

    fn prune(&mut self, before_ms: i64, limit: usize) -> Result<PruneReport, StoreError> {
        let report = prune(&mut self.conn, before_ms, limit)?;
        if report.total() > 0 {
            reclaim(&self.conn)?;
        }
        Ok(report)
    }

    fn log_bounds(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        let (first, last): (Option<i64>, Option<i64>) =
            self.conn
                .query_row("SELECT MIN(seq), MAX(seq) FROM log", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok(first.zip(last))
    }

    fn write_snapshot(
        &mut self,
        through_seq: i64,
        format: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let (newest, last): (Option<i64>, Option<i64>) = tx.query_row(
            "SELECT (SELECT MAX(seq) FROM snapshots), (SELECT MAX(seq) FROM log)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        check_snapshot_seq(through_seq, newest, last)?;
        tx.execute(
            "INSERT INTO snapshots (seq, format, bytes, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![through_seq, format, bytes, now_ms()],
        )?;
        tx.execute(
            "DELETE FROM snapshots WHERE seq NOT IN
             (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
            params![KEPT_SNAPSHOTS as i64],
        )?;
        if !self.snapshot_pause.is_zero() {
            std::thread::sleep(self.snapshot_pause);
        }
        tx.commit()?;
        Ok(())
    }

    fn snapshots(&mut self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, format, created_at_ms, length(bytes) FROM snapshots ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SnapshotInfo {
                seq: r.get(0)?,
                format: r.get(1)?,
                created_at_ms: r.get(2)?,
                size: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn read_snapshot(&mut self, seq: i64) -> Result<Option<StoredSnapshot>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, format, created_at_ms, length(bytes), bytes FROM snapshots
                 WHERE seq = ?1",
                params![seq],
                |r| {
                    Ok(StoredSnapshot {
                        info: SnapshotInfo {
                            seq: r.get(0)?,
                            format: r.get(1)?,
                            created_at_ms: r.get(2)?,
                            size: r.get(3)?,
                        },
                        bytes: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    fn prune_log(&mut self, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let deleted = self.conn.execute(
            "DELETE FROM log WHERE seq IN (SELECT seq FROM log WHERE seq <=
               (SELECT CASE WHEN COUNT(*) >= ?1 THEN MIN(seq) ELSE 0 END FROM snapshots)
             ORDER BY seq LIMIT ?2)",
            params![KEPT_SNAPSHOTS as i64, limit],
        )?;
        if deleted > 0 {
            reclaim(&self.conn)?;
        }
        Ok(deleted)
    }

    fn set_test_pause_inside_snapshot_writes(&mut self, pause: std::time::Duration) {
        self.snapshot_pause = pause;
    }
}

/// Refuses a snapshot through `seq` unless it is past the newest one and the log reached it.
pub(crate) fn check_snapshot_seq(
    seq: i64,
    newest: Option<i64>,
    last: Option<i64>,
) -> Result<(), StoreError> {
    let refused = |why: String| Err(StoreError::SnapshotRefused { seq, why });
    if let Some(newest) = newest.filter(|n| seq <= *n) {
        return refused(format!(
            "a snapshot through entry {newest} is stored already"
        ));
    }
    match last {
        Some(last) if seq <= last && seq > 0 => Ok(()),
        Some(last) => refused(format!("the log ends at entry {last}")),
        None => refused("the log holds no entry".into()),
    }
}

/// Now by the system clock, in milliseconds since the Unix epoch (when a snapshot was written).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Makes a new database hand pages freed by deletes back to the file system on demand
/// (`auto_vacuum = INCREMENTAL`, then `PRAGMA incremental_vacuum` after each prune). The mode
/// can only be chosen before the first table exists: a database created by an earlier release
/// keeps `auto_vacuum = NONE` (switching needs a full `VACUUM`, which rewrites the file and
/// blocks every change while it runs, so the server never does it on its own); there, freed
/// pages stay in the file and new rows reuse them, so the file stops growing once the
/// retention window is full.
fn enable_incremental_vacuum(conn: &Connection) -> Result<(), StoreError> {
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables == 0 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// Deletes one bounded batch of old events and finished tasks, in one transaction.
fn prune(conn: &mut Connection, before_ms: i64, limit: usize) -> Result<PruneReport, StoreError> {
    let tx = conn.transaction()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let events = tx.execute(
        "DELETE FROM events WHERE rowid IN
         (SELECT rowid FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
        params![before_ms, limit],
    )?;
    let left = limit.saturating_sub(i64::try_from(events).unwrap_or(i64::MAX));
    let finished_tasks = if left > 0 {
        tx.execute(
            "DELETE FROM finished_tasks WHERE rowid IN
             (SELECT rowid FROM finished_tasks WHERE date_updated_ms < ?1
              ORDER BY date_updated_ms LIMIT ?2)",
            params![before_ms, left],
        )?
    } else {
        0
    };
    tx.commit()?;
    Ok(PruneReport {
        events,
        finished_tasks,
    })
}

/// Hands up to [`VACUUM_PAGES`] free pages back to the file system, when the database was
/// created with incremental vacuum (a no-op otherwise).
fn reclaim(conn: &Connection) -> Result<(), StoreError> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == 2 {
        // The pragma frees one page per step: step it to the end.
        let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(())
}

impl Reads for SqliteStore {
    fn events(
        &mut self,
        query: &EventQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (clause, mut args) = event_where(query);
        let sql = format!(
            "SELECT sid, workspace_sid, event_type, at_ms, task_sid, worker_sid, reservation_sid,
                    workflow_sid, queue_sid, channel, data
             FROM events WHERE {clause} ORDER BY at_ms, ord LIMIT ? OFFSET ?"
        );
        args.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        args.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter().map(|a| a.as_ref())), |r| {
            Ok(EventRow {
                sid: r.get(0)?,
                workspace_sid: r.get(1)?,
                event_type: r.get(2)?,
                at_ms: r.get(3)?,
                task_sid: r.get(4)?,
                worker_sid: r.get(5)?,
                reservation_sid: r.get(6)?,
                workflow_sid: r.get(7)?,
                queue_sid: r.get(8)?,
                channel: r.get(9)?,
                data: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn event_counts(&mut self, query: &EventQuery) -> Result<Vec<(String, i64)>, StoreError> {
        let (clause, args) = event_where(query);
        let sql = format!(
            "SELECT event_type, COUNT(*) FROM events WHERE {clause} GROUP BY event_type ORDER BY event_type"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter().map(|a| a.as_ref())), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn finished_task(
        &mut self,
        workspace_sid: &str,
        sid: &str,
    ) -> Result<Option<TaskRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sid, workspace_sid, status, date_created_ms, date_updated_ms, data
                 FROM finished_tasks WHERE workspace_sid = ?1 AND sid = ?2",
                params![workspace_sid, sid],
                task_row,
            )
            .optional()?)
    }

    fn finished_tasks(&mut self, query: &TaskQuery) -> Result<Vec<TaskRow>, StoreError> {
        let mut sql = String::from(
            "SELECT sid, workspace_sid, status, date_created_ms, date_updated_ms, data
             FROM finished_tasks WHERE workspace_sid = ?",
        );
        let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(query.workspace_sid.clone())];
        if !query.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                vec!["?"; query.statuses.len()].join(", ")
            ));
            args.extend(
                query
                    .statuses
                    .iter()
                    .map(|s| Box::new(s.clone()) as Box<dyn ToSql>),
            );
        }
        sql.push_str(" ORDER BY date_created_ms, sid");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter().map(|a| a.as_ref())), task_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        sid: r.get(0)?,
        workspace_sid: r.get(1)?,
        status: r.get(2)?,
        date_created_ms: r.get(3)?,
        date_updated_ms: r.get(4)?,
        data: r.get(5)?,
    })
}

fn event_where(q: &EventQuery) -> (String, Vec<Box<dyn ToSql>>) {
    let mut clauses = vec!["workspace_sid = ?".to_owned()];
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(q.workspace_sid.clone())];
    for (column, value) in [
        ("sid", &q.sid),
        ("task_sid", &q.task_sid),
        ("worker_sid", &q.worker_sid),
        ("reservation_sid", &q.reservation_sid),
        ("workflow_sid", &q.workflow_sid),
        ("queue_sid", &q.queue_sid),
        ("channel", &q.channel),
    ] {
        if !value.is_empty() {
            clauses.push(format!("{column} = ?"));
            args.push(Box::new(value.clone()));
        }
    }
    if !q.event_types.is_empty() {
        clauses.push(format!(
            "event_type IN ({})",
            vec!["?"; q.event_types.len()].join(", ")
        ));
        args.extend(
            q.event_types
                .iter()
                .map(|t| Box::new(t.clone()) as Box<dyn ToSql>),
        );
    }
    if let Some(from) = q.from_ms {
        clauses.push("at_ms >= ?".to_owned());
        args.push(Box::new(from));
    }
    if let Some(to) = q.to_ms {
        clauses.push("at_ms <= ?".to_owned());
        args.push(Box::new(to));
    }
    (clauses.join(" AND "), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file in a temporary folder.
    struct File {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    impl crate::suite::Fixture for File {
        fn new() -> File {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.db");
            File { _dir: dir, path }
        }

        fn open(&self) -> Result<Box<dyn Store>, StoreError> {
            Ok(Box::new(SqliteStore::open(&self.path)?))
        }

        fn reader(&self) -> Box<dyn Store> {
            Box::new(SqliteStore::open_reader(&self.path).unwrap())
        }

        fn execute(&self, sql: &str) {
            Connection::open(&self.path)
                .unwrap()
                .execute_batch(sql)
                .unwrap();
        }

        fn set_version(&self, version: i64) {
            self.execute(&format!("PRAGMA user_version = {version}"));
        }
    }

    crate::suite::suite!(File);

    fn event(sid: &str, at: i64) -> EventRow {
        EventRow {
            sid: sid.into(),
            workspace_sid: "WS1".into(),
            event_type: "task.created".into(),
            at_ms: at,
            data: "{}".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_long_read_does_not_stop_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut w = SqliteStore::open(&path).unwrap();
        let r = SqliteStore::open_reader(&path).unwrap();
        let all = EventQuery {
            workspace_sid: "WS1".into(),
            ..Default::default()
        };
        w.commit(&Batch {
            events: vec![event("EV1", 5), event("EV2", 5)],
            ..Default::default()
        })
        .unwrap();
        // A reader in the middle of a long read does not stop the writer (WAL), and keeps its
        // snapshot until the read ends.
        let mut r = {
            let mut stmt = r.conn.prepare("SELECT sid FROM events").unwrap();
            let mut rows = stmt.query([]).unwrap();
            assert!(rows.next().unwrap().is_some());
            w.commit(&Batch {
                events: vec![event("EV3", 6)],
                ..Default::default()
            })
            .unwrap();
            drop(rows);
            drop(stmt);
            r
        };
        assert_eq!(r.events(&all, 0, 10).unwrap().len(), 3);
    }

    #[test]
    fn a_new_file_hands_pruned_pages_back_and_an_old_one_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let mut s = SqliteStore::open(&path).unwrap();
        let mode: i64 = s
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 2, "a new database is created with incremental vacuum");
        let pages = |s: &SqliteStore| -> i64 {
            s.conn
                .pragma_query_value(None, "page_count", |r| r.get(0))
                .unwrap()
        };
        let big = |sid: String, at| EventRow {
            data: "x".repeat(2000),
            ..event(&sid, at)
        };
        s.commit(&Batch {
            events: (0..500).map(|i| big(format!("EV{i}"), i)).collect(),
            ..Default::default()
        })
        .unwrap();
        let full = pages(&s);
        while s.prune(500, 100).unwrap().total() == 100 {}
        assert!(
            pages(&s) < full / 4,
            "pages went back to the file system: {} of {full}",
            pages(&s)
        );
        // A database made before incremental vacuum keeps its mode (switching would need a
        // full VACUUM) and still prunes.
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch("CREATE TABLE early (x INTEGER)")
            .unwrap();
        let mut s = SqliteStore::open(&old).unwrap();
        let mode: i64 = s
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 0);
        s.commit(&Batch {
            events: vec![event("EV1", 1), event("EV2", 9)],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.prune(5, 10).unwrap().events, 1);
    }

    #[test]
    fn a_version_1_file_gains_the_snapshots_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TABLE snapshots; PRAGMA user_version = 1;")
            .unwrap();
        let mut s = SqliteStore::open(&path).unwrap();
        s.commit(&Batch {
            log: vec![LogEntry {
                seq: 0,
                at_ms: 1,
                body: "x".into(),
            }],
            ..Default::default()
        })
        .unwrap();
        s.write_snapshot(1, 1, b"s").unwrap();
        let version: i64 = s
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 2);
    }

    #[test]
    fn a_database_in_memory_works_and_has_no_reader() {
        let mut s = crate::open("sqlite::memory:").unwrap();
        s.commit(&Batch {
            log: vec![LogEntry {
                seq: 0,
                at_ms: 1,
                body: "x".into(),
            }],
            ..Default::default()
        })
        .unwrap();
        let mut n = 0;
        s.read_log(&mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            crate::open_reader("sqlite::memory:").unwrap().map(|_| ()),
            None
        );
    }
}
