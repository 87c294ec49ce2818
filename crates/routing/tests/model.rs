//! Model-based property test of the routing engine.
//!
//! Random command sequences run against a small workspace; after every step the state read
//! through the public API is checked against invariants computed by brute force (never through
//! the engine's own indexes): reservation counts, per-channel capacity, availability,
//! completeness of matching (no pending task is left while an eligible worker is idle), task
//! status consistency, and that refused commands change nothing. Each case is replayed at the
//! end to check that the same commands give the same events.
//!
//! `PROPTEST_CASES` overrides the number of cases (default 256); `MODEL_STATS=1` prints the
//! event counts of each case (with `--nocapture`).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{json, Value};
use switchboard_expr::{ChannelFacts, Clock, Scope, TaskScope, WorkerFacts};
use switchboard_routing::*;
use switchboard_sid::{Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

const T0: i64 = 1_700_000_000_000;

const OFFLINE: Sid<Activity> = Sid::from_u128(1);
const AVAILABLE: Sid<Activity> = Sid::from_u128(2);
const BREAK: Sid<Activity> = Sid::from_u128(3);
const TRAINING: Sid<Activity> = Sid::from_u128(4);
const ACTIVITIES: [Sid<Activity>; 4] = [OFFLINE, AVAILABLE, BREAK, TRAINING];

const EVERYONE: Sid<TaskQueue> = Sid::from_u128(1);
const SALES: Sid<TaskQueue> = Sid::from_u128(2);
const SUPPORT: Sid<TaskQueue> = Sid::from_u128(3);
const SPANISH: Sid<TaskQueue> = Sid::from_u128(4);
const SENIOR: Sid<TaskQueue> = Sid::from_u128(5);
const QUEUES: [Sid<TaskQueue>; 5] = [EVERYONE, SALES, SUPPORT, SPANISH, SENIOR];

const WF_MAIN: Sid<Workflow> = Sid::from_u128(1);
const WF_ES: Sid<Workflow> = Sid::from_u128(2);

const CHANNELS: [&str; 3] = ["default", "voice", "chat"];
const SKILLS: [&str; 3] = ["sales", "support", "billing"];
const LANGS: [&str; 2] = ["en", "es"];

fn worker_sid(i: usize) -> Sid<Worker> {
    Sid::from_u128(10 + i as u128)
}

// ------------------------------------------------------------------------------------------
// Generated operations

/// How a generated worker starts.
#[derive(Debug, Clone)]
struct WorkerSpec {
    skills: u8,
    level: u8,
    lang: u8,
    activity: u8,
    voice_capacity: u32,
}

/// One abstract operation; indices are resolved against the state when it is applied.
#[derive(Debug, Clone)]
enum Op {
    CreateTask {
        skill: u8,
        lang: u8,
        min_level: u8,
        priority: Option<u32>,
        channel: u8,
        /// Index of the worker named in `worker_sid`; past the last worker names nobody.
        known: Option<u8>,
        /// 0..=2 main workflow, 3 the Spanish workflow, 4 a queue target, 5 a worker target.
        route: u8,
        pick: u8,
        timeout: Option<u64>,
    },
    Activity {
        worker: u8,
        activity: u8,
        reject: bool,
    },
    WorkerAttrs {
        worker: u8,
        skills: u8,
        level: u8,
        lang: u8,
    },
    WorkerChannel {
        worker: u8,
        channel: u8,
        capacity: Option<u32>,
        available: Option<bool>,
    },
    Reservation {
        pick: u16,
        /// 0..=3 accept, 4 reject, 5 reject with an activity, 6 wrap, 7 complete.
        action: u8,
        activity: u8,
    },
    TaskStatus {
        pick: u16,
        /// 0 cancel, 1 wrapping, 2 completed.
        change: u8,
    },
    TaskAttrs {
        pick: u16,
        skill: u8,
        lang: u8,
        priority: Option<u32>,
    },
    Advance {
        secs: u64,
    },
}

fn worker_spec() -> impl Strategy<Value = WorkerSpec> {
    (0u8..8, 1u8..=5, 0u8..2, activity_index(), 0u32..=3).prop_map(
        |(skills, level, lang, activity, voice_capacity)| WorkerSpec {
            skills,
            level,
            lang,
            activity,
            voice_capacity,
        },
    )
}

/// Mostly available activities, so that routing has someone to route to.
fn activity_index() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(1u8), 2 => Just(3u8), 3 => 0u8..4]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            (0u8..4, 0u8..3, 0u8..6, proptest::option::of(0u32..10)),
            (0u8..4, proptest::option::weighted(0.3, 0u8..7), 0u8..6, any::<u8>()),
            proptest::option::weighted(0.2, 60u64..400),
        )
            .prop_map(
                |((skill, lang, min_level, priority), (channel, known, route, pick), timeout)| {
                    Op::CreateTask {
                        skill,
                        lang,
                        min_level,
                        priority,
                        channel,
                        known,
                        route,
                        pick,
                        timeout,
                    }
                }
            ),
        4 => (any::<u8>(), activity_index(), proptest::bool::weighted(0.3))
            .prop_map(|(worker, activity, reject)| Op::Activity { worker, activity, reject }),
        1 => (any::<u8>(), 0u8..8, 1u8..=5, 0u8..2).prop_map(|(worker, skills, level, lang)| {
            Op::WorkerAttrs {
                worker,
                skills,
                level,
                lang,
            }
        }),
        2 => (
            any::<u8>(),
            0u8..3,
            proptest::option::of(0u32..=3),
            proptest::option::weighted(0.3, any::<bool>())
        )
            .prop_map(|(worker, channel, capacity, available)| Op::WorkerChannel {
                worker,
                channel,
                capacity,
                available,
            }),
        7 => (any::<u16>(), 0u8..8, 0u8..4)
            .prop_map(|(pick, action, activity)| Op::Reservation { pick, action, activity }),
        2 => (any::<u16>(), 0u8..3).prop_map(|(pick, change)| Op::TaskStatus { pick, change }),
        1 => (any::<u16>(), 0u8..4, 0u8..3, proptest::option::of(0u32..10)).prop_map(
            |(pick, skill, lang, priority)| Op::TaskAttrs {
                pick,
                skill,
                lang,
                priority,
            }
        ),
        3 => prop_oneof![3 => 0u64..=15, 1 => 0u64..=200].prop_map(|secs| Op::Advance { secs }),
    ]
}

