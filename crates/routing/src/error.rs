//! Why a command was refused. A refused command changes nothing.

/// The kind of resource an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// An activity.
    Activity,
    /// A task channel.
    TaskChannel,
    /// A worker.
    Worker,
    /// A task queue.
    TaskQueue,
    /// A workflow.
    Workflow,
    /// A task.
    Task,
    /// A reservation.
    Reservation,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResourceKind::Activity => "Activity",
            ResourceKind::TaskChannel => "TaskChannel",
            ResourceKind::Worker => "Worker",
            ResourceKind::TaskQueue => "TaskQueue",
            ResourceKind::Workflow => "Workflow",
            ResourceKind::Task => "Task",
            ResourceKind::Reservation => "Reservation",
        })
    }
}

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A parameter is missing or wrong. `param` is TaskRouter's parameter name
    /// (`Attributes`, `Configuration`, ...); the message says what is wrong with it, and for a
    /// workflow configuration starts with the path inside it (`filters[1].targets[0].expression`).
    #[error("{param} {message}")]
    Invalid {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The resource does not exist in this workspace.
    #[error("{kind} {sid} was not found")]
    NotFound {
        /// Its kind.
        kind: ResourceKind,
        /// The SID (or name) asked for.
        sid: String,
    },
    /// A resource with this SID or unique name already exists.
    #[error("{kind} {sid} already exists")]
    AlreadyExists {
        /// Its kind.
        kind: ResourceKind,
        /// The SID or name.
        sid: String,
    },
    /// The resource is in a state that does not allow the change.
    #[error("{0}")]
    Conflict(String),
    /// The reservation was rescinded or canceled: it can no longer be acted on (HTTP 410 in
    /// TaskRouter).
    #[error("Reservation {sid} is {status} and can no longer be updated")]
    Gone {
        /// The reservation.
        sid: String,
        /// Its status.
        status: &'static str,
    },
    /// A task matched no workflow filter and the workflow has no default filter.
    #[error("Task could not be matched to any filter of workflow {workflow} and it has no default_filter")]
    NoMatchingFilter {
        /// The workflow.
        workflow: String,
    },
    /// A TaskRouter limit would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
}

impl EngineError {
    pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> EngineError {
        EngineError::Invalid {
            param,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(kind: ResourceKind, sid: impl ToString) -> EngineError {
        EngineError::NotFound {
            kind,
            sid: sid.to_string(),
        }
    }
}
