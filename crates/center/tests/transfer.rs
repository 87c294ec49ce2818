//! Transfers, three-way calls and supervisors, as the center drives them: who hears whom (in
//! relay peers) at every step, what each desktop shows, and what happens to every task.

mod support;

use std::collections::BTreeSet;

use support::*;
use switchboard_center::media::{MediaGraph, MediaPeer, MediaSource};
use switchboard_center::protocol::{
    Action, ActionData, CallState, PartyKind, SuperviseMode, SupervisingView, TransferMode,
    TransferOutcome, TransferState,
};
use switchboard_center::{Input, MediaInput, Reply, SessionId};
use switchboard_sid::{Sid, Task};

fn attach(sim: &mut Sim, session: SessionId) -> MediaPeer {
    match sim
        .handle(Input::Media(MediaInput::Offer {
            session,
            restart: false,
        }))
        .unwrap()
    {
        Reply::Media(a) => a.peer,
        other => panic!("{other:?}"),
    }
}

fn hears(graph: &MediaGraph, peer: MediaPeer) -> BTreeSet<MediaSource> {
    graph.get(&peer).cloned().unwrap_or_default()
}

fn peers(list: &[MediaPeer]) -> BTreeSet<MediaSource> {
    list.iter().map(|p| MediaSource::Peer(*p)).collect()
}

/// The call supervisor `session` is on (it must be on one).
fn supervising(sim: &Sim, session: SessionId) -> SupervisingView {
    sim.state(session)
        .supervisor
        .clone()
        .expect("a supervisor")
        .supervising
        .expect("on a call")
}

fn music() -> BTreeSet<MediaSource> {
    [MediaSource::HoldMusic].into()
}

/// Alice calls Bob, who accepts: the two agents' sessions and peers, and both tasks.
struct Call {
    alice: SessionId,
    bob: SessionId,
    a: MediaPeer,
    b: MediaPeer,
    t_alice: Sid<Task>,
    t_bob: Sid<Task>,
}

fn alice_calls_bob(sim: &mut Sim) -> Call {
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let a = attach(sim, alice);
    let b = attach(sim, bob);
    let t_alice = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    assert_eq!(hears(&sim.graph, a), peers(&[b]));
    Call {
        alice,
        bob,
        a,
        b,
        t_alice,
        t_bob: offer.task_sid,
    }
}

fn transfer(
    sim: &mut Sim,
    from: SessionId,
    task: Sid<Task>,
    to: &str,
    mode: TransferMode,
) -> Sid<Task> {
    let worker = sim.worker(to);
    match sim
        .act(
            from,
            Action::Transfer {
                task_sid: task,
                worker_sid: Some(worker),
                queue_sid: None,
                mode,
            },
        )
        .unwrap()
    {
        ActionData::Task { task_sid } => task_sid,
        other => panic!("{other:?}"),
    }
}

fn accept(sim: &mut Sim, session: SessionId, task: Sid<Task>) {
    let r = sim
        .state(session)
        .tasks
        .iter()
        .find(|t| t.task_sid == task)
        .unwrap_or_else(|| panic!("{:#?}", sim.state(session).tasks))
        .reservation_sid;
    sim.act(session, Action::Accept { reservation_sid: r })
        .unwrap();
}

fn transfer_state(
    sim: &Sim,
    session: SessionId,
    task: Sid<Task>,
) -> Option<(TransferState, Option<TransferOutcome>)> {
    sim.state(session)
        .tasks
        .iter()
        .find(|t| t.task_sid == task)
        .and_then(|t| t.call.as_ref())
        .and_then(|c| c.transfer.as_ref())
        .map(|t| (t.state, t.outcome))
}