// ------------------------------------------------------------------------------------------
// The harness

/// One thing done to the workspace, as recorded for the replay.
#[derive(Debug, Clone)]
enum Input {
    Command(Timestamp, Box<Command>),
    Timeout(Timestamp),
}

struct Harness {
    ws: Workspace,
    now: i64,
    inputs: Vec<Input>,
    events: Vec<String>,
    next_task: u128,
    workers: usize,
}

fn new_workspace() -> Workspace {
    Workspace::new(WorkspaceConfig {
        sid: Sid::from_u128(1),
        friendly_name: "model".to_owned(),
        multi_task_enabled: true,
        prioritize_queue_order: TaskOrder::Fifo,
        seed: 7,
    })
}

fn render(events: Vec<Event>) -> impl Iterator<Item = String> {
    events
        .into_iter()
        .map(|e| format!("{} {}", e.timestamp.0 - T0, e))
}

fn worker_attributes(skills: u8, level: u8, lang: u8) -> String {
    let skills: Vec<&str> = SKILLS
        .iter()
        .enumerate()
        .filter(|(i, _)| skills & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect();
    json!({"skills": skills, "level": level, "lang": LANGS[lang as usize % 2]}).to_string()
}

fn task_attributes(skill: u8, lang: u8, min_level: u8, known: Option<Sid<Worker>>) -> String {
    let mut doc = serde_json::Map::new();
    if skill > 0 {
        doc.insert("skill".into(), json!(SKILLS[(skill as usize - 1) % 3]));
    }
    if lang > 0 {
        doc.insert("lang".into(), json!(LANGS[(lang as usize - 1) % 2]));
    }
    doc.insert("min_level".into(), json!(min_level));
    if let Some(w) = known {
        doc.insert("worker_sid".into(), json!(w.to_string()));
    }
    Value::Object(doc).to_string()
}

fn main_workflow() -> String {
    json!({"task_routing": {
        "filters": [
            {"filter_friendly_name": "known", "expression": "worker_sid != null", "targets": [
                {"queue": EVERYONE.to_string(), "known_worker_sid": "task.worker_sid",
                 "timeout": 40, "priority": 7},
                {"expression": "task.lang == worker.lang", "order_by": "worker.level DESC"}
            ]},
            {"filter_friendly_name": "sales", "expression": "skill == 'sales'", "targets": [
                {"queue": SALES.to_string(), "expression": "task.lang == worker.lang",
                 "timeout": 30, "priority": 5},
                {"order_by": "worker.level DESC", "timeout": 60,
                 "skip_if": "workers.available == 0"},
                {"queue": EVERYONE.to_string()}
            ]},
            {"filter_friendly_name": "support", "expression": "skill == 'support'", "targets": [
                {"queue": SUPPORT.to_string(), "expression": "worker.level >= task.min_level",
                 "timeout": 50},
                {"queue": SENIOR.to_string(),
                 "expression": "worker.channel.chat.assigned_tasks == 0",
                 "skip_if": "1==1", "timeout": 50}
            ]},
            {"filter_friendly_name": "billing-or-es",
             "expression": "skill == 'billing' OR lang == 'es'", "targets": [
                {"queue": SPANISH.to_string(), "timeout": 20}
            ]}
        ],
        "default_filter": {"queue": EVERYONE.to_string()}
    }})
    .to_string()
}

fn spanish_workflow() -> String {
    json!({"task_routing": {
        "filters": [
            {"expression": "lang == 'es'", "targets": [
                {"queue": SPANISH.to_string(), "timeout": 25},
                {"queue": EVERYONE.to_string(), "expression": "task.lang == worker.lang",
                 "timeout": 25}
            ]}
        ]
    }})
    .to_string()
}

fn setup_commands(workers: &[WorkerSpec]) -> Vec<Command> {
    let mut cmds = Vec::new();
    for (sid, name, available) in [
        (OFFLINE, "Offline", false),
        (AVAILABLE, "Available", true),
        (BREAK, "Break", false),
        (TRAINING, "Training", true),
    ] {
        cmds.push(Command::CreateActivity {
            sid,
            friendly_name: name.to_owned(),
            available,
        });
    }
    cmds.push(Command::UpdateWorkspace(WorkspaceUpdate {
        default_activity_sid: Some(OFFLINE),
        timeout_activity_sid: Some(OFFLINE),
        prioritize_queue_order: None,
    }));
    for (i, name) in CHANNELS.iter().enumerate() {
        cmds.push(Command::CreateTaskChannel {
            sid: Sid::<TaskChannel>::from_u128(1 + i as u128),
            unique_name: (*name).to_owned(),
            friendly_name: name.to_uppercase(),
            channel_optimized_routing: i == 2,
        });
    }
    for (sid, name, target, max, order) in [
        (EVERYONE, "Everyone", "1==1", 2, TaskOrder::Fifo),
        (SALES, "Sales", "skills HAS 'sales'", 3, TaskOrder::Fifo),
        (
            SUPPORT,
            "Support",
            "skills HAS 'support'",
            1,
            TaskOrder::Lifo,
        ),
        (SPANISH, "Spanish", "lang == 'es'", 2, TaskOrder::Fifo),
        (SENIOR, "Senior", "level >= 3", 1, TaskOrder::Fifo),
    ] {
        cmds.push(Command::CreateTaskQueue(NewTaskQueue {
            sid,
            friendly_name: name.to_owned(),
            target_workers: Some(target.to_owned()),
            max_reserved_workers: Some(max),
            task_order: Some(order),
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }));
    }
    cmds.push(Command::CreateWorkflow(NewWorkflow {
        sid: WF_MAIN,
        friendly_name: "Main".to_owned(),
        configuration: main_workflow(),
        task_reservation_timeout: Some(30),
        assignment_callback_url: None,
        fallback_assignment_callback_url: None,
    }));
    cmds.push(Command::CreateWorkflow(NewWorkflow {
        sid: WF_ES,
        friendly_name: "Spanish".to_owned(),
        configuration: spanish_workflow(),
        task_reservation_timeout: Some(45),
        assignment_callback_url: None,
        fallback_assignment_callback_url: None,
    }));
    for (i, w) in workers.iter().enumerate() {
        cmds.push(Command::CreateWorker(NewWorker {
            sid: worker_sid(i),
            friendly_name: format!("w{i}"),
            attributes: Some(worker_attributes(w.skills, w.level, w.lang)),
            activity_sid: (w.activity != 0).then(|| ACTIVITIES[w.activity as usize % 4]),
        }));
        cmds.push(Command::UpdateWorkerChannel {
            worker_sid: worker_sid(i),
            channel: ChannelRef::UniqueName("voice".to_owned()),
            capacity: Some(w.voice_capacity),
            available: None,
        });
        if i % 2 == 0 {
            cmds.push(Command::UpdateWorkerChannel {
                worker_sid: worker_sid(i),
                channel: ChannelRef::UniqueName("chat".to_owned()),
                capacity: Some(2),
                available: None,
            });
        }
    }
    cmds
}

impl Harness {
    fn new(workers: &[WorkerSpec]) -> Harness {
        let mut h = Harness {
            ws: new_workspace(),
            now: T0,
            inputs: Vec::new(),
            events: Vec::new(),
            next_task: 1000,
            workers: workers.len(),
        };
        for cmd in setup_commands(workers) {
            let at = Timestamp(h.now);
            h.inputs.push(Input::Command(at, Box::new(cmd.clone())));
            if let Err(e) = h.ws.handle(at, cmd.clone()) {
                panic!("setup command {cmd:?} was refused: {e}");
            }
            let ev = h.ws.take_events();
            h.events.extend(render(ev));
        }
        h
    }

    fn sorted_reservations(&self) -> Vec<Sid<Reservation>> {
        let mut v: Vec<_> = self.ws.reservations().map(|r| r.sid).collect();
        v.sort();
        v
    }

    fn sorted_tasks(&self) -> Vec<Sid<Task>> {
        let mut v: Vec<_> = self.ws.tasks().map(|t| t.sid).collect();
        v.sort();
        v
    }

    /// Turns an abstract operation into a concrete input (or nothing, when there is nothing to
    /// act on).
    fn resolve(&mut self, op: &Op) -> Option<Input> {
        let at = Timestamp(self.now);
        let n = self.workers;
        let cmd = match *op {
            Op::Advance { secs } => {
                self.now += secs as i64 * 1000;
                return Some(Input::Timeout(Timestamp(self.now)));
            }
            Op::CreateTask {
                skill,
                lang,
                min_level,
                priority,
                channel,
                known,
                route,
                pick,
                timeout,
            } => {
                let sid = Sid::<Task>::from_u128(self.next_task);
                self.next_task += 1;
                let known = known.map(|k| {
                    if (k as usize) < n {
                        worker_sid(k as usize)
                    } else {
                        Sid::from_u128(999)
                    }
                });
                let (workflow_sid, routing_target, ignore_capacity) = match route {
                    0..=2 => (Some(WF_MAIN), None, None),
                    3 => (Some(WF_ES), None, None),
                    4 => (
                        None,
                        Some(RoutingTarget::Queue(QUEUES[pick as usize % QUEUES.len()])),
                        None,
                    ),
                    _ => (
                        None,
                        Some(RoutingTarget::Worker(worker_sid(pick as usize % n))),
                        Some(false),
                    ),
                };
                Command::CreateTask(NewTask {
                    sid,
                    attributes: Some(task_attributes(skill, lang, min_level, known)),
                    workflow_sid,
                    priority,
                    timeout,
                    task_channel: match channel {
                        0 => None,
                        c => Some(ChannelRef::UniqueName(
                            CHANNELS[(c as usize - 1) % 3].to_owned(),
                        )),
                    },
                    virtual_start_time: None,
                    routing_target,
                    ignore_capacity,
                    task_queue_sid: None,
                })
            }
            Op::Activity {
                worker,
                activity,
                reject,
            } => Command::UpdateWorker {
                sid: worker_sid(worker as usize % n),
                update: WorkerUpdate {
                    activity_sid: Some(ACTIVITIES[activity as usize % 4]),
                    reject_pending_reservations: reject,
                    ..WorkerUpdate::default()
                },
            },
            Op::WorkerAttrs {
                worker,
                skills,
                level,
                lang,
            } => Command::UpdateWorker {
                sid: worker_sid(worker as usize % n),
                update: WorkerUpdate {
                    attributes: Some(worker_attributes(skills, level, lang)),
                    ..WorkerUpdate::default()
                },
            },
            Op::WorkerChannel {
                worker,
                channel,
                capacity,
                available,
            } => Command::UpdateWorkerChannel {
                worker_sid: worker_sid(worker as usize % n),
                channel: ChannelRef::UniqueName(CHANNELS[channel as usize % 3].to_owned()),
                capacity,
                available,
            },
            Op::Reservation {
                pick,
                action,
                activity,
            } => {
                let all = self.sorted_reservations();
                if all.is_empty() {
                    return None;
                }
                // Prefer live reservations, but sometimes act on a finished one too.
                let live: Vec<_> = all
                    .iter()
                    .copied()
                    .filter(|r| self.ws.reservation(*r).is_some_and(|r| r.status.is_live()))
                    .collect();
                let pool = if live.is_empty() || pick % 5 == 0 {
                    &all
                } else {
                    &live
                };
                let sid = pool[pick as usize / 5 % pool.len()];
                let action = match action {
                    0..=3 => ReservationAction::Accept,
                    4 => ReservationAction::Reject {
                        worker_activity_sid: None,
                    },
                    5 => ReservationAction::Reject {
                        worker_activity_sid: Some(ACTIVITIES[activity as usize % 4]),
                    },
                    6 => ReservationAction::Wrap,
                    _ => ReservationAction::Complete,
                };
                Command::UpdateReservation { sid, action }
            }
            Op::TaskStatus { pick, change } => {
                let all = self.sorted_tasks();
                if all.is_empty() {
                    return None;
                }
                let sid = all[pick as usize % all.len()];
                Command::UpdateTask {
                    sid,
                    update: TaskUpdate {
                        assignment_status: Some(match change {
                            0 => TaskStatusChange::Canceled,
                            1 => TaskStatusChange::Wrapping,
                            _ => TaskStatusChange::Completed,
                        }),
                        ..TaskUpdate::default()
                    },
                }
            }
            Op::TaskAttrs {
                pick,
                skill,
                lang,
                priority,
            } => {
                let all = self.sorted_tasks();
                if all.is_empty() {
                    return None;
                }
                let sid = all[pick as usize % all.len()];
                let known = self
                    .ws
                    .task(sid)
                    .and_then(|t| t.attributes.value().get("worker_sid"))
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<Sid<Worker>>().ok());
                Command::UpdateTask {
                    sid,
                    update: TaskUpdate {
                        attributes: Some(task_attributes(skill, lang, 2, known)),
                        priority,
                        ..TaskUpdate::default()
                    },
                }
            }
        };
        Some(Input::Command(at, Box::new(cmd)))
    }

    /// Applies one input and checks every invariant.
    fn step(&mut self, input: Input) -> Result<(), String> {
        self.inputs.push(input.clone());
        match input {
            Input::Timeout(at) => {
                let before = live_reservations(&self.ws);
                self.ws.handle_timeout(at);
                let ev = self.ws.take_events();
                self.events.extend(render(ev));
                check(&self.ws, &before)
            }
            Input::Command(at, cmd) => {
                // Deadlines up to `at` fire first (`handle` would do the same), so that the state
                // compared for a refused command is the one the command itself saw.
                self.ws.handle_timeout(at);
                let ev = self.ws.take_events();
                self.events.extend(render(ev));
                let before = live_reservations(&self.ws);
                let digest_before = digest(&self.ws);
                let result = self.ws.handle(at, *cmd);
                let ev = self.ws.take_events();
                if let Err(e) = &result {
                    if !ev.is_empty() {
                        return Err(format!(
                            "refused command ({e}) emitted events: {:?}",
                            render(ev).collect::<Vec<_>>()
                        ));
                    }
                    let digest_after = digest(&self.ws);
                    if digest_before != digest_after {
                        return Err(format!(
                            "refused command ({e}) changed the state:\nbefore:\n{digest_before}\nafter:\n{digest_after}"
                        ));
                    }
                }
                self.events.extend(render(ev));
                check(&self.ws, &before)
            }
        }
    }
}

