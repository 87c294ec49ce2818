//! Snapshots: a center rebuilt from the snapshot of the log's first k entries and the entries
//! after them is the center rebuilt from every entry: the same snapshot, byte for byte, and the
//! same behaviour afterwards, at every cut.

mod support;

use serde_json::json;
use support::*;
use switchboard_center::protocol::{Action, MediaSettings, ReservationState};
use switchboard_center::snapshot::{Snapshot, SnapshotError, SNAPSHOT_FORMAT};
use switchboard_center::{Center, CenterConfig, Entry, Input, SessionId};
use switchboard_routing::{
    Command, NewTask, ReservationAction, TaskStatusChange, TaskUpdate, Timestamp, WorkerUpdate,
};
use switchboard_sid::{Account, Sid};

fn config(account: Sid<Account>) -> CenterConfig {
    CenterConfig {
        account,
        seed: 99,
        media: MediaSettings {
            enabled: true,
            ice_servers: Vec::new(),
        },
    }
}

fn replayed(account: Sid<Account>, log: &[(Timestamp, Entry)]) -> Center {
    let mut c = Center::new(config(account));
    for (at, e) in log {
        c.replay(*at, e).unwrap();
    }
    c
}

fn bytes(c: &Center) -> Vec<u8> {
    c.model().snapshot(c.now()).to_bytes().unwrap()
}

/// Snapshot after `k` entries (through its bytes), restored, then the rest replayed.
fn from_cut(account: Sid<Account>, log: &[(Timestamp, Entry)], k: usize) -> Center {
    let prefix = replayed(account, &log[..k]);
    let snapshot = Snapshot::from_bytes(&bytes(&prefix)).unwrap();
    let mut c = Center::restore(config(account), snapshot).unwrap();
    assert_eq!(bytes(&c), bytes(&prefix), "restoring changed the state");
    for (at, e) in &log[k..] {
        c.replay(*at, e).unwrap();
    }
    c
}

/// Everything a world observed, for comparing two worlds.
fn observed(sim: &Sim) -> String {
    format!(
        "log {:?}\ntimeline {:?}\nstates {:?}\nmessages {:?}\nclosed {:?}\ngraph {:?}\nremoved {:?}\nfetches {:?}\nwebhooks {}\nnext {:?}",
        sim.log,
        sim.timeline,
        sim.states,
        sim.messages,
        sim.closed,
        sim.graph,
        sim.removed,
        sim.pending_fetches,
        sim.webhooks,
        sim.center.poll_timeout(),
    )
}

/// The first pending offer a desktop shows.
fn offer(sim: &Sim, s: SessionId) -> Option<Sid<switchboard_sid::Reservation>> {
    sim.states.get(&s)?.tasks.iter().find_map(|t| {
        (t.reservation_status == ReservationState::Pending).then_some(t.reservation_sid)
    })
}

/// The first task a desktop shows in the given reservation state.
fn task_in(sim: &Sim, s: SessionId, state: ReservationState) -> Option<Sid<switchboard_sid::Task>> {
    sim.states
        .get(&s)?
        .tasks
        .iter()
        .find(|t| t.reservation_status == state)
        .map(|t| t.task_sid)
}

