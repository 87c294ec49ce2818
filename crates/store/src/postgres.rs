//! The PostgreSQL store: the same tables as the SQLite one, in the schema the connection's
//! `search_path` selects, migrated to this program's version when the writer opens.
//!
//! The `postgres` client blocks its caller on a private async runtime, which must not happen on
//! a thread that drives an async runtime of its own (the server opens the store from one). So
//! each [`PostgresStore`] owns one connection on a thread of its own, and every call hands that
//! thread a job and waits for its answer: the caller blocks as it would on SQLite, from any
//! thread, and dropping the store closes the connection on its thread.
//!
//! One writer at a time: the writer holds a session advisory lock on its schema, so a second
//! server started on the same database fails at once instead of interleaving its log with the
//! first one's.
//!
//! Several nodes on one schema share it through a lease instead ([`PostgresLease`], the table
//! `leases`): the node holding the lease opens a *fenced* writer ([`PostgresStore::open_fenced`])
//! bound to the lease's token. Every commit of a fenced writer first reads the lease row `FOR
//! SHARE` in the same transaction and aborts with [`StoreError::Fenced`] if the token moved on,
//! so a former holder that was paused or cut off can never write once another took the lease:
//! the taker's `UPDATE` of the row waits for a commit that holds the row, and every commit after
//! it sees the new token. A fenced writer takes no advisory lock (a paused process would hold
//! it forever); a stuck transaction of a paused holder is ended by the server after
//! [`FENCED_IDLE_TIMEOUT`], so it cannot hold up a takeover for longer.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Statement};