#[test]
fn a_cold_transfer_hands_the_caller_to_the_new_agent() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    let k = attach(&mut sim, carol);

    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Cold);
    // Alice waits on hold music while Carol's desktop rings; Bob is still on the call.
    assert_eq!(hears(&sim.graph, c.a), music());
    assert_eq!(hears(&sim.graph, k), BTreeSet::new());
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((TransferState::Ringing, None))
    );
    let offered = sim
        .state(carol)
        .tasks
        .iter()
        .find(|t| t.task_sid == t3)
        .cloned()
        .unwrap();
    assert_eq!(offered.attributes["transferTargetType"], "worker");
    assert_eq!(offered.attributes["originalTaskSid"], c.t_bob.to_string());

    accept(&mut sim, carol, t3);
    // Carol and Alice talk; Bob is off the call, wrapping up.
    assert_eq!(hears(&sim.graph, c.a), peers(&[k]));
    assert_eq!(hears(&sim.graph, k), peers(&[c.a]));
    assert_eq!(hears(&sim.graph, c.b), BTreeSet::new());
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
    assert_eq!(sim.task_status(t3), Some("assigned"));
    let call = sim
        .state(carol)
        .tasks
        .iter()
        .find(|t| t.task_sid == t3)
        .unwrap()
        .call
        .clone()
        .unwrap();
    assert_eq!(call.state, CallState::Connected);
    assert_eq!(call.transferred_from.as_deref(), Some("Bob Brown"));
    assert_eq!(call.participants.len(), 1);
    assert_eq!(call.participants[0].kind, PartyKind::Caller);
    assert_eq!(call.participants[0].name, "Alice Anders");
    assert_eq!(
        sim.call_state(c.alice, c.t_alice),
        Some(CallState::Connected)
    );

    // Carol hangs up: the call ends for Alice too, and both tasks wrap.
    sim.act(carol, Action::Hangup { task_sid: t3 }).unwrap();
    assert!(sim.graph.is_empty(), "{:?}", sim.graph);
    assert_eq!(sim.task_status(t3), Some("wrapping"));
    assert_eq!(sim.task_status(c.t_alice), Some("wrapping"));
}

#[test]
fn a_warm_transfer_consults_then_completes_or_cancels() {
    for complete in [true, false] {
        let mut sim = Sim::demo();
        let c = alice_calls_bob(&mut sim);
        let carol = sim.sign_in("carol");
        let k = attach(&mut sim, carol);
        let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Warm);
        // Completing before the target answered is refused.
        let early = sim.act(c.bob, Action::CompleteTransfer { task_sid: c.t_bob });
        assert!(early.unwrap_err().message.contains("not answered"));
        accept(&mut sim, carol, t3);
        // Consulting: Bob and Carol hear each other; Alice hears hold music and not them.
        assert_eq!(hears(&sim.graph, c.a), music());
        assert_eq!(hears(&sim.graph, c.b), peers(&[k]));
        assert_eq!(hears(&sim.graph, k), peers(&[c.b]));
        assert_eq!(
            transfer_state(&sim, c.bob, c.t_bob),
            Some((TransferState::Consulting, None))
        );
        if complete {
            sim.act(c.bob, Action::CompleteTransfer { task_sid: c.t_bob })
                .unwrap();
            assert_eq!(hears(&sim.graph, c.a), peers(&[k]));
            assert_eq!(hears(&sim.graph, k), peers(&[c.a]));
            assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
            assert_eq!(sim.task_status(t3), Some("assigned"));
            assert_eq!(transfer_state(&sim, c.bob, c.t_bob), None);
        } else {
            sim.act(c.bob, Action::CancelTransfer { task_sid: c.t_bob })
                .unwrap();
            assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
            assert_eq!(hears(&sim.graph, c.b), peers(&[c.a]));
            assert_eq!(hears(&sim.graph, k), BTreeSet::new());
            assert_eq!(sim.task_status(c.t_bob), Some("assigned"));
            assert_eq!(sim.task_status(t3), Some("wrapping"));
            assert_eq!(
                transfer_state(&sim, c.bob, c.t_bob),
                Some((TransferState::Failed, Some(TransferOutcome::Canceled)))
            );
            // Bob's hang-up still ends the call, as before the transfer.
            sim.act(c.bob, Action::Hangup { task_sid: c.t_bob })
                .unwrap();
            assert!(sim.graph.is_empty(), "{:?}", sim.graph);
            assert_eq!(sim.task_status(c.t_alice), Some("wrapping"));
        }
    }
}

