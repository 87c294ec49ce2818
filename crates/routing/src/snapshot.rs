//! Snapshots: a workspace's durable state written down, and a workspace rebuilt from it.
//!
//! A [`WorkspaceSnapshot`] holds only primary data: the records as TaskRouter shows them
//! (attributes, target expressions and workflow configurations as their text), where each live
//! task stands in its workflow, the reservations, the pending deadlines, the engine's time and
//! the counters that decide future SIDs and orderings. Everything derived from them (compiled
//! expressions, queue membership, the ready sets and their counts, the waiting indexes, the
//! per-channel reservation counts) is rebuilt by [`Workspace::restore`] through the code paths
//! the engine itself keeps them with, so a restored workspace behaves exactly like the one the
//! snapshot was taken of: the same commands at the same times give the same events.
//!
//! Every list is in a fixed order (by SID, or by slot where slots matter), so the same state
//! always gives the same snapshot, and the same bytes once encoded. Events and finished tasks
//! not yet taken are outputs, not state: take them before taking a snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_sid::{
    Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow,
    Workspace as WorkspaceKind,
};

use crate::attributes::Attributes;
use crate::command::{RoutingTarget, TaskOrder};
use crate::engine::{parse_target_workers, Workspace, WorkspaceConfig};
use crate::engine::{MAX_TASK_CHANNELS, MAX_TASK_QUEUES};
use crate::event::{ReservationStatus, TaskStatus};
use crate::sid_text::sid_text;
use crate::state::*;
use crate::time::Timestamp;
use crate::workflow::{RoutingConfig, Target};

