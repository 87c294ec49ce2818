//! Who a worker is to the call rules and the desktops: the `client:` identity its calls reach,
//! the name it is shown by, and whether it may supervise. Read from its attributes, as Flex does.

use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

use crate::model::Model;
use crate::sessions::Agent;

/// The `client:` identity a worker is reached at, from its `contact_uri`.
pub fn identity(model: &Model, ws: Sid<WorkspaceKind>, worker: Sid<Worker>) -> Option<String> {
    let w = model.workspace(ws)?.engine.worker(worker)?;
    w.attributes
        .value()
        .get("contact_uri")
        .and_then(|v| v.as_str())
        .and_then(|c| c.strip_prefix("client:"))
        .map(str::to_owned)
}

/// The name a worker is shown by: its `full_name`, else its friendly name.
pub fn worker_name(model: &Model, ws: Sid<WorkspaceKind>, worker: Sid<Worker>) -> Option<String> {
    let w = model.workspace(ws)?.engine.worker(worker)?;
    Some(
        w.attributes
            .value()
            .get("full_name")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| w.friendly_name.to_string()),
    )
}

/// Whether the worker may supervise: its `roles` (Flex's attribute) hold `supervisor` or
/// `admin`.
pub fn is_supervisor(model: &Model, (ws, worker): Agent) -> bool {
    let Some(w) = model.workspace(ws).and_then(|s| s.engine.worker(worker)) else {
        return false;
    };
    w.attributes
        .value()
        .get("roles")
        .and_then(|r| r.as_array())
        .is_some_and(|roles| {
            roles
                .iter()
                .filter_map(|r| r.as_str())
                .any(|r| r == "supervisor" || r == "admin")
        })
}