#[test]
fn a_failed_transfer_brings_the_caller_back_and_says_why() {
    // Declined by the target.
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    attach(&mut sim, carol);
    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Cold);
    let r = sim
        .state(carol)
        .tasks
        .iter()
        .find(|t| t.task_sid == t3)
        .unwrap()
        .reservation_sid;
    sim.act(carol, Action::Reject { reservation_sid: r })
        .unwrap();
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((TransferState::Failed, Some(TransferOutcome::Declined)))
    );
    assert_eq!(
        hears(&sim.graph, c.a),
        peers(&[c.b]),
        "Alice is back with Bob"
    );
    assert_eq!(sim.task_status(t3), None, "canceled");
    assert_eq!(sim.task_status(c.t_bob), Some("assigned"));

    // Not answered in time.
    let t4 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Warm);
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((TransferState::Ringing, None))
    );
    sim.advance(31_000);
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((TransferState::Failed, Some(TransferOutcome::NoAnswer)))
    );
    assert_eq!(sim.task_status(t4), None, "canceled");
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));

    // An agent who is offline cannot take it: said at once.
    transfer(&mut sim, c.bob, c.t_bob, "dmitri", TransferMode::Cold);
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((TransferState::Failed, Some(TransferOutcome::Unavailable)))
    );
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));

    // A queue where nobody can take it.
    let sales = sim.demo.queues[1];
    sim.set_activity("carol", "Offline");
    sim.act(
        c.bob,
        Action::Transfer {
            task_sid: c.t_bob,
            worker_sid: None,
            queue_sid: Some(sales),
            mode: TransferMode::Cold,
        },
    )
    .unwrap();
    assert_eq!(
        transfer_state(&sim, c.bob, c.t_bob),
        Some((
            TransferState::Failed,
            Some(TransferOutcome::NobodyAvailable)
        ))
    );
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));

    // Bad requests are refused, saying what was wrong.
    let me = sim.worker("bob");
    let e = sim
        .act(
            c.bob,
            Action::Transfer {
                task_sid: c.t_bob,
                worker_sid: Some(me),
                queue_sid: None,
                mode: TransferMode::Cold,
            },
        )
        .unwrap_err();
    assert!(e.message.contains("worker_sid"), "{e:?}");
    let e = sim
        .act(
            c.bob,
            Action::Transfer {
                task_sid: c.t_bob,
                worker_sid: None,
                queue_sid: None,
                mode: TransferMode::Cold,
            },
        )
        .unwrap_err();
    assert!(e.message.contains("worker_sid"), "{e:?}");
    let e = sim
        .act(c.bob, Action::CancelTransfer { task_sid: c.t_bob })
        .unwrap_err();
    assert!(e.message.contains("no transfer"), "{e:?}");
}

#[test]
fn a_transfer_to_a_queue_reaches_its_available_agent() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let eva = sim.sign_in("eva");
    let e = attach(&mut sim, eva);
    let support = sim.demo.queues[2];
    let data = sim
        .act(
            c.bob,
            Action::Transfer {
                task_sid: c.t_bob,
                worker_sid: None,
                queue_sid: Some(support),
                mode: TransferMode::Cold,
            },
        )
        .unwrap();
    let ActionData::Task { task_sid: t3 } = data else {
        panic!("{data:?}")
    };
    accept(&mut sim, eva, t3);
    assert_eq!(hears(&sim.graph, c.a), peers(&[e]));
    assert_eq!(hears(&sim.graph, e), peers(&[c.a]));
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
}

#[test]
fn the_caller_hanging_up_during_a_transfer_ends_it() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    attach(&mut sim, carol);
    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Cold);
    sim.act(
        c.alice,
        Action::Hangup {
            task_sid: c.t_alice,
        },
    )
    .unwrap();
    assert_eq!(sim.task_status(t3), None, "canceled");
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
    assert!(sim.state(carol).tasks.iter().all(|t| t.task_sid != t3));
    assert!(sim.graph.is_empty(), "{:?}", sim.graph);
}

