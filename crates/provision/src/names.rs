//! The friendly names and the path the internal call's resources are found by.

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
