//! The Internal Call workflow from Flex's internal-call feature, unchanged, routes as the
//! feature's documentation says: `worker_sid` tasks to that agent alone at priority 1000,
//! `callToQueue` tasks to the named queue's longest-idle available agent.

mod common;

use common::*;
use switchboard_routing::*;

const WORKFLOW: &str = include_str!("../../../fixtures/internal-call-workflow.json");

fn setup() -> H {
    let mut h = H::new();
    h.worker(
        "Alice Anders",
        r#"{"skills":["sales"],"full_name":"Alice Anders"}"#,
    );
    h.at(1.0);
    h.worker("Bob Brown", r#"{"skills":["support"]}"#);
    h.at(2.0);
    h.worker("Carol Chen", r#"{"skills":["sales","support"]}"#);
    h.queue("Internal Calls", "1==1");
    h.queue("Everyone", "1==1");
    h.queue("Sales", "skills HAS 'sales'");
    h.queue("Support", "skills HAS 'support'");
    let config = WORKFLOW
        .replace("${QUEUE_SID_INTERNAL_CALLS}", "${Internal Calls}")
        .replace("${QUEUE_SID_EVERYONE}", "${Everyone}")
        .replace("${QUEUE_SID_SALES}", "${Sales}")
        .replace("${QUEUE_SID_SUPPORT}", "${Support}");
    h.workflow("Internal Call", &config, 30);
    h.at(10.0);
    h
}

fn pending_holders(h: &H, task: switchboard_sid::Sid<switchboard_sid::Task>) -> Vec<String> {
    h.ws.reservations()
        .filter(|r| r.task_sid == task && r.status == ReservationStatus::Pending)
        .map(|r| h.ws.worker(r.worker_sid).unwrap().friendly_name.to_string())
        .collect()
}

#[test]
fn worker_sid_goes_to_that_agent_alone_at_priority_1000() {
    let mut h = setup();
    let t = h.task(r#"{"worker_sid":"${Bob Brown}","name":"Alice Anders","conversations":{"conversation_id":"c1"}}"#);
    assert_eq!(pending_holders(&h, t), ["Bob Brown"]);
    let task = h.ws.task(t).unwrap();
    assert_eq!(task.priority, 1000);
    let internal =
        h.ws.queues()
            .find(|q| &*q.friendly_name == "Internal Calls")
            .unwrap();
    assert_eq!(task.queue_sid, Some(internal.sid));
    // Bob declines: nobody else is offered it, however idle they are.
    h.reject(t, "Bob Brown");
    assert!(pending_holders(&h, t).iter().all(|w| w == "Bob Brown"));
}

#[test]
fn worker_sid_task_waits_while_that_agent_is_unavailable() {
    let mut h = setup();
    h.set_activity("Bob Brown", BREAK);
    let t = h.task(r#"{"worker_sid":"${Bob Brown}","name":"Alice Anders"}"#);
    h.at(100.0);
    assert_eq!(h.status(t), "pending");
    assert!(pending_holders(&h, t).is_empty());
    h.set_activity("Bob Brown", AVAILABLE);
    assert_eq!(pending_holders(&h, t), ["Bob Brown"]);
}

#[test]
fn call_to_queue_goes_to_the_longest_idle_available_member() {
    let mut h = setup();
    // Alice (idle since 0 s) took a call at 10 s, so Carol (idle since 2 s) is now longest idle.
    let first = h.task(r#"{"callToQueue":"Sales","name":"Bob Brown"}"#);
    assert_eq!(pending_holders(&h, first), ["Alice Anders"]);
    h.accept(first, "Alice Anders");
    h.act(first, "Alice Anders", ReservationAction::Complete);
    h.at(20.0);
    let second = h.task(r#"{"callToQueue":"Sales","name":"Bob Brown"}"#);
    assert_eq!(pending_holders(&h, second), ["Carol Chen"]);
    let sales =
        h.ws.queues()
            .find(|q| &*q.friendly_name == "Sales")
            .unwrap();
    assert_eq!(h.ws.task(second).unwrap().queue_sid, Some(sales.sid));
    // Carol declines: the call is offered to the next member, Alice.
    h.reject(second, "Carol Chen");
    assert_eq!(pending_holders(&h, second), ["Alice Anders"]);
}

#[test]
fn call_to_queue_skips_members_who_are_not_available() {
    let mut h = setup();
    h.set_activity("Alice Anders", OFFLINE);
    let t = h.task(r#"{"callToQueue":"Support","name":"Alice Anders"}"#);
    assert_eq!(pending_holders(&h, t), ["Bob Brown"]);
}

#[test]
fn a_task_naming_both_goes_by_queue_and_neither_matches_nothing() {
    let mut h = setup();
    let both = h.task(r#"{"worker_sid":"${Bob Brown}","callToQueue":"Sales"}"#);
    assert_eq!(pending_holders(&h, both), ["Alice Anders"]);
    let t = h.new_task(r#"{"name":"nobody"}"#);
    assert!(matches!(
        h.cmd(Command::CreateTask(t)),
        Err(EngineError::NoMatchingFilter { .. })
    ));
}
