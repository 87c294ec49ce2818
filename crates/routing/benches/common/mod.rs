//! The workspace the routing benchmarks run against, shared by `routing` (Criterion timings)
//! and `allocations` (allocation counts): 10,000 workers, 501 queues and two workflows.
//!
//! * `Main`: 51 filters, one known-worker filter then one per skill (`skill == 'skill_s'`).
//! * `Internal Call`: the Internal Call workflow of `fixtures/internal-call-workflow.json`
//!   (`worker_sid != null AND callToQueue == null` with `known_worker_sid: task.worker_sid`),
//!   with one `callToQueue == '<queue name>'` filter for each of the 501 queues, as a
//!   contact center with that many queues writes it: 502 filters.
//!
//! See docs/benchmarks.md for what each benchmark times.
#![allow(dead_code)] // each bench binary uses a different part

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchboard_routing::*;
use switchboard_sid::{Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

pub const WORKERS: usize = 10_000;
pub const QUEUES: usize = 500;
pub const SKILLS: usize = 50;
const T0: i64 = 1_700_000_000_000;

const OFFLINE: Sid<Activity> = Sid::from_u128(1);
const AVAILABLE: Sid<Activity> = Sid::from_u128(2);
const EVERYONE: Sid<TaskQueue> = Sid::from_u128(1_000_000);
const WORKFLOW: Sid<Workflow> = Sid::from_u128(1);
const INTERNAL_CALL: Sid<Workflow> = Sid::from_u128(2);

fn queue_sid(i: usize) -> Sid<TaskQueue> {
    Sid::from_u128(1 + i as u128)
}

fn worker_sid(i: usize) -> Sid<Worker> {
    Sid::from_u128(1 + i as u128)
}

/// A small deterministic generator (xorshift), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The workspace and the state of the task generator.
pub struct Bench {
    pub ws: Workspace,
    now: i64,
    next_task: u128,
    rng: Rng,
}

/// Makes one task: its SID and its `CreateTask`.
pub type MakeTask = fn(&mut Bench) -> (Sid<Task>, Command);

impl Bench {
    pub fn setup() -> Bench {
        let mut ws = Workspace::new(WorkspaceConfig {
            sid: Sid::from_u128(1),
            friendly_name: "bench".to_owned(),
            multi_task_enabled: true,
            prioritize_queue_order: TaskOrder::Fifo,
            seed: 42,
        });
        let at = Timestamp(T0);
        let mut cmds = vec![
            Command::CreateActivity {
                sid: OFFLINE,
                friendly_name: "Offline".to_owned(),
                available: false,
            },
            Command::CreateActivity {
                sid: AVAILABLE,
                friendly_name: "Available".to_owned(),
                available: true,
            },
            Command::UpdateWorkspace(WorkspaceUpdate {
                default_activity_sid: Some(AVAILABLE),
                timeout_activity_sid: Some(OFFLINE),
                prioritize_queue_order: None,
            }),
        ];
        for (i, name) in ["default", "voice"].iter().enumerate() {
            cmds.push(Command::CreateTaskChannel {
                sid: Sid::<TaskChannel>::from_u128(1 + i as u128),
                unique_name: (*name).to_owned(),
                friendly_name: (*name).to_owned(),
                channel_optimized_routing: false,
            });
        }
        cmds.push(Command::CreateTaskQueue(NewTaskQueue {
            sid: EVERYONE,
            friendly_name: "Everyone".to_owned(),
            target_workers: Some("1==1".to_owned()),
            max_reserved_workers: None,
            task_order: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }));
        for i in 0..QUEUES {
            cmds.push(Command::CreateTaskQueue(NewTaskQueue {
                sid: queue_sid(i),
                friendly_name: format!("queue {i}"),
                target_workers: Some(format!("skills HAS 'skill_{}'", i % SKILLS)),
                max_reserved_workers: None,
                task_order: None,
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            }));
        }
        // One known-worker filter, then one filter per skill routing to the first queue of
        // that skill; a task visits up to 51 filter expressions.
        let mut filters = vec![serde_json::json!({
            "filter_friendly_name": "known",
            "expression": "worker_sid != null",
            "targets": [{"queue": EVERYONE.to_string(), "known_worker_sid": "task.worker_sid"}]
        })];
        for s in 0..SKILLS {
            filters.push(serde_json::json!({
                "filter_friendly_name": format!("skill {s}"),
                "expression": format!("skill == 'skill_{s}'"),
                "targets": [{"queue": queue_sid(s).to_string()}]
            }));
        }
        let configuration = serde_json::json!({"task_routing": {
            "filters": filters,
            "default_filter": {"queue": EVERYONE.to_string()}
        }})
        .to_string();
        cmds.push(Command::CreateWorkflow(NewWorkflow {
            sid: WORKFLOW,
            friendly_name: "Main".to_owned(),
            configuration,
            task_reservation_timeout: None,
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        }));
        cmds.push(Command::CreateWorkflow(NewWorkflow {
            sid: INTERNAL_CALL,
            friendly_name: "Internal Call".to_owned(),
            configuration: internal_call_configuration(),
            task_reservation_timeout: None,
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        }));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for i in 0..WORKERS {
            let mut skills: Vec<String> = Vec::new();
            while skills.len() < 3 {
                let s = format!("skill_{}", rng.below(SKILLS));
                if !skills.contains(&s) {
                    skills.push(s);
                }
            }
            let lang = ["en", "es", "fr"][rng.below(3)];
            let attributes = serde_json::json!({
                "skills": skills,
                "level": 1 + rng.below(10),
                "lang": lang,
                "team": format!("team_{}", rng.below(100)),
            })
            .to_string();
            cmds.push(Command::CreateWorker(NewWorker {
                sid: worker_sid(i),
                friendly_name: format!("worker {i}"),
                attributes: Some(attributes),
                activity_sid: None,
            }));
        }
        for cmd in cmds {
            if let Err(e) = ws.handle(at, cmd) {
                panic!("setup refused: {e}");
            }
        }
        ws.take_events();
        Bench {
            ws,
            now: T0,
            next_task: 1,
            rng,
        }
    }

    fn tick(&mut self) -> Timestamp {
        self.now += 1;
        Timestamp(self.now)
    }

    fn next_sid(&mut self) -> Sid<Task> {
        let sid = Sid::<Task>::from_u128(self.next_task);
        self.next_task += 1;
        sid
    }

    /// `Main`: a task whose `worker_sid` names a random worker (its first filter).
    pub fn known_worker_task(&mut self) -> (Sid<Task>, Command) {
        let sid = self.next_sid();
        let worker = worker_sid(self.rng.below(WORKERS));
        let attributes = serde_json::json!({"worker_sid": worker.to_string(), "lang": "en"});
        (sid, create(sid, WORKFLOW, attributes.to_string()))
    }

    /// `Main`: a task for a random skill's filter.
    pub fn queue_task(&mut self) -> (Sid<Task>, Command) {
        let sid = self.next_sid();
        let skill = self.rng.below(SKILLS);
        let attributes = serde_json::json!({"skill": format!("skill_{skill}"), "lang": "en"});
        (sid, create(sid, WORKFLOW, attributes.to_string()))
    }

    /// `Internal Call`: an agent-to-agent call, with the attributes the Internal Call function
    /// gives it, to a random worker (the first filter, a `known_worker_sid` step).
    pub fn internal_worker_task(&mut self) -> (Sid<Task>, Command) {
        let sid = self.next_sid();
        let worker = worker_sid(self.rng.below(WORKERS));
        let attributes = serde_json::json!({
            "name": "client:alice",
            "conversations": {"conversation_id": null},
            "worker_sid": worker.to_string(),
        });
        (sid, create(sid, INTERNAL_CALL, attributes.to_string()))
    }

    /// `Internal Call`: a call to a random one of the 501 queues (`callToQueue`), routed to
    /// that queue's longest-idle member.
    pub fn internal_queue_task(&mut self) -> (Sid<Task>, Command) {
        let sid = self.next_sid();
        let q = self.rng.below(QUEUES + 1);
        let name = if q == QUEUES {
            "Everyone".to_owned()
        } else {
            format!("queue {q}")
        };
        let attributes = serde_json::json!({
            "name": "client:alice",
            "conversations": {"conversation_id": null},
            "callToQueue": name,
        });
        (sid, create(sid, INTERNAL_CALL, attributes.to_string()))
    }

    pub fn handle(&mut self, cmd: Command) {
        let at = self.tick();
        if let Err(e) = self.ws.handle(at, cmd) {
            panic!("refused: {e}");
        }
    }

    /// The reservation the last command made, from its events.
    pub fn reservation_made(&mut self) -> Sid<Reservation> {
        let events = self.ws.take_events();
        events
            .iter()
            .find(|e| e.event_type == EventType::ReservationCreated)
            .and_then(|e| e.reservation_sid)
            .unwrap_or_else(|| panic!("no reservation.created among {} events", events.len()))
    }

    pub fn cancel(&mut self, task: Sid<Task>) {
        self.handle(Command::UpdateTask {
            sid: task,
            update: TaskUpdate {
                assignment_status: Some(TaskStatusChange::Canceled),
                ..TaskUpdate::default()
            },
        });
        self.ws.take_events();
        self.ws.take_finished();
    }

    /// Times only the create of `make`'s tasks; the reservation is checked and the task
    /// canceled outside the timed region.
    pub fn time_creates(&mut self, iters: u64, make: MakeTask) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let (task, cmd) = make(self);
            let at = self.tick();
            let start = Instant::now();
            let result = self.ws.handle(at, cmd);
            total += start.elapsed();
            if let Err(e) = black_box(result) {
                panic!("refused: {e}");
            }
            self.reservation_made();
            self.cancel(task);
        }
        total
    }

    /// One task of `make`'s through its whole life, the events taken after each command and
    /// the finished task at the end (as a host does). Returns (whole cycle, create only).
    pub fn cycle(&mut self, make: MakeTask) -> (Duration, Duration) {
        let (_, cmd) = make(self);
        let at = self.tick();
        let start = Instant::now();
        let result = self.ws.handle(at, cmd);
        let created = start.elapsed();
        if let Err(e) = result {
            panic!("refused: {e}");
        }
        let r = self.reservation_made();
        for action in [ReservationAction::Accept, ReservationAction::Complete] {
            self.handle(Command::UpdateReservation { sid: r, action });
            black_box(self.ws.take_events());
        }
        black_box(self.ws.take_finished());
        (start.elapsed(), created)
    }
}

