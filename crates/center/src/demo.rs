//! The demo workspace, "Flex Task Assignment": the activities, channels, queues, workflows and
//! agents a Flex contact center starts with, the Internal Call workflow of Flex's internal-call
//! feature, an "Internal Call" application and a Flex Configuration pointing at them, as log
//! entries.
//!
//! Demo agents start Offline, so no call rings an agent nobody has signed in as; signing in
//! ([`sign_in`]) makes the agent Available.

use serde_json::{json, Value};
use switchboard_routing::{
    Command, NewTaskQueue, NewWorker, NewWorkflow, TaskOrder, Timestamp, WorkerUpdate,
    WorkspaceUpdate,
};
use switchboard_sid::{
    Activity, Application, Sid, TaskChannel, TaskQueue, Worker, Workflow,
    Workspace as WorkspaceKind,
};

use crate::entry::Entry;
use crate::functions::ENQUEUE_PATH;
use crate::ids::SidGen;
use crate::model::Model;
use crate::records::ApplicationRecord;

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

/// The demo agent who is also a supervisor (Flex's `roles`), to try monitoring and coaching.
pub const SUPERVISOR: &str = "zoe";

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
    /// The "Internal Call" application.
    pub application: Sid<Application>,
}

/// The Internal Call workflow with these queue SIDs filled in (Everyone, Sales, Support,
/// Internal Calls).
pub fn internal_call_workflow(queues: &[Sid<TaskQueue>; 4]) -> String {
    INTERNAL_CALL_WORKFLOW
        .replace("${QUEUE_SID_EVERYONE}", &queues[0].to_string())
        .replace("${QUEUE_SID_SALES}", &queues[1].to_string())
        .replace("${QUEUE_SID_SUPPORT}", &queues[2].to_string())
        .replace("${QUEUE_SID_INTERNAL_CALLS}", &queues[3].to_string())
}

/// The Flex Configuration with the demo's SIDs filled in.
pub fn flex_configuration(sids: &DemoSids) -> Result<Value, serde_json::Error> {
    let text = FLEX_CONFIGURATION
        .replace("${ACTIVITY_SID_OFFLINE}", &sids.activities[0].to_string())
        .replace(
            "${WORKFLOW_SID_ASSIGN_TO_ANYONE}",
            &sids.workflows[0].to_string(),
        )
        .replace("${QUEUE_SID_EVERYONE}", &sids.queues[0].to_string())
        .replace("${QUEUE_SID_INTERNAL_CALLS}", &sids.queues[3].to_string())
        .replace(
            "${INTERNAL_CALL_APPLICATION_SID}",
            &sids.application.to_string(),
        );
    let mut doc: Value = serde_json::from_str(&text)?;
    if let Some(m) = doc.as_object_mut() {
        m.insert(
            "taskrouter_workspace_sid".into(),
            Value::String(sids.workspace.to_string()),
        );
    }
    Ok(doc)
}

/// The "Internal Call" application pointing at the built-in enqueue function of the server at
/// `base_url`.
pub fn internal_call_application(
    sid: Sid<Application>,
    base_url: &str,
    now: Timestamp,
) -> ApplicationRecord {
    ApplicationRecord {
        sid,
        friendly_name: "Internal Call".into(),
        voice_url: Some(format!("{base_url}{ENQUEUE_PATH}")),
        voice_method: "POST".into(),
        voice_fallback_url: None,
        voice_fallback_method: "POST".into(),
        status_callback: None,
        status_callback_method: "POST".into(),
        date_created: now.0,
        date_updated: now.0,
    }
}

