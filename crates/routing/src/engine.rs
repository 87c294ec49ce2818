//! The workspace engine: applies commands at given times, fires deadlines, and emits events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use switchboard_expr::{Context, Expression};
use switchboard_sid::{
    mix128, Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, WorkerChannel,
    Workflow, Workspace as WorkspaceKind,
};

use crate::attributes::Attributes;
use crate::command::*;
use crate::error::{EngineError, ResourceKind};
use crate::event::*;
use crate::sid_text::sid_text;
use crate::state::*;
use crate::time::Timestamp;
use crate::workflow::{RoutingConfig, MAX_PRIORITY};

/// The longest friendly name TaskRouter accepts.
pub const MAX_FRIENDLY_NAME: usize = 64;
/// The most activities a workspace may have.
pub const MAX_ACTIVITIES: usize = 100;
/// The most task channels a workspace may have.
pub const MAX_TASK_CHANNELS: usize = 15;
/// The most task queues a workspace may have.
pub const MAX_TASK_QUEUES: usize = 5_000;
/// The most workflows a workspace may have.
pub const MAX_WORKFLOWS: usize = 1_000;
/// The most workers a workspace may have.
pub const MAX_WORKERS: usize = 15_000;
/// The most live tasks a workspace may have.
pub const MAX_TASKS: usize = 500_000;
/// The most tasks of one channel a worker may hold.
pub const MAX_CHANNEL_CAPACITY: u32 = 50;
/// A task that went from pending to reserved this many times is canceled.
pub const MAX_ASSIGNMENT_COUNT: u32 = 1_000;
/// The default and largest task timeout (TTL), in seconds.
pub const DEFAULT_TASK_TIMEOUT: u64 = 86_400;
/// The largest task timeout, in seconds.
pub const MAX_TASK_TIMEOUT: u64 = 1_209_600;
/// The default reservation timeout, in seconds.
pub const DEFAULT_RESERVATION_TIMEOUT: u64 = 120;
/// The largest reservation timeout, in seconds.
pub const MAX_RESERVATION_TIMEOUT: u64 = 86_400;

/// Cancel reasons the engine writes (TaskRouter documents only the first; see docs/routing.md).
pub mod reasons {
    /// The task's timeout (TTL) passed before it was assigned.
    pub const TTL: &str = "Task TTL Exceeded";
    /// The last step of the workflow timed out.
    pub const WORKFLOW_TIMEOUT: &str = "Workflow Timeout";
    /// The task skipped out of the last step and there was nowhere else to go.
    pub const WORKFLOW_SKIPPED: &str = "Workflow Skipped";
    /// The task went from pending to reserved too many times.
    pub const MAX_ASSIGNMENTS: &str = "Max assignment count exceeded";
}

/// How a workspace is set up when it is made. Everything else comes through commands.
#[derive(Debug, Clone)]
pub struct WorkspaceConfig {
    /// Its SID.
    pub sid: Sid<WorkspaceKind>,
    /// Its name.
    pub friendly_name: String,
    /// Multitasking (per-channel capacity; TaskRouter's default) or single-tasking (one task at a
    /// time, queue reservation/assignment activities applied).
    pub multi_task_enabled: bool,
    /// Which family of queues a worker in both FIFO and LIFO queues serves first.
    pub prioritize_queue_order: TaskOrder,
    /// Mixed into derived SIDs (reservations, worker channels) so that two workspaces never share
    /// them. Any value works; the same value gives the same SIDs.
    pub seed: u128,
}

/// One TaskRouter workspace: its resources, its routing state, its deadlines.
///
/// Pure: no I/O, no clock, no threads. Feed it commands with [`Workspace::handle`] and the
/// passage of time with [`Workspace::handle_timeout`]; take the events with
/// [`Workspace::take_events`]; ask [`Workspace::poll_timeout`] when to call again.
#[derive(Debug)]
pub struct Workspace {
    pub(crate) sid: Sid<WorkspaceKind>,
    pub(crate) friendly_name: Arc<str>,
    pub(crate) multi_task: bool,
    pub(crate) prioritize: TaskOrder,
    pub(crate) seed: u128,
    pub(crate) default_activity: Option<Sid<Activity>>,
    pub(crate) timeout_activity: Option<Sid<Activity>>,
    pub(crate) now: Timestamp,
    pub(crate) activities: BTreeMap<Sid<Activity>, ActivityRecord>,
    pub(crate) channels: Vec<Option<ChannelRecord>>,
    pub(crate) workers: FxHashMap<Sid<Worker>, WorkerRecord>,
    pub(crate) worker_names: FxHashMap<Box<str>, Sid<Worker>>,
    /// Queues by SID. A hash map because the hot paths look up every queue of a worker (about
    /// 31 in the benchmark) on each reservation; `queue_order` gives the SID order.
    pub(crate) queues: FxHashMap<Sid<TaskQueue>, QueueRecord>,
    /// The SIDs of `queues`, in order, for every walk whose order can show (`queues()`,
    /// membership re-evaluation).
    pub(crate) queue_order: BTreeSet<Sid<TaskQueue>>,
    pub(crate) workflows: BTreeMap<Sid<Workflow>, WorkflowRecord>,
    pub(crate) tasks: FxHashMap<Sid<Task>, TaskRecord>,
    pub(crate) reservations: FxHashMap<Sid<Reservation>, ReservationRecord>,
    /// Ready workers by channel slot, longest idle first (see `matching`).
    pub(crate) ready: Vec<BTreeSet<(Timestamp, Sid<Worker>)>>,
    /// How many members of each queue are ready, at `num * MAX_TASK_CHANNELS + slot` (channel
    /// slots are reused, so there are never more than `MAX_TASK_CHANNELS`). One flat array,
    /// because a worker's readiness toggling bumps a counter in each of its queues.
    pub(crate) ready_counts: Vec<u32>,
    /// How many tasks wait in each queue's `waiting` set, laid out as `ready_counts`: a worker
    /// looking for work skips its queues with nothing waiting without looking them up.
    pub(crate) waiting_counts: Vec<u32>,
    /// Queue numbers freed by deleted queues, for reuse.
    pub(crate) free_queue_nums: Vec<u32>,
    pub(crate) known_waiting: FxHashMap<KnownKey, BTreeSet<(OrderKey, Sid<Task>)>>,
    pub(crate) timers: BTreeSet<(Timestamp, Timer)>,
    pub(crate) clock_tasks: BTreeSet<Sid<Task>>,
    pub(crate) clock_timer: Option<Timestamp>,
    pub(crate) dirty_tasks: Vec<Sid<Task>>,
    pub(crate) dirty_workers: Vec<Sid<Worker>>,
    /// Scratch space for `try_task`'s candidate workers (always empty between commands).
    pub(crate) candidates: Vec<Sid<Worker>>,
    pub(crate) events: Vec<Event>,
    pub(crate) finished: Vec<FinishedTask>,
}

/// Whether an activity change withdraws the worker's pending reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnUnavailable {
    /// Cancel them (the default when a worker leaves an available activity).
    Cancel,
    /// Reject them (`RejectPendingReservations=true`).
    Reject,
    /// Leave them (the engine moving a single-tasking worker to a reservation activity).
    Keep,
}

