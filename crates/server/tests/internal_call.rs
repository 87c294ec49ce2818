//! The internal call, end to end at the signalling level: scripted agents over the real desktop
//! WebSocket and REST, against a real server with the demo workspace.

mod support;

use serde_json::{json, Value};
use support::*;

fn is_ringing_from(caller: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["tasks"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["reservation_status"] == "pending" && t["attributes"]["name"] == caller)
        })
    }
}

fn call_is(task: String, state: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["tasks"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["task_sid"] == json!(task) && t["call"]["state"] == state)
        })
    }
}

fn no_tasks(s: &Value) -> bool {
    s["tasks"].as_array().is_some_and(|t| t.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_calls_agent_connects_then_both_wrap_up_and_complete() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;

    // Alice finds Bob by part of his name.
    let found = alice
        .act("directory_agents", json!({"query": "bro"}))
        .await
        .unwrap();
    let agents = found["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{found}");
    assert_eq!(agents[0]["full_name"], "Bob Brown");
    assert!(
        agents.iter().all(|a| a["friendly_name"] != "alice"),
        "the caller is not listed"
    );

    let t1 = alice
        .call_agent(
            agents[0]["sid"].as_str().unwrap(),
            "Bob Brown",
            "Alice Anders",
        )
        .await
        .unwrap();
    bob.wait_for("Alice's call ringing", is_ringing_from("Alice Anders"))
        .await;
    alice
        .wait_for("ringing", call_is(t1.clone(), "ringing"))
        .await;

    let offer = bob.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let t2 = offer["task_sid"].as_str().unwrap().to_owned();
    assert_eq!(offer["attributes"]["worker_sid"], json!(bob.sid));
    assert_eq!(offer["queue"], "Internal Calls");
    bob.act(
        "accept",
        json!({"reservation_sid": offer["reservation_sid"]}),
    )
    .await
    .unwrap();
    bob.wait_for("connected", call_is(t2.clone(), "connected"))
        .await;
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;

    // Both tasks are assigned and share the conversation.
    let (a, b) = (server.task(&t1).await, server.task(&t2).await);
    assert_eq!(
        (
            a["assignment_status"].as_str(),
            b["assignment_status"].as_str()
        ),
        (Some("assigned"), Some("assigned"))
    );
    let conv = |t: &Value| {
        serde_json::from_str::<Value>(t["attributes"].as_str().unwrap()).unwrap()["conversations"]
            ["conversation_id"]
            .clone()
    };
    assert_eq!(conv(&a), conv(&b));

    // Bob hangs up: both tasks go to wrapping, Alice is told the call ended normally.
    bob.act("hangup", json!({"task_sid": t2})).await.unwrap();
    bob.wait_for("ended", call_is(t2.clone(), "ended")).await;
    let s = alice.wait_for("ended", call_is(t1.clone(), "ended")).await;
    assert_eq!(
        alice.call_state(&t1),
        Some(("ended".into(), Some("completed".into()))),
        "{s:#}"
    );
    assert_eq!(server.task(&t1).await["assignment_status"], "wrapping");
    assert_eq!(server.task(&t2).await["assignment_status"], "wrapping");

    alice
        .act("complete", json!({"task_sid": t1}))
        .await
        .unwrap();
    bob.act("complete", json!({"task_sid": t2})).await.unwrap();
    alice.wait_for("no tasks", no_tasks).await;
    bob.wait_for("no tasks", no_tasks).await;
    assert_eq!(server.task(&t1).await["assignment_status"], "completed");
    assert_eq!(server.task(&t2).await["assignment_status"], "completed");
    server.stop().await;
}
