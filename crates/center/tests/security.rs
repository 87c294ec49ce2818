//! What a desktop or an ordinary TaskRouter client must not be able to do, and what the call
//! rules must not do to tasks they did not create.

mod support;

use serde_json::json;
use support::*;
use switchboard_center::protocol::{Action, CallState, ReservationState, RESERVED_TASK_ATTRIBUTES};
use switchboard_routing::{Command, NewTask};

#[test]
fn a_desktop_cannot_hijack_a_call_by_naming_its_call_sid() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    let carol = sim.sign_in("carol");
    sim.advance(1_000);
    let eva = sim.sign_in("eva");
    sim.call_queue(alice, "Support").unwrap();
    // Carol is offered the call (and so sees its call_sid), rejects it; it rings Eva.
    let offer = sim.only_task(carol);
    let stolen = offer.attributes["call_sid"].clone();
    sim.act(
        carol,
        Action::Reject {
            reservation_sid: offer.reservation_sid,
        },
    )
    .unwrap();
    let eva_offer = sim.only_task(eva);
    // Carol tries to pull the call into her own conference.
    let app = sim.demo.application;
    let err = sim
        .act(
            carol,
            Action::StartOutboundCall {
                destination: format!("app:{app}?worker_sid={}", sim.worker("bob")),
                queue_sid: None,
                caller_id: None,
                task_attributes: Some(json!({"call_sid": stolen}).as_object().unwrap().clone()),
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 20001);
    assert!(
        err.message
            .starts_with("task_attributes cannot set \"call_sid\""),
        "{err}"
    );
    assert!(sim.state(carol).tasks.is_empty(), "nothing was created");
    // Eva's offer is untouched and she can take the call.
    assert_eq!(
        sim.only_task(eva).reservation_status,
        ReservationState::Pending
    );
    sim.accept(eva, &eva_offer);
    assert_eq!(
        sim.only_task(alice).call.unwrap().state,
        CallState::Connected
    );
}

#[test]
fn every_reserved_attribute_is_refused() {
    let mut sim = Sim::demo();
    let alice = sim.sign_in("alice");
    for key in RESERVED_TASK_ATTRIBUTES {
        let err = sim
            .act(
                alice,
                Action::StartOutboundCall {
                    destination: "client:bob".into(),
                    queue_sid: None,
                    caller_id: None,
                    task_attributes: Some(json!({ *key: "x" }).as_object().unwrap().clone()),
                },
            )
            .unwrap_err();
        assert!(err.message.contains(&format!("{key:?}")), "{key}: {err}");
    }
    assert!(sim.state(alice).tasks.is_empty());
}

#[test]
fn an_ordinary_task_with_a_worker_sid_attribute_is_requeued_when_rejected() {
    // `worker_sid` is the usual attribute for known-agent routing; the internal-call rules are
    // not for tasks the call path did not create.
    let mut sim = Sim::demo();
    let bob = sim.sign_in("bob");
    sim.advance(1_000);
    let carol = sim.sign_in("carol");
    let task = sim.center.new_sid();
    sim.commands(vec![Command::CreateTask(NewTask {
        sid: task,
        attributes: Some(json!({"worker_sid": sim.worker("bob").to_string(), "call_sid": "CA00000000000000000000000000000001"}).to_string()),
        workflow_sid: Some(sim.demo.workflows[0]),
        priority: None,
        timeout: None,
        task_channel: None,
        virtual_start_time: None,
        routing_target: None,
        ignore_capacity: None,
        task_queue_sid: None,
    })])
    .unwrap();
    let offer = sim.only_task(bob);
    assert_eq!(offer.call, None, "not a call task: no call view");
    sim.act(
        bob,
        Action::Reject {
            reservation_sid: offer.reservation_sid,
        },
    )
    .unwrap();
    assert_eq!(
        sim.task_status(task),
        Some("reserved"),
        "back in the queue and offered again"
    );
    assert_eq!(sim.only_task(carol).task_sid, task);
    // A timeout does the same.
    sim.advance(120_000);
    assert_ne!(
        sim.task_status(task),
        None,
        "still routed, never canceled by call rules"
    );
}