impl Workspace {
    /// An empty workspace.
    pub fn new(config: WorkspaceConfig) -> Workspace {
        Workspace {
            sid: config.sid,
            friendly_name: Arc::from(config.friendly_name),
            multi_task: config.multi_task_enabled,
            prioritize: config.prioritize_queue_order,
            seed: config.seed,
            default_activity: None,
            timeout_activity: None,
            now: Timestamp(i64::MIN),
            activities: BTreeMap::new(),
            channels: Vec::new(),
            workers: FxHashMap::default(),
            worker_names: FxHashMap::default(),
            queues: FxHashMap::default(),
            queue_order: BTreeSet::new(),
            workflows: BTreeMap::new(),
            tasks: FxHashMap::default(),
            reservations: FxHashMap::default(),
            ready: Vec::new(),
            ready_counts: Vec::new(),
            waiting_counts: Vec::new(),
            free_queue_nums: Vec::new(),
            known_waiting: FxHashMap::default(),
            timers: BTreeSet::new(),
            clock_tasks: BTreeSet::new(),
            clock_timer: None,
            dirty_tasks: Vec::new(),
            dirty_workers: Vec::new(),
            candidates: Vec::new(),
            events: Vec::new(),
            finished: Vec::new(),
        }
    }

    // ----------------------------------------------------------------------------------------
    // The driving API

    /// Applies a command at time `now`, after firing every deadline up to `now`. A refused
    /// command changes nothing (deadlines fired before it stay fired, their events queued).
    pub fn handle(&mut self, now: Timestamp, command: Command) -> Result<(), EngineError> {
        self.handle_timeout(now);
        let result = self.apply(command);
        self.run_matching();
        self.schedule_clock();
        result
    }