fn replay(inputs: &[Input]) -> Vec<String> {
    let mut ws = new_workspace();
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Timeout(at) => ws.handle_timeout(*at),
            Input::Command(at, cmd) => {
                let _ = ws.handle(*at, (**cmd).clone());
            }
        }
        out.extend(render(ws.take_events()));
    }
    out
}

// ------------------------------------------------------------------------------------------
// Reading the state

/// A cheap, order-independent rendering of everything the invariants look at.
fn digest(ws: &Workspace) -> String {
    let mut lines = Vec::new();
    for w in ws.workers() {
        let channels: Vec<String> = ws
            .worker_channels(w.sid)
            .map(|(c, wc)| {
                format!(
                    "{}:{}/{}/{}/{}",
                    c.unique_name, wc.capacity, wc.available, wc.live, wc.assigned
                )
            })
            .collect();
        lines.push(format!(
            "worker {} {} {} v{} {} {:?} {:?} {:?}",
            w.sid,
            w.friendly_name,
            w.activity_sid,
            w.version,
            w.attributes.raw(),
            channels,
            w.queues(),
            w.live_reservations(),
        ));
    }
    for t in ws.tasks() {
        lines.push(format!(
            "task {} {:?} p{} q{:?} step{:?} v{} {} {:?} {}",
            t.sid,
            t.status,
            t.priority,
            t.queue_sid,
            t.step.as_ref().map(|s| (s.filter, s.target, s.deadline)),
            t.version,
            t.attributes.raw(),
            t.reservations,
            t.pending_reservations(),
        ));
    }
    for r in ws.reservations() {
        lines.push(format!(
            "reservation {} {:?} {} {} {:?}",
            r.sid, r.status, r.task_sid, r.worker_sid, r.deadline
        ));
    }
    for q in ws.queues() {
        lines.push(format!(
            "queue {} members={} available={}",
            q.sid,
            q.member_count(),
            q.available_members()
        ));
    }
    lines.push(format!("next deadline {:?}", ws.poll_timeout()));
    lines.sort();
    lines.join("\n")
}

