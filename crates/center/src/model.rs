//! The durable model: workspaces (a routing engine each, plus the settings TaskRouter keeps beside
//! it), TwiML applications, the Flex configuration and API keys. Changed only by [`Entry`]s, the
//! same way live and in replay; what a change causes (events, finished tasks, webhooks, routing
//! events for the call rules, desktops to render) is staged here for the center to hand out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_routing::{Command, Event, EventType, Timestamp, Workspace, WorkspaceConfig};
use switchboard_sid::{
    mix128, Account, Activity, ApiKey, Application, Reservation, Sid, Task, Workflow,
    Workspace as WorkspaceKind,
};

use crate::dirty::Dirty;
use crate::entry::{Entry, TaskOrigin};
use crate::error::CenterError;
use crate::flex::FlexConfig;
use crate::io::{Commit, StoredEvent};
use crate::records::{ApiKeyRecord, ApplicationRecord};

/// An instruction given with a reservation update, kept for the voice layer.
pub type Instruction = (String, Map<String, Value>);

/// A workspace and the server-level settings the engine does not keep.
#[derive(Debug)]
pub struct WorkspaceState {
    /// The routing engine.
    pub engine: Workspace,
    /// Its name.
    pub friendly_name: String,
    /// Where its events are posted.
    pub event_callback_url: Option<String>,
    /// Which events are posted (all when `None`).
    pub events_filter: Option<Vec<String>>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// Instructions given with reservation updates.
    pub instructions: BTreeMap<Sid<Reservation>, Instruction>,
    pub(crate) origins: BTreeMap<Sid<Task>, TaskOrigin>,
    /// Seeds the SIDs of its stored events.
    pub(crate) seed: u128,
    /// How many events it has had: the next one's SID derives from it.
    pub(crate) event_count: u64,
}

impl WorkspaceState {
    /// Which call path created a live task, if one did.
    pub fn origin(&self, task: Sid<Task>) -> Option<TaskOrigin> {
        self.origins.get(&task).copied()
    }

    /// Live tasks created by the call path.
    pub fn call_tasks(&self) -> impl Iterator<Item = (Sid<Task>, TaskOrigin)> + '_ {
        self.origins.iter().map(|(t, o)| (*t, *o))
    }
}

/// What applying entries caused, waiting to be handed out.
#[derive(Debug, Default)]
pub struct Staged {
    /// To write.
    pub commit: Commit,
    /// Event webhooks to post (after the commit).
    pub webhooks: Vec<(String, StoredEvent)>,
    /// Routing events, in order, for the call rules.
    pub reactions: Vec<(Sid<WorkspaceKind>, Event)>,
    /// Desktops to render again.
    pub dirty: Dirty,
    /// The API keys changed.
    pub keys_changed: bool,
    /// Workers (or whole workspaces, `None`) deleted: their sessions close.
    pub gone: Vec<(Sid<WorkspaceKind>, Option<Sid<switchboard_sid::Worker>>)>,
}

/// The durable state.
#[derive(Debug)]
pub struct Model {
    account: Sid<Account>,
    pub(crate) workspaces: BTreeMap<Sid<WorkspaceKind>, WorkspaceState>,
    pub(crate) applications: BTreeMap<Sid<Application>, ApplicationRecord>,
    pub(crate) flex: FlexConfig,
    pub(crate) api_keys: BTreeMap<Sid<ApiKey>, ApiKeyRecord>,
    pub(crate) format: u32,
    replaying: bool,
    staged: Staged,
}

impl Model {
    /// An empty model for an account, reading a log (replaying) until [`Model::go_live`].
    pub fn new(account: Sid<Account>) -> Model {
        Model {
            account,
            workspaces: BTreeMap::new(),
            applications: BTreeMap::new(),
            flex: FlexConfig::default(),
            api_keys: BTreeMap::new(),
            format: 1,
            replaying: true,
            staged: Staged::default(),
        }
    }

    /// Replay is over: from now on changes are staged for output and checked strictly.
    pub fn go_live(&mut self) {
        self.replaying = false;
        self.staged = Staged::default();
    }

    /// Whether the log is still being read.
    pub fn replaying(&self) -> bool {
        self.replaying
    }

    /// The log format of the entries read last.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The account.
    pub fn account(&self) -> Sid<Account> {
        self.account
    }

    /// A workspace.
    pub fn workspace(&self, sid: Sid<WorkspaceKind>) -> Option<&WorkspaceState> {
        self.workspaces.get(&sid)
    }

    /// A workspace, or the error that names it.
    pub fn workspace_or_404(
        &self,
        sid: Sid<WorkspaceKind>,
    ) -> Result<&WorkspaceState, CenterError> {
        self.workspaces
            .get(&sid)
            .ok_or_else(|| CenterError::not_found(format!("Workspace {sid}")))
    }

    /// Every workspace, by SID.
    pub fn workspaces(&self) -> impl Iterator<Item = (Sid<WorkspaceKind>, &WorkspaceState)> {
        self.workspaces.iter().map(|(s, w)| (*s, w))
    }

