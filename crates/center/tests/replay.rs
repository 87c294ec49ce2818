//! Replaying the log a run wrote, at the times it was written, rebuilds the same durable state
//! and the same deadlines.

mod support;

use std::fmt::Write;

use support::*;
use switchboard_center::protocol::Action;
use switchboard_center::{Center, CenterConfig, Input};
use switchboard_routing::Timestamp;

fn dump(center: &Center) -> String {
    let mut out = String::new();
    for (sid, ws) in center.model().workspaces() {
        let e = &ws.engine;
        writeln!(out, "workspace {sid} {}", ws.friendly_name).unwrap();
        for w in e.workers() {
            writeln!(
                out,
                "  worker {} {} {}",
                w.sid,
                w.activity_sid,
                w.attributes.raw()
            )
            .unwrap();
        }
        for t in e.tasks() {
            writeln!(
                out,
                "  task {} {} {:?} {}",
                t.sid,
                t.status.as_str(),
                ws.origin(t.sid),
                t.attributes.raw()
            )
            .unwrap();
        }
        for r in e.reservations() {
            writeln!(
                out,
                "  reservation {} {} {}",
                r.sid,
                r.status.as_str(),
                r.worker_sid
            )
            .unwrap();
        }
        writeln!(out, "  next deadline {:?}", e.poll_timeout()).unwrap();
    }
    writeln!(out, "flex {:?}", center.model().flex().settings()).unwrap();
    writeln!(out, "applications {:?}", center.model().applications()).unwrap();
    out
}

#[test]
fn the_log_of_a_busy_run_replays_into_the_same_state() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let carol = sim.sign_in("carol");
    let t1 = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    sim.advance(5_000);
    sim.call_queue(carol, "Sales").unwrap();
    sim.advance(31_000);
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    sim.handle(Input::Disconnect { session: carol }).unwrap();
    sim.advance(10_000);

    let mut replayed = Center::new(CenterConfig {
        account: sim.center.model().account(),
        seed: 99,
        media: Default::default(),
    });
    for (at, entry) in &sim.log {
        replayed.replay(*at, entry).unwrap();
    }
    // Only the durable state is compared: calls are not durable, and replay ends before start.
    assert_eq!(dump(&replayed), dump(&sim.center));
    assert!(
        sim.log.len() > 30,
        "the run wrote a real log: {} entries",
        sim.log.len()
    );
    // Starting the replayed center ends the tasks whose calls did not survive.
    replayed.start(Timestamp(sim.now));
    let live_call_tasks = replayed
        .model()
        .workspaces()
        .flat_map(|(_, w)| w.call_tasks().collect::<Vec<_>>())
        .filter(|(t, _)| {
            let ws = replayed.model().workspace_of_task(*t).unwrap();
            let s = replayed
                .model()
                .workspace(ws)
                .unwrap()
                .engine
                .task(*t)
                .unwrap()
                .status
                .as_str();
            matches!(s, "pending" | "reserved" | "assigned")
        })
        .count();
    assert_eq!(live_call_tasks, 0);
}