#[test]
fn a_three_way_call_lets_each_hear_the_other_two_and_survives_one_leaving() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    let k = attach(&mut sim, carol);
    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Add);
    // Nobody is held while Carol's desktop rings.
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    accept(&mut sim, carol, t3);
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b, k]));
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, k]));
    assert_eq!(hears(&sim.graph, k), peers(&[c.a, c.b]));

    // Bob's participants panel: Carol (an agent) and Alice (the caller).
    let call = sim.state(c.bob).tasks[0].call.clone().unwrap();
    let names: Vec<(&str, PartyKind)> = call
        .participants
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("Carol Chen", PartyKind::Agent),
            ("Alice Anders", PartyKind::Caller)
        ]
    );
    // Bob holds Carol from the panel: nobody hears her, she hears music; then back.
    let carol_leg = call.participants[0].call_sid;
    sim.act(
        c.bob,
        Action::UpdateParticipant {
            task_sid: c.t_bob,
            call_sid: carol_leg,
            hold: Some(true),
            muted: None,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, k), music());
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    sim.act(
        c.bob,
        Action::UpdateParticipant {
            task_sid: c.t_bob,
            call_sid: carol_leg,
            hold: Some(false),
            muted: None,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b, k]));

    // Bob leaves; Alice and Carol go on talking. Hold of the caller never ends the call.
    sim.act(c.bob, Action::Hangup { task_sid: c.t_bob })
        .unwrap();
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
    assert_eq!(hears(&sim.graph, c.a), peers(&[k]));
    assert_eq!(hears(&sim.graph, k), peers(&[c.a]));
    sim.hold(carol, t3, true);
    assert_eq!(hears(&sim.graph, c.a), music());
    sim.hold(carol, t3, false);
    assert_eq!(hears(&sim.graph, c.a), peers(&[k]));
    // Carol, the last agent, hangs up: the call is over for Alice.
    sim.act(carol, Action::Hangup { task_sid: t3 }).unwrap();
    assert!(sim.graph.is_empty(), "{:?}", sim.graph);
    assert_eq!(sim.task_status(c.t_alice), Some("wrapping"));
}

#[test]
fn an_agent_removes_a_party_from_the_panel() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    let k = attach(&mut sim, carol);
    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Add);
    accept(&mut sim, carol, t3);
    let carol_leg = sim.state(c.bob).tasks[0]
        .call
        .as_ref()
        .unwrap()
        .participants[0]
        .call_sid;
    sim.act(
        c.bob,
        Action::RemoveParticipant {
            task_sid: c.t_bob,
            call_sid: carol_leg,
        },
    )
    .unwrap();
    assert_eq!(sim.task_status(t3), Some("wrapping"));
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    assert_eq!(hears(&sim.graph, k), BTreeSet::new());
    // Its own leg is not "another party".
    let own = sim.state(c.bob).tasks[0]
        .call
        .as_ref()
        .unwrap()
        .call_sid
        .unwrap();
    let e = sim
        .act(
            c.bob,
            Action::RemoveParticipant {
                task_sid: c.t_bob,
                call_sid: own,
            },
        )
        .unwrap_err();
    assert!(e.message.contains("call_sid"), "{e:?}");
}

