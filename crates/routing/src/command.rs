//! Commands: everything that can change a workspace. Each is applied whole or refused whole.
//!
//! Commands carry the SIDs of what they create (the caller draws them), so applying the same
//! commands at the same times always gives the same state and the same events. They are
//! serializable, so a store can log them and replay them.

use serde::{Deserialize, Serialize};
use switchboard_sid::{Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

use crate::time::Timestamp;

/// FIFO or LIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TaskOrder {
    /// Highest priority first, then oldest first.
    #[default]
    #[serde(rename = "FIFO")]
    Fifo,
    /// Newest first; priority is ignored.
    #[serde(rename = "LIFO")]
    Lifo,
}

/// A task channel named by SID or unique name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelRef {
    /// By SID.
    Sid(Sid<TaskChannel>),
    /// By unique name (`voice`, `chat`, ...).
    UniqueName(String),
}

/// Where a task is routed when it does not go through a workflow's filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoutingTarget {
    /// Straight to one worker.
    Worker(Sid<Worker>),
    /// To one queue, as a single step without timeout.
    Queue(Sid<TaskQueue>),
    /// Through this workflow.
    Workflow(Sid<Workflow>),
}

/// A new worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewWorker {
    /// Its SID.
    pub sid: Sid<Worker>,
    /// Unique in the workspace, case-insensitively.
    pub friendly_name: String,
    /// JSON object text; `None` means `{}`.
    pub attributes: Option<String>,
    /// Its activity; `None` means the workspace's default activity.
    pub activity_sid: Option<Sid<Activity>>,
}

/// Changes to a worker; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerUpdate {
    /// New friendly name.
    pub friendly_name: Option<String>,
    /// New attributes (JSON object text).
    pub attributes: Option<String>,
    /// New activity.
    pub activity_sid: Option<Sid<Activity>>,
    /// When moving to an unavailable activity: reject (instead of cancel) pending reservations.
    pub reject_pending_reservations: bool,
}

/// A new task queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTaskQueue {
    /// Its SID.
    pub sid: Sid<TaskQueue>,
    /// Its name.
    pub friendly_name: String,
    /// The `target_workers` expression; `None` means `1==1`.
    pub target_workers: Option<String>,
    /// 1 to 50; `None` means 1.
    pub max_reserved_workers: Option<u32>,
    /// FIFO unless said.
    pub task_order: Option<TaskOrder>,
    /// Single-tasking workspaces: the activity a worker takes when reserved.
    pub reservation_activity_sid: Option<Sid<Activity>>,
    /// Single-tasking workspaces: the activity a worker takes when assigned.
    pub assignment_activity_sid: Option<Sid<Activity>>,
}

/// Changes to a task queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskQueueUpdate {
    /// New name.
    pub friendly_name: Option<String>,
    /// New `target_workers`; `Some("")` clears it (the queue then matches no worker).
    pub target_workers: Option<String>,
    /// New maximum.
    pub max_reserved_workers: Option<u32>,
    /// New order.
    pub task_order: Option<TaskOrder>,
    /// New reservation activity.
    pub reservation_activity_sid: Option<Sid<Activity>>,
    /// New assignment activity.
    pub assignment_activity_sid: Option<Sid<Activity>>,
}

/// A new workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewWorkflow {
    /// Its SID.
    pub sid: Sid<Workflow>,
    /// Its name.
    pub friendly_name: String,
    /// The configuration JSON text.
    pub configuration: String,
    /// Seconds a reservation waits for an answer; `None` means 120.
    pub task_reservation_timeout: Option<u64>,
    /// Where the server posts each reservation (kept, not used by the engine).
    #[serde(default)]
    pub assignment_callback_url: Option<String>,
    /// Where it posts when that fails (kept, not used by the engine).
    #[serde(default)]
    pub fallback_assignment_callback_url: Option<String>,
}

/// Changes to a workflow.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkflowUpdate {
    /// New name.
    pub friendly_name: Option<String>,
    /// New configuration JSON text.
    pub configuration: Option<String>,
    /// New reservation timeout.
    pub task_reservation_timeout: Option<u64>,
    /// New assignment callback URL (`Some("")` clears it).
    #[serde(default)]
    pub assignment_callback_url: Option<String>,
    /// New fallback assignment callback URL (`Some("")` clears it).
    #[serde(default)]
    pub fallback_assignment_callback_url: Option<String>,
    /// Route the workflow's pending tasks again under the new configuration.
    pub re_evaluate_tasks: bool,
}

/// A new task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTask {
    /// Its SID.
    pub sid: Sid<Task>,
    /// JSON object text; `None` means `{}`.
    pub attributes: Option<String>,
    /// The workflow; may be omitted when the workspace has exactly one, or with a routing target.
    pub workflow_sid: Option<Sid<Workflow>>,
    /// 0 to 2,147,483,647; a target's priority overrides it.
    pub priority: Option<u32>,
    /// Seconds before a task that is not assigned is canceled; `None` means 86,400.
    pub timeout: Option<u64>,
    /// `None` means the `default` channel.
    pub task_channel: Option<ChannelRef>,
    /// For ordering; not in the future. `None` means now.
    pub virtual_start_time: Option<Timestamp>,
    /// Route outside the workflow's filters.
    pub routing_target: Option<RoutingTarget>,
    /// With a worker routing target: ignore the worker's availability and capacity
    /// (`None` means true, as in TaskRouter).
    pub ignore_capacity: Option<bool>,
    /// The queue the task is counted in when routed straight to a worker.
    pub task_queue_sid: Option<Sid<TaskQueue>>,
}

