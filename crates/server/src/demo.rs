//! The demo workspace, "Flex Task Assignment": the activities, channels, queues, workflows and
//! agents a Flex contact center starts with, the Internal Call workflow of Flex's internal-call
//! feature, and a Flex Configuration pointing at them. Seeded through the core like any other
//! change, so it is durable and a second start finds it.

use serde_json::Value;
use switchboard_routing::*;
use switchboard_sid::{
    Activity, Application, Sid, SidKind, TaskChannel, TaskQueue, Worker, Workflow,
    Workspace as WorkspaceKind,
};

use crate::api::ApiError;
use crate::core::{CoreHandle, Entry};

/// The demo workspace's name (Flex's own).
pub const WORKSPACE_NAME: &str = "Flex Task Assignment";

/// The Flex Configuration, with `${...}` placeholders.
pub const FLEX_CONFIGURATION: &str = include_str!("../../../fixtures/flex-configuration.json");

/// The Internal Call workflow, with `${QUEUE_SID_…}` placeholders.
pub const INTERNAL_CALL_WORKFLOW: &str =
    include_str!("../../../fixtures/internal-call-workflow.json");

/// The demo agents: identity (friendly name), full name, skills.
pub const AGENTS: &[(&str, &str, &[&str])] = &[
    ("alice", "Alice Anders", &["sales"]),
    ("bob", "Bob Brown", &["support"]),
    ("carol", "Carol Chen", &["sales", "support"]),
    ("dmitri", "Dmitri Dorsey", &["sales"]),
    ("eva", "Eva Estrada", &["support"]),
    ("zoe", "Zoë Ortega", &["sales", "support"]),
];

/// The SIDs of what the demo creates.
#[derive(Debug, Clone)]
pub struct DemoSids {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// Offline, Available, Unavailable, Break.
    pub activities: [Sid<Activity>; 4],
    /// Everyone, Sales, Support, Internal Calls.
    pub queues: [Sid<TaskQueue>; 4],
    /// Assign to Anyone, Internal Call.
    pub workflows: [Sid<Workflow>; 2],
    /// One per entry of [`AGENTS`].
    pub workers: Vec<Sid<Worker>>,
}

/// The routing commands that fill the demo workspace, drawing SIDs from `next`.
pub fn commands(
    workspace: Sid<WorkspaceKind>,
    next: &mut dyn FnMut() -> u128,
) -> (Vec<Command>, DemoSids) {
    fn sid<K: SidKind>(next: &mut dyn FnMut() -> u128) -> Sid<K> {
        Sid::from_u128(next())
    }
    let activities: [Sid<Activity>; 4] = [sid(next), sid(next), sid(next), sid(next)];
    let channels: [Sid<TaskChannel>; 3] = [sid(next), sid(next), sid(next)];
    let queues = [sid(next), sid(next), sid(next), sid(next)];
    let workflows = [sid(next), sid(next)];
    let workers: Vec<Sid<Worker>> = AGENTS.iter().map(|_| sid(next)).collect();

    let mut cmds = Vec::new();
    for (sid, (name, available)) in activities.iter().zip([
        ("Offline", false),
        ("Available", true),
        ("Unavailable", false),
        ("Break", false),
    ]) {
        cmds.push(Command::CreateActivity {
            sid: *sid,
            friendly_name: name.into(),
            available,
        });
    }
    cmds.push(Command::UpdateWorkspace(WorkspaceUpdate {
        default_activity_sid: Some(activities[0]),
        timeout_activity_sid: Some(activities[0]),
        prioritize_queue_order: None,
    }));
    for (sid, (unique, name)) in
        channels
            .iter()
            .zip([("default", "Default"), ("voice", "Voice"), ("chat", "Chat")])
    {
        cmds.push(Command::CreateTaskChannel {
            sid: *sid,
            unique_name: unique.into(),
            friendly_name: name.into(),
            channel_optimized_routing: false,
        });
    }
    for (sid, (name, target)) in queues.iter().zip([
        ("Everyone", "1==1"),
        ("Sales", "skills HAS 'sales'"),
        ("Support", "skills HAS 'support'"),
        ("Internal Calls", "1==1"),
    ]) {
        cmds.push(Command::CreateTaskQueue(NewTaskQueue {
            sid: *sid,
            friendly_name: name.into(),
            target_workers: Some(target.into()),
            max_reserved_workers: Some(1),
            task_order: Some(TaskOrder::Fifo),
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }));
    }
    let anyone = format!(
        r#"{{"task_routing":{{"filters":[],"default_filter":{{"queue":"{}"}}}}}}"#,
        queues[0]
    );
    cmds.push(Command::CreateWorkflow(NewWorkflow {
        sid: workflows[0],
        friendly_name: "Assign to Anyone".into(),
        configuration: anyone,
        task_reservation_timeout: Some(120),
        assignment_callback_url: None,
        fallback_assignment_callback_url: None,
    }));
    cmds.push(Command::CreateWorkflow(NewWorkflow {
        sid: workflows[1],
        friendly_name: "Internal Call".into(),
        configuration: internal_call_workflow(&queues),
        task_reservation_timeout: Some(30),
        assignment_callback_url: None,
        fallback_assignment_callback_url: None,
    }));
    for (sid, (identity, full_name, skills)) in workers.iter().zip(AGENTS) {
        let attributes = serde_json::json!({
            "full_name": full_name,
            "contact_uri": format!("client:{identity}"),
            "skills": skills,
            "routing": {"skills": skills, "levels": {}},
        });
        cmds.push(Command::CreateWorker(NewWorker {
            sid: *sid,
            friendly_name: (*identity).into(),
            attributes: Some(attributes.to_string()),
            activity_sid: Some(activities[1]),
        }));
    }
    let sids = DemoSids {
        workspace,
        activities,
        queues,
        workflows,
        workers,
    };
    (cmds, sids)
}