#[test]
fn a_supervisor_monitors_coaches_and_barges() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let zoe = sim.sign_in("zoe");
    let z = attach(&mut sim, zoe);
    // Not a supervisor: Bob has no live-calls view and cannot supervise.
    assert!(sim.state(c.bob).supervisor.is_none());
    let view = sim
        .state(zoe)
        .supervisor
        .clone()
        .expect("Zoë is a supervisor");
    assert_eq!(view.live_calls.len(), 1, "{view:#?}");
    let live = view.live_calls[0].clone();
    assert_eq!(live.task_sid, c.t_bob);
    let names: Vec<&str> = live.participants.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Bob Brown", "Alice Anders"]);
    let e = sim
        .act(
            c.bob,
            Action::Supervise {
                conference_sid: live.conference_sid,
                mode: SuperviseMode::Monitor,
                call_sid: None,
            },
        )
        .unwrap_err();
    assert!(e.message.contains("supervisor"), "{e:?}");

    // Monitor: Zoë hears both; nobody hears her.
    sim.act(
        zoe,
        Action::Supervise {
            conference_sid: live.conference_sid,
            mode: SuperviseMode::Monitor,
            call_sid: None,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, z), peers(&[c.a, c.b]));
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a]));
    let sup = supervising(&sim, zoe);
    assert_eq!(sup.mode, SuperviseMode::Monitor);
    // The agents' panels show the supervisor.
    let bob_call = sim.state(c.bob).tasks[0].call.clone().unwrap();
    assert!(bob_call
        .participants
        .iter()
        .any(|p| p.kind == PartyKind::Supervisor && p.name == "Zoë Ortega" && p.muted));

    // Coach Bob: Bob hears Zoë, Alice does not.
    sim.act(
        zoe,
        Action::Supervise {
            conference_sid: live.conference_sid,
            mode: SuperviseMode::Coach,
            call_sid: None,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, z]));
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    assert_eq!(hears(&sim.graph, z), peers(&[c.a, c.b]));
    let sup = supervising(&sim, zoe);
    assert_eq!(sup.coached_call_sid, bob_call.call_sid);

    // Barge: everyone hears Zoë.
    sim.act(
        zoe,
        Action::Supervise {
            conference_sid: live.conference_sid,
            mode: SuperviseMode::Barge,
            call_sid: None,
        },
    )
    .unwrap();
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, z]));
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b, z]));

    // She leaves; the call goes on as before.
    sim.act(zoe, Action::StopSupervising {}).unwrap();
    assert_eq!(hears(&sim.graph, z), BTreeSet::new());
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));
    assert!(sim
        .state(zoe)
        .supervisor
        .clone()
        .unwrap()
        .supervising
        .is_none());
    assert_eq!(sim.task_status(c.t_bob), Some("assigned"));

    // When the call ends, it leaves the live-calls list.
    sim.act(c.bob, Action::Hangup { task_sid: c.t_bob })
        .unwrap();
    assert!(sim
        .state(zoe)
        .supervisor
        .clone()
        .unwrap()
        .live_calls
        .is_empty());
}