use crate::interface::{
    Batch, EventQuery, EventRow, LeaseHolder, LogEntry, PruneReport, Reads, SnapshotInfo, Store,
    StoreError, StoredSnapshot, TaskQuery, TaskRow, KEPT_SNAPSHOTS,
};
use crate::sqlite::{check_snapshot_seq, now_ms};

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE log (
    seq   BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    body  TEXT NOT NULL
);
CREATE TABLE events (
    sid             TEXT COLLATE \"C\" PRIMARY KEY,
    workspace_sid   TEXT COLLATE \"C\" NOT NULL,
    event_type      TEXT COLLATE \"C\" NOT NULL,
    at_ms           BIGINT NOT NULL,
    task_sid        TEXT COLLATE \"C\" NOT NULL,
    worker_sid      TEXT COLLATE \"C\" NOT NULL,
    reservation_sid TEXT COLLATE \"C\" NOT NULL,
    workflow_sid    TEXT COLLATE \"C\" NOT NULL,
    queue_sid       TEXT COLLATE \"C\" NOT NULL,
    channel         TEXT COLLATE \"C\" NOT NULL,
    data            TEXT NOT NULL,
    ord             BIGINT NOT NULL
);
CREATE INDEX events_by_time ON events (workspace_sid, at_ms, ord);
CREATE INDEX events_by_task ON events (task_sid);
CREATE INDEX events_by_worker ON events (worker_sid);
CREATE TABLE finished_tasks (
    sid             TEXT COLLATE \"C\" PRIMARY KEY,
    workspace_sid   TEXT COLLATE \"C\" NOT NULL,
    status          TEXT COLLATE \"C\" NOT NULL,
    date_created_ms BIGINT NOT NULL,
    date_updated_ms BIGINT NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX finished_by_workspace ON finished_tasks (workspace_sid, date_created_ms);
CREATE TABLE settings (
    key   TEXT COLLATE \"C\" PRIMARY KEY,
    value TEXT NOT NULL
);
",
    "
ALTER TABLE log ADD COLUMN term BIGINT NOT NULL DEFAULT 0;
CREATE TABLE leases (
    name       TEXT COLLATE \"C\" PRIMARY KEY,
    holder     TEXT NOT NULL,
    url        TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
",
    // Retention deletes the oldest rows in small batches: each batch finds them by age.
    "
CREATE INDEX events_by_age ON events (at_ms);
CREATE INDEX finished_by_age ON finished_tasks (date_updated_ms);
",
    // Snapshots of the core's state; `seq` is the last log entry each covers, `term` the fencing
    // token of the writer that stored it (0 for a plain writer), as in the log.
    "
CREATE TABLE snapshots (
    seq           BIGINT PRIMARY KEY,
    format        BIGINT NOT NULL,
    bytes         BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    term          BIGINT NOT NULL DEFAULT 0
);
",
];

/// The schema version this program writes.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first key of the writer's advisory lock (the second is the schema's name, hashed).
const WRITER_LOCK: i32 = 0x5342_0001;

/// How long a writer waits for the lock a previous writer still holds (its backend may take a
/// moment to notice that its client is gone).
const WRITER_LOCK_WAIT: Duration = Duration::from_secs(5);

/// The key of the transaction lock that serializes migrations (several nodes may start at once).
const MIGRATION_LOCK: i32 = 0x5342_0002;

/// How long a fenced writer's session may sit idle inside a transaction before the server ends
/// it: a holder paused in the middle of a commit keeps the lease row locked at most this long.
pub const FENCED_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a lease statement may wait for a row lock, or run, before it fails (and is tried
/// again at the next beat).
const LEASE_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a lease connection waits to connect (a lease beat must not hang on a server that is
/// down).
const LEASE_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A writer's binding to a lease: commits succeed only while the lease row `lease` has `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// The token of the term the writer serves.
    pub token: i64,
}

/// Log entries handed from the connection's thread to a `read_log` visitor at a time.
const LOG_CHUNK: i32 = 1024;

/// A connection to a PostgreSQL database: the writer ([`PostgresStore::open`]) or a read-only
/// reader beside it ([`PostgresStore::open_reader`]).
pub struct PostgresStore {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// What the connection's thread owns.
struct Session {
    client: Client,
    config: Config,
    role: Role,
}

enum Role {
    Writer(Writer),
    Reader,
    Lease,
}

/// What a connection is for.
enum Mode {
    Writer(Option<Fence>),
    Reader,
    Lease(String),
}

/// The writer's statements and counters. Only the writer writes (it holds the lock), so the
/// next `seq` and `ord` are known here; they advance only when a commit succeeds, so the log
/// has no gaps.
struct Writer {
    next_seq: i64,
    /// See [`Store::set_test_pause_inside_snapshot_writes`].
    snapshot_pause: Duration,
    next_ord: i64,
    /// The lease this writer is bound to, and the statement that reads its token.
    fence: Option<(Fence, Statement)>,
    log: Statement,
    event: Statement,
    finished: Statement,
    delete: Statement,
    setting: Statement,
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?…]`,
    /// or `postgresql://`), takes the writer's lock on its schema, and runs the migrations
    /// this version has that the database lacks.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::spawn(url, Mode::Writer(None))
    }

    /// A writer bound to a lease's token, for the node that holds the lease: no advisory lock,
    /// and every commit checks the token first (see the module's documentation). It refuses to
    /// open beside a plain writer ([`PostgresStore::open`]) of the same schema.
    pub fn open_fenced(url: &str, fence: Fence) -> Result<PostgresStore, StoreError> {
        PostgresStore::spawn(url, Mode::Writer(Some(fence)))
    }

    /// A read-only connection to a database a writer has migrated, for reads beside it.
    pub fn open_reader(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::spawn(url, Mode::Reader)
    }

    fn spawn(url: &str, mode: Mode) -> Result<PostgresStore, StoreError> {
        let mut config = config(url)?;
        if matches!(mode, Mode::Lease(_)) {
            let timeout = config
                .get_connect_timeout()
                .map_or(LEASE_CONNECT_TIMEOUT, |t| (*t).min(LEASE_CONNECT_TIMEOUT));
            config.connect_timeout(timeout);
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("switchboard-pg".into())
            .spawn(move || {
                let session = match Session::start(config, mode) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                session.run(queue);
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        let store = PostgresStore {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        ready.recv().map_err(|_| StoreError::ConnectionLost)??;
        Ok(store)
    }

    /// Runs `f` on the connection's thread and waits for its answer.
    fn call<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .ok_or(StoreError::ConnectionLost)?
            .send(Box::new(move |s: &mut Session| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| StoreError::ConnectionLost)?;
        rx.recv().map_err(|_| StoreError::ConnectionLost)?
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing the queue ends the thread, which closes the connection (and lets the lock go).
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Parses a URL, with defaults for what it does not say.
fn config(url: &str) -> Result<Config, StoreError> {
    let mut config: Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("switchboard");
    }
    Ok(config)
}

impl Session {
    fn start(config: Config, mode: Mode) -> Result<Session, StoreError> {
        let mut client = config.connect(NoTls)?;
        let role = match mode {
            Mode::Writer(fence) => Role::Writer(Writer::start(&mut client, fence)?),
            Mode::Reader => {
                client.batch_execute("SET default_transaction_read_only = on")?;
                check_version(&mut client)?;
                Role::Reader
            }
            Mode::Lease(name) => {
                set_lease_timeouts(&mut client)?;
                let schema: Option<String> = client
                    .query_one("SELECT current_schema()", &[])?
                    .try_get(0)?;
                migrate(&mut client, &schema.ok_or(StoreError::NoSchema)?)?;
                client.execute(
                    "INSERT INTO leases (name, holder, url, token, expires_at)
                     VALUES ($1, '', '', 0, '-infinity') ON CONFLICT (name) DO NOTHING",
                    &[&name],
                )?;
                Role::Lease
            }
        };
        Ok(Session {
            client,
            config,
            role,
        })
    }

    fn run(mut self, queue: mpsc::Receiver<Job>) {
        while let Ok(job) = queue.recv() {
            if self.client.is_closed() {
                // A connection that broke (the server restarted) connects again. For a writer
                // that is safe because of how the driver uses it: a commit that failed (its
                // outcome unknown) is followed by no other commit until the driver has rebuilt
                // its state from what the database holds, and a new writer reads where the log
                // ends from the database too.
                let writer = matches!(self.role, Role::Writer(_));
                match self.reconnect() {
                    Ok(()) if writer => tracing::warn!("the PostgreSQL writer reconnected"),
                    Ok(()) => tracing::info!("a PostgreSQL reader reconnected"),
                    Err(e) => tracing::warn!("a PostgreSQL connection could not reconnect: {e}"),
                }
            }
            job(&mut self);
        }
        if matches!(self.role, Role::Writer(_)) {
            // Let the writer's lock go now, not when the server notices the closed socket.
            let _ = self.client.batch_execute("SELECT pg_advisory_unlock_all()");
        }
    }

    fn reconnect(&mut self) -> Result<(), StoreError> {
        let mut client = self.config.connect(NoTls)?;
        match &self.role {
            Role::Lease => set_lease_timeouts(&mut client)?,
            Role::Reader => client.batch_execute("SET default_transaction_read_only = on")?,
            Role::Writer(w) => {
                // The same fence (a cluster node's term) or the schema's writer lock again.
                let fence = w.fence.as_ref().map(|(f, _)| f.clone());
                let snapshot_pause = w.snapshot_pause;
                let mut writer = Writer::start(&mut client, fence)?;
                writer.snapshot_pause = snapshot_pause;
                self.role = Role::Writer(writer);
            }
        }
        self.client = client;
        Ok(())
    }

    fn writer(&mut self) -> Result<(&mut Client, &mut Writer), StoreError> {
        match &mut self.role {
            Role::Writer(w) => Ok((&mut self.client, w)),
            Role::Reader | Role::Lease => Err(StoreError::ReadOnly),
        }
    }
}

/// Lease statements fail rather than wait long (for a row lock, or a slow server).
fn set_lease_timeouts(client: &mut Client) -> Result<(), StoreError> {
    client.batch_execute(&format!(
        "SET lock_timeout = {0}; SET statement_timeout = {0}",
        LEASE_STATEMENT_TIMEOUT.as_millis()
    ))?;
    Ok(())
}

impl Writer {
    fn start(client: &mut Client, fence: Option<Fence>) -> Result<Writer, StoreError> {
        client.batch_execute("SET synchronous_commit = on")?;
        let schema: Option<String> = client
            .query_one("SELECT current_schema()", &[])?
            .try_get(0)?;
        let schema = schema.ok_or(StoreError::NoSchema)?;
        if let Some(fence) = fence {
            return Writer::start_fenced(client, &schema, fence);
        }
        let deadline = Instant::now() + WRITER_LOCK_WAIT;
        loop {
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))",
                    &[&WRITER_LOCK, &schema],
                )?
                .try_get(0)?;
            if locked {
                break;
            }
            if Instant::now() >= deadline {
                return Err(StoreError::InUse(schema));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        migrate(client, &schema)?;
        // Nodes sharing the schema through a lease do not take the lock: one that holds the
        // lease now stands in the way as much.
        let leased: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM leases WHERE holder <> '' AND expires_at > now())",
                &[],
            )?
            .try_get(0)?;
        if leased {
            return Err(StoreError::InUse(schema));
        }
        Writer::prepare(client, None)
    }

    /// A writer bound to a lease: no advisory lock (only a check that no plain writer holds
    /// it), a short idle-in-transaction limit, and the token checked in every commit.
    fn start_fenced(client: &mut Client, schema: &str, fence: Fence) -> Result<Writer, StoreError> {
        migrate(client, schema)?;
        let free: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&WRITER_LOCK, &schema],
            )?
            .try_get(0)?;
        if !free {
            return Err(StoreError::InUse(schema.to_owned()));
        }
        client.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            &[&WRITER_LOCK, &schema],
        )?;
        client.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {}",
            FENCED_IDLE_TIMEOUT.as_millis()
        ))?;
        let check = client.prepare("SELECT token FROM leases WHERE name = $1 FOR SHARE")?;
        let writer = Writer::prepare(client, Some((fence, check)))?;
        // A writer whose term is already over learns it now, not at its first commit.
        writer.check_fence(client)?;
        Ok(writer)
    }

    fn prepare(
        client: &mut Client,
        fence: Option<(Fence, Statement)>,
    ) -> Result<Writer, StoreError> {
        // A snapshot may cover every entry the log still holds: numbering goes on after both.
        let next_seq: i64 = client
            .query_one(
                "SELECT GREATEST((SELECT COALESCE(MAX(seq), 0) FROM log),
                                 (SELECT COALESCE(MAX(seq), 0) FROM snapshots)) + 1",
                &[],
            )?
            .try_get(0)?;
        let next_ord: i64 = client
            .query_one("SELECT COALESCE(MAX(ord), 0) + 1 FROM events", &[])?
            .try_get(0)?;
        Ok(Writer {
            next_seq,
            snapshot_pause: Duration::ZERO,
            next_ord,
            fence,
            log: client
                .prepare("INSERT INTO log (seq, at_ms, body, term) VALUES ($1, $2, $3, $4)")?,
            event: client.prepare(
                "INSERT INTO events (sid, workspace_sid, event_type, at_ms, task_sid, worker_sid,
                 reservation_sid, workflow_sid, queue_sid, channel, data, ord)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (sid) DO UPDATE SET workspace_sid = excluded.workspace_sid,
                 event_type = excluded.event_type, at_ms = excluded.at_ms,
                 task_sid = excluded.task_sid, worker_sid = excluded.worker_sid,
                 reservation_sid = excluded.reservation_sid, workflow_sid = excluded.workflow_sid,
                 queue_sid = excluded.queue_sid, channel = excluded.channel,
                 data = excluded.data, ord = excluded.ord",
            )?,
            finished: client.prepare(
                "INSERT INTO finished_tasks (sid, workspace_sid, status, date_created_ms,
                 date_updated_ms, data) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (sid) DO UPDATE SET workspace_sid = excluded.workspace_sid,
                 status = excluded.status, date_created_ms = excluded.date_created_ms,
                 date_updated_ms = excluded.date_updated_ms, data = excluded.data",
            )?,
            delete: client.prepare("DELETE FROM finished_tasks WHERE sid = $1")?,
            setting: client.prepare(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?,
        })
    }

    /// Fails with [`StoreError::Fenced`] unless the lease still has this writer's token (in a
    /// transaction of its own).
    fn check_fence(&self, client: &mut Client) -> Result<(), StoreError> {
        let mut tx = client.transaction()?;
        self.fenced(&mut tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Inside a commit's transaction: holds the lease row (so a taker's update waits for this
    /// commit) and checks its token.
    fn fenced(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        let Some((fence, check)) = &self.fence else {
            return Ok(());
        };
        let current: i64 = match tx.query_opt(check, &[&fence.lease])? {
            Some(row) => row.try_get(0)?,
            None => 0,
        };
        if current != fence.token {
            return Err(StoreError::Fenced {
                lease: fence.lease.clone(),
                token: fence.token,
                current,
            });
        }
        Ok(())
    }

    fn commit(&mut self, client: &mut Client, batch: &Batch) -> Result<i64, StoreError> {
        let mut tx = client.transaction()?;
        self.fenced(&mut tx)?;
        let term = self.fence.as_ref().map_or(0, |(f, _)| f.token);
        let mut seq = self.next_seq;
        for e in &batch.log {
            tx.execute(&self.log, &[&seq, &e.at_ms, &e.body, &term])?;
            seq += 1;
        }
        let mut ord = self.next_ord;
        for e in &batch.events {
            tx.execute(
                &self.event,
                &[
                    &e.sid,
                    &e.workspace_sid,
                    &e.event_type,
                    &e.at_ms,
                    &e.task_sid,
                    &e.worker_sid,
                    &e.reservation_sid,
                    &e.workflow_sid,
                    &e.queue_sid,
                    &e.channel,
                    &e.data,
                    &ord,
                ],
            )?;
            ord += 1;
        }
        for t in &batch.finished {
            tx.execute(
                &self.finished,
                &[
                    &t.sid,
                    &t.workspace_sid,
                    &t.status,
                    &t.date_created_ms,
                    &t.date_updated_ms,
                    &t.data,
                ],
            )?;
        }
        for sid in &batch.deleted_tasks {
            tx.execute(&self.delete, &[sid])?;
        }
        for (k, v) in &batch.settings {
            tx.execute(&self.setting, &[k, v])?;
        }
        tx.commit()?;
        let first = if batch.log.is_empty() {
            0
        } else {
            self.next_seq
        };
        self.next_seq = seq;
        self.next_ord = ord;
        Ok(first)
    }
}

/// The version the database is at (0 before the first migration).
fn version(client: &mut Client) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?)
}

