//! The core: the one thread that owns Switchboard's state.
//!
//! Every engine, the Flex configuration and the credentials live here, and only this thread
//! touches them. HTTP handlers send it closures ([`CoreHandle::run`]) and await the answer, so
//! requests are applied one at a time, in order, with no locks. Between requests the thread sleeps
//! until the next routing deadline and fires it.
//!
//! Durability: a change is applied to memory, then its log entry, the events it caused and the
//! tasks it finished are committed to the store in one transaction, and only then is the answer
//! sent. At start the log is replayed: the engine is deterministic, so replaying every command at
//! its time rebuilds the same state, deadlines included. If a commit fails, memory is ahead of the
//! disk; the core then refuses every further change until restarted (and reports not ready).

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_routing::{
    Command, Event, FinishedTask, TaskOrder, Timestamp, Workspace, WorkspaceConfig,
};
use switchboard_sid::{mix128, Account, ApiKey, Sid, Workspace as WorkspaceKind};
use switchboard_store::{Batch, LogEntry, Store};
use tokio::sync::oneshot;

use crate::api::ApiError;
use crate::credentials::{ApiKeyRecord, Credentials};
use crate::events::{self, Delivery};

/// A change to Switchboard's state, as written to the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// A new workspace.
    CreateWorkspace {
        /// Its SID.
        sid: Sid<WorkspaceKind>,
        /// Its name.
        friendly_name: String,
        /// Where its events are posted.
        event_callback_url: Option<String>,
        /// Which events are posted (all when `None`).
        events_filter: Option<Vec<String>>,
        /// Multitasking.
        multi_task_enabled: bool,
        /// FIFO or LIFO first.
        prioritize_queue_order: TaskOrder,
        /// Seed for derived SIDs, as decimal text.
        seed: String,
    },
    /// Server-level workspace settings.
    UpdateWorkspace {
        /// The workspace.
        sid: Sid<WorkspaceKind>,
        /// New name.
        friendly_name: Option<String>,
        /// New callback URL (`Some(None)` clears it).
        event_callback_url: Option<Option<String>>,
        /// New filter (`Some(None)` clears it).
        events_filter: Option<Option<Vec<String>>>,
    },
    /// A deleted workspace.
    DeleteWorkspace {
        /// The workspace.
        sid: Sid<WorkspaceKind>,
    },
    /// A routing command applied to a workspace.
    Engine {
        /// The workspace.
        workspace: Sid<WorkspaceKind>,
        /// The command.
        command: Command,
    },
    /// A finished task deleted through the API.
    ForgetTask {
        /// The workspace.
        workspace: Sid<WorkspaceKind>,
        /// The task.
        sid: Sid<switchboard_sid::Task>,
    },
    /// An instruction given with a reservation update (`Instruction=conference`, ...), kept for
    /// the voice layer.
    Instruction {
        /// The workspace.
        workspace: Sid<WorkspaceKind>,
        /// The reservation.
        reservation: Sid<switchboard_sid::Reservation>,
        /// `conference`, `dequeue`, `call`, `redirect`, ...
        instruction: String,
        /// Its parameters, by TaskRouter name.
        params: serde_json::Map<String, Value>,
    },
    /// A TwiML application created or changed.
    PutApplication {
        /// The application, whole.
        application: crate::calls::ApplicationRecord,
    },
    /// A TwiML application deleted.
    DeleteApplication {
        /// The application.
        sid: Sid<switchboard_sid::Application>,
    },
    /// The Flex configuration document, replaced whole.
    SetConfiguration {
        /// The new document.
        configuration: Value,
    },
    /// A new API key.
    CreateApiKey {
        /// Its SID.
        sid: Sid<ApiKey>,
        /// Its name.
        friendly_name: String,
        /// SHA-256 of its secret, hex.
        secret_sha256: String,
        /// Created at (ms).
        date_created: i64,
    },
    /// A renamed API key.
    UpdateApiKey {
        /// The key.
        sid: Sid<ApiKey>,
        /// Its new name.
        friendly_name: String,
    },
    /// A revoked API key.
    DeleteApiKey {
        /// The key.
        sid: Sid<ApiKey>,
    },
}