/// The Internal Call workflow with the demo's queue SIDs filled in.
pub fn internal_call_workflow(queues: &[Sid<TaskQueue>; 4]) -> String {
    INTERNAL_CALL_WORKFLOW
        .replace("${QUEUE_SID_EVERYONE}", &queues[0].to_string())
        .replace("${QUEUE_SID_SALES}", &queues[1].to_string())
        .replace("${QUEUE_SID_SUPPORT}", &queues[2].to_string())
        .replace("${QUEUE_SID_INTERNAL_CALLS}", &queues[3].to_string())
}

/// The Flex Configuration with the demo's SIDs filled in.
pub fn flex_configuration(
    sids: &DemoSids,
    application: Sid<Application>,
) -> Result<Value, serde_json::Error> {
    let text = FLEX_CONFIGURATION
        .replace("${ACTIVITY_SID_OFFLINE}", &sids.activities[0].to_string())
        .replace(
            "${WORKFLOW_SID_ASSIGN_TO_ANYONE}",
            &sids.workflows[0].to_string(),
        )
        .replace("${QUEUE_SID_EVERYONE}", &sids.queues[0].to_string())
        .replace("${QUEUE_SID_INTERNAL_CALLS}", &sids.queues[3].to_string())
        .replace("${INTERNAL_CALL_APPLICATION_SID}", &application.to_string());
    let mut doc: Value = serde_json::from_str(&text)?;
    if let Some(m) = doc.as_object_mut() {
        m.insert(
            "taskrouter_workspace_sid".into(),
            Value::String(sids.workspace.to_string()),
        );
    }
    Ok(doc)
}

/// The "Internal Call" application pointing at this server's built-in enqueue function.
fn internal_call_application(
    sid: Sid<Application>,
    base: &str,
    now: i64,
) -> crate::calls::ApplicationRecord {
    crate::calls::ApplicationRecord {
        sid,
        friendly_name: "Internal Call".into(),
        voice_url: Some(format!("{base}{}", crate::calls::ENQUEUE_PATH)),
        voice_method: "POST".into(),
        voice_fallback_url: None,
        voice_fallback_method: "POST".into(),
        status_callback: None,
        status_callback_method: "POST".into(),
        date_created: now,
        date_updated: now,
    }
}

/// Seeds the demo workspace unless one of that name exists. Returns its SID and whether it was
/// created now. An existing demo's Internal Call application is pointed at this server's current
/// address (the port may have changed since the last run).
pub async fn seed(core: &CoreHandle) -> Result<(Sid<WorkspaceKind>, bool), ApiError> {
    core.run(|core| {
        if let Some(existing) = core
            .workspaces
            .iter()
            .find(|(_, w)| w.friendly_name == WORKSPACE_NAME)
            .map(|(s, _)| *s)
        {
            let wanted = format!("{}{}", core.public_url, crate::calls::ENQUEUE_PATH);
            let stale: Vec<crate::calls::ApplicationRecord> = core
                .applications
                .values()
                .filter(|a| {
                    a.friendly_name == "Internal Call"
                        && a.voice_url.as_deref() != Some(wanted.as_str())
                        && a.voice_url
                            .as_deref()
                            .is_some_and(|u| u.ends_with(crate::calls::ENQUEUE_PATH))
                })
                .cloned()
                .collect();
            for mut app in stale {
                app.voice_url = Some(wanted.clone());
                app.date_updated = core.now().0;
                core.execute(Entry::PutApplication { application: app })?;
            }
            return Ok((existing, false));
        }
        let workspace: Sid<WorkspaceKind> = crate::ids::new_sid();
        let mut next = crate::ids::random_u128;
        let (commands, sids) = commands(workspace, &mut next);
        let mut entries = vec![Entry::CreateWorkspace {
            sid: workspace,
            friendly_name: WORKSPACE_NAME.into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: true,
            prioritize_queue_order: TaskOrder::Fifo,
            seed: crate::ids::random_u128().to_string(),
        }];
        entries.extend(
            commands
                .into_iter()
                .map(|command| Entry::Engine { workspace, command }),
        );
        let application: Sid<Application> = crate::ids::new_sid();
        let now = core.now().0;
        entries.push(Entry::PutApplication {
            application: internal_call_application(application, &core.public_url, now),
        });
        let configuration = flex_configuration(&sids, application).map_err(|e| {
            ApiError::internal(format!(
                "the demo's Flex configuration is not valid JSON: {e}"
            ))
        })?;
        entries.push(Entry::SetConfiguration { configuration });
        core.execute_many(entries)?;
        Ok((workspace, true))
    })
    .await?
}
