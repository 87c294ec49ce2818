//! The demo workspace, "Flex Task Assignment", as a list of engine commands: the activities,
//! channels, queues, workflows and agents a Flex contact center starts with, and the Internal
//! Call workflow of Flex's internal-call feature.
//!
//! `switchboard demo` seeds it into an engine and plays two internal calls on simulated time.

use std::process::ExitCode;

use switchboard_routing::*;
use switchboard_sid::{Activity, Sid, SidKind, TaskChannel, TaskQueue, Worker, Workflow};

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
    /// Everyone, Sales, Support, Internal Calls.
    pub queues: [Sid<TaskQueue>; 4],
    /// Assign to Anyone, Internal Call.
    pub workflows: [Sid<Workflow>; 2],
    /// One per entry of [`AGENTS`].
    pub workers: Vec<Sid<Worker>>,
}

/// The commands that build the demo workspace, drawing SIDs from `next`.
pub fn commands(next: &mut dyn FnMut() -> u128) -> (Vec<Command>, DemoSids) {
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

/// `switchboard demo`: seed the demo workspace and route two internal calls on simulated time.
pub fn run() -> anyhow::Result<ExitCode> {
    let mut counter = 0u128;
    let mut next = || {
        counter += 1;
        switchboard_sid::mix128(counter)
    };
    let (cmds, sids) = commands(&mut next);
    let mut ws = Workspace::new(WorkspaceConfig {
        sid: Sid::from_u128(next()),
        friendly_name: "Flex Task Assignment".into(),
        multi_task_enabled: true,
        prioritize_queue_order: TaskOrder::Fifo,
        seed: next(),
    });
    let mut now = Timestamp(0);
    for c in cmds {
        ws.handle(now, c)?;
    }
    ws.take_events();
    println!(
        "Seeded workspace \"Flex Task Assignment\" with {} agents, {} queues, {} workflows.",
        ws.workers().count(),
        ws.queues().count(),
        ws.workflows().count()
    );
    println!("  TWILIO_FLEX_WORKSPACE_SID={}", ws.sid());
    println!(
        "  TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID={}",
        sids.workflows[1]
    );
    println!("  INTERNAL_CALL_QUEUE_SID={}", sids.queues[3]);

    let calls = [
        ("Alice Anders calls Bob Brown", format!(r#"{{"name":"Alice Anders","worker_sid":"{}","conversations":{{"conversation_id":"demo-1"}}}}"#, sids.workers[1])),
        ("Bob Brown calls the Sales queue", r#"{"name":"Bob Brown","callToQueue":"Sales","conversations":{"conversation_id":"demo-2"}}"#.to_owned()),
    ];
    for (title, attributes) in calls {
        println!("\n{title}:");
        now = now.plus_secs(5);
        let task = Sid::from_u128(next());
        ws.handle(
            now,
            Command::CreateTask(NewTask {
                sid: task,
                attributes: Some(attributes),
                workflow_sid: Some(sids.workflows[1]),
                priority: None,
                timeout: None,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
        )?;
        let reservation = ws
            .reservations()
            .find(|r| r.task_sid == task)
            .map(|r| r.sid)
            .ok_or_else(|| anyhow::anyhow!("the call was not offered to anyone"))?;
        now = now.plus_secs(3);
        ws.handle(
            now,
            Command::UpdateReservation {
                sid: reservation,
                action: ReservationAction::Accept,
            },
        )?;
        for e in ws.take_events() {
            println!("  {e}");
        }
    }
    println!("\nThe HTTP server and the agent desktop are not built yet; see ARCHITECTURE.md.");
    Ok(ExitCode::SUCCESS)
}