    /// Fires every deadline at or before `now`, in order, each at its own time.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, timer));
            self.now = self.now.max(at);
            self.fire(timer);
            self.run_matching();
            self.schedule_clock();
        }
        self.now = self.now.max(now);
    }

    /// When [`Workspace::handle_timeout`] should next be called, if anything is due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The events produced since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The tasks that completed or were canceled since the last call, with their reservations.
    /// They are no longer in the engine; deleted tasks are not included.
    pub fn take_finished(&mut self) -> Vec<FinishedTask> {
        std::mem::take(&mut self.finished)
    }

    /// The engine's time: the latest instant it was given.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    // ----------------------------------------------------------------------------------------
    // Reading

    /// The workspace SID.
    pub fn sid(&self) -> Sid<WorkspaceKind> {
        self.sid
    }
    /// The workspace name.
    pub fn friendly_name(&self) -> &str {
        &self.friendly_name
    }
    /// Whether multitasking is on.
    pub fn multi_task_enabled(&self) -> bool {
        self.multi_task
    }
    /// FIFO or LIFO first.
    pub fn prioritize_queue_order(&self) -> TaskOrder {
        self.prioritize
    }
    /// The activity new workers get.
    pub fn default_activity(&self) -> Option<&ActivityRecord> {
        self.default_activity.and_then(|a| self.activities.get(&a))
    }
    /// The activity workers get when a reservation times out.
    pub fn timeout_activity(&self) -> Option<&ActivityRecord> {
        self.timeout_activity.and_then(|a| self.activities.get(&a))
    }
    /// An activity.
    pub fn activity(&self, sid: Sid<Activity>) -> Option<&ActivityRecord> {
        self.activities.get(&sid)
    }
    /// All activities, by SID.
    pub fn activities(&self) -> impl Iterator<Item = &ActivityRecord> {
        self.activities.values()
    }
    /// A task channel.
    pub fn channel(&self, sid: Sid<TaskChannel>) -> Option<&ChannelRecord> {
        self.channels.iter().flatten().find(|c| c.sid == sid)
    }
    /// A task channel by unique name.
    pub fn channel_by_name(&self, unique_name: &str) -> Option<&ChannelRecord> {
        self.channels
            .iter()
            .flatten()
            .find(|c| &*c.unique_name == unique_name)
    }
    /// All task channels, in creation order.
    pub fn channels(&self) -> impl Iterator<Item = &ChannelRecord> {
        self.channels.iter().flatten()
    }
    /// A worker.
    pub fn worker(&self, sid: Sid<Worker>) -> Option<&WorkerRecord> {
        self.workers.get(&sid)
    }
    /// A worker by friendly name (case-insensitive).
    pub fn worker_by_name(&self, name: &str) -> Option<&WorkerRecord> {
        self.worker_names
            .get(name.to_lowercase().as_str())
            .and_then(|s| self.workers.get(s))
    }
    /// All workers, in no particular order.
    pub fn workers(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.workers.values()
    }
    /// A worker's record on a channel, with the channel.
    pub fn worker_channels(
        &self,
        worker: Sid<Worker>,
    ) -> impl Iterator<Item = (&ChannelRecord, &WorkerChannelRecord)> {
        let w = self.workers.get(&worker);
        self.channels
            .iter()
            .enumerate()
            .filter_map(move |(slot, c)| {
                let wc = w?.channels.get(slot)?.as_ref()?;
                Some((c.as_ref()?, wc))
            })
    }
    /// A task queue.
    pub fn queue(&self, sid: Sid<TaskQueue>) -> Option<&QueueRecord> {
        self.queues.get(&sid)
    }
    /// All task queues, by SID.
    pub fn queues(&self) -> impl Iterator<Item = &QueueRecord> {
        self.queue_order.iter().filter_map(|q| self.queues.get(q))
    }
    /// A workflow.
    pub fn workflow(&self, sid: Sid<Workflow>) -> Option<&WorkflowRecord> {
        self.workflows.get(&sid)
    }
    /// All workflows, by SID.
    pub fn workflows(&self) -> impl Iterator<Item = &WorkflowRecord> {
        self.workflows.values()
    }
    /// A live task (pending, reserved, assigned or wrapping). Finished tasks leave the engine.
    pub fn task(&self, sid: Sid<Task>) -> Option<&TaskRecord> {
        self.tasks.get(&sid)
    }
    /// All live tasks, in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskRecord> {
        self.tasks.values()
    }
    /// A reservation of a live task.
    pub fn reservation(&self, sid: Sid<Reservation>) -> Option<&ReservationRecord> {
        self.reservations.get(&sid)
    }
    /// All reservations of live tasks, in no particular order.
    pub fn reservations(&self) -> impl Iterator<Item = &ReservationRecord> {
        self.reservations.values()
    }
    /// Whether a worker is in an available activity.
    pub fn worker_available(&self, worker: &WorkerRecord) -> bool {
        self.activities
            .get(&worker.activity_sid)
            .is_some_and(|a| a.available)
    }
    /// The worker's activity name.
    pub fn activity_name(&self, sid: Sid<Activity>) -> Arc<str> {
        self.activities
            .get(&sid)
            .map(|a| a.friendly_name.clone())
            .unwrap_or_else(|| Arc::from(""))
    }
    /// Evaluates a worker against a `TargetWorkers` expression (queue membership rules).
    pub fn worker_matches(&self, worker: &WorkerRecord, expression: &Expression) -> bool {
        expression.evaluate(&switchboard_expr::Scope {
            worker: Some(&self.worker_view(worker)),
            ..Default::default()
        })
    }

    // ----------------------------------------------------------------------------------------
    // Commands

    fn apply(&mut self, command: Command) -> Result<(), EngineError> {
        match command {
            Command::UpdateWorkspace(u) => self.update_workspace(u),
            Command::CreateActivity {
                sid,
                friendly_name,
                available,
            } => self.create_activity(sid, friendly_name, available),
            Command::UpdateActivity { sid, friendly_name } => {
                self.update_activity(sid, friendly_name)
            }
            Command::DeleteActivity { sid } => self.delete_activity(sid),
            Command::CreateTaskChannel {
                sid,
                unique_name,
                friendly_name,
                channel_optimized_routing,
            } => self.create_channel(sid, unique_name, friendly_name, channel_optimized_routing),
            Command::UpdateTaskChannel {
                sid,
                friendly_name,
                channel_optimized_routing,
            } => self.update_channel(sid, friendly_name, channel_optimized_routing),
            Command::DeleteTaskChannel { sid } => self.delete_channel(sid),
            Command::CreateWorker(w) => self.create_worker(w),
            Command::UpdateWorker { sid, update } => self.update_worker(sid, update),
            Command::DeleteWorker { sid } => self.delete_worker(sid),
            Command::UpdateWorkerChannel {
                worker_sid,
                channel,
                capacity,
                available,
            } => self.update_worker_channel(worker_sid, &channel, capacity, available),
            Command::CreateTaskQueue(q) => self.create_queue(q),
            Command::UpdateTaskQueue { sid, update } => self.update_queue(sid, update),
            Command::DeleteTaskQueue { sid } => self.delete_queue(sid),
            Command::CreateWorkflow(w) => self.create_workflow(w),
            Command::UpdateWorkflow { sid, update } => self.update_workflow(sid, update),
            Command::DeleteWorkflow { sid } => self.delete_workflow(sid),
            Command::CreateTask(t) => self.create_task(t),
            Command::UpdateTask { sid, update } => self.update_task(sid, update),
            Command::DeleteTask { sid } => self.delete_task(sid),
            Command::UpdateReservation { sid, action } => self.update_reservation(sid, action),
        }
    }

    fn update_workspace(&mut self, u: WorkspaceUpdate) -> Result<(), EngineError> {
        for (param, a) in [
            ("DefaultActivitySid", u.default_activity_sid),
            ("TimeoutActivitySid", u.timeout_activity_sid),
        ] {
            if let Some(a) = a {
                self.require_activity(param, a)?;
            }
        }
        if let Some(a) = u.default_activity_sid {
            self.default_activity = Some(a);
        }
        if let Some(a) = u.timeout_activity_sid {
            self.timeout_activity = Some(a);
        }
        if let Some(order) = u.prioritize_queue_order {
            if order != self.prioritize {
                self.prioritize = order;
                self.rekey_tasks(|_| true);
            }
        }
        self.emit(Event::new(
            EventType::WorkspaceUpdated,
            self.now,
            ResourceSid::Workspace,
        ));
        Ok(())
    }

    fn create_activity(
        &mut self,
        sid: Sid<Activity>,
        friendly_name: String,
        available: bool,
    ) -> Result<(), EngineError> {
        if self.activities.contains_key(&sid) {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::Activity,
                sid: sid.to_string(),
            });
        }
        if self.activities.len() >= MAX_ACTIVITIES {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_ACTIVITIES} activities"
            )));
        }
        check_name("FriendlyName", &friendly_name)?;
        if self
            .activities
            .values()
            .any(|a| a.friendly_name.eq_ignore_ascii_case(&friendly_name))
        {
            return Err(EngineError::invalid(
                "FriendlyName",
                format!("{friendly_name:?} is already the name of another activity"),
            ));
        }
        let record = ActivityRecord {
            sid,
            sid_text: sid_text(sid),
            friendly_name: Arc::from(friendly_name),
            available,
            date_created: self.now,
            date_updated: self.now,
        };
        self.activities.insert(sid, record);
        self.emit_activity(EventType::ActivityCreated, sid);
        Ok(())
    }

    fn update_activity(
        &mut self,
        sid: Sid<Activity>,
        friendly_name: String,
    ) -> Result<(), EngineError> {
        self.require_activity("Sid", sid)?;
        check_name("FriendlyName", &friendly_name)?;
        if self
            .activities
            .values()
            .any(|a| a.sid != sid && a.friendly_name.eq_ignore_ascii_case(&friendly_name))
        {
            return Err(EngineError::invalid(
                "FriendlyName",
                format!("{friendly_name:?} is already the name of another activity"),
            ));
        }
        let now = self.now;
        if let Some(a) = self.activities.get_mut(&sid) {
            a.friendly_name = Arc::from(friendly_name);
            a.date_updated = now;
        }
        // Activity names are visible to queue expressions (`activity_name`).
        let mut members: Vec<Sid<Worker>> = self
            .workers
            .values()
            .filter(|w| w.activity_sid == sid)
            .map(|w| w.sid)
            .collect();
        // In SID order: the order they look for work in must not depend on the map's history
        // (a workspace restored from a snapshot has the same workers in a map built otherwise).
        members.sort();
        for w in members {
            self.reevaluate_membership(w, |e| e.worker_roots().contains("activity_name"));
            self.dirty_workers.push(w);
        }
        self.emit_activity(EventType::ActivityUpdated, sid);
        Ok(())
    }

    fn delete_activity(&mut self, sid: Sid<Activity>) -> Result<(), EngineError> {
        self.require_activity("Sid", sid)?;
        if self.default_activity == Some(sid) || self.timeout_activity == Some(sid) {
            return Err(EngineError::Conflict(format!(
                "Activity {sid} is the workspace's default or timeout activity and cannot be deleted"
            )));
        }
        if self.workers.values().any(|w| w.activity_sid == sid) {
            return Err(EngineError::Conflict(format!(
                "Activity {sid} cannot be deleted while workers are in it"
            )));
        }
        if self.queues.values().any(|q| {
            q.reservation_activity_sid == Some(sid) || q.assignment_activity_sid == Some(sid)
        }) {
            return Err(EngineError::Conflict(format!(
                "Activity {sid} is a task queue's reservation or assignment activity and cannot be deleted"
            )));
        }
        let text = sid.to_string();
        if self.workflows.values().any(|wf| {
            wf.config
                .filters
                .iter()
                .flat_map(|f| f.targets.iter())
                .chain(wf.config.default_filter.iter())
                .filter_map(|t| t.skip_if.as_ref())
                .any(|e| e.activity_sids().contains(&text))
        }) {
            return Err(EngineError::Conflict(format!(
                "Activity {sid} is named by a workflow's skip_if and cannot be deleted"
            )));
        }
        self.emit_activity(EventType::ActivityDeleted, sid);
        self.activities.remove(&sid);
        Ok(())
    }

    fn create_channel(
        &mut self,
        sid: Sid<TaskChannel>,
        unique_name: String,
        friendly_name: String,
        optimized: bool,
    ) -> Result<(), EngineError> {
        if self.channel(sid).is_some() {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::TaskChannel,
                sid: sid.to_string(),
            });
        }
        if self.channels().count() >= MAX_TASK_CHANNELS {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_TASK_CHANNELS} task channels"
            )));
        }
        check_name("FriendlyName", &friendly_name)?;
        check_unique_name(&unique_name)?;
        if self.channel_by_name(&unique_name).is_some() {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::TaskChannel,
                sid: unique_name,
            });
        }
        let record = ChannelRecord {
            sid,
            unique_name: Arc::from(unique_name),
            friendly_name: Arc::from(friendly_name),
            channel_optimized_routing: optimized,
            date_created: self.now,
            date_updated: self.now,
        };
        let slot = match self.channels.iter().position(Option::is_none) {
            Some(slot) => {
                self.channels[slot] = Some(record);
                slot
            }
            None => {
                self.channels.push(Some(record));
                let len = self.channels.len();
                self.ready.resize_with(len, BTreeSet::new);
                for q in self.queues.values_mut() {
                    q.waiting.resize_with(len, BTreeSet::new);
                }
                for w in self.workers.values_mut() {
                    w.channels.resize_with(len, || None);
                    w.indexed.resize(len, None);
                }
                len - 1
            }
        };
        let (now, seed) = (self.now, self.seed);
        let mut sids: Vec<Sid<Worker>> = self.workers.keys().copied().collect();
        sids.sort();
        for w in &sids {
            if let Some(rec) = self.workers.get_mut(w) {
                rec.channels[slot] = Some(new_worker_channel(seed, *w, sid, now));
            }
        }
        for w in sids {
            self.refresh_worker_index(w, true);
        }
        self.emit_channel(EventType::TaskChannelCreated, slot);
        Ok(())
    }

    fn update_channel(
        &mut self,
        sid: Sid<TaskChannel>,
        friendly_name: Option<String>,
        optimized: Option<bool>,
    ) -> Result<(), EngineError> {
        let slot = self.channel_slot_of(sid)?;
        if let Some(name) = &friendly_name {
            check_name("FriendlyName", name)?;
        }
        let now = self.now;
        let mut rekey = false;
        if let Some(c) = self.channels[slot].as_mut() {
            if let Some(name) = friendly_name {
                c.friendly_name = Arc::from(name);
            }
            if let Some(o) = optimized {
                rekey = o != c.channel_optimized_routing;
                c.channel_optimized_routing = o;
            }
            c.date_updated = now;
        }
        if rekey {
            let mut sids: Vec<Sid<Worker>> = self.workers.keys().copied().collect();
            sids.sort();
            for w in sids {
                self.refresh_worker_index(w, false);
            }
        }
        self.emit_channel(EventType::TaskChannelUpdated, slot);
        Ok(())
    }

    fn delete_channel(&mut self, sid: Sid<TaskChannel>) -> Result<(), EngineError> {
        let slot = self.channel_slot_of(sid)?;
        if self.tasks.values().any(|t| t.channel_slot == slot) {
            return Err(EngineError::Conflict(format!(
                "TaskChannel {sid} cannot be deleted while tasks use it"
            )));
        }
        self.emit_channel(EventType::TaskChannelDeleted, slot);
        let mut sids: Vec<Sid<Worker>> = self.workers.keys().copied().collect();
        sids.sort();
        for w in &sids {
            if let Some(rec) = self.workers.get_mut(w) {
                rec.channels[slot] = None;
            }
        }
        for w in sids {
            self.refresh_worker_index(w, false);
        }
        self.channels[slot] = None;
        Ok(())
    }

    fn create_worker(&mut self, new: NewWorker) -> Result<(), EngineError> {
        if self.workers.contains_key(&new.sid) {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::Worker,
                sid: new.sid.to_string(),
            });
        }
        if self.workers.len() >= MAX_WORKERS {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_WORKERS} workers"
            )));
        }
        check_name("FriendlyName", &new.friendly_name)?;
        let key: Box<str> = new.friendly_name.to_lowercase().into();
        if self.worker_names.contains_key(&key) {
            return Err(EngineError::invalid(
                "FriendlyName",
                format!(
                    "{:?} is already the name of another worker (names are case-insensitive)",
                    new.friendly_name
                ),
            ));
        }
        let attributes = match &new.attributes {
            Some(text) => Attributes::parse("Attributes", text)?,
            None => Attributes::empty(),
        };
        let activity = match new.activity_sid {
            Some(a) => {
                self.require_activity("ActivitySid", a)?;
                a
            }
            None => self.default_activity.ok_or_else(|| {
                EngineError::invalid(
                    "ActivitySid",
                    "is required: the workspace has no default activity",
                )
            })?,
        };
        let now = self.now;
        let channels = self
            .channels
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| new_worker_channel(self.seed, new.sid, c.sid, now))
            })
            .collect();
        let record = WorkerRecord {
            sid: new.sid,
            sid_text: sid_text(new.sid),
            friendly_name: Arc::from(new.friendly_name),
            attributes,
            activity_sid: activity,
            date_created: now,
            date_updated: now,
            date_status_changed: now,
            version: 0,
            channels,
            available_since: now,
            last_reserved: Timestamp(i64::MIN),
            queues: Vec::new(),
            queue_nums: Vec::new(),
            reservations: Vec::new(),
            indexed: vec![None; self.channels.len()],
            name_key: key.clone(),
        };
        self.worker_names.insert(key, new.sid);
        self.workers.insert(new.sid, record);
        self.reevaluate_membership(new.sid, |_| true);
        self.refresh_worker_index(new.sid, true);
        self.emit_worker(EventType::WorkerCreated, new.sid);
        Ok(())
    }

    fn update_worker(&mut self, sid: Sid<Worker>, u: WorkerUpdate) -> Result<(), EngineError> {
        let w = self.require_worker(sid)?;
        // Check everything first: a refused update changes nothing.
        let name_key = match &u.friendly_name {
            Some(name) => {
                check_name("FriendlyName", name)?;
                let key: Box<str> = name.to_lowercase().into();
                if self
                    .worker_names
                    .get(&key)
                    .is_some_and(|other| *other != sid)
                {
                    return Err(EngineError::invalid(
                        "FriendlyName",
                        format!("{name:?} is already the name of another worker"),
                    ));
                }
                Some(key)
            }
            None => None,
        };
        let attributes = u
            .attributes
            .as_deref()
            .map(|t| Attributes::parse("Attributes", t))
            .transpose()?;
        if let Some(a) = u.activity_sid {
            let activity = self.require_activity("ActivitySid", a)?;
            if u.reject_pending_reservations && activity.available {
                return Err(EngineError::invalid(
                    "RejectPendingReservations",
                    "can only be used when moving the worker to an unavailable activity",
                ));
            }
        }
        let old_name_key: Box<str> = w.friendly_name.to_lowercase().into();
        let now = self.now;

        let mut changed_roots: Vec<String> = Vec::new();
        if let (Some(name), Some(key)) = (u.friendly_name, name_key) {
            self.worker_names.remove(&old_name_key);
            self.worker_names.insert(key.clone(), sid);
            if let Some(w) = self.workers.get_mut(&sid) {
                w.name_key = key;
                w.friendly_name = Arc::from(name);
                w.version += 1;
                w.date_updated = now;
            }
            changed_roots.push("friendly_name".to_owned());
        }
        if let Some(attributes) = attributes {
            if let Some(w) = self.workers.get_mut(&sid) {
                changed_roots.extend(w.attributes.changed_keys(&attributes));
                w.attributes = attributes;
                w.version += 1;
                w.date_updated = now;
            }
        }
        if !changed_roots.is_empty() {
            self.reevaluate_membership(sid, |e| {
                changed_roots.iter().any(|k| e.worker_roots().contains(k))
            });
            self.emit_worker(EventType::WorkerAttributesUpdate, sid);
            self.refresh_worker_index(sid, true);
        }
        if let Some(a) = u.activity_sid {
            let mode = if u.reject_pending_reservations {
                OnUnavailable::Reject
            } else {
                OnUnavailable::Cancel
            };
            self.set_activity(sid, a, mode);
        }
        Ok(())
    }

    fn delete_worker(&mut self, sid: Sid<Worker>) -> Result<(), EngineError> {
        let w = self.require_worker(sid)?;
        if !w.reservations.is_empty() {
            return Err(EngineError::Conflict(format!(
                "Worker {sid} holds {} reservation(s) and cannot be deleted until they end",
                w.reservations.len()
            )));
        }
        let queues = w.queues.clone();
        self.emit_worker(EventType::WorkerDeleted, sid);
        for q in queues {
            self.set_membership(sid, q, false);
        }
        if let Some(w) = self.workers.remove(&sid) {
            self.worker_names
                .remove(w.friendly_name.to_lowercase().as_str());
        }
        Ok(())
    }

    fn update_worker_channel(
        &mut self,
        worker: Sid<Worker>,
        channel: &ChannelRef,
        capacity: Option<u32>,
        available: Option<bool>,
    ) -> Result<(), EngineError> {
        self.require_worker(worker)?;
        let slot = self.resolve_channel(channel)?;
        if let Some(c) = capacity {
            if c > MAX_CHANNEL_CAPACITY {
                return Err(EngineError::invalid(
                    "Capacity",
                    format!("must be between 0 and {MAX_CHANNEL_CAPACITY}"),
                ));
            }
        }
        let now = self.now;
        let (mut prev_capacity, mut changed_capacity, mut changed_available) = (0, false, false);
        if let Some(wc) = self
            .workers
            .get_mut(&worker)
            .and_then(|w| w.channels.get_mut(slot))
            .and_then(Option::as_mut)
        {
            prev_capacity = wc.capacity;
            if let Some(c) = capacity {
                changed_capacity = c != wc.capacity;
                wc.capacity = c;
            }
            if let Some(a) = available {
                changed_available = a != wc.available;
                wc.available = a;
            }
            wc.date_updated = now;
        }
        self.refresh_worker_index(worker, true);
        if changed_capacity {
            let mut e = self.worker_channel_event(EventType::WorkerCapacityUpdate, worker, slot);
            if let Some(c) = e.channel.as_mut() {
                c.worker_channel_previous_capacity = Some(prev_capacity);
            }
            self.emit(e);
        }
        if changed_available {
            let e =
                self.worker_channel_event(EventType::WorkerChannelAvailabilityUpdate, worker, slot);
            self.emit(e);
        }
        Ok(())
    }

    fn create_queue(&mut self, new: NewTaskQueue) -> Result<(), EngineError> {
        if self.queues.contains_key(&new.sid) {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::TaskQueue,
                sid: new.sid.to_string(),
            });
        }
        if self.queues.len() >= MAX_TASK_QUEUES {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_TASK_QUEUES} task queues"
            )));
        }
        check_name("FriendlyName", &new.friendly_name)?;
        let source = new.target_workers.unwrap_or_else(|| "1==1".to_owned());
        let target_workers = parse_target_workers(&source)?;
        let max_reserved = check_max_reserved(new.max_reserved_workers.unwrap_or(1))?;
        for (param, a) in [
            ("ReservationActivitySid", new.reservation_activity_sid),
            ("AssignmentActivitySid", new.assignment_activity_sid),
        ] {
            if let Some(a) = a {
                self.require_activity(param, a)?;
            }
        }
        let len = self.channels.len();
        let num = match self.free_queue_nums.pop() {
            Some(num) => {
                // A deleted queue had no members and no tasks left, but start clean regardless.
                let at = num as usize * MAX_TASK_CHANNELS..(num as usize + 1) * MAX_TASK_CHANNELS;
                self.ready_counts[at.clone()].fill(0);
                self.waiting_counts[at].fill(0);
                num
            }
            None => {
                let num = self.ready_counts.len() / MAX_TASK_CHANNELS;
                let len = self.ready_counts.len() + MAX_TASK_CHANNELS;
                self.ready_counts.resize(len, 0);
                self.waiting_counts.resize(len, 0);
                num as u32
            }
        };
        let record = QueueRecord {
            sid: new.sid,
            friendly_name: Arc::from(new.friendly_name),
            target_source: target_workers.as_ref().map(|_| Arc::from(source.as_str())),
            target_workers,
            max_reserved_workers: max_reserved,
            task_order: new.task_order.unwrap_or_default(),
            reservation_activity_sid: new.reservation_activity_sid,
            assignment_activity_sid: new.assignment_activity_sid,
            date_created: self.now,
            date_updated: self.now,
            members: FxHashSet::default(),
            num,
            waiting: (0..len).map(|_| BTreeSet::new()).collect(),
            activity_counts: FxHashMap::default(),
            available_members: 0,
        };
        self.queues.insert(new.sid, record);
        self.queue_order.insert(new.sid);
        self.recompute_queue_members(new.sid);
        let e = self.queue_event(EventType::TaskQueueCreated, new.sid);
        self.emit(e);
        Ok(())
    }

    fn update_queue(&mut self, sid: Sid<TaskQueue>, u: TaskQueueUpdate) -> Result<(), EngineError> {
        self.require_queue(sid)?;
        if let Some(name) = &u.friendly_name {
            check_name("FriendlyName", name)?;
        }
        let target = match &u.target_workers {
            Some(source) => Some((parse_target_workers(source)?, source.clone())),
            None => None,
        };
        let max_reserved = u.max_reserved_workers.map(check_max_reserved).transpose()?;
        for (param, a) in [
            ("ReservationActivitySid", u.reservation_activity_sid),
            ("AssignmentActivitySid", u.assignment_activity_sid),
        ] {
            if let Some(a) = a {
                self.require_activity(param, a)?;
            }
        }
        let now = self.now;
        let mut target_changed = false;
        if let Some(q) = self.queues.get_mut(&sid) {
            if let Some(name) = u.friendly_name {
                q.friendly_name = Arc::from(name);
            }
            if let Some((expr, source)) = target {
                target_changed =
                    q.target_source.as_deref() != expr.as_ref().map(|_| source.as_str());
                q.target_source = expr.as_ref().map(|_| Arc::from(source.as_str()));
                q.target_workers = expr;
            }
            if let Some(m) = max_reserved {
                q.max_reserved_workers = m;
            }
            if let Some(order) = u.task_order {
                q.task_order = order;
            }
            if u.reservation_activity_sid.is_some() {
                q.reservation_activity_sid = u.reservation_activity_sid;
            }
            if u.assignment_activity_sid.is_some() {
                q.assignment_activity_sid = u.assignment_activity_sid;
            }
            q.date_updated = now;
        }
        if target_changed {
            self.recompute_queue_members(sid);
            let e = self.queue_event(EventType::TaskQueueExpressionUpdated, sid);
            self.emit(e);
        }
        // Order and the number of reservations wanted both live in the task index.
        let affected: Vec<Sid<Task>> = {
            let mut v: Vec<Sid<Task>> = self
                .tasks
                .values()
                .filter(|t| t.queue_sid == Some(sid))
                .map(|t| t.sid)
                .collect();
            v.sort();
            v
        };
        for t in affected {
            self.refresh_task_index(t, true);
        }
        Ok(())
    }

    fn delete_queue(&mut self, sid: Sid<TaskQueue>) -> Result<(), EngineError> {
        self.require_queue(sid)?;
        if let Some(wf) = self
            .workflows
            .values()
            .find(|wf| wf.config.queues().any(|q| q == sid))
        {
            return Err(EngineError::Conflict(format!(
                "TaskQueue {sid} is used by workflow {} ({}) and cannot be deleted",
                wf.sid, wf.friendly_name
            )));
        }
        if self.tasks.values().any(|t| t.queue_sid == Some(sid)) {
            return Err(EngineError::Conflict(format!(
                "TaskQueue {sid} cannot be deleted while tasks are in it"
            )));
        }
        let e = self.queue_event(EventType::TaskQueueDeleted, sid);
        self.emit(e);
        let members: Vec<Sid<Worker>> = self
            .queues
            .get(&sid)
            .map(|q| q.members.iter().copied().collect())
            .unwrap_or_default();
        for w in members {
            self.set_membership(w, sid, false);
        }
        if let Some(q) = self.queues.remove(&sid) {
            // Every member left above, so its counters are back to zero for the next owner.
            self.free_queue_nums.push(q.num);
        }
        self.queue_order.remove(&sid);
        Ok(())
    }

    pub(crate) fn parse_config(&self, text: &str) -> Result<RoutingConfig, EngineError> {
        RoutingConfig::parse(text, &|q| self.queues.contains_key(&q), &|a| {
            a.parse::<Sid<Activity>>()
                .is_ok_and(|a| self.activities.contains_key(&a))
        })
    }

    fn create_workflow(&mut self, new: NewWorkflow) -> Result<(), EngineError> {
        if self.workflows.contains_key(&new.sid) {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::Workflow,
                sid: new.sid.to_string(),
            });
        }
        if self.workflows.len() >= MAX_WORKFLOWS {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_WORKFLOWS} workflows"
            )));
        }
        check_name("FriendlyName", &new.friendly_name)?;
        let mut config = self.parse_config(&new.configuration)?;
        let configuration: Arc<str> = Arc::from(new.configuration);
        config.source = Some(configuration.clone());
        let timeout = check_reservation_timeout(
            new.task_reservation_timeout
                .unwrap_or(DEFAULT_RESERVATION_TIMEOUT),
        )?;
        self.workflows.insert(
            new.sid,
            WorkflowRecord {
                sid: new.sid,
                friendly_name: Arc::from(new.friendly_name),
                configuration,
                config: Arc::new(config),
                task_reservation_timeout: timeout,
                assignment_callback_url: non_empty(new.assignment_callback_url),
                fallback_assignment_callback_url: non_empty(new.fallback_assignment_callback_url),
                date_created: self.now,
                date_updated: self.now,
            },
        );
        self.emit_workflow(EventType::WorkflowCreated, new.sid);
        Ok(())
    }

    fn update_workflow(
        &mut self,
        sid: Sid<Workflow>,
        u: WorkflowUpdate,
    ) -> Result<(), EngineError> {
        self.require_workflow(sid)?;
        if let Some(name) = &u.friendly_name {
            check_name("FriendlyName", name)?;
        }
        let config = u
            .configuration
            .as_deref()
            .map(|c| self.parse_config(c))
            .transpose()?;
        let timeout = u
            .task_reservation_timeout
            .map(check_reservation_timeout)
            .transpose()?;
        let now = self.now;
        if let Some(wf) = self.workflows.get_mut(&sid) {
            if let Some(name) = u.friendly_name {
                wf.friendly_name = Arc::from(name);
            }
            if let (Some(mut config), Some(text)) = (config, u.configuration) {
                let text: Arc<str> = Arc::from(text);
                config.source = Some(text.clone());
                wf.config = Arc::new(config);
                wf.configuration = text;
            }
            if let Some(t) = timeout {
                wf.task_reservation_timeout = t;
            }
            if let Some(url) = u.assignment_callback_url {
                wf.assignment_callback_url = non_empty(Some(url));
            }
            if let Some(url) = u.fallback_assignment_callback_url {
                wf.fallback_assignment_callback_url = non_empty(Some(url));
            }
            wf.date_updated = now;
        }
        self.emit_workflow(EventType::WorkflowUpdated, sid);
        if u.re_evaluate_tasks {
            let mut pending: Vec<Sid<Task>> = self
                .tasks
                .values()
                .filter(|t| {
                    t.workflow_sid == Some(sid)
                        && t.status == TaskStatus::Pending
                        && t.routing == Routing::Steps
                        && t.step.is_some()
                })
                .map(|t| t.sid)
                .collect();
            pending.sort();
            for t in pending {
                self.reroute(t, true);
            }
        }
        Ok(())
    }

    fn delete_workflow(&mut self, sid: Sid<Workflow>) -> Result<(), EngineError> {
        self.require_workflow(sid)?;
        if self.tasks.values().any(|t| {
            t.workflow_sid == Some(sid)
                && matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved)
        }) {
            return Err(EngineError::Conflict(format!(
                "Workflow {sid} cannot be deleted while it has pending or reserved tasks"
            )));
        }
        self.emit_workflow(EventType::WorkflowDeleted, sid);
        self.workflows.remove(&sid);
        Ok(())
    }

    fn create_task(&mut self, new: NewTask) -> Result<(), EngineError> {
        if self.tasks.contains_key(&new.sid) {
            return Err(EngineError::AlreadyExists {
                kind: ResourceKind::Task,
                sid: new.sid.to_string(),
            });
        }
        if self.tasks.len() >= MAX_TASKS {
            return Err(EngineError::LimitExceeded(format!(
                "a workspace may have at most {MAX_TASKS} tasks"
            )));
        }
        let attributes = match &new.attributes {
            Some(text) => Attributes::parse("Attributes", text)?,
            None => Attributes::empty(),
        };
        if let Some(p) = new.priority {
            if p > MAX_PRIORITY {
                return Err(EngineError::invalid(
                    "Priority",
                    format!("must be between 0 and {MAX_PRIORITY}"),
                ));
            }
        }
        let timeout = new.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT);
        if timeout == 0 || timeout > MAX_TASK_TIMEOUT {
            return Err(EngineError::invalid(
                "Timeout",
                format!("must be between 1 and {MAX_TASK_TIMEOUT} seconds"),
            ));
        }
        let slot = match &new.task_channel {
            Some(c) => self.resolve_channel(c)?,
            None => self
                .channels
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| &*c.unique_name == "default"))
                .ok_or_else(|| {
                    EngineError::invalid(
                        "TaskChannel",
                        "is required: the workspace has no 'default' task channel",
                    )
                })?,
        };
        if let Some(vst) = new.virtual_start_time {
            if vst > self.now {
                return Err(EngineError::invalid(
                    "VirtualStartTime",
                    "must not be in the future",
                ));
            }
        }
        if let Some(q) = new.task_queue_sid {
            self.require_queue(q)?;
        }
        if new.ignore_capacity.is_some()
            && !matches!(new.routing_target, Some(RoutingTarget::Worker(_)))
        {
            return Err(EngineError::invalid(
                "IgnoreCapacity",
                "is only valid with a worker RoutingTarget",
            ));
        }
        // Formatted once: filter expressions may read `task.sid`, and the record keeps it.
        let sid_text = sid_text(new.sid);
        // Decide the route before changing anything: a task that cannot be routed is not created.
        enum Start {
            Worker(Sid<Worker>, bool),
            Queue(Sid<TaskQueue>),
            Workflow(Sid<Workflow>, Arc<RoutingConfig>, FilterPos),
        }
        let mut workflow_sid = new.workflow_sid;
        let start = match new.routing_target {
            Some(RoutingTarget::Worker(w)) => {
                self.require_worker(w)?;
                if let Some(wf) = workflow_sid {
                    self.require_workflow(wf)?;
                }
                Start::Worker(w, new.ignore_capacity.unwrap_or(true))
            }
            Some(RoutingTarget::Queue(q)) => {
                self.require_queue(q)?;
                Start::Queue(q)
            }
            target => {
                let wf = match (target, workflow_sid) {
                    (Some(RoutingTarget::Workflow(a)), Some(b)) if a != b => {
                        return Err(EngineError::invalid(
                            "RoutingTarget",
                            "names a different workflow than WorkflowSid",
                        ))
                    }
                    (Some(RoutingTarget::Workflow(a)), _) => a,
                    (_, Some(b)) => b,
                    (_, None) => {
                        let mut it = self.workflows.keys();
                        match (it.next(), it.next()) {
                            (Some(only), None) => *only,
                            (None, _) => {
                                return Err(EngineError::invalid(
                                    "WorkflowSid",
                                    "is required: the workspace has no workflow",
                                ))
                            }
                            _ => {
                                return Err(EngineError::invalid(
                                    "WorkflowSid",
                                    "is required when the workspace has more than one workflow",
                                ))
                            }
                        }
                    }
                };
                let record = self.require_workflow(wf)?;
                let config = record.config.clone();
                let scope_attrs = attributes.value();
                let pos = first_match(&config, scope_attrs, &sid_text, self.now, 0)
                    .or(config.default_filter.as_ref().map(|_| FilterPos::Default))
                    .ok_or_else(|| EngineError::NoMatchingFilter {
                        workflow: wf.to_string(),
                    })?;
                workflow_sid = Some(wf);
                Start::Workflow(wf, config, pos)
            }
        };

        let now = self.now;
        let (routing, queue_sid) = match &start {
            Start::Worker(w, ignore) => (
                Routing::Worker {
                    worker: *w,
                    ignore_capacity: *ignore,
                },
                new.task_queue_sid,
            ),
            _ => (Routing::Steps, None),
        };
        let channel_sid = self.channels[slot]
            .as_ref()
            .map(|c| c.sid)
            .unwrap_or_else(|| unreachable!("resolved channel slots are occupied"));
        let record = TaskRecord {
            sid: new.sid,
            sid_text,
            attributes,
            status: TaskStatus::Pending,
            priority: new.priority.unwrap_or(0),
            timeout,
            date_created: now,
            date_updated: now,
            virtual_start_time: new.virtual_start_time.unwrap_or(now),
            channel_slot: slot,
            channel_sid,
            workflow_sid,
            routing,
            routing_target: new.routing_target,
            step: None,
            queue_sid,
            queue_entered: queue_sid.map(|_| now),
            reservations: Vec::new(),
            reason: None,
            version: 0,
            assignment_count: 0,
            live_pending: 0,
            reservation_seq: 0,
            indexed: None,
        };
        self.tasks.insert(new.sid, record);
        self.timers
            .insert((now.plus_secs(timeout), Timer::Ttl(new.sid)));
        let e = self.task_event(EventType::TaskCreated, new.sid);
        self.emit(e);
        match start {
            Start::Worker(..) => {
                self.refresh_task_index(new.sid, false);
                self.try_task(new.sid);
            }
            Start::Queue(q) => {
                let config = Arc::new(RoutingConfig::new(
                    Vec::new(),
                    Some(crate::workflow::Target {
                        queue: q,
                        expression: None,
                        priority: None,
                        timeout: None,
                        order_by: None,
                        skip_if: None,
                        known_worker: None,
                    }),
                    None,
                ));
                self.walk(new.sid, config, FilterPos::Default, 0);
            }
            Start::Workflow(wf, config, pos) => {
                let mut e = self.task_event(EventType::WorkflowEntered, new.sid);
                e.workflow = self.workflow_snapshot(wf, None);
                self.emit(e);
                self.walk(new.sid, config, pos, 0);
            }
        }
        Ok(())
    }

    fn update_task(&mut self, sid: Sid<Task>, u: TaskUpdate) -> Result<(), EngineError> {
        let t = self.require_task(sid)?;
        let status = t.status;
        let attributes = u
            .attributes
            .as_deref()
            .map(|a| Attributes::parse("Attributes", a))
            .transpose()?;
        if let Some(p) = u.priority {
            if p > MAX_PRIORITY {
                return Err(EngineError::invalid(
                    "Priority",
                    format!("must be between 0 and {MAX_PRIORITY}"),
                ));
            }
        }
        if let Some(vst) = u.virtual_start_time {
            if vst > self.now {
                return Err(EngineError::invalid(
                    "VirtualStartTime",
                    "must not be in the future",
                ));
            }
        }
        if u.assignment_status.is_some()
            && (attributes.is_some() || u.priority.is_some() || u.virtual_start_time.is_some())
        {
            return Err(EngineError::invalid(
                "AssignmentStatus",
                "cannot be changed in the same request as Attributes, Priority or VirtualStartTime",
            ));
        }
        match u.assignment_status {
            Some(TaskStatusChange::Canceled) => {
                if !matches!(status, TaskStatus::Pending | TaskStatus::Reserved) {
                    return Err(EngineError::Conflict(format!(
                        "Task {sid} is {} and cannot be canceled; only pending or reserved tasks can (complete it instead)",
                        status.as_str()
                    )));
                }
                let reason = u.reason.unwrap_or_else(|| "canceled".to_owned());
                self.cancel_task(sid, Arc::from(reason), None);
                return Ok(());
            }
            Some(TaskStatusChange::Wrapping) => {
                if status != TaskStatus::Assigned {
                    return Err(EngineError::Conflict(format!(
                        "Task {sid} is {} and cannot move to wrapping; only assigned tasks can",
                        status.as_str()
                    )));
                }
                if let Some(r) = self.accepted_reservation(sid) {
                    self.wrap(r);
                }
                return Ok(());
            }
            Some(TaskStatusChange::Completed) => {
                if !matches!(status, TaskStatus::Assigned | TaskStatus::Wrapping) {
                    return Err(EngineError::Conflict(format!(
                        "Task {sid} is {} and cannot be completed; only assigned or wrapping tasks can",
                        status.as_str()
                    )));
                }
                let reason = u.reason.map(Arc::from);
                match self.accepted_reservation(sid) {
                    Some(r) => self.complete(r, reason),
                    None => self.finish_task(sid, TaskStatus::Completed, reason),
                }
                return Ok(());
            }
            None => {}
        }
        let now = self.now;
        let mut reroute = false;
        if let Some(t) = self.tasks.get_mut(&sid) {
            if let Some(a) = attributes {
                t.attributes = a;
                reroute = true;
            }
            if let Some(p) = u.priority {
                t.priority = p;
            }
            if let Some(v) = u.virtual_start_time {
                t.virtual_start_time = v;
            }
            t.version += 1;
            t.date_updated = now;
        }
        let e = self.task_event(EventType::TaskUpdated, sid);
        self.emit(e);
        if reroute && status == TaskStatus::Pending {
            self.reroute(sid, false);
        }
        self.refresh_task_index(sid, true);
        Ok(())
    }

    fn delete_task(&mut self, sid: Sid<Task>) -> Result<(), EngineError> {
        self.require_task(sid)?;
        let e = self.task_event(EventType::TaskDeleted, sid);
        self.emit(e);
        self.remove_task(sid);
        self.finished.retain(|f| f.task.sid != sid);
        Ok(())
    }

    fn update_reservation(
        &mut self,
        sid: Sid<Reservation>,
        action: ReservationAction,
    ) -> Result<(), EngineError> {
        let r = self
            .reservations
            .get(&sid)
            .ok_or_else(|| EngineError::not_found(ResourceKind::Reservation, sid))?;
        let status = r.status;
        let gone = |status: ReservationStatus| -> EngineError {
            match status {
                ReservationStatus::Rescinded | ReservationStatus::Canceled => EngineError::Gone {
                    sid: sid.to_string(),
                    status: status.as_str(),
                },
                _ => EngineError::Conflict(format!(
                    "Reservation {sid} is {} and cannot be changed that way",
                    status.as_str()
                )),
            }
        };
        match action {
            ReservationAction::Accept => {
                if status != ReservationStatus::Pending {
                    return Err(gone(status));
                }
                self.accept(sid);
            }
            ReservationAction::Reject {
                worker_activity_sid,
            } => {
                if status != ReservationStatus::Pending {
                    return Err(gone(status));
                }
                if let Some(a) = worker_activity_sid {
                    self.require_activity("WorkerActivitySid", a)?;
                }
                self.end_pending(sid, ReservationStatus::Rejected);
                if let Some(a) = worker_activity_sid {
                    let worker = r_worker(&self.reservations, sid);
                    if let Some(w) = worker {
                        self.set_activity(w, a, OnUnavailable::Cancel);
                    }
                }
            }
            ReservationAction::Wrap => {
                if status != ReservationStatus::Accepted {
                    return Err(gone(status));
                }
                self.wrap(sid);
            }
            ReservationAction::Complete => {
                if !matches!(
                    status,
                    ReservationStatus::Accepted | ReservationStatus::Wrapping
                ) {
                    return Err(gone(status));
                }
                self.complete(sid, None);
            }
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Lookups that turn absence into errors

    pub(crate) fn require_activity(
        &self,
        param: &'static str,
        sid: Sid<Activity>,
    ) -> Result<&ActivityRecord, EngineError> {
        self.activities.get(&sid).ok_or_else(|| {
            EngineError::invalid(
                param,
                format!("names {sid}, which is not an activity of this workspace"),
            )
        })
    }

    pub(crate) fn require_worker(&self, sid: Sid<Worker>) -> Result<&WorkerRecord, EngineError> {
        self.workers
            .get(&sid)
            .ok_or_else(|| EngineError::not_found(ResourceKind::Worker, sid))
    }

    pub(crate) fn require_queue(&self, sid: Sid<TaskQueue>) -> Result<&QueueRecord, EngineError> {
        self.queues
            .get(&sid)
            .ok_or_else(|| EngineError::not_found(ResourceKind::TaskQueue, sid))
    }

    pub(crate) fn require_workflow(
        &self,
        sid: Sid<Workflow>,
    ) -> Result<&WorkflowRecord, EngineError> {
        self.workflows
            .get(&sid)
            .ok_or_else(|| EngineError::not_found(ResourceKind::Workflow, sid))
    }

    pub(crate) fn require_task(&self, sid: Sid<Task>) -> Result<&TaskRecord, EngineError> {
        self.tasks
            .get(&sid)
            .ok_or_else(|| EngineError::not_found(ResourceKind::Task, sid))
    }

    fn channel_slot_of(&self, sid: Sid<TaskChannel>) -> Result<usize, EngineError> {
        self.channels
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.sid == sid))
            .ok_or_else(|| EngineError::not_found(ResourceKind::TaskChannel, sid))
    }

    pub(crate) fn resolve_channel(&self, c: &ChannelRef) -> Result<usize, EngineError> {
        let found = match c {
            ChannelRef::Sid(sid) => self
                .channels
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| c.sid == *sid)),
            ChannelRef::UniqueName(name) => self
                .channels
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| &*c.unique_name == name)),
        };
        found.ok_or_else(|| {
            let name = match c {
                ChannelRef::Sid(s) => s.to_string(),
                ChannelRef::UniqueName(n) => n.clone(),
            };
            EngineError::invalid(
                "TaskChannel",
                format!("names {name:?}, which is not a task channel of this workspace"),
            )
        })
    }

    fn accepted_reservation(&self, task: Sid<Task>) -> Option<Sid<Reservation>> {
        self.tasks.get(&task).and_then(|t| {
            t.reservations.iter().copied().find(|r| {
                self.reservations.get(r).is_some_and(|r| {
                    matches!(
                        r.status,
                        ReservationStatus::Accepted | ReservationStatus::Wrapping
                    )
                })
            })
        })
    }

    pub(crate) fn derive_reservation_sid(&self, task: Sid<Task>, seq: u32) -> Sid<Reservation> {
        Sid::from_u128(mix128(
            task.as_u128() ^ self.seed ^ (u128::from(seq) << 100) ^ 0x5752,
        ))
    }
}