fn check_version(client: &mut Client) -> Result<i64, StoreError> {
    let found = version(client)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Runs the migrations the database lacks, all in one transaction with their records in
/// `schema_migrations`.
fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    let found = check_version(client)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    // Nodes starting together migrate one after the other; the later ones find nothing to do.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&MIGRATION_LOCK, &schema],
    )?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    for (version, sql) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )?;
        tracing::info!(schema, version, "migrated the PostgreSQL schema");
    }
    tx.commit()?;
    Ok(())
}

impl Store for PostgresStore {
    fn commit(&mut self, batch: &Batch) -> Result<i64, StoreError> {
        let batch = batch.clone();
        self.call(move |s| {
            let (client, writer) = s.writer()?;
            writer.commit(client, &batch)
        })
    }

    fn read_log_after(
        &mut self,
        after: i64,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        enum Msg {
            Rows(Vec<LogEntry>),
            Done,
            Failed(StoreError),
        }
        // The rows come in chunks over a short channel, so a long log is never all in memory;
        // a visitor that fails drops the channel, which stops the read.
        let (tx, rx) = mpsc::sync_channel::<Msg>(2);
        let read = move |s: &mut Session| {
            let result = (|| -> Result<bool, StoreError> {
                let mut t = s.client.transaction()?;
                let portal = t.bind(
                    "SELECT seq, at_ms, body FROM log WHERE seq > $1 ORDER BY seq",
                    &[&after],
                )?;
                loop {
                    let rows = t.query_portal(&portal, LOG_CHUNK)?;
                    if rows.is_empty() {
                        return Ok(true);
                    }
                    let chunk = rows
                        .iter()
                        .map(|r| {
                            Ok(LogEntry {
                                seq: r.try_get(0)?,
                                at_ms: r.try_get(1)?,
                                body: r.try_get(2)?,
                            })
                        })
                        .collect::<Result<Vec<_>, postgres::Error>>()?;
                    if tx.send(Msg::Rows(chunk)).is_err() {
                        return Ok(false);
                    }
                }
            })();
            let _ = tx.send(match result {
                Ok(_) => Msg::Done,
                Err(e) => Msg::Failed(e),
            });
        };
        self.jobs
            .as_ref()
            .ok_or(StoreError::ConnectionLost)?
            .send(Box::new(read))
            .map_err(|_| StoreError::ConnectionLost)?;
        loop {
            match rx.recv().map_err(|_| StoreError::ConnectionLost)? {
                Msg::Rows(rows) => {
                    for entry in rows {
                        visit(entry).map_err(StoreError::Visit)?;
                    }
                }
                Msg::Done => return Ok(()),
                Msg::Failed(e) => return Err(e),
            }
        }
    }

