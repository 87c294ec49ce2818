//! Events: what happened, with TaskRouter's event names and the fields its payloads carry.
//!
//! Snapshots are taken when the event happens, so a task's status in `reservation.created` is
//! `reserved` even if the same command went on to assign it. Strings and attribute documents are
//! shared (`Arc`), so events are cheap to make.

use std::fmt;
use std::sync::Arc;

use switchboard_sid::{Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

use crate::attributes::Attributes;
use crate::time::Timestamp;

macro_rules! event_types {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// TaskRouter's event types.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($(#[$doc])* $variant,)*
        }
        impl EventType {
            /// The name TaskRouter gives it (`reservation.created`).
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }
            /// Every event type.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];
        }
    };
}

event_types! {
    /// An activity was created.
    ActivityCreated => "activity.created",
    /// An activity was renamed.
    ActivityUpdated => "activity.updated",
    /// An activity was deleted.
    ActivityDeleted => "activity.deleted",
    /// A task channel was created.
    TaskChannelCreated => "task-channel.created",
    /// A task channel was changed.
    TaskChannelUpdated => "task-channel.updated",
    /// A task channel was deleted.
    TaskChannelDeleted => "task-channel.deleted",
    /// A worker was created.
    WorkerCreated => "worker.created",
    /// A worker was deleted.
    WorkerDeleted => "worker.deleted",
    /// A worker's activity changed.
    WorkerActivityUpdate => "worker.activity.update",
    /// A worker's attributes changed.
    WorkerAttributesUpdate => "worker.attributes.update",
    /// A worker's capacity on a channel changed.
    WorkerCapacityUpdate => "worker.capacity.update",
    /// A worker's availability on a channel changed.
    WorkerChannelAvailabilityUpdate => "worker.channel.availability.update",
    /// A task queue was created.
    TaskQueueCreated => "task-queue.created",
    /// A task queue was deleted.
    TaskQueueDeleted => "task-queue.deleted",
    /// A task queue's `target_workers` changed.
    TaskQueueExpressionUpdated => "task-queue.expression.updated",
    /// A task entered a queue.
    TaskQueueEntered => "task-queue.entered",
    /// A task moved from one queue to another.
    TaskQueueMoved => "task-queue.moved",
    /// A routing step timed out.
    TaskQueueTimeout => "task-queue.timeout",
    /// A workflow was created.
    WorkflowCreated => "workflow.created",
    /// A workflow was changed.
    WorkflowUpdated => "workflow.updated",
    /// A workflow was deleted.
    WorkflowDeleted => "workflow.deleted",
    /// A task entered a workflow.
    WorkflowEntered => "workflow.entered",
    /// A task matched a routing step.
    WorkflowTargetMatched => "workflow.target-matched",
    /// A task left the workflow when its last step timed out; it is canceled.
    WorkflowTimeout => "workflow.timeout",
    /// A task skipped out of the workflow; it is canceled.
    WorkflowSkipped => "workflow.skipped",
    /// A task was created.
    TaskCreated => "task.created",
    /// A task's attributes or priority changed.
    TaskUpdated => "task.updated",
    /// A task was canceled.
    TaskCanceled => "task.canceled",
    /// A task moved to wrap-up.
    TaskWrapup => "task.wrapup",
    /// A task was completed.
    TaskCompleted => "task.completed",
    /// A task was deleted through the API.
    TaskDeleted => "task.deleted",
    /// A reservation was created.
    ReservationCreated => "reservation.created",
    /// A reservation was accepted.
    ReservationAccepted => "reservation.accepted",
    /// A reservation was rejected.
    ReservationRejected => "reservation.rejected",
    /// A reservation timed out.
    ReservationTimeout => "reservation.timeout",
    /// A reservation was canceled (its task was canceled, or its worker became unavailable).
    ReservationCanceled => "reservation.canceled",
    /// Another worker accepted the task.
    ReservationRescinded => "reservation.rescinded",
    /// A reservation moved to wrap-up.
    ReservationWrapup => "reservation.wrapup",
    /// A reservation was completed.
    ReservationCompleted => "reservation.completed",
    /// Workspace settings changed.
    WorkspaceUpdated => "workspace.updated",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for a worker.
    Pending,
    /// Offered to one or more workers.
    Reserved,
    /// Accepted by a worker.
    Assigned,
    /// The work is done; the worker is wrapping up.
    Wrapping,
    /// Finished.
    Completed,
    /// Ended without being assigned.
    Canceled,
}

