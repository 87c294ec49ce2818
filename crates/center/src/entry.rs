//! The log: every durable change, as one [`Entry`]. Replaying the entries at their times through a
//! fresh center rebuilds the same state (the engines are deterministic), so nothing else is stored.
//!
//! The JSON form of every entry of release 0.1 is unchanged and still read; entries added since
//! have new `op` names or optional fields that old entries simply lack.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_routing::{Command, TaskOrder};
use switchboard_sid::{ApiKey, Application, Reservation, Sid, Task, Workspace};

use crate::records::ApplicationRecord;

/// The log format this release writes. Version 1 (release 0.1) had no [`Entry::Format`] entry and
/// did not mark call tasks; a log without the marker is read as version 1.
pub const LOG_FORMAT: u32 = 2;

/// Which path created a task, when it is the task of a call. Only tasks marked here get the
/// call rules (conference, internal-call outcomes, ending at restart); a task's attributes never
/// decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOrigin {
    /// An agent's own outbound call (Flex's StartOutboundCall).
    Outbound,
    /// A call waiting after `<Enqueue>`.
    Enqueued,
    /// A call being transferred to another agent or queue (TaskRouter's transfer model: a new
    /// task that carries the conference and the original task).
    Transfer,
    /// Read from a version-1 log, where call tasks were recognised by their attributes.
    Legacy,
}

/// A change to Switchboard's state, as written to the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// Marks the log format from here on.
    Format {
        /// [`LOG_FORMAT`] when written.
        version: u32,
    },
    /// A new workspace.
    CreateWorkspace {
        /// Its SID.
        sid: Sid<Workspace>,
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
        sid: Sid<Workspace>,
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
        sid: Sid<Workspace>,
    },
    /// A routing command applied to a workspace.
    Engine {
        /// The workspace.
        workspace: Sid<Workspace>,
        /// The command.
        command: Command,
        /// For a task-creating command of the call path: which path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<TaskOrigin>,
    },
    /// A finished task deleted through the API.
    ForgetTask {
        /// The workspace.
        workspace: Sid<Workspace>,
        /// The task.
        sid: Sid<Task>,
    },
    /// An instruction given with a reservation update (`Instruction=conference`, ...), kept for
    /// the voice layer.
    Instruction {
        /// The workspace.
        workspace: Sid<Workspace>,
        /// The reservation.
        reservation: Sid<Reservation>,
        /// `conference`, `dequeue`, `call`, `redirect`, ...
        instruction: String,
        /// Its parameters, by TaskRouter name.
        params: Map<String, Value>,
    },
    /// A TwiML application created or changed.
    PutApplication {
        /// The application, whole.
        application: ApplicationRecord,
    },
    /// A TwiML application deleted.
    DeleteApplication {
        /// The application.
        sid: Sid<Application>,
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

impl Entry {
    /// A routing command for a workspace, from the API or the center's own rules.
    pub fn engine(workspace: Sid<Workspace>, command: Command) -> Entry {
        Entry::Engine {
            workspace,
            command,
            origin: None,
        }
    }
}
