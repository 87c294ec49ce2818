//! Seeding the demo workspace through the driver, like any other change, so it is durable and a
//! second start finds it. What the demo contains is the center's (`switchboard_center::demo`).

use switchboard_center::demo;
use switchboard_center::ids::SidGen;
use switchboard_sid::{Sid, Workspace as WorkspaceKind};

use crate::driver::CoreHandle;
use crate::http::ApiError;

pub use switchboard_center::demo::{AGENTS, WORKSPACE_NAME};

/// Seeds the demo workspace unless one of that name exists. Returns its SID and whether it was
/// created now. An existing demo's Internal Call application is pointed at this server's current
/// address (the port may have changed since the last run).
pub async fn seed(core: &CoreHandle) -> Result<(Sid<WorkspaceKind>, bool), ApiError> {
    core.run(|d| {
        let now = d.now();
        let base = d.public_url.clone();
        if let Some(existing) = demo::workspace(d.center().model()) {
            let refresh = demo::refresh_application(d.center().model(), &base, now);
            if !refresh.is_empty() {
                d.execute_many(refresh)?;
            }
            return Ok((existing, false));
        }
        let mut ids = SidGen::new(crate::ids::random_u128());
        let (entries, sids) = demo::entries(&mut ids, &base, now).map_err(|e| {
            ApiError::internal(format!(
                "the demo's Flex configuration is not valid JSON: {e}"
            ))
        })?;
        d.execute_many(entries)?;
        Ok((sids.workspace, true))
    })
    .await?
}