impl TaskStatus {
    /// TaskRouter's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Reserved => "reserved",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Wrapping => "wrapping",
            TaskStatus::Completed => "completed",
            TaskStatus::Canceled => "canceled",
        }
    }
}

/// A reservation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    /// Offered, waiting for an answer.
    Pending,
    /// Taken.
    Accepted,
    /// Declined.
    Rejected,
    /// Not answered in time.
    Timeout,
    /// Withdrawn: the task was canceled or the worker became unavailable.
    Canceled,
    /// Withdrawn: another worker accepted the task.
    Rescinded,
    /// Wrap-up.
    Wrapping,
    /// Finished.
    Completed,
}

impl ReservationStatus {
    /// TaskRouter's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Pending => "pending",
            ReservationStatus::Accepted => "accepted",
            ReservationStatus::Rejected => "rejected",
            ReservationStatus::Timeout => "timeout",
            ReservationStatus::Canceled => "canceled",
            ReservationStatus::Rescinded => "rescinded",
            ReservationStatus::Wrapping => "wrapping",
            ReservationStatus::Completed => "completed",
        }
    }

    /// Whether the reservation still holds its worker's capacity.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ReservationStatus::Pending | ReservationStatus::Accepted | ReservationStatus::Wrapping
        )
    }
}

/// A task as it was when an event happened.
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    /// `TaskSid`.
    pub sid: Sid<Task>,
    /// `TaskAttributes`.
    pub attributes: Attributes,
    /// `TaskAssignmentStatus`.
    pub assignment_status: TaskStatus,
    /// `TaskPriority`.
    pub priority: u32,
    /// `TaskAge`, seconds.
    pub age: u64,
    /// `TaskDateCreated`.
    pub date_created: Timestamp,
    /// `TaskCanceledReason` / `TaskCompletedReason`.
    pub reason: Option<Arc<str>>,
    /// `TaskChannelSid`.
    pub channel_sid: Sid<TaskChannel>,
    /// `TaskChannelUniqueName`.
    pub channel_unique_name: Arc<str>,
    /// `TaskQueueEnteredDate`.
    pub queue_entered_date: Option<Timestamp>,
    /// `TaskVersion`.
    pub version: u64,
}

/// A worker as it was when an event happened.
#[derive(Debug, Clone)]
pub struct WorkerSnapshot {
    /// `WorkerSid`.
    pub sid: Sid<Worker>,
    /// `WorkerName`.
    pub friendly_name: Arc<str>,
    /// `WorkerAttributes`.
    pub attributes: Attributes,
    /// `WorkerActivitySid`.
    pub activity_sid: Sid<Activity>,
    /// `WorkerActivityName`.
    pub activity_name: Arc<str>,
    /// `WorkerVersion`.
    pub version: u64,
}

/// A queue as named in an event.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// `TaskQueueSid`.
    pub sid: Sid<TaskQueue>,
    /// `TaskQueueName`.
    pub friendly_name: Arc<str>,
    /// `TaskQueueTargetExpression`.
    pub target_expression: Option<Arc<str>>,
}

/// A workflow as named in an event.
#[derive(Debug, Clone)]
pub struct WorkflowSnapshot {
    /// `WorkflowSid`.
    pub sid: Sid<Workflow>,
    /// `WorkflowName`.
    pub friendly_name: Arc<str>,
    /// `WorkflowFilterName`, on `workflow.target-matched`.
    pub filter_name: Option<Arc<str>>,
}

/// An activity as named in an event.
#[derive(Debug, Clone)]
pub struct ActivitySnapshot {
    /// `ActivitySid`.
    pub sid: Sid<Activity>,
    /// `ActivityName`.
    pub friendly_name: Arc<str>,
    /// `ActivityAvailable`.
    pub available: bool,
}

/// The activity a worker left, on `worker.activity.update`.
#[derive(Debug, Clone)]
pub struct PreviousActivity {
    /// `WorkerPreviousActivitySid`.
    pub sid: Sid<Activity>,
    /// `WorkerPreviousActivityName`.
    pub friendly_name: Arc<str>,
    /// `WorkerTimeInPreviousActivityMs`.
    pub time_in_ms: u64,
}

