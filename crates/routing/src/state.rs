//! The records the engine keeps, readable by callers; changed only by the engine.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use switchboard_expr::Expression;
use switchboard_sid::{
    Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, WorkerChannel, Workflow,
};

use crate::attributes::Attributes;
use crate::command::TaskOrder;
use crate::event::{ReservationStatus, TaskStatus};
use crate::sid_text::SidText;
use crate::time::Timestamp;
use crate::workflow::{RoutingConfig, Target};

/// An activity.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    /// Its SID.
    pub sid: Sid<Activity>,
    pub(crate) sid_text: SidText,
    /// Its name.
    pub friendly_name: Arc<str>,
    /// Whether workers in it can be offered tasks.
    pub available: bool,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A task channel.
#[derive(Debug, Clone)]
pub struct ChannelRecord {
    /// Its SID.
    pub sid: Sid<TaskChannel>,
    /// Its unique name.
    pub unique_name: Arc<str>,
    /// Its display name.
    pub friendly_name: Arc<str>,
    /// Whether idle time is counted per channel.
    pub channel_optimized_routing: bool,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A worker's standing on one channel.
#[derive(Debug, Clone)]
pub struct WorkerChannelRecord {
    /// Its SID.
    pub sid: Sid<WorkerChannel>,
    /// How many tasks of this channel the worker can hold at once (0 to 50).
    pub capacity: u32,
    /// Whether the worker takes tasks of this channel at all.
    pub available: bool,
    /// Reservations pending, accepted or wrapping on this channel.
    pub live: u32,
    /// Reservations accepted or wrapping on this channel.
    pub assigned: u32,
    pub(crate) last_reserved: Timestamp,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// A worker.
#[derive(Debug, Clone)]
pub struct WorkerRecord {
    /// Its SID.
    pub sid: Sid<Worker>,
    pub(crate) sid_text: SidText,
    /// Its name, unique case-insensitively.
    pub friendly_name: Arc<str>,
    /// Its attributes.
    pub attributes: Attributes,
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
    /// Its channels, by channel slot (`None` for a deleted channel's slot).
    pub(crate) channels: Vec<Option<WorkerChannelRecord>>,
    /// When it last went from an unavailable activity to an available one (or was created).
    pub(crate) available_since: Timestamp,
    /// When it was last offered a task, on any channel.
    pub(crate) last_reserved: Timestamp,
    /// Queues it is a member of, in SID order.
    pub(crate) queues: Vec<Sid<TaskQueue>>,
    /// The dense numbers (`QueueRecord::num`) of `queues`, in the same order: readiness changes
    /// bump the counters of every member queue, and indexing by number is much cheaper than a
    /// map lookup per queue.
    pub(crate) queue_nums: Vec<u32>,
    /// Its live (pending, accepted, wrapping) reservations.
    pub(crate) reservations: Vec<Sid<Reservation>>,
    /// Its key in the workspace's ready set, by channel slot (`None`: not ready there).
    pub(crate) indexed: Vec<Option<Timestamp>>,
    /// Its friendly name in lower case (the key known-worker tasks wait under).
    pub(crate) name_key: Box<str>,
}

impl WorkerRecord {
    /// The queues this worker is a member of.
    pub fn queues(&self) -> &[Sid<TaskQueue>] {
        &self.queues
    }
    /// Its live reservations.
    pub fn live_reservations(&self) -> &[Sid<Reservation>] {
        &self.reservations
    }
}

/// A task queue.
#[derive(Debug)]
pub struct QueueRecord {
    /// Its SID.
    pub sid: Sid<TaskQueue>,
    /// Its name.
    pub friendly_name: Arc<str>,
    /// `target_workers`; `None` matches no worker.
    pub target_workers: Option<Expression>,
    pub(crate) target_source: Option<Arc<str>>,
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
    pub(crate) members: FxHashSet<Sid<Worker>>,
    /// Its dense number, reused after deletion: its members' ready counts live at
    /// `Workspace::ready_counts[num * MAX_TASK_CHANNELS + slot]`.
    pub(crate) num: u32,
    /// Tasks waiting for workers in this queue (not known-worker ones), by channel slot, best first.
    pub(crate) waiting: Vec<BTreeSet<(OrderKey, Sid<Task>)>>,
    pub(crate) activity_counts: FxHashMap<Sid<Activity>, u64>,
    pub(crate) available_members: u64,
}

impl QueueRecord {
    /// The `target_workers` text, as given.
    pub fn target_workers_source(&self) -> Option<&str> {
        self.target_source.as_deref()
    }
    /// Number of member workers.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }
    /// Whether a worker is a member.
    pub fn has_member(&self, worker: Sid<Worker>) -> bool {
        self.members.contains(&worker)
    }
    /// Members in an available activity.
    pub fn available_members(&self) -> u64 {
        self.available_members
    }
    /// Members in the given activity.
    pub fn members_in_activity(&self, activity: Sid<Activity>) -> u64 {
        self.activity_counts.get(&activity).copied().unwrap_or(0)
    }
}

/// A workflow.
#[derive(Debug)]
pub struct WorkflowRecord {
    /// Its SID.
    pub sid: Sid<Workflow>,
    /// Its name.
    pub friendly_name: Arc<str>,
    /// The configuration text, as given.
    pub configuration: Arc<str>,
    /// The compiled configuration.
    pub config: Arc<RoutingConfig>,
    /// Seconds a reservation waits for an answer.
    pub task_reservation_timeout: u64,
    /// Where the server posts each reservation.
    pub assignment_callback_url: Option<Arc<str>>,
    /// Where it posts when that fails.
    pub fallback_assignment_callback_url: Option<Arc<str>>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

/// Which filter a task is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterPos {
    /// `filters[i]`.
    Filter(usize),
    /// `default_filter`.
    Default,
}

/// Where a task stands in its workflow.
#[derive(Debug, Clone)]
pub struct Step {
    /// The configuration the task is routed under (kept even if the workflow changes since).
    pub config: Arc<RoutingConfig>,
    /// The filter.
    pub filter: FilterPos,
    /// The target index within the filter.
    pub target: usize,
    /// When this step times out.
    pub deadline: Option<Timestamp>,
}

impl Step {
    /// The target this step is at.
    pub fn target(&self) -> &Target {
        match self.filter {
            FilterPos::Filter(i) => &self.config.filters[i].targets[self.target],
            FilterPos::Default => self.config.default_filter.as_ref().unwrap_or_else(|| {
                unreachable!("a Default step exists only with a default_filter")
            }),
        }
    }

