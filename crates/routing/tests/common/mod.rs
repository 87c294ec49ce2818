//! A small harness for engine scenarios: a workspace with the usual activities and channels,
//! helpers that make resources with tiny SIDs, and an event log rendered one line per event.
#![allow(dead_code)]

use std::fmt::Write;

use switchboard_routing::*;
use switchboard_sid::{Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

pub const OFFLINE: Sid<Activity> = Sid::from_u128(1);
pub const AVAILABLE: Sid<Activity> = Sid::from_u128(2);
pub const UNAVAILABLE: Sid<Activity> = Sid::from_u128(3);
pub const BREAK: Sid<Activity> = Sid::from_u128(4);

pub struct H {
    pub ws: Workspace,
    pub now_ms: i64,
    next: u128,
}

impl H {
    /// A multitasking workspace with Offline/Available/Unavailable/Break, channels default, voice
    /// and chat, Offline as default and timeout activity; setup events are discarded.
    pub fn new() -> H {
        H::with_mode(true)
    }

    pub fn single_tasking() -> H {
        H::with_mode(false)
    }

    fn with_mode(multi_task_enabled: bool) -> H {
        let ws = Workspace::new(WorkspaceConfig {
            sid: Sid::from_u128(1),
            friendly_name: "Test".into(),
            multi_task_enabled,
            prioritize_queue_order: TaskOrder::Fifo,
            seed: 7,
        });
        let mut h = H {
            ws,
            now_ms: 0,
            next: 100,
        };
        for (sid, name, available) in [
            (OFFLINE, "Offline", false),
            (AVAILABLE, "Available", true),
            (UNAVAILABLE, "Unavailable", false),
            (BREAK, "Break", false),
        ] {
            h.ok(Command::CreateActivity {
                sid,
                friendly_name: name.into(),
                available,
            });
        }
        for (n, name) in [(1, "default"), (2, "voice"), (3, "chat")] {
            h.ok(Command::CreateTaskChannel {
                sid: Sid::<TaskChannel>::from_u128(n),
                unique_name: name.into(),
                friendly_name: name.into(),
                channel_optimized_routing: false,
            });
        }
        h.ok(Command::UpdateWorkspace(WorkspaceUpdate {
            default_activity_sid: Some(OFFLINE),
            timeout_activity_sid: Some(OFFLINE),
            prioritize_queue_order: None,
        }));
        h.ws.take_events();
        h
    }

    fn sid<K: switchboard_sid::SidKind>(&mut self) -> Sid<K> {
        self.next += 1;
        Sid::from_u128(self.next)
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(self.now_ms)
    }

    /// Moves the clock to `secs` and fires what is due.
    pub fn at(&mut self, secs: f64) {
        self.now_ms = (secs * 1000.0).round() as i64;
        self.ws.handle_timeout(self.now());
    }

    pub fn cmd(&mut self, c: Command) -> Result<(), EngineError> {
        self.ws.handle(self.now(), c)
    }

    #[track_caller]
    pub fn ok(&mut self, c: Command) {
        if let Err(e) = self.cmd(c) {
            panic!("command refused: {e}");
        }
    }

    /// An Available worker.
    pub fn worker(&mut self, name: &str, attributes: &str) -> Sid<Worker> {
        let sid = self.sid();
        self.ok(Command::CreateWorker(NewWorker {
            sid,
            friendly_name: name.into(),
            attributes: Some(attributes.into()),
            activity_sid: Some(AVAILABLE),
        }));
        sid
    }

    pub fn queue(&mut self, name: &str, target_workers: &str) -> Sid<TaskQueue> {
        self.queue_with(name, target_workers, |_| {})
    }

    pub fn queue_with(
        &mut self,
        name: &str,
        target_workers: &str,
        f: impl FnOnce(&mut NewTaskQueue),
    ) -> Sid<TaskQueue> {
        let sid = self.sid();
        let mut q = NewTaskQueue {
            sid,
            friendly_name: name.into(),
            target_workers: Some(target_workers.into()),
            max_reserved_workers: None,
            task_order: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        };
        f(&mut q);
        self.ok(Command::CreateTaskQueue(q));
        sid
    }

    /// A workflow; `${name}` in the configuration is replaced by the SID of the queue of that name.
    pub fn workflow(
        &mut self,
        name: &str,
        config: &str,
        reservation_timeout: u64,
    ) -> Sid<Workflow> {
        let sid = self.sid();
        let configuration = self.fill(config);
        self.ok(Command::CreateWorkflow(NewWorkflow {
            sid,
            friendly_name: name.into(),
            configuration,
            task_reservation_timeout: Some(reservation_timeout),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        }));
        sid
    }

    pub fn fill(&self, config: &str) -> String {
        let mut out = config.to_owned();
        for q in self.ws.queues() {
            out = out.replace(&format!("${{{}}}", q.friendly_name), &q.sid.to_string());
        }
        for w in self.ws.workers() {
            out = out.replace(&format!("${{{}}}", w.friendly_name), &w.sid.to_string());
        }
        out
    }

    pub fn new_task(&mut self, attributes: &str) -> NewTask {
        let sid = self.sid();
        NewTask {
            sid,
            attributes: Some(self.fill(attributes)),
            workflow_sid: None,
            priority: None,
            timeout: None,
            task_channel: Some(ChannelRef::UniqueName("voice".into())),
            virtual_start_time: None,
            routing_target: None,
            ignore_capacity: None,
            task_queue_sid: None,
        }
    }

    /// A voice task through the workspace's only workflow.
    pub fn task(&mut self, attributes: &str) -> Sid<Task> {
        let t = self.new_task(attributes);
        let sid = t.sid;
        self.ok(Command::CreateTask(t));
        sid
    }

    pub fn worker_sid(&self, name: &str) -> Sid<Worker> {
        self.ws
            .worker_by_name(name)
            .map(|w| w.sid)
            .unwrap_or_else(|| panic!("no worker {name}"))
    }

    /// The pending reservation of `task` held by the worker called `name`.
    #[track_caller]
    pub fn reservation(&self, task: Sid<Task>, name: &str) -> Sid<Reservation> {
        let w = self.worker_sid(name);
        self.ws
            .reservations()
            .find(|r| r.task_sid == task && r.worker_sid == w && r.status.is_live())
            .map(|r| r.sid)
            .unwrap_or_else(|| panic!("{name} holds no live reservation for {task}"))
    }

    #[track_caller]
    pub fn act(&mut self, task: Sid<Task>, name: &str, action: ReservationAction) {
        let sid = self.reservation(task, name);
        self.ok(Command::UpdateReservation { sid, action });
    }

    pub fn accept(&mut self, task: Sid<Task>, name: &str) {
        self.act(task, name, ReservationAction::Accept);
    }

    pub fn reject(&mut self, task: Sid<Task>, name: &str) {
        self.act(
            task,
            name,
            ReservationAction::Reject {
                worker_activity_sid: None,
            },
        );
    }

    pub fn set_activity(&mut self, name: &str, activity: Sid<Activity>) {
        let sid = self.worker_sid(name);
        self.ok(Command::UpdateWorker {
            sid,
            update: WorkerUpdate {
                activity_sid: Some(activity),
                ..Default::default()
            },
        });
    }

    /// The events since the last call, one per line, with the time in seconds.
    pub fn log(&mut self) -> String {
        let mut out = String::new();
        for e in self.ws.take_events() {
            let _ = writeln!(out, "[{:>6.1}s] {e}", e.timestamp.0 as f64 / 1000.0);
        }
        out
    }

    pub fn status(&self, task: Sid<Task>) -> &'static str {
        self.ws.task(task).map_or("gone", |t| t.status.as_str())
    }
}