/// A channel as named in an event.
#[derive(Debug, Clone)]
pub struct ChannelSnapshot {
    /// `TaskChannelSid`.
    pub sid: Sid<TaskChannel>,
    /// `TaskChannelUniqueName`.
    pub unique_name: Arc<str>,
    /// `TaskChannelName`.
    pub friendly_name: Arc<str>,
    /// `WorkerChannelAvailable`, on worker channel events.
    pub worker_channel_available: Option<bool>,
    /// `WorkerChannelAvailableCapacity`, on worker channel events.
    pub worker_channel_capacity: Option<u32>,
    /// `WorkerChannelPreviousCapacity`, on `worker.capacity.update`.
    pub worker_channel_previous_capacity: Option<u32>,
}

/// The resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceSid {
    /// The workspace itself.
    Workspace,
    /// An activity.
    Activity(Sid<Activity>),
    /// A task channel.
    TaskChannel(Sid<TaskChannel>),
    /// A worker.
    Worker(Sid<Worker>),
    /// A task queue.
    TaskQueue(Sid<TaskQueue>),
    /// A workflow.
    Workflow(Sid<Workflow>),
    /// A task.
    Task(Sid<Task>),
    /// A reservation.
    Reservation(Sid<Reservation>),
}

/// One event.
///
/// The parts only worker, activity and channel events carry are boxed, so that the routing
/// events (most of them) stay small to build, move and buffer.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// When.
    pub timestamp: Timestamp,
    /// What it is about.
    pub resource: ResourceSid,
    /// The task, for task, reservation, workflow and queue-movement events.
    pub task: Option<TaskSnapshot>,
    /// The worker, for worker and reservation events.
    pub worker: Option<WorkerSnapshot>,
    /// The reservation, for reservation events.
    pub reservation_sid: Option<Sid<Reservation>>,
    /// The queue involved.
    pub queue: Option<QueueSnapshot>,
    /// The workflow involved.
    pub workflow: Option<WorkflowSnapshot>,
    /// The activity, for activity events.
    pub activity: Option<Box<ActivitySnapshot>>,
    /// The previous activity, for `worker.activity.update`.
    pub previous_activity: Option<Box<PreviousActivity>>,
    /// The channel, for channel events.
    pub channel: Option<Box<ChannelSnapshot>>,
    /// `known_worker_sid` when the task was routed to a known worker.
    pub known_worker_sid: Option<Sid<Worker>>,
}

impl Event {
    pub(crate) fn new(event_type: EventType, timestamp: Timestamp, resource: ResourceSid) -> Event {
        Event {
            event_type,
            timestamp,
            resource,
            task: None,
            worker: None,
            reservation_sid: None,
            queue: None,
            workflow: None,
            activity: None,
            previous_activity: None,
            channel: None,
            known_worker_sid: None,
        }
    }
}

/// One line per event, naming things by friendly name where they have one: meant for logs and
/// for snapshot tests, not a wire format.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.event_type)?;
        if let Some(t) = &self.task {
            write!(
                f,
                " task={} status={}",
                short(t.sid),
                t.assignment_status.as_str()
            )?;
            if t.priority != 0 {
                write!(f, " priority={}", t.priority)?;
            }
            if let Some(r) = &t.reason {
                write!(f, " reason={r:?}")?;
            }
        }
        if let Some(w) = &self.worker {
            write!(
                f,
                " worker={} activity={}",
                w.friendly_name, w.activity_name
            )?;
        }
        if let Some(p) = &self.previous_activity {
            write!(f, " previous={}", p.friendly_name)?;
        }
        if let Some(q) = &self.queue {
            write!(f, " queue={}", q.friendly_name)?;
        }
        if let Some(w) = &self.workflow {
            if let Some(name) = &w.filter_name {
                write!(f, " filter={name:?}")?;
            }
        }
        if let Some(a) = &self.activity {
            write!(f, " activity={} available={}", a.friendly_name, a.available)?;
        }
        if let Some(c) = &self.channel {
            write!(f, " channel={}", c.unique_name)?;
            if let Some(cap) = c.worker_channel_capacity {
                write!(f, " capacity={cap}")?;
            }
        }
        Ok(())
    }
}

/// Small SIDs print as their number (`WT…01` → `#1`), keeping snapshot tests readable.
fn short<K: switchboard_sid::SidKind>(sid: Sid<K>) -> String {
    if sid.as_u128() < 1_000_000 {
        format!("#{}", sid.as_u128())
    } else {
        sid.to_string()
    }
}