/// A workspace and the server-level settings the engine does not keep.
pub struct WorkspaceState {
    /// The routing engine.
    pub engine: Workspace,
    /// Its name.
    pub friendly_name: String,
    /// Where its events are posted.
    pub event_callback_url: Option<String>,
    /// Which events are posted.
    pub events_filter: Option<Vec<String>>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// Instructions given with reservation updates, for the voice layer.
    pub instructions:
        BTreeMap<Sid<switchboard_sid::Reservation>, (String, serde_json::Map<String, Value>)>,
    seed: u128,
    event_count: u64,
}

/// The state the core thread owns.
pub struct Core {
    store: Box<dyn Store>,
    /// The account and API keys (shared with the HTTP layer for authentication).
    pub credentials: Arc<RwLock<Credentials>>,
    /// Workspaces by SID.
    pub workspaces: BTreeMap<Sid<WorkspaceKind>, WorkspaceState>,
    /// The Flex configuration document.
    pub configuration: Value,
    /// When the configuration was first and last written.
    pub configuration_dates: Option<(Timestamp, Timestamp)>,
    batch: Batch,
    deliveries: Vec<Delivery>,
    replaying: bool,
    last_now: i64,
    webhooks: Option<tokio::sync::mpsc::Sender<Delivery>>,
    failed: Option<String>,
    /// Calls and conferences (not durable: calls do not survive a restart).
    pub voice: switchboard_voice::Voice,
    /// TwiML applications.
    pub applications: BTreeMap<Sid<switchboard_sid::Application>, crate::calls::ApplicationRecord>,
    /// What links calls to tasks, and how internal calls ended.
    pub calls: crate::calls::CallLinks,
    /// Connected agent desktops.
    pub desktops: crate::desktop::Sessions,
    /// Where webhook fetches for the voice layer go.
    pub fetches: Option<tokio::sync::mpsc::UnboundedSender<crate::calls::FetchJob>>,
    /// The server's own base URL (for the built-in functions).
    pub public_url: String,
    /// Routing events waiting for the call logic, in order.
    reactions: Vec<(Sid<WorkspaceKind>, Event)>,
    settling: bool,
    last_prune: i64,
}

/// How long an ended call or conference stays visible through the API.
const CALL_RETENTION_MS: i64 = 15 * 60 * 1000;

type Job = Box<dyn FnOnce(&mut Core) + Send>;

/// A way to reach the core from async code.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::Sender<Job>,
}

impl CoreHandle {
    /// Runs `f` on the core thread and returns its result.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |core| {
            let _ = tx.send(f(core));
        });
        self.tx
            .send(job)
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        rx.await
            .map_err(|_| ApiError::internal("the request failed inside the server"))
    }
}

impl Core {
    /// Opens the core over a store: replays the log, then fires what fell due while it was down.
    pub fn open(
        store: Box<dyn Store>,
        credentials: Arc<RwLock<Credentials>>,
        webhooks: Option<tokio::sync::mpsc::Sender<Delivery>>,
    ) -> Result<Core, String> {
        let mut core = Core {
            store,
            credentials,
            workspaces: BTreeMap::new(),
            configuration: Value::Object(Default::default()),
            configuration_dates: None,
            batch: Batch::default(),
            deliveries: Vec::new(),
            replaying: true,
            last_now: i64::MIN,
            webhooks,
            failed: None,
            voice: switchboard_voice::Voice::new(String::new(), crate::ids::random_u128()),
            applications: BTreeMap::new(),
            calls: crate::calls::CallLinks::default(),
            desktops: crate::desktop::Sessions::default(),
            fetches: None,
            public_url: String::new(),
            reactions: Vec::new(),
            settling: false,
            last_prune: 0,
        };
        let account = read(&core.credentials).account_sid.to_string();
        core.voice = switchboard_voice::Voice::new(account, crate::ids::random_u128());
        let mut entries = Vec::new();
        core.store
            .read_log(&mut |e| {
                entries.push(e);
                Ok(())
            })
            .map_err(|e| format!("reading the log: {e}"))?;
        let count = entries.len();
        for LogEntry { seq, at_ms, body } in entries {
            let entry: Entry = serde_json::from_str(&body)
                .map_err(|e| format!("log entry {seq} is not readable: {e}"))?;
            core.last_now = core.last_now.max(at_ms);
            core.apply(Timestamp(at_ms), &entry)
                .map_err(|e| format!("log entry {seq} no longer applies: {}", e.message))?;
            core.discard_outputs();
        }
        core.replaying = false;
        tracing::info!(
            entries = count,
            workspaces = core.workspaces.len(),
            "state rebuilt from the log"
        );
        // Calls do not survive a restart; their tasks must not wait for them.
        core.end_orphaned_call_tasks();
        let now = core.now();
        core.fire_due(now);
        Ok(core)
    }

