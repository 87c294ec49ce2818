//! Setup automation for Flex's internal call, against Twilio or a Switchboard server.
//!
//! - [`provision`] creates or updates, idempotently and matched by friendly name, what the
//!   internal call needs: the "Internal Call" TwiML application, the "Internal Calls" task queue,
//!   the "Internal Call" workflow and the feature flags in the Flex Configuration. It first
//!   computes a [`Plan`] (create / update / unchanged per resource) from what exists, then applies
//!   it step by step; a failure leaves the finished steps in place, so running again completes
//!   the job.
//! - [`env`] finds those resources' SIDs by name, as the Flex plugin template's `generate-env`
//!   script does, and writes them to a `.env` file.
//!
//! HTTP goes through the [`api::Api`] trait (one method), so the logic is independent of the
//! transport. This crate prints progress to a writer it is given and never reads the environment;
//! the binary does that.

pub mod api;
pub mod env;
pub mod provision;

pub use api::{Client, Credentials, HttpApi, HttpError, Target};
pub use provision::{provision, Change, OutboundCallFlow, Plan, ProvisionOptions, Summary};

/// The workspace Flex creates and the template looks for.
pub const DEFAULT_WORKSPACE: &str = "Flex Task Assignment";
/// The TwiML application's friendly name.
pub const APPLICATION_NAME: &str = "Internal Call";
/// The internal task queue's friendly name.
pub const QUEUE_NAME: &str = "Internal Calls";
/// The workflow's friendly name.
pub const WORKFLOW_NAME: &str = "Internal Call";
/// The path of the enqueue function, on the serverless domain or on a Switchboard server.
pub const ENQUEUE_PATH: &str = "/features/internal-call/common/enqueue";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request failed: what we were doing, the HTTP status and Twilio's message.
    #[error("failed to {action}: {http}")]
    Request {
        /// What the request was for, e.g. `create workflow "Internal Call"`.
        action: String,
        /// The status and message.
        http: HttpError,
    },
    /// A resource is missing, ambiguous or cannot be set up; the message says which and lists
    /// what was found.
    #[error("{0}")]
    Invalid(String),
    /// Writing progress or a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    fn request(action: impl Into<String>) -> impl FnOnce(HttpError) -> Error {
        let action = action.into();
        move |http| Error::Request { action, http }
    }
}

/// `"a", "b", "c"`, or `nothing` for an empty list.
pub(crate) fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = names.into_iter().map(|n| format!("\"{n}\"")).collect();
    if list.is_empty() {
        "nothing".to_string()
    } else {
        list.join(", ")
    }
}
