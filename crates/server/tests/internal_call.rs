//! The internal call over the wire: a real server, agents on the real desktop WebSocket, REST
//! with the account's credentials, the built-in function behind its signature, and real HTTP
//! voice URLs. What the rules decide in every case is tested on simulated time in
//! `crates/center/tests`; these tests show the server carries it to and from the network.

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use support::*;
use switchboard_server::driver::Clock;
use switchboard_server::Limits;

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
    // Signing in to the demo starts the shift.
    assert_eq!(alice.state["worker"]["activity_name"], "Available");

    let found = alice
        .act("directory_agents", json!({"query": "bro"}))
        .await
        .unwrap();
    let agents = found["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{found}");
    assert_eq!(agents[0]["full_name"], "Bob Brown");

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
    assert_eq!(offer["call"]["direction"], "inbound");
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

    // The REST API sees the same: both tasks assigned, Bob's leg with the flow's caller ID.
    assert_eq!(server.task(&t1).await["assignment_status"], "assigned");
    assert_eq!(server.task(&t2).await["assignment_status"], "assigned");
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
    assert_eq!(bob_leg["from"], "+15005550006");
    assert_eq!(bob_leg["status"], "in-progress");

    bob.act("hangup", json!({"task_sid": t2})).await.unwrap();
    alice
        .wait_for("ended", |s| {
            s["tasks"].as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["call"]["outcome"]["code"] == "completed")
            })
        })
        .await;
    alice
        .act("complete", json!({"task_sid": t1}))
        .await
        .unwrap();
    bob.act("complete", json!({"task_sid": t2})).await.unwrap();
    alice.wait_for("no tasks", no_tasks).await;
    bob.wait_for("no tasks", no_tasks).await;
    assert_eq!(server.task(&t1).await["assignment_status"], "completed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_is_refused_what_the_server_relies_on_and_malformed_actions() {
    let server = Server::start().await;
    let mut carol = server.sign_in("carol").await;
    let app = carol.config("application_sid");
    let err = carol
        .request(json!({
            "type": "start_outbound_call",
            "destination": format!("app:{app}?callToQueue=Sales"),
            "task_attributes": {"call_sid": "CA00000000000000000000000000000001"},
        }))
        .await
        .unwrap_err();
    assert_eq!(err["code"], 20001);
    assert!(
        err["message"].as_str().unwrap().contains("\"call_sid\""),
        "{err}"
    );
    // A message that is not an action still gets its id back.
    carol.socket_send(json!({"id": 77, "type": "fly"})).await;
    let r = carol.message("result").await;
    assert_eq!(
        (r["id"].clone(), r["ok"].clone()),
        (json!(77), json!(false)),
        "{r}"
    );
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
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_desktop_makes_its_agent_unroutable_within_seconds() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let bob_sid = bob.sid.clone();
    let t1 = alice
        .call_agent(&bob_sid, "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("offer", is_ringing_from("Alice Anders")).await;
    drop(bob);
    // The grace period is 3 s; wait for its effect, no longer than WAIT.
    alice
        .wait_for("unavailable", |s| {
            s["tasks"].as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    t["task_sid"] == json!(t1) && t["call"]["outcome"]["code"] == "unavailable"
                })
            })
        })
        .await;
    let w = server
        .get(&server.ws_url(&format!("/Workers/{bob_sid}")))
        .await;
    assert_eq!(w["activity_name"], "Offline");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_ends_the_tasks_of_calls() {
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
    drop((alice, bob));
    let dir = server.stop_keeping_data().await;
    let server = Server::start_in(dir, Limits::default(), Clock::default()).await;
    // Calls do not survive a restart; their tasks do not wait for them.
    assert_eq!(server.task(&t1).await["assignment_status"], "wrapping");
    assert_eq!(server.task(&t2).await["assignment_status"], "canceled");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_told_before_its_token_expires_renews_it_and_is_closed_at_expiry() {
    // A clock the test moves, so an hour passes at once.
    let ms = Arc::new(AtomicI64::new(1_800_000_000_000));
    let read = ms.clone();
    let clock = Clock::from_fn(move || read.load(Ordering::SeqCst));
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir, Limits::default(), clock).await;
    let mut bob = server.sign_in("bob").await;
    // Demo tokens last 12 hours; move to 2 minutes before expiry (within the warning).
    ms.fetch_add(12 * 3_600_000 - 120_000, Ordering::SeqCst);
    server.nudge().await;
    let warning = bob.message("token_expiring").await;
    let expires = warning["expires_at"].as_i64().unwrap();
    assert_eq!(expires, ms.load(Ordering::SeqCst) + 120_000);
    // A token for another agent is refused; a fresh one for Bob is taken.
    let alice_token = server.token_for("alice").await;
    let err = bob
        .act("update_token", json!({"token": alice_token}))
        .await
        .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not this session's"),
        "{err}"
    );
    let fresh = server.token_for("bob").await;
    let ok = bob
        .act("update_token", json!({"token": fresh}))
        .await
        .unwrap();
    assert!(ok["expires_at"].as_i64().unwrap() > expires);
    // The old expiry passes: still connected, actions still work.
    ms.fetch_add(180_000, Ordering::SeqCst);
    server.nudge().await;
    assert!(bob
        .act("directory_queues", json!({"prefix": ""}))
        .await
        .is_ok());
    // The new one passes: the session is told why and closed.
    ms.fetch_add(25 * 3_600_000, Ordering::SeqCst);
    server.nudge().await;
    let closed = bob.message("closed").await;
    assert_eq!(closed["reason"], "token_expired");
    bob.closed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_conference_instruction_rings_the_worker_and_connects_on_answer() {
    let server = Server::start().await;
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
    let (status, body) = server
        .post(
            &server.ws_url(&format!("/Tasks/{t2}/Reservations/{r}")),
            &[("Instruction", "conference"), ("Timeout", "20")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reservation_status"], "pending");
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
    carol
        .act("answer_call", json!({"call_sid": call}))
        .await
        .unwrap();
    alice
        .wait_for("connected", call_is(t1.clone(), "connected"))
        .await;
    assert_eq!(server.task(&t2).await["assignment_status"], "assigned");
    // The instruction again, now that the reservation is accepted: TaskRouter's 40136.
    let (status, body) = server
        .post(
            &server.ws_url(&format!("/Tasks/{t2}/Reservations/{r}")),
            &[("Instruction", "conference")],
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!(40136)),
        "{body}"
    );
    server.stop().await;
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

async fn call_through(agent: &mut Agent, app: &str, callee: &str) -> String {
    let destination = switchboard_voice::app_address(
        app.parse().unwrap(),
        &[("worker_sid", callee), ("from", "Alice Anders")],
    );
    let queue = agent.config("outbound_queue_sid");
    let r = agent
        .request(json!({"type": "start_outbound_call", "destination": destination, "queue_sid": queue, "task_attributes": {"name": "Bob Brown"}}))
        .await
        .unwrap();
    r["task_sid"].as_str().unwrap().to_owned()
}

/// A voice URL on 127.0.0.1 that answers every request with `answer` (or never, for `None`).
async fn voice_url(answer: Option<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/voice", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = sock.read(&mut buf).await;
                let Some(body) = answer else {
                    // Hold the connection open and say nothing until the client gives up.
                    let _ = sock.read(&mut buf).await;
                    return;
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_urls_that_time_out_answer_garbage_or_too_much_end_the_call_with_a_reason() {
    let server = Server::start().await;
    let mut alice = server.sign_in("alice").await;
    let bob = server.worker("bob").await;
    let too_much = "<Response>".to_owned() + &"<Pause/>".repeat(128 * 1024) + "</Response>";
    for (answer, code, expected) in [
        (None, 11205, "did not answer in time"),
        (
            Some("<Response><Bogus".to_owned()),
            12100,
            "did not answer valid TwiML",
        ),
        (Some(too_much), 11200, "more than 65536 bytes"),
    ] {
        let url = voice_url(answer).await;
        let app = application(&server, &format!("Broken {code}"), &url).await;
        let t1 = call_through(&mut alice, &app, &bob).await;
        alice
            .wait_for("a failed call", call_is(t1.clone(), "ended"))
            .await;
        let outcome = alice.task(&t1).unwrap()["call"]["outcome"].clone();
        assert_eq!(outcome["code"], "failed", "{outcome}");
        assert_eq!(outcome["error_code"], code, "{outcome}");
        assert!(
            outcome["message"].as_str().unwrap().contains(expected),
            "{outcome}"
        );
        alice
            .act("complete", json!({"task_sid": t1}))
            .await
            .unwrap();
        alice.wait_for("no tasks", no_tasks).await;
    }
    let pending = server
        .get(&server.ws_url("/Tasks?AssignmentStatus=pending,reserved"))
        .await;
    assert_eq!(pending["tasks"], json!([]));
    server.stop().await;
}