    /// The filter's name, if it has one.
    pub fn filter_name(&self) -> Option<Arc<str>> {
        match self.filter {
            FilterPos::Filter(i) => self.config.filters[i].friendly_name.clone(),
            FilterPos::Default => Some(Arc::from("Default Filter")),
        }
    }
}

/// How a task is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Through workflow steps (filters, or a routing target queue as one step).
    Steps,
    /// Straight to a worker.
    Worker {
        /// The worker.
        worker: Sid<Worker>,
        /// Whether its availability and capacity are ignored.
        ignore_capacity: bool,
    },
}

/// A task the engine is routing or that is being worked on.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// Its SID.
    pub sid: Sid<Task>,
    pub(crate) sid_text: SidText,
    /// Its attributes.
    pub attributes: Attributes,
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
    /// Its channel slot.
    pub(crate) channel_slot: usize,
    /// Its channel.
    pub channel_sid: Sid<TaskChannel>,
    /// Its workflow.
    pub workflow_sid: Option<Sid<Workflow>>,
    /// How it is routed.
    pub routing: Routing,
    /// Its routing target, as given.
    pub routing_target: Option<crate::command::RoutingTarget>,
    /// Its workflow step, while it is being routed through one.
    pub step: Option<Step>,
    /// Its current queue.
    pub queue_sid: Option<Sid<TaskQueue>>,
    /// When it entered its current queue.
    pub queue_entered: Option<Timestamp>,
    /// All its reservations, oldest first.
    pub reservations: Vec<Sid<Reservation>>,
    /// Why it was canceled or completed.
    pub reason: Option<Arc<str>>,
    /// Bumped on every change.
    pub version: u64,
    /// Times it went from pending to reserved.
    pub assignment_count: u32,
    pub(crate) live_pending: u32,
    pub(crate) reservation_seq: u32,
    pub(crate) indexed: Option<IndexPos>,
}

impl TaskRecord {
    /// Reservations pending now.
    pub fn pending_reservations(&self) -> u32 {
        self.live_pending
    }
}

/// A reservation of a live task.
#[derive(Debug, Clone)]
pub struct ReservationRecord {
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
    pub(crate) channel_slot: usize,
}

/// The order of waiting tasks: smaller first. Within one queue every key has the same family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct OrderKey {
    /// 0 for queues of the workspace's preferred order (`prioritize_queue_order`), else 1.
    pub family: u8,
    /// FIFO: minus the priority; LIFO: minus the virtual start time.
    pub primary: i64,
    /// FIFO: the virtual start time; LIFO: 0.
    pub secondary: i64,
}

/// Who a known-worker task waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum KnownKey {
    Sid(Sid<Worker>),
    Name(Box<str>),
}

/// Where a waiting task is indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexPos {
    Queue {
        queue: Sid<TaskQueue>,
        slot: usize,
        key: OrderKey,
    },
    Known {
        who: KnownKey,
        key: OrderKey,
    },
}

/// A pending deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Reservation(Sid<Reservation>),
    Step(Sid<Task>),
    Ttl(Sid<Task>),
    Clock,
}

/// A task that left the engine (completed or canceled), with its reservations, for the caller to
/// keep as history.
#[derive(Debug, Clone)]
pub struct FinishedTask {
    /// The task as it ended.
    pub task: TaskRecord,
    /// Its reservations, oldest first.
    pub reservations: Vec<ReservationRecord>,
}