    /// The workspace holding a task.
    pub fn workspace_of_task(&self, task: Sid<Task>) -> Option<Sid<WorkspaceKind>> {
        self.workspaces
            .iter()
            .find(|(_, w)| w.engine.task(task).is_some())
            .map(|(s, _)| *s)
    }

    /// The workspace holding a workflow.
    pub fn workspace_of_workflow(&self, workflow: Sid<Workflow>) -> Option<Sid<WorkspaceKind>> {
        self.workspaces
            .iter()
            .find(|(_, w)| w.engine.workflow(workflow).is_some())
            .map(|(s, _)| *s)
    }

    /// TwiML applications.
    pub fn applications(&self) -> &BTreeMap<Sid<Application>, ApplicationRecord> {
        &self.applications
    }

    /// The Flex configuration.
    pub fn flex(&self) -> &FlexConfig {
        &self.flex
    }

    /// API keys.
    pub fn api_keys(&self) -> &BTreeMap<Sid<ApiKey>, ApiKeyRecord> {
        &self.api_keys
    }

    /// What is staged.
    pub fn staged(&mut self) -> &mut Staged {
        &mut self.staged
    }

    /// The workspace's offline activity: Flex's `taskrouter_offline_activity_sid` when it belongs
    /// to this workspace, else an unavailable activity named Offline, else the default activity
    /// when it is unavailable.
    pub fn offline_activity(&self, ws: Sid<WorkspaceKind>) -> Option<Sid<Activity>> {
        let engine = &self.workspaces.get(&ws)?.engine;
        self.flex
            .settings()
            .offline_activity
            .filter(|a| engine.activity(*a).is_some())
            .or_else(|| {
                engine
                    .activities()
                    .find(|a| !a.available && a.friendly_name.eq_ignore_ascii_case("Offline"))
                    .map(|a| a.sid)
            })
            .or_else(|| {
                engine
                    .default_activity()
                    .filter(|a| !a.available)
                    .map(|a| a.sid)
            })
    }

    /// Applies a change at `now` and stages its log entry. A refused change changes nothing.
    pub fn execute(&mut self, now: Timestamp, entry: Entry) -> Result<(), CenterError> {
        self.apply(now, &entry)?;
        if !self.replaying {
            self.staged.commit.log.push((now, entry));
        }
        Ok(())
    }

    /// Applies an entry at `now`: the one path for live changes and for replay.
    pub fn apply(&mut self, now: Timestamp, entry: &Entry) -> Result<(), CenterError> {
        match entry {
            Entry::Format { version } => {
                self.format = *version;
                Ok(())
            }
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
                    return Err(CenterError::invalid(
                        "Sid",
                        format!("Workspace {sid} already exists"),
                    ));
                }
                let seed: u128 = seed
                    .parse()
                    .map_err(|_| CenterError::invalid("seed", "is not a decimal number"))?;
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
                        origins: BTreeMap::new(),
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
                    .ok_or_else(|| CenterError::not_found(format!("Workspace {sid}")))?;
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
            Entry::DeleteWorkspace { sid } => {
                self.workspaces
                    .remove(sid)
                    .ok_or_else(|| CenterError::not_found(format!("Workspace {sid}")))?;
                self.staged.gone.push((*sid, None));
                Ok(())
            }
            Entry::Engine {
                workspace,
                command,
                origin,
            } => {
                let format = self.format;
                let ws = self
                    .workspaces
                    .get_mut(workspace)
                    .ok_or_else(|| CenterError::not_found(format!("Workspace {workspace}")))?;
                let result = ws.engine.handle(now, command.clone());
                if result.is_ok() {
                    if let Command::CreateTask(t) = command {
                        let origin = origin.or_else(|| {
                            (format < 2 && legacy_call_task(t.attributes.as_deref()))
                                .then_some(TaskOrigin::Legacy)
                        });
                        if let Some(o) = origin {
                            ws.origins.insert(t.sid, o);
                        }
                    }
                    mark_command(&mut self.staged.dirty, *workspace, command);
                }
                self.collect(*workspace);
                result.map_err(CenterError::from)
            }
            Entry::ForgetTask { workspace, sid } => {
                self.workspace_or_404(*workspace)?;
                if !self.replaying {
                    self.staged.commit.deleted_tasks.push(*sid);
                }
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
                    .ok_or_else(|| CenterError::not_found(format!("Workspace {workspace}")))?;
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
                .ok_or_else(|| CenterError::not_found(format!("Application {sid}"))),
            Entry::SetConfiguration { configuration } => {
                self.flex.set(now, configuration, !self.replaying)?;
                self.staged.dirty.all = true;
                Ok(())
            }
            Entry::CreateApiKey {
                sid,
                friendly_name,
                secret_sha256,
                date_created,
            } => {
                self.api_keys.insert(
                    *sid,
                    ApiKeyRecord {
                        sid: *sid,
                        friendly_name: friendly_name.clone(),
                        secret_sha256: secret_sha256.clone(),
                        date_created: Timestamp(*date_created),
                        date_updated: now,
                    },
                );
                self.staged.keys_changed = true;
                Ok(())
            }
            Entry::UpdateApiKey { sid, friendly_name } => {
                let key = self
                    .api_keys
                    .get_mut(sid)
                    .ok_or_else(|| CenterError::not_found(format!("Key {sid}")))?;
                key.friendly_name = friendly_name.clone();
                key.date_updated = now;
                self.staged.keys_changed = true;
                Ok(())
            }
            Entry::DeleteApiKey { sid } => {
                self.api_keys
                    .remove(sid)
                    .ok_or_else(|| CenterError::not_found(format!("Key {sid}")))?;
                self.staged.keys_changed = true;
                Ok(())
            }
        }
    }