/// The Internal Call workflow of `fixtures/internal-call-workflow.json`, with the known-worker
/// filter routing through `Everyone` and one `callToQueue` filter per queue.
fn internal_call_configuration() -> String {
    let mut filters = vec![serde_json::json!({
        "filter_friendly_name": "Assign to Agent",
        "expression": "worker_sid != null AND callToQueue == null",
        "targets": [{
            "queue": EVERYONE.to_string(),
            "priority": 1000,
            "known_worker_sid": "task.worker_sid"
        }]
    })];
    let everyone = std::iter::once(("Everyone".to_owned(), EVERYONE));
    let queues = (0..QUEUES).map(|i| (format!("queue {i}"), queue_sid(i)));
    for (name, sid) in everyone.chain(queues) {
        filters.push(serde_json::json!({
            "filter_friendly_name": format!("Assign to Queue - {name}"),
            "expression": format!("callToQueue == '{name}'"),
            "targets": [{"queue": sid.to_string()}]
        }));
    }
    serde_json::json!({"task_routing": {"filters": filters}}).to_string()
}

fn create(sid: Sid<Task>, workflow: Sid<Workflow>, attributes: String) -> Command {
    Command::CreateTask(NewTask {
        sid,
        attributes: Some(attributes),
        workflow_sid: Some(workflow),
        priority: None,
        timeout: None,
        task_channel: Some(ChannelRef::UniqueName("voice".to_owned())),
        virtual_start_time: None,
        routing_target: None,
        ignore_capacity: None,
        task_queue_sid: None,
    })
}