fn r_worker(
    reservations: &FxHashMap<Sid<Reservation>, ReservationRecord>,
    sid: Sid<Reservation>,
) -> Option<Sid<Worker>> {
    reservations.get(&sid).map(|r| r.worker_sid)
}

fn new_worker_channel(
    seed: u128,
    worker: Sid<Worker>,
    channel: Sid<TaskChannel>,
    now: Timestamp,
) -> WorkerChannelRecord {
    WorkerChannelRecord {
        sid: Sid::<WorkerChannel>::from_u128(mix128(
            worker.as_u128() ^ channel.as_u128().rotate_left(64) ^ seed,
        )),
        capacity: 1,
        available: true,
        live: 0,
        assigned: 0,
        last_reserved: Timestamp(i64::MIN),
        date_created: now,
        date_updated: now,
    }
}

/// The first filter from `from` whose expression matches the task.
/// `sid_text` is the task's SID as text (`TaskRecord::sid_text`), passed in so that routing a
/// task does not format its SID again.
pub(crate) fn first_match(
    config: &RoutingConfig,
    attributes: &serde_json::Value,
    sid_text: &str,
    now: Timestamp,
    from: usize,
) -> Option<FilterPos> {
    let scope = switchboard_expr::Scope {
        task: Some(switchboard_expr::TaskScope {
            attributes,
            sid: Some(sid_text),
        }),
        now: Some(switchboard_expr::Clock::from_unix_millis(now.0)),
        ..Default::default()
    };
    config.first_match(&scope, from).map(FilterPos::Filter)
}