    /// Fires a workspace's routing deadlines up to `now`.
    pub fn fire_workspace(&mut self, ws: Sid<WorkspaceKind>, now: Timestamp) {
        if let Some(w) = self.workspaces.get_mut(&ws) {
            w.engine.handle_timeout(now);
        }
        self.collect(ws);
    }

    /// The earliest routing deadline, with its workspace.
    pub fn next_deadline(&self) -> Option<(Timestamp, Sid<WorkspaceKind>)> {
        self.workspaces
            .iter()
            .filter_map(|(s, w)| w.engine.poll_timeout().map(|t| (t, *s)))
            .min()
    }

    /// Moves a workspace's new events and finished tasks into what is staged.
    fn collect(&mut self, workspace: Sid<WorkspaceKind>) {
        let Some(ws) = self.workspaces.get_mut(&workspace) else {
            return;
        };
        let events = ws.engine.take_events();
        let finished = ws.engine.take_finished();
        let name: Arc<str> = Arc::from(ws.friendly_name.as_str());
        for e in events {
            ws.event_count += 1;
            let sid = Sid::from_u128(mix128(
                ws.seed ^ u128::from(ws.event_count) ^ (0x4556 << 112),
            ));
            if e.event_type == EventType::TaskDeleted {
                if let Some(t) = &e.task {
                    ws.origins.remove(&t.sid);
                    if !self.replaying {
                        self.staged.commit.deleted_tasks.push(t.sid);
                    }
                }
            }
            if self.replaying {
                continue;
            }
            mark_event(&mut self.staged.dirty, workspace, &ws.engine, &e);
            if e.event_type == EventType::WorkerDeleted {
                if let Some(w) = &e.worker {
                    self.staged.gone.push((workspace, Some(w.sid)));
                }
            }
            let stored = StoredEvent {
                workspace,
                workspace_name: name.clone(),
                sid,
                event: e.clone(),
            };
            let wanted = ws
                .events_filter
                .as_ref()
                .is_none_or(|f| f.iter().any(|t| t == e.event_type.as_str()));
            if let (Some(url), true) = (&ws.event_callback_url, wanted) {
                self.staged.webhooks.push((url.clone(), stored.clone()));
            }
            self.staged.commit.events.push(stored);
            self.staged.reactions.push((workspace, e));
        }
        for f in finished {
            for r in &f.reservations {
                ws.instructions.remove(&r.sid);
            }
            ws.origins.remove(&f.task.sid);
            if !self.replaying {
                self.staged.commit.finished.push((workspace, f));
            }
        }
    }
}

/// In a version-1 log, the call path's tasks were known by their attributes.
fn legacy_call_task(attributes: Option<&str>) -> bool {
    let Some(Ok(Value::Object(a))) = attributes.map(serde_json::from_str::<Value>) else {
        return false;
    };
    a.get("call_sid").is_some_and(Value::is_string)
        || a.get("outbound_to").is_some_and(Value::is_string)
}

/// Desktops a routing command changes beyond what its events say (TaskRouter has no event for
/// a renamed queue or a new default activity, which desktops show).
fn mark_command(dirty: &mut Dirty, ws: Sid<WorkspaceKind>, command: &Command) {
    match command {
        Command::UpdateWorkspace(_)
        | Command::CreateActivity { .. }
        | Command::UpdateActivity { .. }
        | Command::DeleteActivity { .. }
        | Command::CreateTaskChannel { .. }
        | Command::UpdateTaskChannel { .. }
        | Command::DeleteTaskChannel { .. }
        | Command::UpdateTaskQueue { .. }
        | Command::DeleteTaskQueue { .. } => {
            dirty.workspaces.insert(ws);
        }
        Command::UpdateWorker { sid, .. }
        | Command::UpdateWorkerChannel {
            worker_sid: sid, ..
        } => {
            dirty.workers.insert((ws, *sid));
        }
        _ => {}
    }
}

/// Desktops a routing event changes: its worker's, and those of the workers holding the task.
fn mark_event(dirty: &mut Dirty, ws: Sid<WorkspaceKind>, engine: &Workspace, e: &Event) {
    if let Some(w) = &e.worker {
        dirty.workers.insert((ws, w.sid));
    }
    if let Some(t) = e.task.as_ref().and_then(|t| engine.task(t.sid)) {
        let holders: BTreeSet<_> = t
            .reservations
            .iter()
            .filter_map(|r| engine.reservation(*r))
            .map(|r| r.worker_sid)
            .collect();
        dirty.workers.extend(holders.into_iter().map(|w| (ws, w)));
    }
}