    /// After a panic, memory may be ahead of what is stored: refuse every further change (the
    /// server reports not ready) until a restart rebuilds the state from the log.
    fn poison(&mut self, what: &str) {
        tracing::error!("{what}; refusing further changes until restarted");
        self.discard_outputs();
        self.settling = false;
        self.failed = Some(format!("{what}; restart the server"));
    }

    /// Whether the core can still accept changes.
    pub fn healthy(&self) -> Result<(), String> {
        match &self.failed {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    /// The current time, never earlier than a time already used.
    pub fn now(&mut self) -> Timestamp {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.last_now = self.last_now.max(wall);
        Timestamp(self.last_now)
    }

    /// The store, for reads.
    pub fn store(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// A workspace, or 404.
    pub fn workspace(&self, sid: Sid<WorkspaceKind>) -> Result<&WorkspaceState, ApiError> {
        self.workspaces
            .get(&sid)
            .ok_or_else(|| ApiError::not_found(format!("Workspace {sid}")))
    }

    /// Applies changes in order, stopping at the first refused one; what was applied is made
    /// durable either way.
    pub fn execute_many(&mut self, entries: Vec<Entry>) -> Result<(), ApiError> {
        for entry in entries {
            self.execute(entry)?;
        }
        Ok(())
    }

    /// Applies a change now, makes it durable, and sends its webhooks.
    pub fn execute(&mut self, entry: Entry) -> Result<(), ApiError> {
        if self.failed.is_some() {
            return Err(ApiError::unavailable(
                "the server cannot store changes (see its log); restart it",
            ));
        }
        let now = self.now();
        let result = self.apply(now, &entry);
        if result.is_ok() {
            match serde_json::to_string(&entry) {
                Ok(body) => self.batch.log.push(LogEntry {
                    seq: 0,
                    at_ms: now.0,
                    body,
                }),
                Err(e) => {
                    self.failed = Some(format!("a change could not be encoded: {e}"));
                    return Err(ApiError::internal("the change could not be recorded"));
                }
            }
        }
        self.flush()?;
        result
    }

    /// Applies an entry at `now`: the one path for live changes and for replay.
    fn apply(&mut self, now: Timestamp, entry: &Entry) -> Result<(), ApiError> {
        match entry {
            Entry::CreateWorkspace {
                sid,
                friendly_name,
                event_callback_url,
                events_filter,
                multi_task_enabled,
                prioritize_queue_order,
                seed,
            } => {
                if self.workspaces.contains_key(sid) {
                    return Err(ApiError::invalid(
                        "Sid",
                        format!("Workspace {sid} already exists"),
                    ));
                }
                let seed: u128 = seed.parse().map_err(|_| ApiError::internal("bad seed"))?;
                let engine = Workspace::new(WorkspaceConfig {
                    sid: *sid,
                    friendly_name: friendly_name.clone(),
                    multi_task_enabled: *multi_task_enabled,
                    prioritize_queue_order: *prioritize_queue_order,
                    seed,
                });
                self.workspaces.insert(
                    *sid,
                    WorkspaceState {
                        engine,
                        friendly_name: friendly_name.clone(),
                        event_callback_url: event_callback_url.clone(),
                        events_filter: events_filter.clone(),
                        date_created: now,
                        date_updated: now,
                        instructions: BTreeMap::new(),
                        seed,
                        event_count: 0,
                    },
                );
                Ok(())
            }
            Entry::UpdateWorkspace {
                sid,
                friendly_name,
                event_callback_url,
                events_filter,
            } => {
                let ws = self
                    .workspaces
                    .get_mut(sid)
                    .ok_or_else(|| ApiError::not_found(format!("Workspace {sid}")))?;
                if let Some(name) = friendly_name {
                    ws.friendly_name = name.clone();
                }
                if let Some(url) = event_callback_url {
                    ws.event_callback_url = url.clone();
                }
                if let Some(filter) = events_filter {
                    ws.events_filter = filter.clone();
                }
                ws.date_updated = now;
                Ok(())
            }
            Entry::DeleteWorkspace { sid } => self
                .workspaces
                .remove(sid)
                .map(|_| ())
                .ok_or_else(|| ApiError::not_found(format!("Workspace {sid}"))),
            Entry::Engine { workspace, command } => {
                let ws = self
                    .workspaces
                    .get_mut(workspace)
                    .ok_or_else(|| ApiError::not_found(format!("Workspace {workspace}")))?;
                let result = ws.engine.handle(now, command.clone());
                self.collect(*workspace);
                result.map_err(ApiError::from)
            }
            Entry::ForgetTask { workspace, sid } => {
                self.workspace(*workspace)?;
                self.batch.deleted_tasks.push(sid.to_string());
                Ok(())
            }
            Entry::Instruction {
                workspace,
                reservation,
                instruction,
                params,
            } => {
                let ws = self
                    .workspaces
                    .get_mut(workspace)
                    .ok_or_else(|| ApiError::not_found(format!("Workspace {workspace}")))?;
                ws.instructions
                    .insert(*reservation, (instruction.clone(), params.clone()));
                Ok(())
            }
            Entry::PutApplication { application } => {
                self.applications
                    .insert(application.sid, application.clone());
                Ok(())
            }
            Entry::DeleteApplication { sid } => self
                .applications
                .remove(sid)
                .map(|_| ())
                .ok_or_else(|| ApiError::not_found(format!("Application {sid}"))),
            Entry::SetConfiguration { configuration } => {
                self.configuration = configuration.clone();
                let created = self.configuration_dates.map_or(now, |(c, _)| c);
                self.configuration_dates = Some((created, now));
                Ok(())
            }
            Entry::CreateApiKey {
                sid,
                friendly_name,
                secret_sha256,
                date_created,
            } => {
                let mut creds = write(&self.credentials);
                creds.api_keys.insert(
                    *sid,
                    ApiKeyRecord {
                        sid: *sid,
                        friendly_name: friendly_name.clone(),
                        secret_sha256: secret_sha256.clone(),
                        date_created: Timestamp(*date_created),
                        date_updated: now,
                    },
                );
                Ok(())
            }
            Entry::UpdateApiKey { sid, friendly_name } => {
                let mut creds = write(&self.credentials);
                let key = creds
                    .api_keys
                    .get_mut(sid)
                    .ok_or_else(|| ApiError::not_found(format!("Key {sid}")))?;
                key.friendly_name = friendly_name.clone();
                key.date_updated = now;
                Ok(())
            }
            Entry::DeleteApiKey { sid } => write(&self.credentials)
                .api_keys
                .remove(sid)
                .map(|_| ())
                .ok_or_else(|| ApiError::not_found(format!("Key {sid}"))),
        }
    }

    /// Moves a workspace's new events and finished tasks into the pending batch and deliveries.
    fn collect(&mut self, workspace: Sid<WorkspaceKind>) {
        let account = read(&self.credentials).account_sid;
        let Some(ws) = self.workspaces.get_mut(&workspace) else {
            return;
        };
        let evs: Vec<Event> = ws.engine.take_events();
        let finished: Vec<FinishedTask> = ws.engine.take_finished();
        for e in &evs {
            ws.event_count += 1;
            let sid = Sid::from_u128(mix128(
                ws.seed ^ u128::from(ws.event_count) ^ (0x4556 << 112),
            ));
            if self.replaying {
                continue;
            }
            let row = events::event_row(account, workspace, &ws.friendly_name, sid, e);
            let wanted = ws
                .events_filter
                .as_ref()
                .is_none_or(|f| f.iter().any(|t| t == e.event_type.as_str()));
            if let (Some(url), true) = (&ws.event_callback_url, wanted) {
                self.deliveries.push(Delivery {
                    url: url.clone(),
                    params: events::webhook_params(account, workspace, &ws.friendly_name, sid, e),
                });
            }
            self.batch.events.push(row);
        }
        // Instructions are kept for live reservations only.
        for f in &finished {
            for r in &f.reservations {
                ws.instructions.remove(&r.sid);
            }
        }
        if !self.replaying {
            for f in &finished {
                self.batch
                    .finished
                    .push(events::finished_row(workspace, &ws.engine, f));
            }
        }
        if !self.replaying {
            self.reactions
                .extend(evs.iter().map(|e| (workspace, e.clone())));
        }
        for e in &evs {
            if e.event_type == switchboard_routing::EventType::TaskDeleted {
                if let Some(t) = &e.task {
                    self.batch.deleted_tasks.push(t.sid.to_string());
                }
            }
        }
    }

    fn discard_outputs(&mut self) {
        self.batch = Batch::default();
        self.deliveries.clear();
    }

    /// Commits the pending batch, then hands its webhooks to the sender.
    fn flush(&mut self) -> Result<(), ApiError> {
        if self.replaying {
            self.discard_outputs();
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        if !batch.is_empty() {
            if let Err(e) = self.store.commit(&batch) {
                tracing::error!(error = %e, "commit failed; refusing further changes");
                self.failed = Some(e.to_string());
                self.deliveries.clear();
                return Err(ApiError::internal("the change could not be stored"));
            }
        }
        if let Some(tx) = &self.webhooks {
            for d in self.deliveries.drain(..) {
                // Never wait for webhooks: when the queue is full (the receiver is far behind),
                // the event is still stored and listed by the Events API, but not posted.
                if let Err(tokio::sync::mpsc::error::TrySendError::Full(d)) = tx.try_send(d) {
                    tracing::warn!(url = %d.url, "event webhook queue is full; this event is not posted");
                }
            }
        } else {
            self.deliveries.clear();
        }
        Ok(())
    }

    /// The earliest routing deadline of any workspace.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.workspaces
            .values()
            .filter_map(|w| w.engine.poll_timeout())
            .chain(self.voice.poll_timeout().map(Timestamp))
            .chain(self.desktops.next_deadline())
            .min()
    }

    /// Fires every deadline up to `now` and stores what it caused.
    pub fn fire_due(&mut self, now: Timestamp) {
        let due: Vec<Sid<WorkspaceKind>> = self
            .workspaces
            .iter()
            .filter(|(_, w)| w.engine.poll_timeout().is_some_and(|t| t <= now))
            .map(|(s, _)| *s)
            .collect();
        for sid in due {
            if let Some(ws) = self.workspaces.get_mut(&sid) {
                ws.engine.handle_timeout(now);
            }
            self.collect(sid);
        }
        if let Err(e) = self.flush() {
            tracing::error!(error = %e.message, "storing fired deadlines failed");
        }
        if self.voice.poll_timeout().is_some_and(|t| t <= now.0) {
            self.voice.handle_timeout(now.0);
        }
        // Ended calls stay visible through the Calls API for a while, then are forgotten.
        if now.0 - self.last_prune >= 60_000 {
            self.last_prune = now.0;
            self.voice.prune(now.0 - CALL_RETENTION_MS);
        }
        self.desktop_deadlines(now);
    }

    /// Lets routing events and voice outputs act on each other until nothing is left, then
    /// brings connected desktops up to date. Re-entrant calls return at once: the outer loop
    /// picks up what they would have done.
    pub fn settle(&mut self) {
        if self.settling || self.replaying {
            return;
        }
        self.settling = true;
        // Bounded in practice: each round consumes what the previous one produced, and chains
        // (reservation → conference → enqueue → task) are a few steps long.
        for _ in 0..10_000 {
            let outputs = self.voice.take_outputs();
            let reactions = std::mem::take(&mut self.reactions);
            if outputs.is_empty() && reactions.is_empty() {
                break;
            }
            for o in outputs {
                self.on_voice_output(o);
            }
            for (ws, e) in reactions {
                self.on_routing_event(ws, &e);
            }
        }
        self.settling = false;
        self.push_desktops();
    }
}

/// Starts the core thread. It stops when every [`CoreHandle`] is dropped.
pub fn spawn(mut core: Core) -> std::io::Result<(CoreHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("switchboard-core".into())
        .spawn(move || loop {
            let now = core.now();
            let wait = core.next_deadline().map_or(Duration::from_secs(3600), |d| {
                Duration::from_millis(u64::try_from(d.0.saturating_sub(now.0)).unwrap_or(0))
            });
            match rx.recv_timeout(wait) {
                Ok(job) => {
                    let caught =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut core)));
                    if caught.is_err() {
                        core.poison("a request panicked inside the core");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let now = core.now();
                core.fire_due(now);
                core.settle();
            }));
            if caught.is_err() {
                core.poison("firing deadlines panicked inside the core");
            }
        })?;
    Ok((CoreHandle { tx }, thread))
}

fn write(lock: &RwLock<Credentials>) -> std::sync::RwLockWriteGuard<'_, Credentials> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads shared credentials (a poisoned lock still holds valid data: writers only insert/remove).
pub fn read(lock: &RwLock<Credentials>) -> std::sync::RwLockReadGuard<'_, Credentials> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The account SID, for resource JSON.
pub fn account_sid(core: &Core) -> Sid<Account> {
    read(&core.credentials).account_sid
}