/// In an internal call the calling agent is in the callee's conference as the far leg: a
/// supervisor can coach either agent, and each whisper reaches that agent alone. A leg that is
/// neither agent nor calling agent cannot be coached.
#[test]
fn a_supervisor_coaches_either_agent_of_an_internal_call() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let zoe = sim.sign_in("zoe");
    let z = attach(&mut sim, zoe);
    let live = sim.state(zoe).supervisor.clone().unwrap().live_calls[0].clone();
    let coachable: Vec<(&str, bool)> = live
        .participants
        .iter()
        .map(|p| (p.name.as_str(), p.coachable))
        .collect();
    assert_eq!(coachable, [("Bob Brown", true), ("Alice Anders", true)]);
    let alice_leg = live
        .participants
        .iter()
        .find(|p| p.kind == PartyKind::Caller)
        .map(|p| p.call_sid)
        .expect("Alice's leg in Bob's conference");
    let coach = |sim: &mut Sim, call_sid| {
        sim.act(
            zoe,
            Action::Supervise {
                conference_sid: live.conference_sid,
                mode: SuperviseMode::Coach,
                call_sid,
            },
        )
    };

    // Coach Alice: she hears Bob and Zoë; Bob hears only Alice.
    coach(&mut sim, Some(alice_leg)).unwrap();
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b, z]));
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a]));
    assert_eq!(hears(&sim.graph, z), peers(&[c.a, c.b]));
    let sup = supervising(&sim, zoe);
    assert_eq!(sup.coached_call_sid, Some(alice_leg));
    // Alice's panel shows Zoë coaching, although Zoë joined Bob's conference.
    let alice_call = sim.state(c.alice).tasks[0].call.clone().unwrap();
    assert!(
        alice_call
            .participants
            .iter()
            .any(|p| p.kind == PartyKind::Supervisor && p.name == "Zoë Ortega" && p.coaching),
        "{alice_call:#?}"
    );

    // Then Bob: the whisper moves to him.
    let bob_leg = sim.state(c.bob).tasks[0]
        .call
        .clone()
        .unwrap()
        .call_sid
        .unwrap();
    coach(&mut sim, Some(bob_leg)).unwrap();
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, z]));
    assert_eq!(hears(&sim.graph, c.a), peers(&[c.b]));

    // Zoë's own leg is on the call but is nobody to coach; the call stays as it was.
    let zoe_leg = sim.state(c.bob).tasks[0]
        .call
        .clone()
        .unwrap()
        .participants
        .iter()
        .find(|p| p.kind == PartyKind::Supervisor)
        .map(|p| p.call_sid)
        .expect("Zoë's leg");
    assert!(!sim.state(zoe).supervisor.clone().unwrap().live_calls[0]
        .participants
        .iter()
        .any(|p| p.call_sid == zoe_leg && p.coachable));
    let e = coach(&mut sim, Some(zoe_leg)).unwrap_err();
    assert!(e.message.contains("is not an agent on this call"), "{e:?}");
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, z]));

    // Neither agent can hold, mute or remove her: she takes part as she chooses. Bob's
    // conference is hers; Alice's is not.
    for (who, task) in [(c.bob, c.t_bob), (c.alice, c.t_alice)] {
        let e = sim
            .act(
                who,
                Action::UpdateParticipant {
                    task_sid: task,
                    call_sid: zoe_leg,
                    hold: None,
                    muted: Some(true),
                },
            )
            .unwrap_err();
        assert!(e.message.contains("call_sid"), "{e:?}");
        let e = sim
            .act(
                who,
                Action::RemoveParticipant {
                    task_sid: task,
                    call_sid: zoe_leg,
                },
            )
            .unwrap_err();
        assert!(e.message.contains("call_sid"), "{e:?}");
    }
    let e = sim
        .act(
            c.bob,
            Action::RemoveParticipant {
                task_sid: c.t_bob,
                call_sid: zoe_leg,
            },
        )
        .unwrap_err();
    assert!(e.message.contains("supervisor's leg"), "{e:?}");
    assert_eq!(hears(&sim.graph, c.b), peers(&[c.a, z]));
}

#[test]
fn a_supervisor_on_a_call_that_ends_is_let_go() {
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let zoe = sim.sign_in("zoe");
    attach(&mut sim, zoe);
    let conf = sim.state(zoe).supervisor.clone().unwrap().live_calls[0].conference_sid;
    sim.act(
        zoe,
        Action::Supervise {
            conference_sid: conf,
            mode: SuperviseMode::Monitor,
            call_sid: None,
        },
    )
    .unwrap();
    sim.act(
        c.alice,
        Action::Hangup {
            task_sid: c.t_alice,
        },
    )
    .unwrap();
    let view = sim.state(zoe).supervisor.clone().unwrap();
    assert!(
        view.supervising.is_none() && view.live_calls.is_empty(),
        "{view:#?}"
    );
    assert!(sim.graph.is_empty(), "{:?}", sim.graph);
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
}

#[test]
fn a_transfer_accepted_through_taskrouter_s_conference_instruction_joins_the_call() {
    use switchboard_center::ConferenceOptions;
    let mut sim = Sim::demo();
    let c = alice_calls_bob(&mut sim);
    let carol = sim.sign_in("carol");
    let k = attach(&mut sim, carol);
    let t3 = transfer(&mut sim, c.bob, c.t_bob, "carol", TransferMode::Cold);
    let r = sim
        .state(carol)
        .tasks
        .iter()
        .find(|t| t.task_sid == t3)
        .unwrap()
        .reservation_sid;
    sim.handle(Input::ConferenceInstruction {
        workspace: sim.demo.workspace,
        reservation: r,
        options: ConferenceOptions {
            auto_answer: true,
            ..Default::default()
        },
    })
    .unwrap();
    assert_eq!(hears(&sim.graph, c.a), peers(&[k]));
    assert_eq!(sim.task_status(c.t_bob), Some("wrapping"));
}
