//! How big a snapshot is and how long it takes, against replaying the whole log.
//!
//! Builds a log of about a million entries of routing churn (tasks created, reserved,
//! accepted and completed; workers changing attributes and activity) on a modest live state
//! (200 workers, 2,000 tasks parked in a queue nobody serves, 100 being worked on), then prints: the time to replay
//! the whole log, the snapshot's size and the time to take and encode it, the time to decode and
//! restore it, and the time to restore it and replay the last 10,000 entries.
//!
//! `cargo run --release -p switchboard-center --example snapshot_size [entries]`
//!
//! The server's start-up benchmark (`crates/server/tests/snapshots.rs`, `startup_benchmark`)
//! writes the same log through the real store.

use std::time::Instant;

use serde_json::json;
use switchboard_center::snapshot::Snapshot;
use switchboard_center::{Center, CenterConfig, Entry, LOG_FORMAT};
use switchboard_routing::{
    Command, NewTask, NewTaskQueue, NewWorker, NewWorkflow, ReservationAction, TaskOrder,
    Timestamp, WorkerUpdate, WorkspaceUpdate,
};
use switchboard_sid::{Activity, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow};

const WORKERS: u128 = 200;
const PARKED: u128 = 2_000;
const HELD: u128 = 100;
const TAIL: usize = 10_000;