/// A busy day: agents sign in, call each other and the queues, accept, decline, miss calls,
/// wrap up and complete, change activity; an administrator changes workers, tasks, the Flex
/// configuration and API keys through the API.
fn busy_day(sim: &mut Sim) {
    let ws = sim.demo.workspace;
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let carol = sim.sign_in("carol");
    let dmitri = sim.sign_in("dmitri");

    // An internal call, answered, talked, hung up, wrapped and completed.
    let t1 = sim.call_agent(alice, "bob").unwrap();
    sim.advance(2_000);
    let r = offer(sim, bob).unwrap();
    sim.act(bob, Action::Accept { reservation_sid: r }).unwrap();
    sim.advance(20_000);
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    sim.advance(1_000);
    for s in [alice, bob] {
        if let Some(t) = task_in(sim, s, ReservationState::Wrapping) {
            sim.act(
                s,
                Action::Complete {
                    task_sid: t,
                    reason: None,
                },
            )
            .unwrap();
        }
    }

    // A declined call, then one nobody answers.
    sim.call_agent(carol, "dmitri").unwrap();
    sim.advance(1_000);
    if let Some(r) = offer(sim, dmitri) {
        sim.act(dmitri, Action::Reject { reservation_sid: r })
            .unwrap();
    }
    sim.advance(3_000);
    sim.call_agent(bob, "carol").unwrap();
    sim.advance(200_000);

    // Queue calls: one answered, one left to time out.
    sim.set_activity("carol", "Available");
    sim.set_activity("dmitri", "Available");
    sim.call_queue(alice, "Sales").unwrap();
    sim.advance(1_500);
    for s in [carol, dmitri] {
        if let Some(r) = offer(sim, s) {
            sim.act(s, Action::Accept { reservation_sid: r }).unwrap();
            break;
        }
    }
    sim.advance(15_000);
    sim.set_activity("eva", "Break");
    sim.call_queue(bob, "Support").unwrap();
    sim.advance(130_000);

    // REST-like changes.
    let eva = sim.worker("eva");
    sim.handle(Input::Changes(vec![
        Entry::engine(
            ws,
            Command::UpdateWorker {
                sid: eva,
                update: WorkerUpdate {
                    attributes: Some(
                        json!({"skills": ["support", "sales"], "contact_uri": "client:eva", "full_name": "Eva E."})
                            .to_string(),
                    ),
                    ..Default::default()
                },
            },
        ),
        Entry::engine(
            ws,
            Command::CreateTask(NewTask {
                sid: "WT00000000000000000000000000000001".parse().unwrap(),
                attributes: Some(json!({"type": "email", "subject": "hello"}).to_string()),
                workflow_sid: Some(sim.demo.workflows[0]),
                priority: Some(3),
                timeout: Some(3_600),
                task_channel: None,
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
        ),
        Entry::engine(
            ws,
            Command::CreateTask(NewTask {
                sid: "WT00000000000000000000000000000002".parse().unwrap(),
                attributes: Some(json!({"type": "email", "subject": "nobody answers"}).to_string()),
                workflow_sid: Some(sim.demo.workflows[0]),
                priority: None,
                timeout: Some(3_600),
                task_channel: None,
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
        ),
        Entry::CreateApiKey {
            sid: "SK00000000000000000000000000000001".parse().unwrap(),
            friendly_name: "ci".into(),
            secret_sha256: "00".repeat(32),
            date_created: sim.now,
        },
        Entry::SetConfiguration {
            configuration: {
                let mut doc = sim.center.model().flex().document().clone();
                doc.insert("ui_attributes".into(), json!({"theme": "dark"}));
                serde_json::Value::Object(doc)
            },
        },
    ]))
    .unwrap();
    sim.advance(5_000);
    // Whoever got the e-mail task works it through the API.
    let task: Sid<switchboard_sid::Task> = "WT00000000000000000000000000000001".parse().unwrap();
    let reservation = sim
        .center
        .model()
        .workspace(ws)
        .and_then(|w| w.engine.task(task))
        .and_then(|t| t.reservations.last().copied());
    if let Some(r) = reservation {
        let _ = sim.handle(Input::Changes(vec![Entry::engine(
            ws,
            Command::UpdateReservation {
                sid: r,
                action: ReservationAction::Accept,
            },
        )]));
        sim.advance(10_000);
        let _ = sim.handle(Input::Changes(vec![Entry::engine(
            ws,
            Command::UpdateTask {
                sid: task,
                update: TaskUpdate {
                    assignment_status: Some(TaskStatusChange::Completed),
                    reason: Some("answered".into()),
                    ..Default::default()
                },
            },
        )]));
    }
    sim.advance(130_000);
    sim.set_activity("alice", "Break");
    sim.advance(60_000);
    for who in ["alice", "bob", "carol", "dmitri"] {
        sim.set_activity(who, "Available");
    }
    // A call left ringing at the end, and one in progress.
    sim.call_agent(dmitri, "alice").unwrap();
    sim.advance(1_000);
    sim.call_agent(carol, "bob").unwrap();
    sim.advance(1_000);
    if let Some(r) = offer(sim, bob) {
        sim.act(bob, Action::Accept { reservation_sid: r }).unwrap();
    }
    // A task waiting for Zoë, who has not signed in yet.
    let zoe = sim.worker("zoe");
    sim.commands(vec![Command::CreateTask(NewTask {
        sid: "WT00000000000000000000000000000003".parse().unwrap(),
        attributes: Some(json!({"type": "callback", "for": "zoe"}).to_string()),
        workflow_sid: Some(sim.demo.workflows[0]),
        priority: None,
        timeout: Some(86_400),
        task_channel: None,
        virtual_start_time: None,
        routing_target: Some(switchboard_routing::RoutingTarget::Worker(zoe)),
        ignore_capacity: Some(false),
        task_queue_sid: None,
    })])
    .unwrap();
    sim.advance(3_000);
}

/// What happens after the restart: the same for both worlds. Returns what each action answered.
fn afterwards(sim: &mut Sim) -> Vec<String> {
    let mut answers = Vec::new();
    let eva = sim.sign_in("eva");
    let zoe = sim.sign_in("zoe");
    let alice = sim.connect("alice");
    let t = sim.call_agent(eva, "zoe");
    answers.push(format!("{t:?}"));
    sim.advance(2_000);
    if let Some(r) = offer(sim, zoe) {
        let a = sim.act(zoe, Action::Accept { reservation_sid: r });
        answers.push(format!("{a:?}"));
    }
    sim.advance(30_000);
    if let Ok(t) = t {
        let a = sim.act(eva, Action::Hangup { task_sid: t });
        answers.push(format!("{a:?}"));
    }
    sim.advance(500);
    for s in [eva, zoe, alice] {
        if let Some(t) = task_in(sim, s, ReservationState::Wrapping) {
            let a = sim.act(
                s,
                Action::Complete {
                    task_sid: t,
                    reason: None,
                },
            );
            answers.push(format!("{a:?}"));
        }
    }
    let q = sim.call_queue(alice, "Support");
    answers.push(format!("{q:?}"));
    sim.advance(5_000);
    for s in [eva, zoe] {
        if let Some(r) = offer(sim, s) {
            let a = sim.act(s, Action::Reject { reservation_sid: r });
            answers.push(format!("{a:?}"));
        }
    }
    sim.set_activity("bob", "Offline");
    sim.advance(400_000);
    answers
}

/// A world whose center was rebuilt from `center` at the end of `original`.
fn world_after(original: &Sim, center: Center) -> Sim {
    let mut sim = Sim::demo();
    sim.now = original.now;
    sim.log.clear();
    sim.timeline.clear();
    sim.messages.clear();
    sim.closed.clear();
    sim.removed.clear();
    sim.webhooks = 0;
    sim.restart(center);
    sim
}

#[test]
fn snapshot_plus_tail_is_the_whole_log_at_every_cut() {
    let mut sim = Sim::demo();
    busy_day(&mut sim);
    let day = sim.timeline.join("\n");
    for what in [
        "reservation.accepted",
        "reservation.rejected",
        "reservation.timeout",
        "task.wrapup",
        "task.completed",
        "task.canceled",
        "worker.activity.update",
    ] {
        assert!(day.contains(what), "a busy day has {what}:\n{day}");
    }
    let account = sim.center.model().account();
    let log = sim.log.clone();
    assert!(
        log.len() > 50,
        "a busy day writes a long log: {}",
        log.len()
    );
    let whole = replayed(account, &log);
    let expected = bytes(&whole);

    // (a) The same snapshot at the end, from every cut.
    for k in 0..=log.len() {
        let c = from_cut(account, &log, k);
        assert!(bytes(&c) == expected, "cut at {k} of {}", log.len());
    }

    // (b) The same behaviour afterwards, from a spread of cuts.
    let mut reference = world_after(&sim, replayed(account, &log));
    let answers = afterwards(&mut reference);
    let want = format!("{answers:?}\n{}", observed(&reference));
    assert!(want.contains("reservation.rejected") || want.contains("Rejected"));
    for k in [0, 1, log.len() / 3, log.len() / 2, log.len() - 1, log.len()] {
        let mut world = world_after(&sim, from_cut(account, &log, k));
        let answers = afterwards(&mut world);
        let got = format!("{answers:?}\n{}", observed(&world));
        assert!(
            got == want,
            "cut at {k}: behaviour differs\n{}",
            first_difference(&got, &want)
        );
        assert_eq!(bytes(&world.center), bytes(&reference.center));
    }
}

fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(300);
    format!(
        "got:  …{}\nwant: …{}",
        &a[from..(at + 300).min(a.len())],
        &b[from..(at + 300).min(b.len())]
    )
}

/// A random day, from a seed: the same checks at cuts spread over its log.
fn random_day(seed: u64) -> Sim {
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let names = ["alice", "bob", "carol", "dmitri", "eva", "zoe"];
    let mut sim = Sim::demo();
    let sessions: Vec<SessionId> = names.iter().map(|n| sim.sign_in(n)).collect();
    for _ in 0..60 {
        let i = next(6) as usize;
        let s = sessions[i];
        match next(9) {
            0 | 1 => {
                let callee = names[next(6) as usize];
                if callee != names[i] {
                    let _ = sim.call_agent(s, callee);
                }
            }
            2 => {
                let _ = sim.call_queue(s, ["Sales", "Support"][next(2) as usize]);
            }
            3 | 4 => {
                if let Some(r) = offer(&sim, s) {
                    let action = if next(3) == 0 {
                        Action::Reject { reservation_sid: r }
                    } else {
                        Action::Accept { reservation_sid: r }
                    };
                    let _ = sim.act(s, action);
                }
            }
            5 => {
                if let Some(t) = task_in(&sim, s, ReservationState::Accepted) {
                    let _ = sim.act(s, Action::Hangup { task_sid: t });
                }
            }
            6 => {
                if let Some(t) = task_in(&sim, s, ReservationState::Wrapping) {
                    let _ = sim.act(
                        s,
                        Action::Complete {
                            task_sid: t,
                            reason: None,
                        },
                    );
                }
            }
            7 => {
                let a = ["Offline", "Available", "Unavailable", "Break", "Available"];
                sim.set_activity(names[i], a[next(5) as usize]);
            }
            _ => {}
        }
        sim.advance(next(40_000) as i64);
    }
    sim
}

#[test]
fn random_days_restore_the_same_at_spread_cuts() {
    for seed in 1..=6 {
        let sim = random_day(seed);
        let account = sim.center.model().account();
        let log = sim.log.clone();
        let whole = replayed(account, &log);
        let expected = bytes(&whole);
        let step = (log.len() / 25).max(1);
        for k in (0..=log.len()).step_by(step).chain([log.len()]) {
            let c = from_cut(account, &log, k);
            assert!(
                bytes(&c) == expected,
                "seed {seed}: cut at {k} of {}",
                log.len()
            );
        }
        let mut reference = world_after(&sim, replayed(account, &log));
        let answers = afterwards(&mut reference);
        let want = format!("{answers:?}\n{}", observed(&reference));
        let mut world = world_after(&sim, from_cut(account, &log, log.len() / 2));
        let answers = afterwards(&mut world);
        let got = format!("{answers:?}\n{}", observed(&world));
        assert!(
            got == want,
            "seed {seed}: behaviour differs\n{}",
            first_difference(&got, &want)
        );
    }
}

#[test]
fn the_snapshot_of_an_empty_center_restores_to_an_empty_center() {
    let account: Sid<Account> = "AC0123456789abcdef0123456789abcdef".parse().unwrap();
    let empty = Center::new(config(account));
    let snapshot = empty.model().snapshot(empty.now());
    assert_eq!(snapshot.version, SNAPSHOT_FORMAT);
    assert!(snapshot.workspaces.is_empty());
    let b = snapshot.to_bytes().unwrap();
    let back = Center::restore(config(account), Snapshot::from_bytes(&b).unwrap()).unwrap();
    assert_eq!(bytes(&back), b);
    assert!(back.model().workspaces().next().is_none());
}

#[test]
fn corrupt_newer_or_foreign_snapshots_are_refused_clearly() {
    let mut sim = Sim::demo();
    sim.sign_in("alice");
    let account = sim.center.model().account();
    let c = replayed(account, &sim.log);
    let good: serde_json::Value = serde_json::from_slice(&bytes(&c)).unwrap();

    // Not JSON at all.
    let e = Snapshot::from_bytes(b"{\"version\": 1, \"work").unwrap_err();
    assert!(matches!(e, SnapshotError::Decode { .. }), "{e}");

    // A field of the wrong type is named.
    let mut doc = good.clone();
    doc["workspaces"][0]["engine"]["workers"][2]["version"] = json!("seven");
    let e = Snapshot::from_bytes(doc.to_string().as_bytes()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("workspaces[0].engine.workers[2]"), "{text}");

    // A missing field is named.
    let mut doc = good.clone();
    doc["workspaces"][0]
        .as_object_mut()
        .unwrap()
        .remove("event_count");
    let e = Snapshot::from_bytes(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e,
        SnapshotError::Decode {
            at: "workspaces[0].event_count".into(),
            message: "is missing".into()
        }
    );

    // Reads, but does not hold together: attributes that are not an object.
    let mut doc = good.clone();
    doc["workspaces"][0]["engine"]["workers"][0]["attributes"] = json!("[1, 2]");
    let s = Snapshot::from_bytes(doc.to_string().as_bytes()).unwrap();
    let e = Center::restore(config(account), s).unwrap_err();
    assert!(e.to_string().contains(".attributes"), "{e}");

    // Newer than this program: refused before anything else is read.
    let mut doc = good.clone();
    doc["version"] = json!(SNAPSHOT_FORMAT + 1);
    doc["workspaces"] = json!("something this release cannot know");
    let e = Snapshot::from_bytes(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e,
        SnapshotError::TooNew {
            found: SNAPSHOT_FORMAT + 1
        }
    );
    assert!(e.to_string().contains("newer than this program"), "{e}");

    // Another account's.
    let other: Sid<Account> = "AC00000000000000000000000000000000".parse().unwrap();
    let s = Snapshot::from_bytes(&bytes(&c)).unwrap();
    assert!(Center::restore(config(other), s).is_err());
}