fn live_reservations(ws: &Workspace) -> BTreeSet<Sid<Reservation>> {
    ws.reservations()
        .filter(|r| r.status.is_live())
        .map(|r| r.sid)
        .collect()
}

/// Live and assigned counts per (worker, channel), counted from the reservations.
#[derive(Debug, Default, Clone, Copy)]
struct Load {
    live: u32,
    assigned: u32,
    fresh: bool,
}

fn loads(
    ws: &Workspace,
    before: &BTreeSet<Sid<Reservation>>,
) -> BTreeMap<(Sid<Worker>, Sid<TaskChannel>), Load> {
    let mut out: BTreeMap<(Sid<Worker>, Sid<TaskChannel>), Load> = BTreeMap::new();
    for r in ws.reservations().filter(|r| r.status.is_live()) {
        let Some(t) = ws.task(r.task_sid) else {
            continue;
        };
        let l = out.entry((r.worker_sid, t.channel_sid)).or_default();
        l.live += 1;
        if r.status != ReservationStatus::Pending {
            l.assigned += 1;
        }
        if !before.contains(&r.sid) {
            l.fresh = true;
        }
    }
    out
}

/// A worker as the model sees it, built from the public record only.
struct Facts {
    attributes: Value,
    sid: String,
    friendly_name: String,
    activity_sid: String,
    activity_name: String,
    channels: Vec<(String, ChannelFacts)>,
}

