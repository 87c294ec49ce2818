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

    // Bob's leg cannot use the task's `to` (an application SID) as caller ID: it uses the
    // outbound flow's caller_id, as the internal-call feature's AcceptTask hook does.
    let calls = server
        .get(&format!(
            "{}/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
            server.base
        ))
        .await;
    let bob_leg = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["to"] == "client:bob")
        .cloned()
        .unwrap_or_else(|| panic!("{calls:#}"));
    assert_eq!(bob_leg["from"], "+15005550006", "{bob_leg:#}");
    assert_eq!(bob_leg["status"], "in-progress");

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

async fn set_activity(server: &Server, worker: &str, activity: &str) {
    let sid = server.worker(worker).await;
    let act = server.activity(activity).await;
    let (status, body) = server
        .post(
            &server.ws_url(&format!("/Workers/{sid}")),
            &[("ActivitySid", &act)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn ended_with(task: String, reason: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["tasks"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["task_sid"] == json!(task)
                    && t["call"]["state"] == "ended"
                    && t["call"]["reason"] == reason
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_calls_a_queue_and_a_member_answers_after_another_declines() {
    let server = Server::start().await;
    // Support members: bob, carol, eva, zoe. Leave carol and eva available.
    for w in ["bob", "zoe"] {
        set_activity(&server, w, "Offline").await;
    }
    let mut alice = server.sign_in("alice").await;
    let mut carol = server.sign_in("carol").await;
    let mut eva = server.sign_in("eva").await;

    let queues = alice
        .act("directory_queues", json!({"prefix": "sup"}))
        .await
        .unwrap();
    assert_eq!(
        queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["friendly_name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Support"]
    );
    let all = alice
        .act("directory_queues", json!({"prefix": ""}))
        .await
        .unwrap();
    let names: Vec<&str> = all["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["friendly_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Everyone", "Sales", "Support"],
        "sorted, without the internal calls queue"
    );

    let t1 = alice.call_queue("Support", "Alice Anders").await.unwrap();
    alice
        .wait_for("ringing", call_is(t1.clone(), "ringing"))
        .await;
    // One of the two available members rings; when they decline, the other one rings.
    let first_rings = tokio::select! {
        s = carol.wait_for("offer", is_ringing_from("Alice Anders")) => { let _ = s; "carol" }
        s = eva.wait_for("offer", is_ringing_from("Alice Anders")) => { let _ = s; "eva" }
    };
    let (first, second) = if first_rings == "carol" {
        (&mut carol, &mut eva)
    } else {
        (&mut eva, &mut carol)
    };
    first
        .wait_for("offer", is_ringing_from("Alice Anders"))
        .await;
    let offer = first.task_where(|a| a["name"] == "Alice Anders").unwrap();
    assert_eq!(offer["queue"], "Support");
    first
        .act(
            "reject",
            json!({"reservation_sid": offer["reservation_sid"]}),
        )
        .await
        .unwrap();
    second
        .wait_for("the declined call", is_ringing_from("Alice Anders"))
        .await;
    let offer = second.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let t2 = offer["task_sid"].as_str().unwrap().to_owned();
    second
        .act(
            "accept",
            json!({"reservation_sid": offer["reservation_sid"]}),
        )
        .await
        .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;
    second
        .wait_for("connected", call_is(t2.clone(), "connected"))
        .await;

    alice.act("hangup", json!({"task_sid": t1})).await.unwrap();
    second.wait_for("ended", call_is(t2.clone(), "ended")).await;
    alice
        .wait_for("ended normally", ended_with(t1.clone(), "completed"))
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_call_tells_the_caller_and_leaves_nothing_pending() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    let offer = bob.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let t2 = offer["task_sid"].as_str().unwrap().to_owned();
    bob.act(
        "reject",
        json!({"reservation_sid": offer["reservation_sid"]}),
    )
    .await
    .unwrap();
    alice
        .wait_for("declined", ended_with(t1.clone(), "declined"))
        .await;
    bob.wait_for("no tasks", no_tasks).await;
    assert_eq!(server.task(&t2).await["assignment_status"], "canceled");
    assert_eq!(server.task(&t1).await["assignment_status"], "wrapping");
    // Bob stays available: declining one call is not a reason to stop his others.
    assert_eq!(bob.state["worker"]["activity_name"], "Available");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_times_out_and_the_caller_hears_no_answer() {
    let server = Server::start().await;
    // A one-second reservation timeout so the test does not wait the demo's 30 s.
    let wf = server
        .get(&server.ws_url("/Workflows?FriendlyName=Internal%20Call"))
        .await["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = server
        .post(
            &server.ws_url(&format!("/Workflows/{wf}")),
            &[("TaskReservationTimeout", "1")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    alice
        .wait_for("no answer", ended_with(t1.clone(), "no-answer"))
        .await;
    // TaskRouter moves a worker who lets a reservation time out to the timeout activity.
    bob.wait_for("offline", |s| s["worker"]["activity_name"] == "Offline")
        .await;
    bob.wait_for("no tasks", no_tasks).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_an_offline_agent_or_a_busy_one_says_so_at_once() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut carol = server.sign_in("carol").await;
    let mut bob = server.sign_in("bob").await;
    let dmitri = server.worker("dmitri").await;
    set_activity(&server, "dmitri", "Offline").await;

    // The directory does not offer offline agents.
    let found = alice
        .act("directory_agents", json!({"query": "dmitri"}))
        .await
        .unwrap();
    assert_eq!(found["agents"], json!([]));
    // Calling one anyway (an old screen) is answered "unavailable", not left ringing.
    let t = alice
        .call_agent(&dmitri, "Dmitri Dorsey", "Alice Anders")
        .await
        .unwrap();
    alice
        .wait_for("unavailable", ended_with(t.clone(), "unavailable"))
        .await;
    alice.act("complete", json!({"task_sid": t})).await.unwrap();
    alice.wait_for("no tasks", no_tasks).await;

    // Two callers to one agent at once: the first rings, the second hears busy.
    let first = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    let second = carol
        .call_agent(&bob.sid.clone(), "Bob Brown", "Carol Chen")
        .await
        .unwrap();
    carol
        .wait_for("busy", ended_with(second.clone(), "busy"))
        .await;
    alice
        .wait_for("still ringing", call_is(first.clone(), "ringing"))
        .await;
    let offers = bob.state["tasks"].as_array().unwrap().len();
    assert_eq!(offers, 1, "bob is offered one call only: {:#}", bob.state);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_hanging_up_while_it_rings_withdraws_the_offer() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    let t2 = bob.task_where(|a| a["name"] == "Alice Anders").unwrap()["task_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.act("hangup", json!({"task_sid": t1})).await.unwrap();
    alice
        .wait_for("canceled", ended_with(t1.clone(), "canceled"))
        .await;
    bob.wait_for("offer withdrawn", no_tasks).await;
    assert_eq!(server.task(&t2).await["assignment_status"], "canceled");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_mute_for_both_agents() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    let offer = bob.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let t2 = offer["task_sid"].as_str().unwrap().to_owned();
    bob.act(
        "accept",
        json!({"reservation_sid": offer["reservation_sid"]}),
    )
    .await
    .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;

    let flag = |task: String, key: &'static str, want: bool| {
        move |s: &Value| {
            s["tasks"].as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["task_sid"] == json!(task) && t["call"][key] == json!(want))
            })
        }
    };
    alice
        .act("hold", json!({"task_sid": t1, "hold": true}))
        .await
        .unwrap();
    alice.wait_for("held", flag(t1.clone(), "held", true)).await;
    alice
        .act("hold", json!({"task_sid": t1, "hold": false}))
        .await
        .unwrap();
    alice
        .wait_for("unheld", flag(t1.clone(), "held", false))
        .await;
    bob.act("hold", json!({"task_sid": t2, "hold": true}))
        .await
        .unwrap();
    bob.wait_for("held", flag(t2.clone(), "held", true)).await;
    bob.act("mute", json!({"task_sid": t2, "muted": true}))
        .await
        .unwrap();
    bob.wait_for("muted", flag(t2.clone(), "muted", true)).await;
    bob.act("mute", json!({"task_sid": t2, "muted": false}))
        .await
        .unwrap();
    bob.act("hold", json!({"task_sid": t2, "hold": false}))
        .await
        .unwrap();
    bob.wait_for("unmuted and unheld", |s| {
        flag(t2.clone(), "muted", false)(s) && flag(t2.clone(), "held", false)(s)
    })
    .await;
    // Nobody acts on someone else's call.
    let err = alice
        .act("mute", json!({"task_sid": t2, "muted": true}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], 20404, "{err}");
    let err = alice
        .act("hangup", json!({"task_sid": t2}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], 20404, "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_delimiters_and_accents_survive_the_whole_path() {
    let server = Server::start().await;
    let odd = "Zoë \"Z\" & O=Neil + 李";
    let attrs =
        json!({"full_name": odd, "contact_uri": "client:zoe2", "skills": ["support"]}).to_string();
    let available = server.activity("Available").await;
    let (status, body) = server
        .post(
            &server.ws_url("/Workers"),
            &[
                ("FriendlyName", "zoe2"),
                ("Attributes", &attrs),
                ("ActivitySid", &available),
            ],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut alice = server.sign_in("alice").await;
    let mut zoe = server.sign_in("zoe2").await;
    // Directory search with non-ASCII and delimiter text.
    for q in ["zoë", "& o=", "李"] {
        let found = alice
            .act("directory_agents", json!({"query": q}))
            .await
            .unwrap();
        assert_eq!(
            found["agents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["full_name"] == odd)
                .count(),
            1,
            "query {q:?}: {found}"
        );
    }
    let caller = "Ann & \"Bo\" = Ça+va?";
    let t1 = alice
        .call_agent(&zoe.sid.clone(), odd, caller)
        .await
        .unwrap();
    zoe.wait_for("offer", |s| {
        s["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["attributes"]["name"] == caller))
    })
    .await;
    let offer = zoe.task_where(|a| a["name"] == caller).unwrap();
    zoe.act(
        "accept",
        json!({"reservation_sid": offer["reservation_sid"]}),
    )
    .await
    .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;
    let t1_attrs: Value =
        serde_json::from_str(server.task(&t1).await["attributes"].as_str().unwrap()).unwrap();
    assert_eq!(t1_attrs["name"], odd);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enqueue_function_refuses_unsigned_requests() {
    let server = Server::start().await;
    let url = format!("{}/features/internal-call/common/enqueue", server.base);
    let form = [
        ("from", "Mallory"),
        ("worker_sid", "WK00000000000000000000000000000001"),
        ("conversation_id", "x"),
    ];
    let client = reqwest::Client::new();
    let missing = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    let bad = client
        .post(&url)
        .header("X-Twilio-Signature", "bm9wZQ==")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    // Signed as Twilio signs, it answers TwiML that enqueues into the Internal Call workflow.
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = switchboard_server::signature::compute(TOKEN, &url, &params);
    let good = client
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let body = good.text().await.unwrap();
    let doc = switchboard_twiml::parse(&body, Some(&url)).unwrap();
    let switchboard_twiml::Verb::Enqueue(e) = &doc.verbs[0] else {
        panic!("{body}")
    };
    let wf = server
        .get(&server.ws_url("/Workflows?FriendlyName=Internal%20Call"))
        .await["workflows"][0]["sid"]
        .clone();
    assert_eq!(json!(e.workflow_sid), wf);
    let attrs = &e.task.as_ref().unwrap().attributes;
    assert_eq!(attrs["name"], "Mallory");
    assert_eq!(attrs["worker_sid"], "WK00000000000000000000000000000001");
    assert_eq!(attrs["conversations"]["conversation_id"], "x");
    // Neither destination: TwiML that says why and hangs up (the feature's own function fails
    // with a 500 here; a caller is better served by a reason than by error 11200).
    let none = [("from", "Mallory")];
    let params: Vec<(String, String)> = none
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = switchboard_server::signature::compute(TOKEN, &url, &params);
    let r = client
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&none)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let doc = switchboard_twiml::parse(&body, Some(&url)).unwrap();
    assert!(
        matches!(
            doc.verbs.as_slice(),
            [
                switchboard_twiml::Verb::Say { .. },
                switchboard_twiml::Verb::Hangup
            ]
        ),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_desktop_makes_its_agent_unroutable_within_seconds() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid.clone(), "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    drop(bob);
    // Within the grace period plus a little, bob is offline and the call is no longer his.
    let bob_sid = server.worker("bob").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(8);
    loop {
        let w = server
            .get(&server.ws_url(&format!("/Workers/{bob_sid}")))
            .await;
        if w["activity_name"] == "Offline" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob is still {}",
            w["activity_name"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    alice
        .wait_for("unavailable", ended_with(t1.clone(), "unavailable"))
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_nobody_answers_tells_the_caller_after_its_timeout() {
    let server = Server::start().await;
    for w in ["bob", "carol", "eva", "zoe"] {
        set_activity(&server, w, "Offline").await;
    }
    let mut alice = server.sign_in("alice").await;
    let t1 = alice.call_queue("Support", "Alice Anders").await.unwrap();
    alice
        .wait_for("ringing", call_is(t1.clone(), "ringing"))
        .await;
    // The queue call waits QUEUE_TIMEOUT_SECS for an agent, then the caller is told.
    alice
        .wait_for("no answer", ended_with(t1.clone(), "no-answer"))
        .await;
    assert_eq!(server.task(&t1).await["assignment_status"], "wrapping");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_conference_instruction_rings_the_worker_and_connects_on_answer() {
    let server = Server::start().await;
    for w in ["bob", "eva", "zoe"] {
        set_activity(&server, w, "Offline").await;
    }
    let mut alice = server.sign_in("alice").await;
    let mut carol = server.sign_in("carol").await;
    let t1 = alice.call_queue("Support", "Alice Anders").await.unwrap();
    carol
        .wait_for("offer", is_ringing_from("Alice Anders"))
        .await;
    let offer = carol.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let (t2, r) = (
        offer["task_sid"].as_str().unwrap().to_owned(),
        offer["reservation_sid"].as_str().unwrap().to_owned(),
    );

    // An application (not the desktop) answers the reservation with the conference instruction.
    let (status, body) = server
        .post(
            &server.ws_url(&format!("/Tasks/{t2}/Reservations/{r}")),
            &[("Instruction", "conference"), ("Timeout", "20")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["reservation_status"], "pending",
        "accepted only when the worker answers"
    );
    let s = carol
        .wait_for("the worker's phone rings", |s| {
            s["incoming_calls"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        })
        .await;
    let call = s["incoming_calls"][0]["call_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nobody else may answer it.
    let err = alice
        .act("answer_call", json!({"call_sid": call}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], 20404, "{err}");
    carol
        .act("answer_call", json!({"call_sid": call}))
        .await
        .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;
    assert_eq!(server.task(&t2).await["assignment_status"], "assigned");

    // A conference instruction on a task that has no call is refused with TaskRouter's reason.
    let wf = server
        .get(&server.ws_url("/Workflows?FriendlyName=Assign%20to%20Anyone"))
        .await["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, task) = server
        .post(
            &server.ws_url("/Tasks"),
            &[("WorkflowSid", &wf), ("Attributes", "{}")],
        )
        .await;
    let task = task["sid"].as_str().unwrap().to_owned();
    let rs = server
        .get(&server.ws_url(&format!("/Tasks/{task}/Reservations")))
        .await;
    if let Some(r) = rs["reservations"][0]["sid"].as_str() {
        let (status, body) = server
            .post(
                &server.ws_url(&format!("/Tasks/{task}/Reservations/{r}")),
                &[("Instruction", "conference")],
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("call_sid"),
            "{body}"
        );
    }
    server.stop().await;
}

/// The Python interpreter with the official twilio library (scripts/test sets it up).
fn python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("SWITCHBOARD_PYTHON") {
        return p.into();
    }
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python");
    assert!(venv.exists(), "this test needs Python with the twilio library: run scripts/test once (it creates target/py-venv), or set SWITCHBOARD_PYTHON");
    venv
}

/// A TwiML webhook written with the official twilio library, running as its own process.
struct Webhook {
    child: std::process::Child,
    url: String,
}

impl Webhook {
    fn start(workflow: &str, mode: &str) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/python/twiml_webhook.py");
        let child = std::process::Command::new(python())
            .arg(&script)
            .arg(&port_file)
            .arg(workflow)
            .arg(TOKEN)
            .arg(mode)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                if !p.trim().is_empty() {
                    break p.trim().to_owned();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the webhook did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Webhook {
            child,
            url: format!("http://127.0.0.1:{port}/voice"),
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn application(server: &Server, name: &str, url: &str) -> String {
    let (status, app) = server
        .post(
            &format!(
                "{}/2010-04-01/Accounts/{ACCOUNT}/Applications.json",
                server.base
            ),
            &[
                ("FriendlyName", name),
                ("VoiceUrl", url),
                ("VoiceMethod", "POST"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{app}");
    app["sid"].as_str().unwrap().to_owned()
}

async fn internal_workflow(server: &Server) -> String {
    server
        .get(&server.ws_url("/Workflows?FriendlyName=Internal%20Call"))
        .await["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn call_through(agent: &mut Agent, app: &str, callee: &str, name: &str) -> String {
    let destination = switchboard_voice::app_address(
        app.parse().unwrap(),
        &[
            ("worker_sid", callee),
            ("from", "Alice Anders"),
            ("conversation_id", "ext-1"),
        ],
    );
    let queue = agent.config("outbound_queue_sid");
    let r = agent
        .request(json!({"type": "start_outbound_call", "destination": destination, "queue_sid": queue, "task_attributes": {"name": name, "internal_outbound_to": name}}))
        .await
        .unwrap();
    r["task_sid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_application_built_with_the_twilio_library_routes_the_call() {
    let server = Server::start().await;
    let hook = Webhook::start(&internal_workflow(&server).await, "enqueue");
    let app = application(&server, "External Internal Call", &hook.url).await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = call_through(&mut alice, &app, &bob.sid.clone(), "Bob Brown").await;
    // The webhook validated our signature with the library's RequestValidator, and its TwiML
    // (VoiceResponse().enqueue(...).task(...)) routed the call to Bob.
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    let offer = bob.task_where(|a| a["name"] == "Alice Anders").unwrap();
    assert_eq!(
        offer["attributes"]["to"],
        json!(app),
        "the app side sees the application SID as To"
    );
    bob.act(
        "accept",
        json!({"reservation_sid": offer["reservation_sid"]}),
    )
    .await
    .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_times_out_or_answers_garbage_ends_the_call_with_a_reason() {
    let server = Server::start().await;
    let wf = internal_workflow(&server).await;
    let mut alice = server.sign_in("alice").await;
    let bob = server.worker("bob").await;
    for (mode, expected) in [
        ("slow", "did not answer in time"),
        ("garbage", "did not answer valid TwiML"),
    ] {
        let hook = Webhook::start(&wf, mode);
        let app = application(&server, &format!("Broken {mode}"), &hook.url).await;
        let t1 = call_through(&mut alice, &app, &bob, "Bob Brown").await;
        let s = alice
            .wait_for("a failed call", |s| {
                s["tasks"].as_array().is_some_and(|ts| {
                    ts.iter()
                        .any(|t| t["task_sid"] == json!(t1) && t["call"]["state"] == "ended")
                })
            })
            .await;
        let reason = alice.call_state(&t1).unwrap().1.unwrap_or_default();
        assert!(
            reason.starts_with("failed:") && reason.contains(expected),
            "{mode}: {reason}\n{s:#}"
        );
        alice
            .act("complete", json!({"task_sid": t1}))
            .await
            .unwrap();
        alice.wait_for("no tasks", no_tasks).await;
        drop(hook);
    }
    // Nothing is left behind: no live calls, no pending tasks.
    let calls = server
        .get(&format!(
            "{}/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
            server.base
        ))
        .await;
    assert!(
        calls["calls"].as_array().unwrap().iter().all(|c| [
            "completed",
            "failed",
            "canceled",
            "busy",
            "no-answer"
        ]
        .contains(&c["status"].as_str().unwrap())),
        "{calls:#}"
    );
    let pending = server
        .get(&server.ws_url("/Tasks?AssignmentStatus=pending,reserved"))
        .await;
    assert_eq!(pending["tasks"], json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_answers_too_much_is_cut_off_with_a_reason() {
    let server = Server::start().await;
    // A voice URL that answers a megabyte: the server reads no more than a TwiML document may be.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/voice", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = sock.read(&mut buf).await;
                let body = "<Response>".to_owned() + &"<Pause/>".repeat(128 * 1024) + "</Response>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    let app = application(&server, "Too much", &url).await;
    let mut alice = server.sign_in("alice").await;
    let bob = server.worker("bob").await;
    let t1 = call_through(&mut alice, &app, &bob, "Bob Brown").await;
    alice
        .wait_for("a failed call", |s| {
            s["tasks"].as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["task_sid"] == json!(t1) && t["call"]["state"] == "ended")
            })
        })
        .await;
    let reason = alice.call_state(&t1).unwrap().1.unwrap_or_default();
    assert!(reason.contains("more than 65536 bytes"), "{reason}");
    // The server is still serving.
    assert!(alice
        .act("directory_queues", json!({"prefix": ""}))
        .await
        .is_ok());
    server.stop().await;
}