/// A change of a task's status through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatusChange {
    /// Cancel a task that is not assigned yet.
    Canceled,
    /// Move an assigned task to wrap-up.
    Wrapping,
    /// Complete an assigned or wrapping task.
    Completed,
}

/// Changes to a task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskUpdate {
    /// New attributes (JSON object text). A pending task is routed again.
    pub attributes: Option<String>,
    /// New priority.
    pub priority: Option<u32>,
    /// New status.
    pub assignment_status: Option<TaskStatusChange>,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
    /// New virtual start time.
    pub virtual_start_time: Option<Timestamp>,
}

/// What a worker (or the application) does with a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationAction {
    /// Take the task.
    Accept,
    /// Decline it, optionally moving the worker to an activity.
    Reject {
        /// The activity the worker moves to.
        worker_activity_sid: Option<Sid<Activity>>,
    },
    /// Move the accepted reservation (and its task) to wrap-up.
    Wrap,
    /// Complete the reservation (and its task).
    Complete,
}

/// Workspace-level settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkspaceUpdate {
    /// The activity new workers get.
    pub default_activity_sid: Option<Sid<Activity>>,
    /// The activity a worker is moved to when a reservation times out.
    pub timeout_activity_sid: Option<Sid<Activity>>,
    /// Which family of queues a worker in both serves first.
    pub prioritize_queue_order: Option<TaskOrder>,
}

/// A change to a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Change workspace settings.
    UpdateWorkspace(WorkspaceUpdate),
    /// Create an activity.
    CreateActivity {
        /// Its SID.
        sid: Sid<Activity>,
        /// Its name (unique, at most 64 characters).
        friendly_name: String,
        /// Whether workers in it can receive tasks.
        available: bool,
    },
    /// Rename an activity.
    UpdateActivity {
        /// The activity.
        sid: Sid<Activity>,
        /// Its new name.
        friendly_name: String,
    },
    /// Delete an activity no worker or setting uses.
    DeleteActivity {
        /// The activity.
        sid: Sid<Activity>,
    },
    /// Create a task channel; every worker gets capacity 1 on it.
    CreateTaskChannel {
        /// Its SID.
        sid: Sid<TaskChannel>,
        /// Its unique name.
        unique_name: String,
        /// Its display name.
        friendly_name: String,
        /// Prefer the worker idle longest on this channel rather than overall.
        channel_optimized_routing: bool,
    },
    /// Change a task channel.
    UpdateTaskChannel {
        /// The channel.
        sid: Sid<TaskChannel>,
        /// New display name.
        friendly_name: Option<String>,
        /// New routing preference.
        channel_optimized_routing: Option<bool>,
    },
    /// Delete a task channel no live task uses.
    DeleteTaskChannel {
        /// The channel.
        sid: Sid<TaskChannel>,
    },
    /// Create a worker.
    CreateWorker(NewWorker),
    /// Change a worker.
    UpdateWorker {
        /// The worker.
        sid: Sid<Worker>,
        /// The changes.
        update: WorkerUpdate,
    },
    /// Delete a worker that holds no reservation.
    DeleteWorker {
        /// The worker.
        sid: Sid<Worker>,
    },
    /// Change a worker's capacity or availability on one channel.
    UpdateWorkerChannel {
        /// The worker.
        worker_sid: Sid<Worker>,
        /// The channel.
        channel: ChannelRef,
        /// New capacity, 0 to 50.
        capacity: Option<u32>,
        /// New availability.
        available: Option<bool>,
    },
    /// Create a task queue.
    CreateTaskQueue(NewTaskQueue),
    /// Change a task queue.
    UpdateTaskQueue {
        /// The queue.
        sid: Sid<TaskQueue>,
        /// The changes.
        update: TaskQueueUpdate,
    },
    /// Delete a task queue no workflow or live task uses.
    DeleteTaskQueue {
        /// The queue.
        sid: Sid<TaskQueue>,
    },
    /// Create a workflow.
    CreateWorkflow(NewWorkflow),
    /// Change a workflow.
    UpdateWorkflow {
        /// The workflow.
        sid: Sid<Workflow>,
        /// The changes.
        update: WorkflowUpdate,
    },
    /// Delete a workflow with no live task.
    DeleteWorkflow {
        /// The workflow.
        sid: Sid<Workflow>,
    },
    /// Create a task and route it.
    CreateTask(NewTask),
    /// Change a task.
    UpdateTask {
        /// The task.
        sid: Sid<Task>,
        /// The changes.
        update: TaskUpdate,
    },
    /// Delete a task in any state.
    DeleteTask {
        /// The task.
        sid: Sid<Task>,
    },
    /// Act on a reservation.
    UpdateReservation {
        /// The reservation.
        sid: Sid<Reservation>,
        /// What to do.
        action: ReservationAction,
    },
}
