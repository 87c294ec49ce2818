//! Desktop sessions: token lifetime, closing, and pushes that go only to the desktops a change
//! concerns.

mod support;

use support::*;
use switchboard_center::protocol::{Action, CloseReason, ServerMessage};
use switchboard_center::sessions::{GRACE_MS, MAX_SESSIONS_PER_AGENT, TOKEN_WARNING_MS};
use switchboard_center::{Entry, Input};
use switchboard_routing::{Command, Timestamp};

#[test]
fn a_session_is_warned_before_its_token_expires_and_closed_at_expiry() {
    let mut sim = Sim::demo();
    sim.sign_in("bob");
    let expires = sim.now + 600_000;
    let bob = sim.connect_until("bob", expires);
    sim.advance(600_000 - TOKEN_WARNING_MS - 1);
    assert!(sim.messages.is_empty());
    sim.advance(1);
    assert_eq!(
        sim.messages,
        [(
            bob,
            ServerMessage::TokenExpiring {
                expires_at: expires
            }
        )]
    );
    // Actions still work until expiry.
    sim.act(
        bob,
        Action::DirectoryQueues {
            prefix: String::new(),
        },
    )
    .unwrap();
    sim.advance(TOKEN_WARNING_MS);
    assert_eq!(sim.closed, [(bob, CloseReason::TokenExpired)]);
    let err = sim
        .act(
            bob,
            Action::DirectoryQueues {
                prefix: String::new(),
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 20404, "a closed session acts no more: {err}");
}

#[test]
fn a_renewed_token_keeps_the_session() {
    let mut sim = Sim::demo();
    let expires = sim.now + 600_000;
    let bob = sim.connect_until("bob", expires);
    sim.advance(600_000 - TOKEN_WARNING_MS + 10_000);
    assert_eq!(sim.messages.len(), 1);
    let worker = sim.worker("bob");
    sim.handle(Input::RenewToken {
        session: bob,
        worker,
        expires_at: Timestamp(sim.now + 3_600_000),
    })
    .unwrap();
    sim.advance(600_000);
    assert!(sim.closed.is_empty());
    // A token for another agent is refused.
    let other = sim.worker("alice");
    let err = sim
        .handle(Input::RenewToken {
            session: bob,
            worker: other,
            expires_at: Timestamp(sim.now + 1),
        })
        .unwrap_err();
    assert!(err.message.contains("not this session's"), "{err}");
}

#[test]
fn an_expired_session_makes_its_agent_offline_after_the_grace_period() {
    let mut sim = Sim::demo();
    sim.sign_in("bob");
    let expires = sim.now + 60_000;
    let s = sim.connect_until("bob", expires);
    // The sign-in session (a day) closes: only the short one is left.
    let first = sim.states.keys().copied().find(|k| *k != s).unwrap();
    sim.handle(Input::Disconnect { session: first }).unwrap();
    sim.advance(60_000 + GRACE_MS);
    assert_eq!(sim.activity_of("bob"), "Offline");
}

#[test]
fn deleting_a_worker_closes_its_sessions() {
    let mut sim = Sim::demo();
    let bob = sim.connect("bob");
    let worker = sim.worker("bob");
    sim.commands(vec![Command::DeleteWorker { sid: worker }])
        .unwrap();
    assert_eq!(sim.closed, [(bob, CloseReason::WorkerDeleted)]);
    assert!(sim.center.sessions().get(bob).is_none());
}

#[test]
fn an_agent_has_a_bounded_number_of_sessions() {
    let mut sim = Sim::demo();
    for _ in 0..MAX_SESSIONS_PER_AGENT {
        sim.connect("bob");
    }
    let worker = sim.worker("bob");
    let err = sim
        .handle(Input::Connect {
            workspace: sim.demo.workspace,
            worker,
            expires_at: Timestamp(sim.now + 1_000_000),
        })
        .unwrap_err();
    assert!(err.message.contains("limit is 8"), "{err}");
}

#[test]
fn a_change_pushes_only_the_desktops_it_concerns() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let bob = sim.sign_in("bob");
    let carol = sim.sign_in("carol");
    let count = |sim: &Sim, s| sim.pushes.get(&s).copied().unwrap_or(0);
    let carol_before = count(&sim, carol);
    let bob_before = count(&sim, bob);
    // A call between Alice and Bob, from first ring to completion, never renders Carol's desktop.
    let t1 = sim.call_agent(alice, "bob").unwrap();
    let offer = sim.only_task(bob);
    sim.accept(bob, &offer);
    sim.hold(alice, t1, true);
    sim.act(alice, Action::Hangup { task_sid: t1 }).unwrap();
    assert_eq!(count(&sim, carol), carol_before);
    assert!(count(&sim, bob) > bob_before);
    // Reads push nothing.
    let all: Vec<usize> = [alice, bob, carol]
        .iter()
        .map(|s| count(&sim, *s))
        .collect();
    sim.act(
        carol,
        Action::DirectoryAgents {
            query: String::new(),
        },
    )
    .unwrap();
    sim.act(
        carol,
        Action::DirectoryQueues {
            prefix: String::new(),
        },
    )
    .unwrap();
    let after: Vec<usize> = [alice, bob, carol]
        .iter()
        .map(|s| count(&sim, *s))
        .collect();
    assert_eq!(all, after);
    // A change every desktop shows (a new activity) reaches every desktop.
    let sid = sim.center.new_sid();
    sim.commands(vec![Command::CreateActivity {
        sid,
        friendly_name: "Lunch".into(),
        available: false,
    }])
    .unwrap();
    for s in [alice, bob, carol] {
        assert!(sim
            .state(s)
            .activities
            .iter()
            .any(|a| a.friendly_name == "Lunch"));
    }
    // A Flex configuration that changes nothing the desktops show pushes nothing.
    let before: Vec<usize> = [alice, bob, carol]
        .iter()
        .map(|s| count(&sim, *s))
        .collect();
    let mut doc = sim.center.model().flex().document().clone();
    doc.insert("ui_language".into(), "en".into());
    sim.handle(Input::Changes(vec![Entry::SetConfiguration {
        configuration: doc.into(),
    }]))
    .unwrap();
    let after: Vec<usize> = [alice, bob, carol]
        .iter()
        .map(|s| count(&sim, *s))
        .collect();
    assert_eq!(before, after);
}