fn config() -> CenterConfig {
    CenterConfig {
        account: Sid::from_u128(1),
        seed: 7,
        media: Default::default(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let started = Instant::now();
    let log = build_log(target)?;
    println!(
        "log: {} entries, built in {:.2?}",
        log.len(),
        started.elapsed()
    );

    let t = Instant::now();
    let mut whole = Center::new(config());
    for (at, e) in &log {
        whole.replay(*at, e)?;
    }
    let replay = t.elapsed();
    println!(
        "full replay: {replay:.2?} ({:.2} µs per entry)",
        replay.as_secs_f64() * 1e6 / log.len() as f64
    );

    let t = Instant::now();
    let snapshot = whole.model().snapshot(whole.now());
    let taken = t.elapsed();
    let t = Instant::now();
    let bytes = snapshot.to_bytes()?;
    let encoded = t.elapsed();
    let engine = whole
        .model()
        .workspaces()
        .map(|(_, w)| (w.engine.workers().count(), w.engine.tasks().count()))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!(
        "live state: {} workers, {} tasks, {} reservations",
        engine.0,
        engine.1,
        whole
            .model()
            .workspaces()
            .map(|(_, w)| w.engine.reservations().count())
            .sum::<usize>()
    );
    println!(
        "snapshot: {} bytes ({:.1} MiB); taken in {taken:.2?}, encoded in {encoded:.2?}",
        bytes.len(),
        bytes.len() as f64 / (1024.0 * 1024.0)
    );

    let t = Instant::now();
    let decoded = Snapshot::from_bytes(&bytes)?;
    let decode = t.elapsed();
    let t = Instant::now();
    let restored = Center::restore(config(), decoded)?;
    let restore = t.elapsed();
    println!("restore: decoded in {decode:.2?}, rebuilt in {restore:.2?}");
    let again = restored.model().snapshot(restored.now()).to_bytes()?;
    assert!(again == bytes, "the restored center's snapshot differs");

    // Start-up with a snapshot TAIL entries old: restore it, replay the tail.
    let cut = log.len().saturating_sub(TAIL);
    let mut prefix = Center::new(config());
    for (at, e) in &log[..cut] {
        prefix.replay(*at, e)?;
    }
    let old = prefix.model().snapshot(prefix.now()).to_bytes()?;
    let t = Instant::now();
    let mut c = Center::restore(config(), Snapshot::from_bytes(&old)?)?;
    for (at, e) in &log[cut..] {
        c.replay(*at, e)?;
    }
    let startup = t.elapsed();
    let same = c.model().snapshot(c.now()).to_bytes()? == bytes;
    println!(
        "start-up from a snapshot {} entries old: {startup:.2?} (same state: {same}), against {replay:.2?} for the whole log",
        log.len() - cut
    );
    Ok(())
}

/// A log: entries with the times they were applied at.
pub type Log = Vec<(Timestamp, Entry)>;

/// Applies an entry to the generating center (to learn the reservations it makes) and logs it.
fn push(
    gen: &mut Center,
    log: &mut Log,
    at: Timestamp,
    e: Entry,
) -> Result<(), Box<dyn std::error::Error>> {
    gen.replay(at, &e)?;
    log.push((at, e));
    Ok(())
}

/// The log: set-up, parked tasks, then churn until `target` entries.
pub fn build_log(target: usize) -> Result<Log, Box<dyn std::error::Error>> {
    let ws: Sid<switchboard_sid::Workspace> = Sid::from_u128(0x5757);
    let offline: Sid<Activity> = Sid::from_u128(1);
    let available: Sid<Activity> = Sid::from_u128(2);
    let channel: Sid<TaskChannel> = Sid::from_u128(1);
    let (served, parked): (Sid<TaskQueue>, Sid<TaskQueue>) = (Sid::from_u128(1), Sid::from_u128(2));
    let workflow: Sid<Workflow> = Sid::from_u128(1);
    let mut at = Timestamp(1_700_000_000_000);
    let mut gen = Center::new(config());
    let mut log = Vec::with_capacity(target + 16);
    let engine = |command| Entry::engine(ws, command);

    push(
        &mut gen,
        &mut log,
        at,
        Entry::Format {
            version: LOG_FORMAT,
        },
    )?;
    push(
        &mut gen,
        &mut log,
        at,
        Entry::CreateWorkspace {
            sid: ws,
            friendly_name: "Churn".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: true,
            prioritize_queue_order: TaskOrder::Fifo,
            seed: "12345".into(),
        },
    )?;
    for (sid, name, available) in [(offline, "Offline", false), (available, "Available", true)] {
        push(
            &mut gen,
            &mut log,
            at,
            engine(Command::CreateActivity {
                sid,
                friendly_name: name.into(),
                available,
            }),
        )?;
    }
    push(
        &mut gen,
        &mut log,
        at,
        engine(Command::UpdateWorkspace(WorkspaceUpdate {
            default_activity_sid: Some(offline),
            timeout_activity_sid: Some(offline),
            prioritize_queue_order: None,
        })),
    )?;
    push(
        &mut gen,
        &mut log,
        at,
        engine(Command::CreateTaskChannel {
            sid: channel,
            unique_name: "default".into(),
            friendly_name: "Default".into(),
            channel_optimized_routing: false,
        }),
    )?;
    for (sid, name, expr) in [
        (served, "Served", "skills HAS 'sales'"),
        (parked, "Parked", "skills HAS 'nobody'"),
    ] {
        push(
            &mut gen,
            &mut log,
            at,
            engine(Command::CreateTaskQueue(NewTaskQueue {
                sid,
                friendly_name: name.into(),
                target_workers: Some(expr.into()),
                max_reserved_workers: None,
                task_order: None,
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            })),
        )?;
    }
    let configuration = json!({"task_routing": {
        "filters": [{"filter_friendly_name": "parked", "expression": "type == 'parked'",
                     "targets": [{"queue": parked.to_string()}]}],
        "default_filter": {"queue": served.to_string()}}});
    push(
        &mut gen,
        &mut log,
        at,
        engine(Command::CreateWorkflow(NewWorkflow {
            sid: workflow,
            friendly_name: "Main".into(),
            configuration: configuration.to_string(),
            task_reservation_timeout: Some(120),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        })),
    )?;
    let worker = |n: u128| -> Sid<Worker> { Sid::from_u128(0x1000 + n) };
    for n in 0..WORKERS {
        push(
            &mut gen,
            &mut log,
            at,
            engine(Command::CreateWorker(NewWorker {
                sid: worker(n),
                friendly_name: format!("agent{n}"),
                attributes: Some(json!({"skills": ["sales"], "level": n % 5}).to_string()),
                activity_sid: Some(available),
            })),
        )?;
    }
    let task = |n: u128| -> Sid<Task> { Sid::from_u128(0x10_0000 + n) };
    let new_task = |sid: Sid<Task>, kind: &str| {
        engine(Command::CreateTask(NewTask {
            sid,
            attributes: Some(
                json!({"type": kind, "customer": format!("c{}", sid.as_u128() % 997)}).to_string(),
            ),
            workflow_sid: Some(workflow),
            priority: None,
            timeout: Some(1_209_600),
            task_channel: None,
            virtual_start_time: None,
            routing_target: None,
            ignore_capacity: None,
            task_queue_sid: None,
        }))
    };
    for n in 0..PARKED {
        push(&mut gen, &mut log, at, new_task(task(n), "parked"))?;
    }

    // Tasks being worked on: accepted, never completed.
    for n in PARKED..PARKED + HELD {
        let t = task(n);
        push(&mut gen, &mut log, at, new_task(t, "call"))?;
        if let Some(r) = gen
            .model()
            .workspace(ws)
            .and_then(|w| w.engine.task(t))
            .and_then(|t| t.reservations.last().copied())
        {
            push(
                &mut gen,
                &mut log,
                at,
                engine(Command::UpdateReservation {
                    sid: r,
                    action: ReservationAction::Accept,
                }),
            )?;
        }
    }

    let mut n = PARKED + HELD;
    let mut cycle: u128 = 0;
    while log.len() < target {
        cycle += 1;
        at = Timestamp(at.0 + 10);
        let t = task(n);
        n += 1;
        push(&mut gen, &mut log, at, new_task(t, "call"))?;
        let reservation = gen
            .model()
            .workspace(ws)
            .and_then(|w| w.engine.task(t))
            .and_then(|t| t.reservations.last().copied());
        let Some(r) = reservation else {
            continue;
        };
        at = Timestamp(at.0 + 10);
        push(
            &mut gen,
            &mut log,
            at,
            engine(Command::UpdateReservation {
                sid: r,
                action: ReservationAction::Accept,
            }),
        )?;
        at = Timestamp(at.0 + 10);
        push(
            &mut gen,
            &mut log,
            at,
            engine(Command::UpdateReservation {
                sid: r,
                action: ReservationAction::Complete,
            }),
        )?;
        if cycle.is_multiple_of(25) {
            let w = worker(cycle % WORKERS);
            push(
                &mut gen,
                &mut log,
                at,
                engine(Command::UpdateWorker {
                    sid: w,
                    update: WorkerUpdate {
                        attributes: Some(
                            json!({"skills": ["sales"], "level": cycle % 7}).to_string(),
                        ),
                        ..Default::default()
                    },
                }),
            )?;
            for a in [offline, available] {
                push(
                    &mut gen,
                    &mut log,
                    at,
                    engine(Command::UpdateWorker {
                        sid: w,
                        update: WorkerUpdate {
                            activity_sid: Some(a),
                            ..Default::default()
                        },
                    }),
                )?;
            }
        }
    }
    Ok(log)
}
