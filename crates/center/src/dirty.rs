//! Which desktops a change may have changed: filled while an input is applied, read once at its
//! end, so that only the sessions of those agents are rendered again.

use std::collections::BTreeSet;

use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

/// Desktops to render again.
#[derive(Debug, Default)]
pub struct Dirty {
    /// Every session (the Flex configuration changed).
    pub all: bool,
    /// Every session of these workspaces (activities, queues, channels, settings changed).
    pub workspaces: BTreeSet<Sid<WorkspaceKind>>,
    /// These agents.
    pub workers: BTreeSet<(Sid<WorkspaceKind>, Sid<Worker>)>,
    /// Agents reached as `client:IDENTITY` (calls ringing them directly).
    pub identities: BTreeSet<String>,
    /// Every supervisor (a live call started, changed or ended).
    pub supervisors: bool,
}

impl Dirty {
    /// Nothing to render.
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.workspaces.is_empty()
            && self.workers.is_empty()
            && self.identities.is_empty()
            && !self.supervisors
    }
}