    fn prune(&mut self, before_ms: i64, limit: usize) -> Result<PruneReport, StoreError> {
        self.call(move |s| {
            let (client, writer) = s.writer()?;
            prune(client, writer, before_ms, limit)
        })
    }

    fn log_bounds(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        self.call(|s| {
            let row = s
                .client
                .query_one("SELECT MIN(seq), MAX(seq) FROM log", &[])?;
            let first: Option<i64> = row.try_get(0)?;
            let last: Option<i64> = row.try_get(1)?;
            Ok(first.zip(last))
        })
    }

    fn write_snapshot(
        &mut self,
        through_seq: i64,
        format: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let bytes = bytes.to_vec();
        self.call(move |s| {
            let (client, writer) = s.writer()?;
            let mut tx = client.transaction()?;
            writer.fenced(&mut tx)?;
            let row = tx.query_one(
                "SELECT (SELECT MAX(seq) FROM snapshots), (SELECT MAX(seq) FROM log)",
                &[],
            )?;
            check_snapshot_seq(through_seq, row.try_get(0)?, row.try_get(1)?)?;
            let term = writer.fence.as_ref().map_or(0, |(f, _)| f.token);
            tx.execute(
                "INSERT INTO snapshots (seq, format, bytes, created_at_ms, term)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&through_seq, &format, &bytes, &now_ms(), &term],
            )?;
            tx.execute(
                "DELETE FROM snapshots WHERE seq NOT IN
                 (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)",
                &[&(KEPT_SNAPSHOTS as i64)],
            )?;
            if !writer.snapshot_pause.is_zero() {
                std::thread::sleep(writer.snapshot_pause);
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn snapshots(&mut self) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.call(|s| {
            let rows = s.client.query(
                "SELECT seq, format, created_at_ms, octet_length(bytes)::bigint FROM snapshots
                 ORDER BY seq DESC",
                &[],
            )?;
            rows.iter().map(snapshot_info).collect()
        })
    }

    fn read_snapshot(&mut self, seq: i64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.call(move |s| {
            let row = s.client.query_opt(
                "SELECT seq, format, created_at_ms, octet_length(bytes)::bigint, bytes
                 FROM snapshots WHERE seq = $1",
                &[&seq],
            )?;
            row.map(|r| {
                Ok(StoredSnapshot {
                    info: snapshot_info(&r)?,
                    bytes: r.try_get(4)?,
                })
            })
            .transpose()
        })
    }

    fn prune_log(&mut self, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |s| {
            let (client, writer) = s.writer()?;
            let mut tx = client.transaction()?;
            writer.fenced(&mut tx)?;
            let deleted = tx.execute(
                "DELETE FROM log WHERE seq IN (SELECT seq FROM log WHERE seq <=
                   (SELECT CASE WHEN COUNT(*) >= $1 THEN MIN(seq) ELSE 0 END FROM snapshots)
                 ORDER BY seq LIMIT $2)",
                &[&(KEPT_SNAPSHOTS as i64), &limit],
            )?;
            tx.commit()?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }

    fn set_test_pause_inside_snapshot_writes(&mut self, pause: Duration) {
        let _ = self.call(move |s| {
            let (_, writer) = s.writer()?;
            writer.snapshot_pause = pause;
            Ok(())
        });
    }
}

fn snapshot_info(r: &postgres::Row) -> Result<SnapshotInfo, StoreError> {
    Ok(SnapshotInfo {
        seq: r.try_get(0)?,
        format: r.try_get(1)?,
        created_at_ms: r.try_get(2)?,
        size: r.try_get(3)?,
    })
}

/// Deletes one bounded batch of old events and finished tasks, in one transaction (autovacuum
/// reclaims the space: the tables stop growing once the retention window is full).
/// A fenced writer prunes only while it holds the lease, as it commits.
fn prune(
    client: &mut Client,
    writer: &Writer,
    before_ms: i64,
    limit: usize,
) -> Result<PruneReport, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut tx = client.transaction()?;
    writer.fenced(&mut tx)?;
    let events = tx.execute(
        "DELETE FROM events WHERE ctid IN
         (SELECT ctid FROM events WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
        &[&before_ms, &limit],
    )?;
    let left = limit.saturating_sub(i64::try_from(events).unwrap_or(i64::MAX));
    let finished_tasks = if left > 0 {
        tx.execute(
            "DELETE FROM finished_tasks WHERE ctid IN
             (SELECT ctid FROM finished_tasks WHERE date_updated_ms < $1
              ORDER BY date_updated_ms LIMIT $2)",
            &[&before_ms, &left],
        )?
    } else {
        0
    };
    tx.commit()?;
    Ok(PruneReport {
        events: usize::try_from(events).unwrap_or(usize::MAX),
        finished_tasks: usize::try_from(finished_tasks).unwrap_or(usize::MAX),
    })
}

type Param = Box<dyn ToSql + Sync + Send>;

fn refs(args: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl Reads for PostgresStore {
    fn events(
        &mut self,
        query: &EventQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (clause, mut args) = event_where(query);
        let n = args.len();
        let sql = format!(
            "SELECT sid, workspace_sid, event_type, at_ms, task_sid, worker_sid, reservation_sid,
                    workflow_sid, queue_sid, channel, data
             FROM events WHERE {clause} ORDER BY at_ms, ord LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        args.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        args.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
        self.call(move |s| {
            let rows = s.client.query(&sql, &refs(&args))?;
            rows.iter()
                .map(|r| {
                    Ok(EventRow {
                        sid: r.try_get(0)?,
                        workspace_sid: r.try_get(1)?,
                        event_type: r.try_get(2)?,
                        at_ms: r.try_get(3)?,
                        task_sid: r.try_get(4)?,
                        worker_sid: r.try_get(5)?,
                        reservation_sid: r.try_get(6)?,
                        workflow_sid: r.try_get(7)?,
                        queue_sid: r.try_get(8)?,
                        channel: r.try_get(9)?,
                        data: r.try_get(10)?,
                    })
                })
                .collect()
        })
    }

    fn event_counts(&mut self, query: &EventQuery) -> Result<Vec<(String, i64)>, StoreError> {
        let (clause, args) = event_where(query);
        let sql = format!(
            "SELECT event_type, COUNT(*) FROM events WHERE {clause} GROUP BY event_type ORDER BY event_type"
        );
        self.call(move |s| {
            let rows = s.client.query(&sql, &refs(&args))?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn finished_task(
        &mut self,
        workspace_sid: &str,
        sid: &str,
    ) -> Result<Option<TaskRow>, StoreError> {
        let (workspace_sid, sid) = (workspace_sid.to_owned(), sid.to_owned());
        self.call(move |s| {
            let row = s.client.query_opt(
                "SELECT sid, workspace_sid, status, date_created_ms, date_updated_ms, data
                 FROM finished_tasks WHERE workspace_sid = $1 AND sid = $2",
                &[&workspace_sid, &sid],
            )?;
            row.as_ref().map(task_row).transpose()
        })
    }

    fn finished_tasks(&mut self, query: &TaskQuery) -> Result<Vec<TaskRow>, StoreError> {
        let mut sql = String::from(
            "SELECT sid, workspace_sid, status, date_created_ms, date_updated_ms, data
             FROM finished_tasks WHERE workspace_sid = $1",
        );
        let mut args: Vec<Param> = vec![Box::new(query.workspace_sid.clone())];
        if !query.statuses.is_empty() {
            sql.push_str(" AND status = ANY($2)");
            args.push(Box::new(query.statuses.clone()));
        }
        sql.push_str(" ORDER BY date_created_ms, sid");
        self.call(move |s| {
            let rows = s.client.query(&sql, &refs(&args))?;
            rows.iter().map(task_row).collect()
        })
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.call(move |s| {
            let row = s
                .client
                .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }
}

fn task_row(r: &postgres::Row) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        sid: r.try_get(0)?,
        workspace_sid: r.try_get(1)?,
        status: r.try_get(2)?,
        date_created_ms: r.try_get(3)?,
        date_updated_ms: r.try_get(4)?,
        data: r.try_get(5)?,
    })
}

fn event_where(q: &EventQuery) -> (String, Vec<Param>) {
    let mut clauses = vec!["workspace_sid = $1".to_owned()];
    let mut args: Vec<Param> = vec![Box::new(q.workspace_sid.clone())];
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
            args.push(Box::new(value.clone()));
            clauses.push(format!("{column} = ${}", args.len()));
        }
    }
    if !q.event_types.is_empty() {
        args.push(Box::new(q.event_types.clone()));
        clauses.push(format!("event_type = ANY(${})", args.len()));
    }
    if let Some(from) = q.from_ms {
        args.push(Box::new(from));
        clauses.push(format!("at_ms >= ${}", args.len()));
    }
    if let Some(to) = q.to_ms {
        args.push(Box::new(to));
        clauses.push(format!("at_ms <= ${}", args.len()));
    }
    (clauses.join(" AND "), args)
}

/// A lease in the table `leases` of a schema, on a connection of its own (which connects again
/// after it broke, so a restarted server costs a beat or two, not the lease). Statements wait at
/// most [`LEASE_STATEMENT_TIMEOUT`] for a row lock or an answer.
///
/// - acquire: `UPDATE leases SET holder, url, token = token + 1, expires_at = now() + ttl
///   WHERE name = $1 AND (expires_at < now() OR holder = $me) RETURNING token`;
/// - renew: `UPDATE … SET expires_at = now() + ttl WHERE name = $1 AND token = $token AND holder
///   = $me`;
/// - release: the same with `expires_at = '-infinity'`.
pub struct PostgresLease {
    conn: PostgresStore,
    name: String,
    holder: String,
    url: String,
}

impl PostgresLease {
    /// Connects to the database `url` names, migrates it if need be, and makes sure the lease
    /// row `name` exists. `holder` is this node's id, `advertised` the URL it serves at.
    pub fn open(
        url: &str,
        name: &str,
        holder: &str,
        advertised: &str,
    ) -> Result<PostgresLease, StoreError> {
        Ok(PostgresLease {
            conn: PostgresStore::spawn(url, Mode::Lease(name.to_owned()))?,
            name: name.to_owned(),
            holder: holder.to_owned(),
            url: advertised.to_owned(),
        })
    }
}

fn ttl_ms(ttl: Duration) -> f64 {
    ttl.as_secs_f64() * 1000.0
}

impl crate::interface::Lease for PostgresLease {
    fn acquire(&mut self, ttl: Duration) -> Result<Option<i64>, StoreError> {
        let (name, holder, url) = (self.name.clone(), self.holder.clone(), self.url.clone());
        let ms = ttl_ms(ttl);
        self.conn.call(move |s| {
            let row = s.client.query_opt(
                "UPDATE leases SET holder = $2, url = $3, token = token + 1,
                        expires_at = now() + $4::float8 * interval '1 millisecond'
                 WHERE name = $1 AND (expires_at < now() OR holder = $2)
                 RETURNING token",
                &[&name, &holder, &url, &ms],
            )?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn renew(&mut self, token: i64, ttl: Duration) -> Result<bool, StoreError> {
        let (name, holder) = (self.name.clone(), self.holder.clone());
        let ms = ttl_ms(ttl);
        self.conn.call(move |s| {
            let n = s.client.execute(
                "UPDATE leases SET expires_at = now() + $4::float8 * interval '1 millisecond'
                 WHERE name = $1 AND holder = $2 AND token = $3",
                &[&name, &holder, &token, &ms],
            )?;
            Ok(n == 1)
        })
    }

    fn release(&mut self, token: i64) -> Result<(), StoreError> {
        let (name, holder) = (self.name.clone(), self.holder.clone());
        self.conn.call(move |s| {
            s.client.execute(
                "UPDATE leases SET expires_at = '-infinity'
                 WHERE name = $1 AND holder = $2 AND token = $3",
                &[&name, &holder, &token],
            )?;
            Ok(())
        })
    }

    fn holder(&mut self) -> Result<LeaseHolder, StoreError> {
        let name = self.name.clone();
        self.conn.call(move |s| {
            let row = s.client.query_opt(
                "SELECT holder, url, token, expires_at > now() FROM leases WHERE name = $1",
                &[&name],
            )?;
            Ok(match row {
                Some(r) => LeaseHolder {
                    holder: r.try_get(0)?,
                    url: r.try_get(1)?,
                    token: r.try_get(2)?,
                    live: r.try_get(3)?,
                },
                None => LeaseHolder {
                    holder: String::new(),
                    url: String::new(),
                    token: 0,
                    live: false,
                },
            })
        })
    }
}

/// The variable that names the PostgreSQL server tests use.
pub const TEST_SERVER_VAR: &str = "SWITCHBOARD_TEST_POSTGRES";

/// The server tests use when [`TEST_SERVER_VAR`] is unset.
pub const TEST_SERVER_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A throwaway schema on a PostgreSQL server, for tests: created empty by
/// [`ScratchSchema::create`], dropped with everything in it when the value is dropped. Its
/// [`url`](ScratchSchema::url) selects it (`options=-csearch_path=…`), so tests can share one
/// database and run side by side.
///
/// Every statement runs on a short-lived thread of its own, so this works from inside an async
/// runtime too.
pub struct ScratchSchema {
    server: String,
    name: String,
    url: String,
}

impl ScratchSchema {
    /// A fresh schema on the server `server_url` names.
    pub fn create(server_url: &str) -> Result<ScratchSchema, StoreError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "sb_test_{}_{}_{}",
            std::process::id(),
            nanos,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-csearch_path%3D{name}");
        let schema = ScratchSchema {
            server: server_url.to_owned(),
            name,
            url,
        };
        schema.on_server(&format!("CREATE SCHEMA {}", schema.name))?;
        Ok(schema)
    }

    /// A fresh schema on the test server: [`TEST_SERVER_VAR`] or [`TEST_SERVER_DEFAULT`]. The
    /// error says which server could not be reached and how to get one.
    pub fn for_tests() -> Result<ScratchSchema, String> {
        let server =
            std::env::var(TEST_SERVER_VAR).unwrap_or_else(|_| TEST_SERVER_DEFAULT.to_owned());
        ScratchSchema::create(&server).map_err(|e| {
            format!(
                "the PostgreSQL tests need a server at {server} ({TEST_SERVER_VAR}; trust \
                 auth, database `test`): {e}. Start one with `. scripts/lib/deps.sh; \
                 ensure_postgres`, or point {TEST_SERVER_VAR} at another."
            )
        })
    }

    /// The URL of a connection to this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs SQL in this schema on a connection of its own (tests that change the database
    /// behind a store's back).
    pub fn execute(&self, sql: &str) -> Result<(), StoreError> {
        run_once(&self.url, sql)
    }

    fn on_server(&self, sql: &str) -> Result<(), StoreError> {
        run_once(&self.server, sql)
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        if let Err(e) = self.on_server(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            tracing::warn!(schema = self.name, "cannot drop a scratch schema: {e}");
        }
    }
}

/// Runs SQL on a new connection, on a thread of its own.
fn run_once(url: &str, sql: &str) -> Result<(), StoreError> {
    let config = config(url)?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<(), StoreError> {
            let mut client = config.connect(NoTls)?;
            client.batch_execute(sql)?;
            Ok(())
        })
        .join()
        .map_err(|_| StoreError::ConnectionLost)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch schema on the test server. The tests fail, never skip, when it cannot be had.
    struct Scratch(ScratchSchema);

    impl crate::suite::Fixture for Scratch {
        fn new() -> Scratch {
            Scratch(ScratchSchema::for_tests().unwrap_or_else(|e| panic!("{e}")))
        }

        fn open(&self) -> Result<Box<dyn Store>, StoreError> {
            Ok(Box::new(PostgresStore::open(self.0.url())?))
        }

        fn reader(&self) -> Box<dyn Store> {
            Box::new(PostgresStore::open_reader(self.0.url()).unwrap())
        }

        fn execute(&self, sql: &str) {
            self.0.execute(sql).unwrap();
        }

        fn set_version(&self, version: i64) {
            self.execute(&format!(
                "INSERT INTO schema_migrations (version) VALUES ({version})"
            ));
        }
    }

    crate::suite::suite!(Scratch);

    fn client(url: &str) -> Client {
        config(url).unwrap().connect(NoTls).unwrap()
    }

    #[test]
    fn migrations_run_once_and_are_recorded() {
        let db = <Scratch as crate::suite::Fixture>::new();
        drop(PostgresStore::open(db.0.url()).unwrap());
        drop(PostgresStore::open(db.0.url()).unwrap());
        let mut c = client(db.0.url());
        let versions: Vec<i64> = c
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
        // The tables are in the scratch schema, not in public.
        let schema: String = c
            .query_one(
                "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'log'
                 AND table_schema = $1",
                &[&db.0.name()],
            )
            .unwrap()
            .get(0);
        assert_eq!(schema, db.0.name());
    }

    #[test]
    fn a_reader_of_an_unmigrated_schema_sees_no_table() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let mut r = PostgresStore::open_reader(db.0.url()).unwrap();
        let err = r.setting("k").unwrap_err();
        assert!(err.to_string().contains("settings"), "{err}");
    }

    #[test]
    fn one_writer_at_a_time() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let first = PostgresStore::open(db.0.url()).unwrap();
        match PostgresStore::open(db.0.url()) {
            Err(StoreError::InUse(schema)) => assert_eq!(schema, db.0.name()),
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a second writer opened the schema"),
        }
        // Readers are welcome beside the writer; once it closes, another writer may open.
        drop(PostgresStore::open_reader(db.0.url()).unwrap());
        drop(first);
        drop(PostgresStore::open(db.0.url()).unwrap());
    }

    #[test]
    fn a_reader_reconnects_after_its_connection_broke() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let mut w = PostgresStore::open(db.0.url()).unwrap();
        w.commit(&Batch {
            settings: vec![("k".into(), "v".into())],
            ..Default::default()
        })
        .unwrap();
        let mut r = PostgresStore::open_reader(db.0.url()).unwrap();
        let pid: i32 = r
            .call(|s| Ok(s.client.query_one("SELECT pg_backend_pid()", &[])?.get(0)))
            .unwrap();
        db.0.execute(&format!("SELECT pg_terminate_backend({pid})"))
            .unwrap();
        // The read that meets the broken connection fails; the next one is on a new connection.
        let first = r.setting("k");
        assert!(first.is_err(), "{first:?}");
        assert_eq!(r.setting("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn the_writer_reconnects_after_its_connection_broke() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let mut w = PostgresStore::open(db.0.url()).unwrap();
        let entry = |n: i64| LogEntry {
            seq: 0,
            at_ms: n,
            body: format!("{{\"n\":{n}}}"),
        };
        let first = w
            .commit(&Batch {
                log: vec![entry(1), entry(2)],
                ..Default::default()
            })
            .unwrap();
        let pid: i32 = w
            .call(|s| Ok(s.client.query_one("SELECT pg_backend_pid()", &[])?.get(0)))
            .unwrap();
        db.0.execute(&format!("SELECT pg_terminate_backend({pid})"))
            .unwrap();
        // The commit that meets the broken connection fails; the next one is on a new
        // connection, under the writer lock again, and continues the log where it ends.
        let broken = w.commit(&Batch {
            log: vec![entry(3)],
            ..Default::default()
        });
        assert!(broken.is_err(), "{broken:?}");
        let next = w
            .commit(&Batch {
                log: vec![entry(4)],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(next, first + 2);
        let mut seen = Vec::new();
        w.read_log_after(0, &mut |e| {
            seen.push(e.at_ms);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![1, 2, 4]);
        // The lock is held again: a second writer is refused.
        assert!(matches!(
            PostgresStore::open(db.0.url()),
            Err(StoreError::InUse(_))
        ));
    }

    #[test]
    fn errors_say_what_the_server_said() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let err = db.0.execute("SELECT * FROM nowhere").unwrap_err();
        assert!(
            err.to_string()
                .contains("relation \"nowhere\" does not exist"),
            "{err}"
        );
        let err = ScratchSchema::create("postgres://postgres@127.0.0.1:1/test")
            .err()
            .unwrap();
        assert!(err.to_string().contains("error connecting"), "{err}");
    }

    #[test]
    fn a_schema_that_does_not_exist_is_a_clear_error() {
        let server =
            std::env::var(TEST_SERVER_VAR).unwrap_or_else(|_| TEST_SERVER_DEFAULT.to_owned());
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3Dsb_no_such_schema");
        match PostgresStore::open(&url) {
            Err(StoreError::NoSchema) => {}
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("opened a schema that does not exist"),
        }
    }

    fn lease(db: &Scratch, holder: &str) -> PostgresLease {
        PostgresLease::open(db.0.url(), "state", holder, &format!("http://{holder}")).unwrap()
    }

    fn setting(key: &str) -> Batch {
        Batch {
            log: vec![LogEntry {
                seq: 0,
                at_ms: 1,
                body: key.into(),
            }],
            settings: vec![(key.into(), "v".into())],
            ..Default::default()
        }
    }

    #[test]
    fn a_lease_has_one_holder_at_a_time_and_a_new_token_each_time() {
        use crate::interface::Lease;
        let db = <Scratch as crate::suite::Fixture>::new();
        let (mut a, mut b) = (lease(&db, "a"), lease(&db, "b"));
        let long = Duration::from_secs(30);
        let t1 = a.acquire(long).unwrap().expect("a free lease is taken");
        assert_eq!(b.acquire(long).unwrap(), None, "a live lease is not taken");
        let h = b.holder().unwrap();
        assert_eq!(
            (h.holder.as_str(), h.url.as_str(), h.token, h.live),
            ("a", "http://a", t1, true)
        );
        assert!(a.renew(t1, long).unwrap());
        a.release(t1).unwrap();
        assert!(!b.holder().unwrap().live);
        let t2 = b
            .acquire(long)
            .unwrap()
            .expect("a released lease is taken at once");
        assert!(t2 > t1);
        assert!(!a.renew(t1, long).unwrap(), "a former holder cannot renew");
        // An expired lease goes to whoever asks first.
        assert!(b.renew(t2, Duration::from_millis(50)).unwrap());
        std::thread::sleep(Duration::from_millis(100));
        let t3 = a.acquire(long).unwrap().expect("an expired lease is taken");
        assert!(t3 > t2);
        assert!(!b.renew(t2, long).unwrap());
    }

    #[test]
    fn a_fenced_writer_never_commits_after_the_lease_moved_on() {
        use crate::interface::Lease;
        let db = <Scratch as crate::suite::Fixture>::new();
        let (mut a, mut b) = (lease(&db, "a"), lease(&db, "b"));
        let t1 = a.acquire(Duration::from_millis(200)).unwrap().unwrap();
        let fence = |token| Fence {
            lease: "state".into(),
            token,
        };
        let mut w1 = PostgresStore::open_fenced(db.0.url(), fence(t1)).unwrap();
        assert_eq!(w1.commit(&setting("one")).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(300));
        let t2 = b.acquire(Duration::from_secs(30)).unwrap().unwrap();
        match w1.commit(&setting("late")) {
            Err(StoreError::Fenced { token, current, .. }) => {
                assert_eq!((token, current), (t1, t2))
            }
            other => panic!("a fenced writer committed: {other:?}"),
        }
        assert!(matches!(
            PostgresStore::open_fenced(db.0.url(), fence(t1)),
            Err(StoreError::Fenced { .. })
        ));
        let mut w2 = PostgresStore::open_fenced(db.0.url(), fence(t2)).unwrap();
        assert_eq!(
            w2.commit(&setting("two")).unwrap(),
            2,
            "the log goes on without a gap"
        );
        assert!(matches!(
            w1.commit(&setting("later")),
            Err(StoreError::Fenced { .. })
        ));
        assert!(matches!(
            w1.prune(i64::MAX, 10),
            Err(StoreError::Fenced { .. })
        ));
        // Snapshots and the log's pruning are fenced as commits are.
        assert!(matches!(
            w1.write_snapshot(2, 1, b"late"),
            Err(StoreError::Fenced { .. })
        ));
        assert!(matches!(w1.prune_log(10), Err(StoreError::Fenced { .. })));
        assert_eq!(w2.snapshots().unwrap(), []);
        w2.write_snapshot(1, 1, b"one").unwrap();
        assert_eq!(w2.prune_log(10).unwrap(), 0);
        let term: i64 = client(db.0.url())
            .query_one("SELECT term FROM snapshots WHERE seq = 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(term, t2);
        assert!(w2.prune(0, 10).is_ok());
        let mut c = client(db.0.url());
        let rows: Vec<(i64, String, i64)> = c
            .query("SELECT seq, body, term FROM log ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(rows, [(1, "one".into(), t1), (2, "two".into(), t2)]);
        assert_eq!(w2.setting("late").unwrap(), None);
        // Plain and fenced writers keep out of each other's way.
        assert!(matches!(
            PostgresStore::open(db.0.url()),
            Err(StoreError::InUse(_))
        ));
        drop((w1, w2));
        b.release(t2).unwrap();
        let plain = PostgresStore::open(db.0.url()).unwrap();
        assert!(matches!(
            PostgresStore::open_fenced(db.0.url(), fence(t2)),
            Err(StoreError::InUse(_))
        ));
        drop(plain);
    }

    #[test]
    fn a_holder_paused_inside_a_commit_delays_a_takeover_only_briefly() {
        use crate::interface::Lease;
        let db = <Scratch as crate::suite::Fixture>::new();
        let (mut a, mut b) = (lease(&db, "a"), lease(&db, "b"));
        let t1 = a.acquire(Duration::from_millis(100)).unwrap().unwrap();
        drop(PostgresStore::open(db.0.url()).ok());
        // A writer stopped between its fencing check and its COMMIT: the row stays locked
        // until the server ends the idle transaction.
        let mut stuck = client(db.0.url());
        stuck
            .batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = {}; BEGIN;
                 SELECT token FROM leases WHERE name = 'state' FOR SHARE",
                FENCED_IDLE_TIMEOUT.as_millis()
            ))
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let started = Instant::now();
        let mut taken = None;
        while taken.is_none() && started.elapsed() < Duration::from_secs(6) {
            taken = b.acquire(Duration::from_secs(30)).unwrap_or(None);
        }
        let waited = started.elapsed();
        assert!(taken.is_some_and(|t| t > t1), "not taken in {waited:?}");
        assert!(
            waited < Duration::from_secs(3),
            "the takeover waited {waited:?}"
        );
        assert!(
            stuck.batch_execute("COMMIT").is_err(),
            "the stuck session was ended"
        );
    }

    #[test]
    fn the_store_works_from_inside_an_async_runtime() {
        let db = <Scratch as crate::suite::Fixture>::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut s = PostgresStore::open(db.0.url()).unwrap();
            s.commit(&Batch {
                settings: vec![("k".into(), "v".into())],
                ..Default::default()
            })
            .unwrap();
            assert_eq!(s.setting("k").unwrap().as_deref(), Some("v"));
            drop(s);
        });
    }
}