/// Why a snapshot could not be restored: which record and field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct SnapshotError {
    /// Where in the snapshot (`tasks[WT…].step.filter`).
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl SnapshotError {
    fn new(at: impl Into<String>, message: impl Into<String>) -> SnapshotError {
        SnapshotError {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// A workspace's durable state. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSnapshot {
    /// The workspace SID.
    pub sid: Sid<WorkspaceKind>,
    /// Its name.
    pub friendly_name: String,
    /// Multitasking.
    pub multi_task_enabled: bool,
    /// FIFO or LIFO first.
    pub prioritize_queue_order: TaskOrder,
    /// The seed of derived SIDs, as decimal text.
    pub seed: String,
    /// The engine's time.
    pub now: Timestamp,
    /// The activity new workers get.
    pub default_activity: Option<Sid<Activity>>,
    /// The activity workers get when a reservation times out.
    pub timeout_activity: Option<Sid<Activity>>,
    /// Activities, by SID.
    pub activities: Vec<ActivityState>,
    /// Task channels, by slot (`None`: a deleted channel's slot, which the next one reuses).
    pub channels: Vec<Option<ChannelState>>,
    /// Workers, by SID.
    pub workers: Vec<WorkerState>,
    /// Task queues, by SID.
    pub queues: Vec<QueueState>,
    /// Workflows, by SID.
    pub workflows: Vec<WorkflowState>,
    /// Live tasks, by SID.
    pub tasks: Vec<TaskState>,
    /// Reservations of live tasks, by SID.
    pub reservations: Vec<ReservationState>,
    /// Pending deadlines, earliest first.
    pub timers: Vec<TimerState>,
    /// Waiting tasks whose target reads the clock, by SID.
    pub clock_tasks: Vec<Sid<Task>>,
    /// When the minute tick for them is due, if it is scheduled.
    pub clock_timer: Option<Timestamp>,
}

/// An activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityState {
    /// Its SID.
    pub sid: Sid<Activity>,
    /// Its name.
    pub friendly_name: String,
    /// Whether workers in it can be offered tasks.
    pub available: bool,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A task channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// Its SID.
    pub sid: Sid<TaskChannel>,
    /// Its unique name.
    pub unique_name: String,
    /// Its display name.
    pub friendly_name: String,
    /// Whether idle time is counted per channel.
    pub channel_optimized_routing: bool,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerState {
    /// Its SID.
    pub sid: Sid<Worker>,
    /// Its name.
    pub friendly_name: String,
    /// Its attributes, as the text given.
    pub attributes: String,
    /// Its activity.
    pub activity_sid: Sid<Activity>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// When its activity last changed.
    pub date_status_changed: Timestamp,
    /// Bumped on every change.
    pub version: u64,
    /// When it last became available (its idle time counts from here).
    pub available_since: Timestamp,
    /// When it was last offered a task, on any channel.
    pub last_reserved: Timestamp,
    /// Its channels, by channel slot.
    pub channels: Vec<Option<WorkerChannelState>>,
    /// Its live reservations, oldest first.
    pub reservations: Vec<Sid<Reservation>>,
}

/// A worker's standing on one channel. How many reservations it holds there is derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerChannelState {
    /// Its SID.
    pub sid: Sid<WorkerChannel>,
    /// How many tasks of this channel the worker can hold at once.
    pub capacity: u32,
    /// Whether the worker takes tasks of this channel at all.
    pub available: bool,
    /// When it was last offered a task of this channel.
    pub last_reserved: Timestamp,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A task queue. Its members are derived from `target_workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    /// Its SID.
    pub sid: Sid<TaskQueue>,
    /// Its name.
    pub friendly_name: String,
    /// The `target_workers` text (`None`: it matches no worker).
    pub target_workers: Option<String>,
    /// 1 to 50.
    pub max_reserved_workers: u32,
    /// FIFO or LIFO.
    pub task_order: TaskOrder,
    /// Single-tasking: activity on reservation.
    pub reservation_activity_sid: Option<Sid<Activity>>,
    /// Single-tasking: activity on assignment.
    pub assignment_activity_sid: Option<Sid<Activity>>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    /// Its SID.
    pub sid: Sid<Workflow>,
    /// Its name.
    pub friendly_name: String,
    /// The configuration text, as given.
    pub configuration: String,
    /// Seconds a reservation waits for an answer.
    pub task_reservation_timeout: u64,
    /// Where the server posts each reservation.
    pub assignment_callback_url: Option<String>,
    /// Where it posts when that fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A live task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    /// Its SID.
    pub sid: Sid<Task>,
    /// Its attributes, as the text given.
    pub attributes: String,
    /// Its status.
    pub status: TaskStatus,
    /// Its current priority.
    pub priority: u32,
    /// Seconds it may wait unassigned.
    pub timeout: u64,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// For ordering.
    pub virtual_start_time: Timestamp,
    /// Its channel.
    pub channel_sid: Sid<TaskChannel>,
    /// Its workflow.
    pub workflow_sid: Option<Sid<Workflow>>,
    /// How it is routed.
    pub routing: RoutingState,
    /// Its routing target, as given.
    pub routing_target: Option<RoutingTarget>,
    /// Where it stands in its workflow.
    pub step: Option<StepState>,
    /// Its current queue.
    pub queue_sid: Option<Sid<TaskQueue>>,
    /// When it entered its current queue.
    pub queue_entered: Option<Timestamp>,
    /// All its reservations, oldest first.
    pub reservations: Vec<Sid<Reservation>>,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
    /// Bumped on every change.
    pub version: u64,
    /// Times it went from pending to reserved.
    pub assignment_count: u32,
    /// How many reservations it has had: the next one's SID derives from it.
    pub reservation_seq: u32,
}

/// How a task is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingState {
    /// Through workflow steps.
    Steps,
    /// Straight to a worker.
    Worker {
        /// The worker.
        worker: Sid<Worker>,
        /// Whether its availability and capacity are ignored.
        ignore_capacity: bool,
    },
}

/// Where a task stands in its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// The configuration it is routed under.
    pub config: StepConfig,
    /// The filter: `Some(i)` for `filters[i]`, `None` for `default_filter`.
    pub filter: Option<usize>,
    /// The target index within the filter.
    pub target: usize,
    /// When this step times out.
    pub deadline: Option<Timestamp>,
}

/// Which configuration a task is routed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepConfig {
    /// Its workflow's current configuration.
    Workflow,
    /// An earlier configuration of its workflow (it changed since the task entered it), as text.
    Earlier(String),
    /// The one step of a task routed straight to a queue.
    Queue(Sid<TaskQueue>),
}

/// A reservation of a live task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationState {
    /// Its SID.
    pub sid: Sid<Reservation>,
    /// Its task.
    pub task_sid: Sid<Task>,
    /// Its worker.
    pub worker_sid: Sid<Worker>,
    /// The queue the task was in when it was made.
    pub queue_sid: Option<Sid<TaskQueue>>,
    /// Its status.
    pub status: ReservationStatus,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// When it times out, while pending.
    pub deadline: Option<Timestamp>,
}

/// A pending deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// When it is due.
    pub at: Timestamp,
    /// What is due.
    pub what: TimerKind,
}

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// A pending reservation times out.
    Reservation(Sid<Reservation>),
    /// A task's workflow step times out.
    Step(Sid<Task>),
    /// A task's TTL passes.
    Ttl(Sid<Task>),
    /// The minute tick for targets that read the clock.
    Clock,
}

impl From<Timer> for TimerKind {
    fn from(t: Timer) -> TimerKind {
        match t {
            Timer::Reservation(r) => TimerKind::Reservation(r),
            Timer::Step(t) => TimerKind::Step(t),
            Timer::Ttl(t) => TimerKind::Ttl(t),
            Timer::Clock => TimerKind::Clock,
        }
    }
}

impl From<TimerKind> for Timer {
    fn from(t: TimerKind) -> Timer {
        match t {
            TimerKind::Reservation(r) => Timer::Reservation(r),
            TimerKind::Step(t) => Timer::Step(t),
            TimerKind::Ttl(t) => Timer::Ttl(t),
            TimerKind::Clock => Timer::Clock,
        }
    }
}

impl Workspace {
    /// The workspace's durable state (see [`crate::snapshot`]). Events and finished tasks not yet
    /// taken are not part of it.
    pub fn snapshot(&self) -> WorkspaceSnapshot {
        let mut workers: Vec<&WorkerRecord> = self.workers.values().collect();
        workers.sort_by_key(|w| w.sid);
        let mut tasks: Vec<&TaskRecord> = self.tasks.values().collect();
        tasks.sort_by_key(|t| t.sid);
        let mut reservations: Vec<&ReservationRecord> = self.reservations.values().collect();
        reservations.sort_by_key(|r| r.sid);
        WorkspaceSnapshot {
            sid: self.sid,
            friendly_name: self.friendly_name.to_string(),
            multi_task_enabled: self.multi_task,
            prioritize_queue_order: self.prioritize,
            seed: self.seed.to_string(),
            now: self.now,
            default_activity: self.default_activity,
            timeout_activity: self.timeout_activity,
            activities: self
                .activities
                .values()
                .map(|a| ActivityState {
                    sid: a.sid,
                    friendly_name: a.friendly_name.to_string(),
                    available: a.available,
                    date_created: a.date_created,
                    date_updated: a.date_updated,
                })
                .collect(),
            channels: self
                .channels
                .iter()
                .map(|c| {
                    c.as_ref().map(|c| ChannelState {
                        sid: c.sid,
                        unique_name: c.unique_name.to_string(),
                        friendly_name: c.friendly_name.to_string(),
                        channel_optimized_routing: c.channel_optimized_routing,
                        date_created: c.date_created,
                        date_updated: c.date_updated,
                    })
                })
                .collect(),
            workers: workers
                .into_iter()
                .map(|w| WorkerState {
                    sid: w.sid,
                    friendly_name: w.friendly_name.to_string(),
                    attributes: w.attributes.raw().to_owned(),
                    activity_sid: w.activity_sid,
                    date_created: w.date_created,
                    date_updated: w.date_updated,
                    date_status_changed: w.date_status_changed,
                    version: w.version,
                    available_since: w.available_since,
                    last_reserved: w.last_reserved,
                    channels: w
                        .channels
                        .iter()
                        .map(|wc| {
                            wc.as_ref().map(|wc| WorkerChannelState {
                                sid: wc.sid,
                                capacity: wc.capacity,
                                available: wc.available,
                                last_reserved: wc.last_reserved,
                                date_created: wc.date_created,
                                date_updated: wc.date_updated,
                            })
                        })
                        .collect(),
                    reservations: w.reservations.clone(),
                })
                .collect(),
            queues: self
                .queues()
                .map(|q| QueueState {
                    sid: q.sid,
                    friendly_name: q.friendly_name.to_string(),
                    target_workers: q.target_source.as_deref().map(str::to_owned),
                    max_reserved_workers: q.max_reserved_workers,
                    task_order: q.task_order,
                    reservation_activity_sid: q.reservation_activity_sid,
                    assignment_activity_sid: q.assignment_activity_sid,
                    date_created: q.date_created,
                    date_updated: q.date_updated,
                })
                .collect(),
            workflows: self
                .workflows
                .values()
                .map(|wf| WorkflowState {
                    sid: wf.sid,
                    friendly_name: wf.friendly_name.to_string(),
                    configuration: wf.configuration.to_string(),
                    task_reservation_timeout: wf.task_reservation_timeout,
                    assignment_callback_url: wf.assignment_callback_url.as_deref().map(Into::into),
                    fallback_assignment_callback_url: wf
                        .fallback_assignment_callback_url
                        .as_deref()
                        .map(Into::into),
                    date_created: wf.date_created,
                    date_updated: wf.date_updated,
                })
                .collect(),
            tasks: tasks.into_iter().map(|t| self.task_state(t)).collect(),
            reservations: reservations
                .into_iter()
                .map(|r| ReservationState {
                    sid: r.sid,
                    task_sid: r.task_sid,
                    worker_sid: r.worker_sid,
                    queue_sid: r.queue_sid,
                    status: r.status,
                    date_created: r.date_created,
                    date_updated: r.date_updated,
                    deadline: r.deadline,
                })
                .collect(),
            timers: self
                .timers
                .iter()
                .map(|(at, t)| TimerState {
                    at: *at,
                    what: (*t).into(),
                })
                .collect(),
            clock_tasks: self.clock_tasks.iter().copied().collect(),
            clock_timer: self.clock_timer,
        }
    }

    fn task_state(&self, t: &TaskRecord) -> TaskState {
        let step = t.step.as_ref().map(|s| {
            let current = t
                .workflow_sid
                .and_then(|wf| self.workflows.get(&wf))
                .is_some_and(|wf| Arc::ptr_eq(&wf.config, &s.config));
            let config = match (&s.config.source, &s.config.default_filter) {
                _ if current => StepConfig::Workflow,
                (Some(text), _) => StepConfig::Earlier(text.to_string()),
                // Only the one-step configuration of a queue-routed task has no text.
                (None, Some(target)) => StepConfig::Queue(target.queue),
                (None, None) => unreachable!("a configuration without text is a queue's one step"),
            };
            StepState {
                config,
                filter: match s.filter {
                    FilterPos::Filter(i) => Some(i),
                    FilterPos::Default => None,
                },
                target: s.target,
                deadline: s.deadline,
            }
        });
        TaskState {
            sid: t.sid,
            attributes: t.attributes.raw().to_owned(),
            status: t.status,
            priority: t.priority,
            timeout: t.timeout,
            date_created: t.date_created,
            date_updated: t.date_updated,
            virtual_start_time: t.virtual_start_time,
            channel_sid: t.channel_sid,
            workflow_sid: t.workflow_sid,
            routing: match t.routing {
                Routing::Steps => RoutingState::Steps,
                Routing::Worker {
                    worker,
                    ignore_capacity,
                } => RoutingState::Worker {
                    worker,
                    ignore_capacity,
                },
            },
            routing_target: t.routing_target,
            step,
            queue_sid: t.queue_sid,
            queue_entered: t.queue_entered,
            reservations: t.reservations.clone(),
            reason: t.reason.as_deref().map(str::to_owned),
            version: t.version,
            assignment_count: t.assignment_count,
            reservation_seq: t.reservation_seq,
        }
    }

    /// Rebuilds a workspace from its snapshot: the records as written, and every index derived
    /// from them the way the engine keeps it. A snapshot that does not hold together (a task in
    /// a channel that does not exist, a step past its filter's targets, ...) is refused with the
    /// place it went wrong.
    pub fn restore(s: WorkspaceSnapshot) -> Result<Workspace, SnapshotError> {
        let seed: u128 = s
            .seed
            .parse()
            .map_err(|_| SnapshotError::new("seed", "is not a decimal number"))?;
        let mut ws = Workspace::new(WorkspaceConfig {
            sid: s.sid,
            friendly_name: s.friendly_name,
            multi_task_enabled: s.multi_task_enabled,
            prioritize_queue_order: s.prioritize_queue_order,
            seed,
        });
        ws.now = s.now;

        for a in s.activities {
            let at = format!("activities[{}]", a.sid);
            let record = ActivityRecord {
                sid: a.sid,
                sid_text: sid_text(a.sid),
                friendly_name: Arc::from(a.friendly_name),
                available: a.available,
                date_created: a.date_created,
                date_updated: a.date_updated,
            };
            if ws.activities.insert(a.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
        }
        for (param, a) in [
            ("default_activity", s.default_activity),
            ("timeout_activity", s.timeout_activity),
        ] {
            if let Some(a) = a {
                if !ws.activities.contains_key(&a) {
                    return Err(SnapshotError::new(
                        param,
                        format!("names {a}, not an activity"),
                    ));
                }
            }
        }
        ws.default_activity = s.default_activity;
        ws.timeout_activity = s.timeout_activity;

        if s.channels.len() > MAX_TASK_CHANNELS {
            return Err(SnapshotError::new(
                "channels",
                format!(
                    "has {} slots; the limit is {MAX_TASK_CHANNELS}",
                    s.channels.len()
                ),
            ));
        }
        ws.channels = s
            .channels
            .into_iter()
            .map(|c| {
                c.map(|c| ChannelRecord {
                    sid: c.sid,
                    unique_name: Arc::from(c.unique_name),
                    friendly_name: Arc::from(c.friendly_name),
                    channel_optimized_routing: c.channel_optimized_routing,
                    date_created: c.date_created,
                    date_updated: c.date_updated,
                })
            })
            .collect();
        let slots = ws.channels.len();
        ws.ready = (0..slots).map(|_| Default::default()).collect();

        if s.queues.len() > MAX_TASK_QUEUES {
            return Err(SnapshotError::new(
                "queues",
                format!("has {}; the limit is {MAX_TASK_QUEUES}", s.queues.len()),
            ));
        }
        for (num, q) in s.queues.into_iter().enumerate() {
            let at = format!("queues[{}]", q.sid);
            let target_workers = match &q.target_workers {
                Some(text) => parse_target_workers(text).map_err(|e| {
                    SnapshotError::new(format!("{at}.target_workers"), e.to_string())
                })?,
                None => None,
            };
            for (field, a) in [
                ("reservation_activity_sid", q.reservation_activity_sid),
                ("assignment_activity_sid", q.assignment_activity_sid),
            ] {
                if let Some(a) = a {
                    if !ws.activities.contains_key(&a) {
                        return Err(SnapshotError::new(
                            format!("{at}.{field}"),
                            format!("names {a}, not an activity"),
                        ));
                    }
                }
            }
            if !(1..=50).contains(&q.max_reserved_workers) {
                return Err(SnapshotError::new(
                    format!("{at}.max_reserved_workers"),
                    "must be between 1 and 50",
                ));
            }
            let record = QueueRecord {
                sid: q.sid,
                friendly_name: Arc::from(q.friendly_name),
                target_source: target_workers
                    .as_ref()
                    .and(q.target_workers.as_deref())
                    .map(Arc::from),
                target_workers,
                max_reserved_workers: q.max_reserved_workers,
                task_order: q.task_order,
                reservation_activity_sid: q.reservation_activity_sid,
                assignment_activity_sid: q.assignment_activity_sid,
                date_created: q.date_created,
                date_updated: q.date_updated,
                members: Default::default(),
                num: num as u32,
                waiting: (0..slots).map(|_| Default::default()).collect(),
                activity_counts: Default::default(),
                available_members: 0,
            };
            if ws.queues.insert(q.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
            ws.queue_order.insert(q.sid);
        }
        let counters = ws.queues.len() * MAX_TASK_CHANNELS;
        ws.ready_counts = vec![0; counters];
        ws.waiting_counts = vec![0; counters];

        for wf in s.workflows {
            let at = format!("workflows[{}]", wf.sid);
            let mut config = ws
                .parse_config(&wf.configuration)
                .map_err(|e| SnapshotError::new(format!("{at}.configuration"), e.to_string()))?;
            let configuration: Arc<str> = Arc::from(wf.configuration);
            config.source = Some(configuration.clone());
            let record = WorkflowRecord {
                sid: wf.sid,
                friendly_name: Arc::from(wf.friendly_name),
                configuration,
                config: Arc::new(config),
                task_reservation_timeout: wf.task_reservation_timeout,
                assignment_callback_url: wf.assignment_callback_url.map(Arc::from),
                fallback_assignment_callback_url: wf
                    .fallback_assignment_callback_url
                    .map(Arc::from),
                date_created: wf.date_created,
                date_updated: wf.date_updated,
            };
            if ws.workflows.insert(wf.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
        }

        for w in s.workers {
            let at = format!("workers[{}]", w.sid);
            let attributes = Attributes::parse("Attributes", &w.attributes)
                .map_err(|e| SnapshotError::new(format!("{at}.attributes"), e.to_string()))?;
            if !ws.activities.contains_key(&w.activity_sid) {
                return Err(SnapshotError::new(
                    format!("{at}.activity_sid"),
                    format!("names {}, not an activity", w.activity_sid),
                ));
            }
            if w.channels.len() != slots
                || w.channels
                    .iter()
                    .zip(&ws.channels)
                    .any(|(wc, c)| wc.is_some() != c.is_some())
            {
                return Err(SnapshotError::new(
                    format!("{at}.channels"),
                    "does not have one entry for each of the workspace's channels",
                ));
            }
            let name_key: Box<str> = w.friendly_name.to_lowercase().into();
            if ws.worker_names.insert(name_key.clone(), w.sid).is_some() {
                return Err(SnapshotError::new(
                    format!("{at}.friendly_name"),
                    "is another worker's name too",
                ));
            }
            let record = WorkerRecord {
                sid: w.sid,
                sid_text: sid_text(w.sid),
                friendly_name: Arc::from(w.friendly_name),
                attributes,
                activity_sid: w.activity_sid,
                date_created: w.date_created,
                date_updated: w.date_updated,
                date_status_changed: w.date_status_changed,
                version: w.version,
                channels: w
                    .channels
                    .into_iter()
                    .map(|wc| {
                        wc.map(|wc| WorkerChannelRecord {
                            sid: wc.sid,
                            capacity: wc.capacity,
                            available: wc.available,
                            live: 0,
                            assigned: 0,
                            last_reserved: wc.last_reserved,
                            date_created: wc.date_created,
                            date_updated: wc.date_updated,
                        })
                    })
                    .collect(),
                available_since: w.available_since,
                last_reserved: w.last_reserved,
                queues: Vec::new(),
                queue_nums: Vec::new(),
                reservations: w.reservations,
                indexed: vec![None; slots],
                name_key,
            };
            if ws.workers.insert(w.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
        }

        // Earlier configurations, compiled once each.
        let mut earlier: BTreeMap<String, Arc<RoutingConfig>> = BTreeMap::new();
        for t in s.tasks {
            let at = format!("tasks[{}]", t.sid);
            let record = ws.task_record(&at, t, &mut earlier)?;
            if ws.tasks.insert(record.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
        }

        for r in s.reservations {
            let at = format!("reservations[{}]", r.sid);
            let Some(t) = ws.tasks.get_mut(&r.task_sid) else {
                return Err(SnapshotError::new(
                    format!("{at}.task_sid"),
                    format!("names {}, not a live task", r.task_sid),
                ));
            };
            if !t.reservations.contains(&r.sid) {
                return Err(SnapshotError::new(
                    format!("{at}.task_sid"),
                    "names a task that does not list this reservation",
                ));
            }
            let slot = t.channel_slot;
            if r.status == ReservationStatus::Pending {
                t.live_pending += 1;
            }
            let Some(w) = ws.workers.get_mut(&r.worker_sid) else {
                return Err(SnapshotError::new(
                    format!("{at}.worker_sid"),
                    format!("names {}, not a worker", r.worker_sid),
                ));
            };
            if r.status.is_live() != w.reservations.contains(&r.sid) {
                return Err(SnapshotError::new(
                    format!("{at}.worker_sid"),
                    "names a worker whose live reservations disagree with this one's status",
                ));
            }
            if r.status.is_live() {
                if let Some(Some(wc)) = w.channels.get_mut(slot) {
                    wc.live += 1;
                    if r.status != ReservationStatus::Pending {
                        wc.assigned += 1;
                    }
                }
            }
            let record = ReservationRecord {
                sid: r.sid,
                task_sid: r.task_sid,
                worker_sid: r.worker_sid,
                queue_sid: r.queue_sid,
                status: r.status,
                date_created: r.date_created,
                date_updated: r.date_updated,
                deadline: r.deadline,
                channel_slot: slot,
            };
            if ws.reservations.insert(r.sid, record).is_some() {
                return Err(SnapshotError::new(at, "appears twice"));
            }
        }
        for t in ws.tasks.values() {
            if let Some(r) = t
                .reservations
                .iter()
                .find(|r| !ws.reservations.contains_key(r))
            {
                return Err(SnapshotError::new(
                    format!("tasks[{}].reservations", t.sid),
                    format!("names {r}, which is not in the snapshot"),
                ));
            }
        }
        for w in ws.workers.values() {
            if let Some(r) = w
                .reservations
                .iter()
                .find(|r| ws.reservations.get(r).is_none_or(|r| r.worker_sid != w.sid))
            {
                return Err(SnapshotError::new(
                    format!("workers[{}].reservations", w.sid),
                    format!("names {r}, which is not one of its reservations"),
                ));
            }
        }

        // The derived indexes, through the engine's own paths: membership, then readiness (which
        // counts ready members per queue), then the waiting indexes.
        let mut workers: Vec<Sid<Worker>> = ws.workers.keys().copied().collect();
        workers.sort();
        for w in &workers {
            ws.reevaluate_membership(*w, |_| true);
        }
        for w in &workers {
            ws.refresh_worker_index(*w, false);
        }
        let mut tasks: Vec<Sid<Task>> = ws.tasks.keys().copied().collect();
        tasks.sort();
        for t in tasks {
            ws.refresh_task_index(t, false);
        }

        ws.timers = s
            .timers
            .into_iter()
            .map(|t| (t.at, Timer::from(t.what)))
            .collect();
        ws.clock_tasks = s.clock_tasks.into_iter().collect();
        ws.clock_timer = s.clock_timer;
        // The snapshot was taken at a fixed point of matching: nothing is left to try.
        ws.dirty_tasks.clear();
        ws.dirty_workers.clear();
        ws.events.clear();
        ws.finished.clear();
        Ok(ws)
    }

    fn task_record(
        &self,
        at: &str,
        t: TaskState,
        earlier: &mut BTreeMap<String, Arc<RoutingConfig>>,
    ) -> Result<TaskRecord, SnapshotError> {
        let attributes = Attributes::parse("Attributes", &t.attributes)
            .map_err(|e| SnapshotError::new(format!("{at}.attributes"), e.to_string()))?;
        let slot = self
            .channels
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.sid == t.channel_sid))
            .ok_or_else(|| {
                SnapshotError::new(
                    format!("{at}.channel_sid"),
                    format!("names {}, not a task channel", t.channel_sid),
                )
            })?;
        let routing = match t.routing {
            RoutingState::Steps => Routing::Steps,
            RoutingState::Worker {
                worker,
                ignore_capacity,
            } => Routing::Worker {
                worker,
                ignore_capacity,
            },
        };
        let step = match t.step {
            None => None,
            Some(s) => {
                let config = match s.config {
                    StepConfig::Workflow => t
                        .workflow_sid
                        .and_then(|wf| self.workflows.get(&wf))
                        .map(|wf| wf.config.clone())
                        .ok_or_else(|| {
                            SnapshotError::new(
                                format!("{at}.step.config"),
                                "is its workflow's, but the task has no workflow",
                            )
                        })?,
                    StepConfig::Earlier(text) => match earlier.get(&text) {
                        Some(config) => config.clone(),
                        None => {
                            // Queues and activities it names may have gone since: the engine
                            // routes around them, as it did before the snapshot.
                            let mut config = RoutingConfig::parse(&text, &|_| true, &|_| true)
                                .map_err(|e| {
                                    SnapshotError::new(format!("{at}.step.config"), e.to_string())
                                })?;
                            config.source = Some(Arc::from(text.as_str()));
                            let config = Arc::new(config);
                            earlier.insert(text, config.clone());
                            config
                        }
                    },
                    StepConfig::Queue(queue) => Arc::new(RoutingConfig::new(
                        Vec::new(),
                        Some(Target {
                            queue,
                            expression: None,
                            priority: None,
                            timeout: None,
                            order_by: None,
                            skip_if: None,
                            known_worker: None,
                        }),
                        None,
                    )),
                };
                let filter = match s.filter {
                    Some(i) => {
                        let ok = config
                            .filters
                            .get(i)
                            .is_some_and(|f| s.target < f.targets.len());
                        if !ok {
                            return Err(SnapshotError::new(
                                format!("{at}.step"),
                                format!(
                                    "filters[{i}].targets[{}] is not in its configuration",
                                    s.target
                                ),
                            ));
                        }
                        FilterPos::Filter(i)
                    }
                    None => {
                        if config.default_filter.is_none() || s.target != 0 {
                            return Err(SnapshotError::new(
                                format!("{at}.step"),
                                "is at a default_filter its configuration does not have",
                            ));
                        }
                        FilterPos::Default
                    }
                };
                Some(Step {
                    config,
                    filter,
                    target: s.target,
                    deadline: s.deadline,
                })
            }
        };
        if routing == Routing::Steps
            && step.is_none()
            && matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved)
        {
            return Err(SnapshotError::new(
                format!("{at}.step"),
                "is missing for a waiting task routed through steps",
            ));
        }
        Ok(TaskRecord {
            sid: t.sid,
            sid_text: sid_text(t.sid),
            attributes,
            status: t.status,
            priority: t.priority,
            timeout: t.timeout,
            date_created: t.date_created,
            date_updated: t.date_updated,
            virtual_start_time: t.virtual_start_time,
            channel_slot: slot,
            channel_sid: t.channel_sid,
            workflow_sid: t.workflow_sid,
            routing,
            routing_target: t.routing_target,
            step,
            queue_sid: t.queue_sid,
            queue_entered: t.queue_entered,
            reservations: t.reservations,
            reason: t.reason.map(Arc::from),
            version: t.version,
            assignment_count: t.assignment_count,
            live_pending: 0,
            reservation_seq: t.reservation_seq,
            indexed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fmt::Write;

    use super::*;
    use crate::command::*;

    /// A small deterministic random source.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) as usize) % n.max(1)
        }
    }

    fn sid<K: switchboard_sid::SidKind>(n: u128) -> Sid<K> {
        Sid::from_u128(0x5000 + n)
    }

    const T0: i64 = 1_700_000_000_000;

    fn setup() -> Vec<Command> {
        let mut c = vec![
            Command::CreateActivity {
                sid: sid(1),
                friendly_name: "Offline".into(),
                available: false,
            },
            Command::CreateActivity {
                sid: sid(2),
                friendly_name: "Available".into(),
                available: true,
            },
            Command::CreateActivity {
                sid: sid(3),
                friendly_name: "Break".into(),
                available: false,
            },
            Command::UpdateWorkspace(WorkspaceUpdate {
                default_activity_sid: Some(sid(1)),
                timeout_activity_sid: Some(sid(3)),
                prioritize_queue_order: None,
            }),
        ];
        for (n, name) in [(1, "default"), (2, "voice"), (3, "chat")] {
            c.push(Command::CreateTaskChannel {
                sid: sid(n),
                unique_name: name.into(),
                friendly_name: name.into(),
                channel_optimized_routing: n == 2,
            });
        }
        c.push(Command::DeleteTaskChannel { sid: sid(1) });
        c.push(Command::CreateTaskChannel {
            sid: sid(4),
            unique_name: "default".into(),
            friendly_name: "Default".into(),
            channel_optimized_routing: false,
        });
        for (n, expr, order, max) in [
            (1, "skills HAS 'sales'", TaskOrder::Fifo, 2),
            (2, "level >= 2", TaskOrder::Lifo, 1),
            (3, "1==1", TaskOrder::Fifo, 1),
        ] {
            c.push(Command::CreateTaskQueue(NewTaskQueue {
                sid: sid(n),
                friendly_name: format!("Q{n}"),
                target_workers: Some(expr.into()),
                max_reserved_workers: Some(max),
                task_order: Some(order),
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            }));
        }
        c.push(Command::CreateWorkflow(NewWorkflow {
            sid: sid(1),
            friendly_name: "Main".into(),
            configuration: config(10),
            task_reservation_timeout: Some(20),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        }));
        for n in 0..6u128 {
            c.push(Command::CreateWorker(NewWorker {
                sid: sid(n),
                friendly_name: format!("w{n}"),
                attributes: Some(attributes(n as usize)),
                activity_sid: Some(sid(2)),
            }));
        }
        c
    }

    fn attributes(n: usize) -> String {
        let skills = if n.is_multiple_of(2) {
            "[\"sales\"]"
        } else {
            "[\"support\"]"
        };
        format!("{{\"skills\":{skills},\"level\":{}}}", n % 4)
    }

    fn config(timeout: u64) -> String {
        format!(
            r#"{{"task_routing":{{"filters":[
              {{"filter_friendly_name":"known","expression":"worker_sid != null",
                "targets":[{{"queue":"{q3}","known_worker_sid":"task.worker_sid"}}]}},
              {{"filter_friendly_name":"sales","expression":"type == 'sales'",
                "targets":[{{"queue":"{q1}","timeout":{timeout}}},{{"queue":"{q2}","priority":5,"timeout":{timeout}}}]}}],
              "default_filter":{{"queue":"{q3}"}}}}}}"#,
            q1 = sid::<TaskQueue>(1),
            q2 = sid::<TaskQueue>(2),
            q3 = sid::<TaskQueue>(3),
        )
    }

    /// A command chosen from what the engine now holds, or `None` for time passing.
    fn pick(ws: &Workspace, rng: &mut Rng, next_task: &mut u128) -> Option<Command> {
        let mut reservations: Vec<&ReservationRecord> = ws.reservations.values().collect();
        reservations.sort_by_key(|r| r.sid);
        let mut tasks: Vec<&TaskRecord> = ws.tasks.values().collect();
        tasks.sort_by_key(|t| t.sid);
        match rng.next(12) {
            0..=2 => {
                *next_task += 1;
                let kind = ["sales", "support", "known"][rng.next(3)];
                let attrs = if kind == "known" {
                    format!(
                        "{{\"worker_sid\":\"{}\"}}",
                        sid::<Worker>(rng.next(6) as u128)
                    )
                } else {
                    format!("{{\"type\":\"{kind}\"}}")
                };
                let (routing_target, channel) = match rng.next(6) {
                    0 => (Some(RoutingTarget::Queue(sid(3))), "voice"),
                    1 => (
                        Some(RoutingTarget::Worker(sid(rng.next(6) as u128))),
                        "default",
                    ),
                    2 => (None, "chat"),
                    _ => (None, "voice"),
                };
                Some(Command::CreateTask(NewTask {
                    sid: sid(*next_task),
                    attributes: Some(attrs),
                    workflow_sid: None,
                    priority: Some(rng.next(3) as u32),
                    timeout: Some(60 + rng.next(200) as u64),
                    task_channel: Some(ChannelRef::UniqueName(channel.into())),
                    virtual_start_time: None,
                    routing_target,
                    ignore_capacity: None,
                    task_queue_sid: None,
                }))
            }
            3..=5 if !reservations.is_empty() => {
                let r = reservations[rng.next(reservations.len())];
                let action = match (r.status, rng.next(3)) {
                    (ReservationStatus::Pending, 0) => ReservationAction::Reject {
                        worker_activity_sid: None,
                    },
                    (ReservationStatus::Pending, _) => ReservationAction::Accept,
                    (ReservationStatus::Accepted, 0) => ReservationAction::Wrap,
                    _ => ReservationAction::Complete,
                };
                Some(Command::UpdateReservation { sid: r.sid, action })
            }
            6 => Some(Command::UpdateWorker {
                sid: sid(rng.next(6) as u128),
                update: WorkerUpdate {
                    activity_sid: Some(sid([1, 2, 2, 2, 3][rng.next(5)])),
                    ..Default::default()
                },
            }),
            7 => Some(Command::UpdateWorker {
                sid: sid(rng.next(6) as u128),
                update: WorkerUpdate {
                    attributes: Some(attributes(rng.next(8))),
                    ..Default::default()
                },
            }),
            8 => Some(Command::UpdateWorkerChannel {
                worker_sid: sid(rng.next(6) as u128),
                channel: ChannelRef::UniqueName(["voice", "chat", "default"][rng.next(3)].into()),
                capacity: Some(rng.next(4).min(2) as u32),
                available: Some(rng.next(4) != 0),
            }),
            9 => Some(Command::UpdateWorkflow {
                sid: sid(1),
                update: WorkflowUpdate {
                    configuration: Some(config(5 + rng.next(3) as u64 * 5)),
                    re_evaluate_tasks: rng.next(2) == 0,
                    ..Default::default()
                },
            }),
            10 if !tasks.is_empty() => {
                let t = tasks[rng.next(tasks.len())];
                Some(Command::UpdateTask {
                    sid: t.sid,
                    update: TaskUpdate {
                        attributes: Some("{\"type\":\"sales\",\"again\":true}".into()),
                        ..Default::default()
                    },
                })
            }
            _ => None,
        }
    }

    type Script = Vec<(Timestamp, Option<Command>)>;

    /// Multitasking for odd seeds, single-tasking for even ones; LIFO first for every third.
    fn new_workspace(seed: u64) -> Workspace {
        Workspace::new(WorkspaceConfig {
            sid: sid(9),
            friendly_name: "snap".into(),
            multi_task_enabled: seed % 2 == 1,
            prioritize_queue_order: if seed.is_multiple_of(3) {
                TaskOrder::Lifo
            } else {
                TaskOrder::Fifo
            },
            seed: 77,
        })
    }

    fn script(seed: u64, steps: usize) -> Script {
        let mut rng = Rng(seed);
        let mut ws = new_workspace(seed);
        let mut out: Script = setup()
            .into_iter()
            .map(|c| (Timestamp(T0), Some(c)))
            .collect();
        for (at, c) in &out {
            step(&mut ws, *at, c.clone());
        }
        let (mut now, mut next_task) = (T0, 0);
        for _ in 0..steps {
            now += rng.next(4000) as i64;
            let c = pick(&ws, &mut rng, &mut next_task);
            step(&mut ws, Timestamp(now), c.clone());
            out.push((Timestamp(now), c));
        }
        out
    }

    fn step(ws: &mut Workspace, at: Timestamp, c: Option<Command>) -> String {
        let result = match c {
            Some(c) => format!("{:?}", ws.handle(at, c)),
            None => {
                ws.handle_timeout(at);
                "tick".into()
            }
        };
        let events = ws.take_events();
        let finished = ws.take_finished();
        format!("{result} {events:?} {finished:?} {:?}", ws.poll_timeout())
    }

    /// Everything derived, in an order that does not depend on how the maps were built.
    fn derived(ws: &Workspace) -> String {
        let mut out = String::new();
        for q in ws.queues() {
            let members: BTreeSet<_> = q.members.iter().collect();
            let counts: BTreeMap<_, _> =
                q.activity_counts.iter().filter(|(_, n)| **n > 0).collect();
            let at = q.num as usize * MAX_TASK_CHANNELS;
            let _ = writeln!(
                out,
                "{} {members:?} {counts:?} {} {:?} {:?} {:?}",
                q.sid,
                q.available_members,
                q.waiting,
                &ws.ready_counts[at..at + MAX_TASK_CHANNELS],
                &ws.waiting_counts[at..at + MAX_TASK_CHANNELS],
            );
        }
        let mut workers: Vec<_> = ws.workers.values().collect();
        workers.sort_by_key(|w| w.sid);
        for w in workers {
            let live: Vec<_> = w
                .channels
                .iter()
                .map(|c| c.as_ref().map(|c| (c.live, c.assigned)))
                .collect();
            let _ = writeln!(out, "{} {:?} {:?} {live:?}", w.sid, w.queues, w.indexed);
        }
        let mut tasks: Vec<_> = ws.tasks.values().collect();
        tasks.sort_by_key(|t| t.sid);
        for t in tasks {
            let _ = writeln!(out, "{} {} {:?}", t.sid, t.live_pending, t.indexed);
        }
        let known: BTreeMap<_, _> = ws.known_waiting.iter().collect();
        let names: BTreeMap<_, _> = ws.worker_names.iter().collect();
        let _ = writeln!(out, "{:?}\n{known:?}\n{names:?}", ws.ready);
        out
    }

    fn restored(ws: &Workspace) -> Workspace {
        let snapshot = ws.snapshot();
        let bytes = serde_json::to_vec(&snapshot).unwrap();
        let decoded: WorkspaceSnapshot = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(decoded, snapshot);
        let back = Workspace::restore(decoded).unwrap();
        assert_eq!(serde_json::to_vec(&back.snapshot()).unwrap(), bytes);
        assert_eq!(derived(&back), derived(ws));
        back
    }

    #[test]
    fn restored_workspaces_behave_as_the_original_at_every_cut() {
        let mut seen = String::new();
        for seed in 1..=8 {
            let script = script(seed, 300);
            let mut reference = new_workspace(seed);
            let outputs: Vec<String> = script
                .iter()
                .map(|(at, c)| step(&mut reference, *at, c.clone()))
                .collect();
            let mut ws = new_workspace(seed);
            for (k, (at, c)) in script.iter().enumerate() {
                if k.is_multiple_of(7) {
                    ws = restored(&ws);
                }
                let out = step(&mut ws, *at, c.clone());
                assert_eq!(out, outputs[k], "seed {seed}, step {k} after a restore");
            }
            assert_eq!(
                serde_json::to_vec(&ws.snapshot()).unwrap(),
                serde_json::to_vec(&reference.snapshot()).unwrap()
            );
            seen.push_str(&outputs.join("\n"));
        }
        {
            for kind in [
                "ReservationAccepted",
                "ReservationRejected",
                "ReservationTimeout",
                "TaskQueueMoved",
                "ReservationRescinded",
                "TaskCompleted",
            ] {
                assert!(seen.contains(kind), "never saw {kind}");
            }
        }
    }

    #[test]
    fn tasks_keep_an_earlier_configuration_across_a_restore() {
        let mut ws = new_workspace(1);
        for c in setup() {
            ws.handle(Timestamp(T0), c).unwrap();
        }
        ws.handle(
            Timestamp(T0),
            Command::CreateTask(NewTask {
                sid: sid(1),
                attributes: Some("{\"type\":\"sales\"}".into()),
                workflow_sid: None,
                priority: None,
                timeout: None,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
        )
        .unwrap();
        ws.handle(
            Timestamp(T0 + 1),
            Command::UpdateWorkflow {
                sid: sid(1),
                update: WorkflowUpdate {
                    configuration: Some(config(30)),
                    ..Default::default()
                },
            },
        )
        .unwrap();
        let snapshot = ws.snapshot();
        let step = snapshot.tasks[0].step.as_ref().unwrap();
        assert!(matches!(&step.config, StepConfig::Earlier(text) if *text == config(10)));
        let back = restored(&ws);
        assert_eq!(back.snapshot(), snapshot);
    }

    #[test]
    fn a_snapshot_that_does_not_hold_together_is_refused_with_the_place() {
        let mut ws = new_workspace(1);
        for c in setup() {
            ws.handle(Timestamp(T0), c).unwrap();
        }
        let mut s = ws.snapshot();
        s.workers[0].attributes = "{not json".into();
        let e = Workspace::restore(s).unwrap_err();
        assert!(e.at.ends_with(".attributes"), "{e}");
        let mut s = ws.snapshot();
        s.workers[1].activity_sid = sid(99);
        let e = Workspace::restore(s).unwrap_err();
        assert!(e.at.ends_with(".activity_sid"), "{e}");
        let mut s = ws.snapshot();
        s.seed = "x".into();
        assert_eq!(Workspace::restore(s).unwrap_err().at, "seed");
    }
}