fn non_empty(s: Option<String>) -> Option<Arc<str>> {
    s.filter(|s| !s.is_empty()).map(Arc::from)
}

fn check_name(param: &'static str, name: &str) -> Result<(), EngineError> {
    if name.trim().is_empty() {
        return Err(EngineError::invalid(param, "must not be empty"));
    }
    let chars = name.chars().count();
    if chars > MAX_FRIENDLY_NAME {
        return Err(EngineError::invalid(
            param,
            format!("is {chars} characters long; the limit is {MAX_FRIENDLY_NAME}"),
        ));
    }
    Ok(())
}

fn check_unique_name(name: &str) -> Result<(), EngineError> {
    check_name("UniqueName", name)?;
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        return Err(EngineError::invalid(
            "UniqueName",
            format!("{name:?} must be letters, digits, '_' or '$', not starting with a digit (it is used in expressions)"),
        ));
    }
    Ok(())
}

pub(crate) fn parse_target_workers(source: &str) -> Result<Option<Expression>, EngineError> {
    if source.trim().is_empty() {
        return Ok(None);
    }
    Expression::parse(source, Context::TargetWorkers)
        .map(Some)
        .map_err(|e| EngineError::invalid("TargetWorkers", format!("is invalid: {e}")))
}

fn check_max_reserved(n: u32) -> Result<u32, EngineError> {
    if (1..=50).contains(&n) {
        Ok(n)
    } else {
        Err(EngineError::invalid(
            "MaxReservedWorkers",
            "must be between 1 and 50",
        ))
    }
}

fn check_reservation_timeout(secs: u64) -> Result<u64, EngineError> {
    if (1..=MAX_RESERVATION_TIMEOUT).contains(&secs) {
        Ok(secs)
    } else {
        Err(EngineError::invalid(
            "TaskReservationTimeout",
            format!("must be between 1 and {MAX_RESERVATION_TIMEOUT} seconds"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_text_matches_display() {
        for v in [
            0,
            1,
            0xabc,
            u128::MAX,
            u128::MAX / 3,
            1 << 127,
            0x0123_4567_89ab_cdef,
        ] {
            assert_eq!(
                &*sid_text(Sid::<Task>::from_u128(v)),
                Sid::<Task>::from_u128(v).to_string()
            );
            assert_eq!(
                &*sid_text(Sid::<Worker>::from_u128(v)),
                Sid::<Worker>::from_u128(v).to_string()
            );
            assert_eq!(
                &*sid_text(Sid::<Activity>::from_u128(v)),
                Sid::<Activity>::from_u128(v).to_string()
            );
        }
    }
}