/// The entries that create the demo, drawing SIDs from `ids`; `base_url` is where the server's
/// built-in functions are reached.
pub fn entries(
    ids: &mut SidGen,
    base_url: &str,
    now: Timestamp,
) -> Result<(Vec<Entry>, DemoSids), serde_json::Error> {
    let workspace: Sid<WorkspaceKind> = ids.sid();
    let activities: [Sid<Activity>; 4] = [ids.sid(), ids.sid(), ids.sid(), ids.sid()];
    let channels: [Sid<TaskChannel>; 3] = [ids.sid(), ids.sid(), ids.sid()];
    let queues: [Sid<TaskQueue>; 4] = [ids.sid(), ids.sid(), ids.sid(), ids.sid()];
    let workflows: [Sid<Workflow>; 2] = [ids.sid(), ids.sid()];
    let workers: Vec<Sid<Worker>> = AGENTS.iter().map(|_| ids.sid()).collect();
    let application: Sid<Application> = ids.sid();

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
    let anyone = json!({"task_routing": {"filters": [], "default_filter": {"queue": queues[0].to_string()}}});
    cmds.push(Command::CreateWorkflow(NewWorkflow {
        sid: workflows[0],
        friendly_name: "Assign to Anyone".into(),
        configuration: anyone.to_string(),
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
        let roles: &[&str] = if *identity == SUPERVISOR {
            &["agent", "supervisor"]
        } else {
            &["agent"]
        };
        let attributes = json!({
            "full_name": full_name,
            "contact_uri": format!("client:{identity}"),
            "skills": skills,
            "routing": {"skills": skills, "levels": {}},
            "roles": roles,
        });
        cmds.push(Command::CreateWorker(NewWorker {
            sid: *sid,
            friendly_name: (*identity).into(),
            attributes: Some(attributes.to_string()),
            activity_sid: Some(activities[0]),
        }));
    }
    let sids = DemoSids {
        workspace,
        activities,
        queues,
        workflows,
        workers,
        application,
    };
    let mut entries = vec![Entry::CreateWorkspace {
        sid: workspace,
        friendly_name: WORKSPACE_NAME.into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: true,
        prioritize_queue_order: TaskOrder::Fifo,
        seed: ids.next_u128().to_string(),
    }];
    entries.extend(cmds.into_iter().map(|c| Entry::engine(workspace, c)));
    entries.push(Entry::PutApplication {
        application: internal_call_application(application, base_url, now),
    });
    entries.push(Entry::SetConfiguration {
        configuration: flex_configuration(&sids)?,
    });
    Ok((entries, sids))
}

/// The demo workspace, if there is one.
pub fn workspace(model: &Model) -> Option<Sid<WorkspaceKind>> {
    model
        .workspaces()
        .find(|(_, w)| w.friendly_name == WORKSPACE_NAME)
        .map(|(s, _)| s)
}

/// After a restart on another port, the demo's Internal Call application still points at the
/// old address: the entries that point it here.
pub fn refresh_application(model: &Model, base_url: &str, now: Timestamp) -> Vec<Entry> {
    let wanted = format!("{base_url}{ENQUEUE_PATH}");
    model
        .applications()
        .values()
        .filter(|a| {
            a.friendly_name == "Internal Call"
                && a.voice_url.as_deref() != Some(wanted.as_str())
                && a.voice_url
                    .as_deref()
                    .is_some_and(|u| u.ends_with(ENQUEUE_PATH))
        })
        .map(|a| {
            let mut app = a.clone();
            app.voice_url = Some(wanted.clone());
            app.date_updated = now.0;
            Entry::PutApplication { application: app }
        })
        .collect()
}

/// Signing in to the demo as an agent who is Offline makes it Available (the demo's stand-in
/// for an agent starting its shift); agents in any other activity keep it.
pub fn sign_in(model: &Model, ws: Sid<WorkspaceKind>, worker: Sid<Worker>) -> Option<Entry> {
    let engine = &model.workspace(ws)?.engine;
    let w = engine.worker(worker)?;
    if Some(w.activity_sid) != model.offline_activity(ws) {
        return None;
    }
    let available = engine
        .activities()
        .find(|a| a.available && a.friendly_name.eq_ignore_ascii_case("Available"))?;
    Some(Entry::engine(
        ws,
        Command::UpdateWorker {
            sid: worker,
            update: WorkerUpdate {
                activity_sid: Some(available.sid),
                ..Default::default()
            },
        },
    ))
}

/// The entries that make every Offline agent of the demo Available, as if all had signed in
/// (for tests and load runs that do not open desktops).
pub fn everyone_available(model: &Model, ws: Sid<WorkspaceKind>) -> Vec<Entry> {
    let Some(state) = model.workspace(ws) else {
        return Vec::new();
    };
    state
        .engine
        .workers()
        .filter_map(|w| sign_in(model, ws, w.sid))
        .collect()
}