impl Facts {
    fn new(
        ws: &Workspace,
        w: &WorkerRecord,
        loads: &BTreeMap<(Sid<Worker>, Sid<TaskChannel>), Load>,
    ) -> Facts {
        let activity = ws.activity(w.activity_sid);
        Facts {
            attributes: w.attributes.value().clone(),
            sid: w.sid.to_string(),
            friendly_name: w.friendly_name.to_string(),
            activity_sid: w.activity_sid.to_string(),
            activity_name: activity.map_or(String::new(), |a| a.friendly_name.to_string()),
            channels: ws
                .worker_channels(w.sid)
                .map(|(c, wc)| {
                    let load = loads.get(&(w.sid, c.sid)).copied().unwrap_or_default();
                    let free = (wc.capacity.saturating_sub(load.live) * 100)
                        .checked_div(wc.capacity)
                        .unwrap_or(0);
                    (
                        c.unique_name.to_string(),
                        ChannelFacts {
                            configured_capacity: wc.capacity,
                            assigned_tasks: load.assigned,
                            available_capacity_percentage: free,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl WorkerFacts for Facts {
    fn attributes(&self) -> &Value {
        &self.attributes
    }
    fn sid(&self) -> Option<&str> {
        Some(&self.sid)
    }
    fn friendly_name(&self) -> Option<&str> {
        Some(&self.friendly_name)
    }
    fn activity_sid(&self) -> Option<&str> {
        Some(&self.activity_sid)
    }
    fn activity_name(&self) -> Option<&str> {
        Some(&self.activity_name)
    }
    fn channel(&self, unique_name: &str) -> Option<ChannelFacts> {
        self.channels
            .iter()
            .find(|(n, _)| n == unique_name)
            .map(|(_, f)| *f)
    }
}

// ------------------------------------------------------------------------------------------
// The invariants

fn check(ws: &Workspace, before: &BTreeSet<Sid<Reservation>>) -> Result<(), String> {
    let loads = loads(ws, before);
    let facts: BTreeMap<Sid<Worker>, Facts> = ws
        .workers()
        .map(|w| (w.sid, Facts::new(ws, w, &loads)))
        .collect();
    let available = |w: &WorkerRecord| ws.activity(w.activity_sid).is_some_and(|a| a.available);

    // Records agree with each other.
    for r in ws.reservations() {
        let t = ws.task(r.task_sid).ok_or_else(|| {
            format!(
                "reservation {} names task {} which is gone",
                r.sid, r.task_sid
            )
        })?;
        if !t.reservations.contains(&r.sid) {
            return Err(format!(
                "task {} does not list its reservation {}",
                t.sid, r.sid
            ));
        }
        let w = ws
            .worker(r.worker_sid)
            .ok_or_else(|| format!("reservation {} names a missing worker", r.sid))?;
        if r.status.is_live() != w.live_reservations().contains(&r.sid) {
            return Err(format!(
                "reservation {} is {:?} but its worker's live list is {:?}",
                r.sid,
                r.status,
                w.live_reservations()
            ));
        }
    }
    for w in ws.workers() {
        for r in w.live_reservations() {
            if !ws.reservation(*r).is_some_and(|r| r.status.is_live()) {
                return Err(format!(
                    "worker {} lists {r} as live but it is not",
                    w.friendly_name
                ));
            }
        }
    }

    // Queue membership, recomputed two ways.
    for q in ws.queues() {
        let mut available_members = 0;
        for w in ws.workers() {
            let engine_says = q
                .target_workers
                .as_ref()
                .is_some_and(|e| ws.worker_matches(w, e));
            let model_says = q.target_workers.as_ref().is_some_and(|e| {
                e.evaluate(&Scope {
                    worker: Some(&facts[&w.sid]),
                    ..Default::default()
                })
            });
            if engine_says != model_says || model_says != q.has_member(w.sid) {
                return Err(format!(
                    "worker {} in queue {}: has_member={} worker_matches={} model={}",
                    w.friendly_name,
                    q.friendly_name,
                    q.has_member(w.sid),
                    engine_says,
                    model_says
                ));
            }
            if model_says != w.queues().contains(&q.sid) {
                return Err(format!(
                    "worker {} queue list {:?} disagrees with membership of {}",
                    w.friendly_name,
                    w.queues(),
                    q.friendly_name
                ));
            }
            if model_says && available(w) {
                available_members += 1;
            }
        }
        if q.available_members() != available_members {
            return Err(format!(
                "queue {} counts {} available members, the model {}",
                q.friendly_name,
                q.available_members(),
                available_members
            ));
        }
    }

    // (b) capacity, and the engine's counters.
    for w in ws.workers() {
        for (c, wc) in ws.worker_channels(w.sid) {
            let load = loads.get(&(w.sid, c.sid)).copied().unwrap_or_default();
            if wc.live != load.live || wc.assigned != load.assigned {
                return Err(format!(
                    "worker {} channel {}: engine counts live={} assigned={}, reservations say {} / {}",
                    w.friendly_name, c.unique_name, wc.live, wc.assigned, load.live, load.assigned
                ));
            }
            if load.fresh && load.live > wc.capacity {
                return Err(format!(
                    "worker {} channel {}: a new reservation brought live to {} over capacity {}",
                    w.friendly_name, c.unique_name, load.live, wc.capacity
                ));
            }
            if load.fresh && !wc.available {
                return Err(format!(
                    "worker {} got a new reservation on unavailable channel {}",
                    w.friendly_name, c.unique_name
                ));
            }
        }
    }

    for t in ws.tasks() {
        let mine: Vec<&ReservationRecord> = t
            .reservations
            .iter()
            .filter_map(|r| ws.reservation(*r))
            .collect();
        if mine.len() != t.reservations.len() {
            return Err(format!("task {} lists reservations that are gone", t.sid));
        }
        for r in &mine {
            if r.task_sid != t.sid {
                return Err(format!("reservation {} is listed by the wrong task", r.sid));
            }
        }
        let pending = mine
            .iter()
            .filter(|r| r.status == ReservationStatus::Pending)
            .count() as u32;
        let accepted = mine
            .iter()
            .filter(|r| r.status == ReservationStatus::Accepted)
            .count();
        let wrapping = mine
            .iter()
            .filter(|r| r.status == ReservationStatus::Wrapping)
            .count();
        let holding = accepted + wrapping;
        if t.pending_reservations() != pending {
            return Err(format!(
                "task {} says {} pending reservations, there are {pending}",
                t.sid,
                t.pending_reservations()
            ));
        }

        // (a) reservation counts.
        let (limit, known_target) = match (&t.routing, &t.step) {
            (Routing::Worker { .. }, _) => (1, true),
            (Routing::Steps, Some(step)) => {
                let target = step.target();
                if t.queue_sid != Some(target.queue) {
                    return Err(format!(
                        "task {} is in queue {:?} but its step targets {}",
                        t.sid, t.queue_sid, target.queue
                    ));
                }
                let q = ws
                    .queue(target.queue)
                    .ok_or_else(|| format!("task {} targets a missing queue", t.sid))?;
                if target.known_worker.is_some() {
                    (1, true)
                } else {
                    (q.max_reserved_workers, false)
                }
            }
            (Routing::Steps, None) => {
                return Err(format!("task {} is routed by steps but has no step", t.sid))
            }
        };
        if pending > limit {
            return Err(format!(
                "task {} has {pending} pending reservations, the limit is {limit} (known={known_target})",
                t.sid
            ));
        }
        if holding > 1 {
            return Err(format!(
                "task {} has {holding} accepted/wrapping reservations",
                t.sid
            ));
        }
        // (e) status consistency.
        let ok = match t.status {
            TaskStatus::Pending => pending == 0 && holding == 0,
            TaskStatus::Reserved => pending >= 1 && holding == 0,
            TaskStatus::Assigned => accepted == 1 && wrapping == 0 && pending == 0,
            TaskStatus::Wrapping => wrapping == 1 && accepted == 0 && pending == 0,
            TaskStatus::Completed | TaskStatus::Canceled => false,
        };
        if !ok {
            return Err(format!(
                "task {} is {:?} with {pending} pending, {accepted} accepted, {wrapping} wrapping",
                t.sid, t.status
            ));
        }
        // A pending reservation always names the task's queue at the time; the reservation
        // live on a distinct worker each.
        let mut live_workers = BTreeSet::new();
        for r in mine.iter().filter(|r| r.status.is_live()) {
            if !live_workers.insert(r.worker_sid) {
                return Err(format!(
                    "task {} holds two live reservations of one worker",
                    t.sid
                ));
            }
        }
    }

    // (c) no pending reservation on an unavailable worker.
    for r in ws.reservations() {
        if r.status != ReservationStatus::Pending {
            continue;
        }
        let w = ws.worker(r.worker_sid).ok_or("missing worker")?;
        if !available(w) {
            return Err(format!(
                "reservation {} of task {} is pending on worker {} in unavailable activity {}",
                r.sid,
                r.task_sid,
                w.friendly_name,
                ws.activity_name(w.activity_sid)
            ));
        }
    }

    // (d) completeness.
    for t in ws.tasks().filter(|t| t.status == TaskStatus::Pending) {
        let now = ws.now();
        let sid_text = t.sid.to_string();
        let eligible = |w: &WorkerRecord| -> bool {
            if !available(w) {
                return false;
            }
            let Some((_, wc)) = ws
                .worker_channels(w.sid)
                .find(|(c, _)| c.sid == t.channel_sid)
            else {
                return false;
            };
            let load = loads
                .get(&(w.sid, t.channel_sid))
                .copied()
                .unwrap_or_default();
            if !wc.available || load.live >= wc.capacity {
                return false;
            }
            let has_live = t.reservations.iter().any(|r| {
                ws.reservation(*r)
                    .is_some_and(|r| r.worker_sid == w.sid && r.status.is_live())
            });
            !has_live
        };
        let found: Option<Sid<Worker>> = match (&t.routing, &t.step) {
            (Routing::Worker { worker, .. }, _) => {
                ws.worker(*worker).filter(|w| eligible(w)).map(|w| w.sid)
            }
            (Routing::Steps, Some(step)) => {
                let target = step.target();
                let Some(q) = ws.queue(target.queue) else {
                    continue;
                };
                let named: Option<Option<Sid<Worker>>> = match &target.known_worker {
                    None => None,
                    Some(KnownWorker::Sid(r)) => Some(
                        r.resolve(t.attributes.value())
                            .and_then(|s| s.parse::<Sid<Worker>>().ok())
                            .filter(|s| ws.worker(*s).is_some()),
                    ),
                    Some(KnownWorker::FriendlyName(r)) => Some(
                        r.resolve(t.attributes.value())
                            .and_then(|n| ws.worker_by_name(n))
                            .map(|w| w.sid),
                    ),
                };
                if named == Some(None) {
                    // The known worker cannot be resolved: the task waits for its timeout.
                    continue;
                }
                let mut candidates: Vec<&WorkerRecord> = ws
                    .workers()
                    .filter(|w| named.is_none_or(|n| n == Some(w.sid)))
                    .filter(|w| {
                        let member = q
                            .target_workers
                            .as_ref()
                            .is_some_and(|e| ws.worker_matches(w, e));
                        member && q.has_member(w.sid)
                    })
                    .filter(|w| eligible(w))
                    .filter(|w| {
                        target.expression.as_ref().is_none_or(|e| {
                            e.evaluate(&Scope {
                                task: Some(TaskScope {
                                    attributes: t.attributes.value(),
                                    sid: Some(&sid_text),
                                }),
                                worker: Some(&facts[&w.sid]),
                                workers: None,
                                now: Some(Clock::from_unix_millis(now.0)),
                            })
                        })
                    })
                    .collect();
                candidates.sort_by_key(|w| w.sid);
                candidates.first().map(|w| w.sid)
            }
            (Routing::Steps, None) => None,
        };
        if let Some(w) = found {
            return Err(format!(
                "task {} ({}) is pending in queue {:?} at step {:?} but worker {} is eligible",
                t.sid,
                t.attributes.raw(),
                t.queue_sid
                    .and_then(|q| ws.queue(q))
                    .map(|q| q.friendly_name.to_string()),
                t.step.as_ref().map(|s| (s.filter, s.target)),
                ws.worker(w)
                    .map_or(String::new(), |w| w.friendly_name.to_string())
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The property

fn run_case(workers: &[WorkerSpec], ops: &[Op]) -> Result<(), String> {
    let mut h = Harness::new(workers);
    check(&h.ws, &BTreeSet::new()).map_err(|e| format!("after setup: {e}"))?;
    for (i, op) in ops.iter().enumerate() {
        let Some(input) = h.resolve(op) else {
            continue;
        };
        if let Err(e) = h.step(input.clone()) {
            let tail: Vec<&String> = h.events.iter().rev().take(30).collect();
            return Err(format!(
                "step {i}: {op:?}\ninput: {input:?}\n{e}\nlast events (newest first):\n{tail:#?}\nstate:\n{}",
                digest(&h.ws)
            ));
        }
    }
    if std::env::var_os("MODEL_STATS").is_some() {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in &h.events {
            let name = e.split_whitespace().nth(1).unwrap_or("").to_owned();
            *counts.entry(name).or_default() += 1;
        }
        eprintln!(
            "ops={} inputs={} events={counts:?}",
            ops.len(),
            h.inputs.len()
        );
    }
    let again = replay(&h.inputs);
    if again != h.events {
        let first = again
            .iter()
            .zip(&h.events)
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(h.events.len()));
        return Err(format!(
            "replay diverged at event {first}: {:?} vs {:?}",
            again.get(first),
            h.events.get(first)
        ));
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Keep the source tree clean; a failure prints its minimal case, which belongs in a
        // regression test below.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn invariants_hold_after_every_step(
        workers in proptest::collection::vec(worker_spec(), 3..=6),
        ops in proptest::collection::vec(op(), 1..=60),
    ) {
        if let Err(e) = run_case(&workers, &ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// A fixed, busy scenario: everything online, many tasks, every kind of answer.
#[test]
fn fixed_scenario() {
    let workers: Vec<WorkerSpec> = (0..5u8)
        .map(|i| WorkerSpec {
            skills: i % 8,
            level: 1 + i % 5,
            lang: i % 2,
            activity: 1,
            voice_capacity: 2,
        })
        .collect();
    let mut ops = Vec::new();
    for i in 0..40u8 {
        ops.push(Op::CreateTask {
            skill: i % 4,
            lang: i % 3,
            min_level: i % 6,
            priority: Some(u32::from(i % 4)),
            channel: i % 4,
            known: (i % 5 == 0).then_some(i % 6),
            route: i % 6,
            pick: i,
            timeout: None,
        });
        ops.push(Op::Reservation {
            pick: u16::from(i) * 7,
            action: i % 8,
            activity: i % 4,
        });
        if i % 7 == 0 {
            ops.push(Op::Advance { secs: 35 });
        }
        if i % 9 == 0 {
            ops.push(Op::Activity {
                worker: i,
                activity: i % 4,
                reject: i % 2 == 0,
            });
        }
    }
    if let Err(e) = run_case(&workers, &ops) {
        panic!("{e}");
    }
}
