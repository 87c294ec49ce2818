//! The Voice REST API (`/2010-04-01/Accounts/{AccountSid}/Calls`, `/Conferences`,
//! `/Participants`) over a live internal call between two scripted agents.

mod support;

use serde_json::{json, Value};
use support::*;

fn account_url(server: &Server, rest: &str) -> String {
    format!("{}/2010-04-01/Accounts/{ACCOUNT}{rest}", server.base)
}

fn call_is(task: String, state: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        s["tasks"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["task_sid"] == json!(task) && t["call"]["state"] == state)
        })
    }
}

/// Alice calls Bob and Bob accepts; returns the agents and both task SIDs (Alice's, Bob's).
async fn connected_call(server: &Server) -> (Agent, Agent, String, String) {
    let mut alice = server.sign_in("alice").await;
    let mut bob = server.sign_in("bob").await;
    let t1 = alice
        .call_agent(&bob.sid, "Bob Brown", "Alice Anders")
        .await
        .unwrap();
    bob.wait_for("Alice's call ringing", |s| {
        s["tasks"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["reservation_status"] == "pending" && t["attributes"]["name"] == "Alice Anders"
            })
        })
    })
    .await;
    let offer = bob.task_where(|a| a["name"] == "Alice Anders").unwrap();
    let t2 = offer["task_sid"].as_str().unwrap().to_owned();
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
    (alice, bob, t1, t2)
}

/// The one live conference named `name`, from the list filtered by FriendlyName.
async fn conference_named(server: &Server, name: &str) -> Value {
    let list = server
        .get(&account_url(
            server,
            &format!("/Conferences.json?FriendlyName={name}&Status=in-progress"),
        ))
        .await;
    let confs = list["conferences"].as_array().unwrap();
    assert_eq!(confs.len(), 1, "{list:#}");
    confs[0].clone()
}

async fn participants(server: &Server, conference: &str, query: &str) -> Vec<Value> {
    let list = server
        .get(&account_url(
            server,
            &format!("/Conferences/{conference}/Participants.json{query}"),
        ))
        .await;
    list["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("{list:#}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_conferences_and_participants_of_a_live_call() {
    let server = Server::start().await;
    let (mut alice, mut bob, t1, t2) = connected_call(&server).await;

    // Each task has its conference, with two participants.
    let conf = conference_named(&server, &t2).await;
    let cf = conf["sid"].as_str().unwrap().to_owned();
    assert!(cf.starts_with("CF"), "{conf:#}");
    assert_eq!(conf["status"], "in-progress");
    assert_eq!(conf["account_sid"], ACCOUNT);
    assert_eq!(conf["region"], "us1");
    assert_eq!(
        conf["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{cf}.json")
    );
    assert_eq!(
        conf["subresource_uris"]["participants"],
        format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{cf}/Participants.json")
    );
    assert!(conf["date_created"].as_str().unwrap().ends_with("+0000"));
    let fetched = server
        .get(&account_url(&server, &format!("/Conferences/{cf}.json")))
        .await;
    assert_eq!(fetched["sid"], json!(cf));
    let first = conference_named(&server, &t1).await;
    assert_eq!(
        participants(&server, first["sid"].as_str().unwrap(), "")
            .await
            .len(),
        2
    );

    let ps = participants(&server, &cf, "").await;
    assert_eq!(ps.len(), 2, "{ps:#?}");
    for p in &ps {
        assert_eq!(p["conference_sid"], json!(cf));
        assert_eq!(p["status"], "connected");
        assert_eq!(p["hold"], false);
        assert_eq!(p["coaching"], false);
    }
    let held = ps[0]["call_sid"].as_str().unwrap().to_owned();

    // Hold one participant.
    let (status, p) = server
        .post(
            &account_url(
                &server,
                &format!("/Conferences/{cf}/Participants/{held}.json"),
            ),
            &[("Hold", "true"), ("HoldUrl", "https://example.com/music")],
        )
        .await;
    assert_eq!(status, 200, "{p:#}");
    assert_eq!(p["hold"], true);
    assert_eq!(p["call_sid"], json!(held));
    let fetched = server
        .get(&account_url(
            &server,
            &format!("/Conferences/{cf}/Participants/{held}.json"),
        ))
        .await;
    assert_eq!(fetched["hold"], true);
    let on_hold = participants(&server, &cf, "?Hold=true").await;
    assert_eq!(on_hold.len(), 1);
    assert_eq!(on_hold[0]["call_sid"], json!(held));
    assert_eq!(participants(&server, &cf, "?Hold=false").await.len(), 1);
    let (status, p) = server
        .post(
            &account_url(
                &server,
                &format!("/Conferences/{cf}/Participants/{held}.json"),
            ),
            &[("Hold", "false"), ("Muted", "true")],
        )
        .await;
    assert_eq!(status, 200, "{p:#}");
    assert_eq!(
        (p["hold"].clone(), p["muted"].clone()),
        (json!(false), json!(true))
    );
    let (status, err) = server
        .post(
            &account_url(
                &server,
                &format!("/Conferences/{cf}/Participants/{held}.json"),
            ),
            &[("Hold", "maybe")],
        )
        .await;
    assert_eq!((status, err["code"].clone()), (400, json!(20001)));

    // The call legs are listed in progress.
    let live = server
        .get(&account_url(&server, "/Calls.json?Status=in-progress"))
        .await;
    let calls = live["calls"].as_array().unwrap();
    assert!(calls.len() >= 2, "{live:#}");
    let sids: Vec<&str> = calls.iter().filter_map(|c| c["sid"].as_str()).collect();
    for p in &ps {
        assert!(sids.contains(&p["call_sid"].as_str().unwrap()), "{live:#}");
    }
    for c in calls {
        assert_eq!(c["status"], "in-progress");
        assert!(c["start_time"].is_string());
        assert!(c["duration"].is_null());
        assert_eq!(c["api_version"], "2010-04-01");
    }
    assert!(live["next_page_uri"].is_null());

    // Hanging up Bob's leg through the API ends the call on both desktops.
    let bob_leg = calls
        .iter()
        .find(|c| c["to"] == "client:bob" || c["from"] == "client:bob")
        .map(|c| c["sid"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| held.clone());
    let (status, c) = server
        .post(
            &account_url(&server, &format!("/Calls/{bob_leg}.json")),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(status, 200, "{c:#}");
    assert_eq!(c["status"], "completed");
    assert!(c["end_time"].is_string());
    assert!(c["duration"].is_string());
    bob.wait_for("ended", call_is(t2.clone(), "ended")).await;
    alice.wait_for("ended", call_is(t1.clone(), "ended")).await;
    let fetched = server
        .get(&account_url(&server, &format!("/Calls/{bob_leg}.json")))
        .await;
    assert_eq!(fetched["status"], "completed");

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_conference_through_the_api() {
    let server = Server::start().await;
    let (mut alice, mut bob, t1, t2) = connected_call(&server).await;
    let conf = conference_named(&server, &t2).await;
    let cf = conf["sid"].as_str().unwrap().to_owned();

    let (status, ended) = server
        .post(
            &account_url(&server, &format!("/Conferences/{cf}.json")),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(status, 200, "{ended:#}");
    assert_eq!(ended["status"], "completed");
    assert_eq!(ended["reason_conference_ended"], "conference-ended-via-api");
    let listed = server
        .get(&account_url(
            &server,
            &format!("/Conferences.json?FriendlyName={t2}&Status=completed"),
        ))
        .await;
    assert_eq!(
        listed["conferences"].as_array().unwrap().len(),
        1,
        "{listed:#}"
    );
    assert!(participants(&server, &cf, "").await.is_empty());

    bob.wait_for("ended", call_is(t2, "ended")).await;
    alice.wait_for("ended", call_is(t1, "ended")).await;
    server.stop().await;
}

async fn delete(url: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .delete(url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// The call ringing this agent's desktop directly (not through a task), once it shows.
async fn incoming(agent: &mut Agent, call: &str) {
    let call = call.to_owned();
    agent
        .wait_for("the incoming call", move |s| {
            s["incoming_calls"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["call_sid"] == json!(call)))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_participants_created_through_the_api_ring_desktops() {
    let server = Server::start().await;
    let mut bob = server.sign_in("bob").await;
    let mut alice = server.sign_in("alice").await;

    // A call to Bob's browser that joins him to conference "huddle" once he answers.
    let (status, call) = server
        .post(
            &account_url(&server, "/Calls.json"),
            &[
                ("To", "client:bob"),
                ("From", "client:api"),
                (
                    "Twiml",
                    "<Response><Dial><Conference>huddle</Conference></Dial></Response>",
                ),
                ("Timeout", "30"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{call:#}");
    assert_eq!(call["status"], "ringing");
    assert_eq!(call["direction"], "outbound-api");
    assert_eq!(call["to"], "client:bob");
    assert_eq!(call["from"], "client:api");
    let bob_call = call["sid"].as_str().unwrap().to_owned();
    incoming(&mut bob, &bob_call).await;
    bob.act("answer_call", json!({ "call_sid": bob_call }))
        .await
        .unwrap();
    let conf = conference_named(&server, "huddle").await;
    let cf = conf["sid"].as_str().unwrap().to_owned();
    let ps = participants(&server, &cf, "").await;
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert_eq!(ps[0]["call_sid"], json!(bob_call));
    assert_eq!(ps[0]["status"], "connected");

    // Alice is added as a muted participant; she rings until she answers.
    let (status, p) = server
        .post(
            &account_url(&server, &format!("/Conferences/{cf}/Participants.json")),
            &[
                ("To", "client:alice"),
                ("From", "client:api"),
                ("Label", "alice"),
                ("Muted", "true"),
                ("Beep", "onEnter"),
                ("EarlyMedia", "false"),
                ("EndConferenceOnExit", "false"),
                ("Record", "false"),
                ("StatusCallback", "http://127.0.0.1:9/status"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{p:#}");
    assert_eq!(p["label"], "alice");
    assert_eq!(p["muted"], true);
    assert_eq!(p["status"], "ringing");
    assert_eq!(p["conference_sid"], json!(cf));
    let alice_call = p["call_sid"].as_str().unwrap().to_owned();
    assert_eq!(
        p["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{cf}/Participants/{alice_call}.json")
    );
    // A label is unique in its conference.
    let (status, err) = server
        .post(
            &account_url(&server, &format!("/Conferences/{cf}/Participants.json")),
            &[("To", "client:carol"), ("From", "x"), ("Label", "alice")],
        )
        .await;
    assert_eq!(
        (status, err["code"].clone()),
        (400, json!(20001)),
        "{err:#}"
    );
    assert!(err["message"].as_str().unwrap().contains("Label"));
    incoming(&mut alice, &alice_call).await;
    alice
        .act("answer_call", json!({ "call_sid": alice_call }))
        .await
        .unwrap();
    let fetched = server
        .get(&account_url(
            &server,
            &format!("/Conferences/{cf}/Participants/alice.json"),
        ))
        .await;
    assert_eq!(fetched["status"], "connected", "{fetched:#}");

    // Alice coaches Bob, then stops; announcements are refused by name.
    let url = account_url(
        &server,
        &format!("/Conferences/{cf}/Participants/{alice_call}.json"),
    );
    let (status, p) = server
        .post(
            &url,
            &[
                ("Coaching", "true"),
                ("CallSidToCoach", bob_call.as_str()),
                ("Muted", "false"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{p:#}");
    assert_eq!(p["coaching"], true);
    assert_eq!(p["call_sid_to_coach"], json!(bob_call));
    assert_eq!(p["muted"], false);
    assert_eq!(participants(&server, &cf, "?Coaching=true").await.len(), 1);
    let (status, err) = server
        .post(
            &url,
            &[
                ("Coaching", "true"),
                ("CallSidToCoach", alice_call.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 400, "{err:#}");
    assert!(err["message"].as_str().unwrap().contains("CallSidToCoach"));
    let (status, p) = server
        .post(
            &url,
            &[("Coaching", "false"), ("EndConferenceOnExit", "true")],
        )
        .await;
    assert_eq!(status, 200, "{p:#}");
    assert_eq!(
        (p["coaching"].clone(), p["end_conference_on_exit"].clone()),
        (json!(false), json!(true))
    );
    let (status, err) = server
        .post(&url, &[("AnnounceUrl", "https://example.com/announce")])
        .await;
    assert_eq!(status, 400, "{err:#}");
    assert!(err["message"].as_str().unwrap().contains("AnnounceUrl"));

    // A live call cannot be deleted.
    let call_url = account_url(&server, &format!("/Calls/{bob_call}.json"));
    let (status, err) = delete(&call_url).await;
    assert_eq!(
        (status, err["code"].clone()),
        (400, json!(21220)),
        "{err:#}"
    );

    // Redirecting Bob's call takes him out of the conference; his TwiML hangs up.
    let (status, c) = server
        .post(&call_url, &[("Twiml", "<Response><Hangup/></Response>")])
        .await;
    assert_eq!(status, 200, "{c:#}");
    assert_eq!(c["status"], "completed");
    let (status, err) = server
        .post(&call_url, &[("Url", "https://example.com/next")])
        .await;
    assert_eq!(
        (status, err["code"].clone()),
        (400, json!(21220)),
        "{err:#}"
    );
    // Alice's leg ends with the conference she now ends on exit... once she leaves.
    let (status, c) = server
        .post(
            &account_url(&server, &format!("/Calls/{alice_call}.json")),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!((status, c["status"].clone()), (200, json!("completed")));

    // The ended calls' records can be deleted.
    let (status, _) = delete(&call_url).await;
    assert_eq!(status, 204);
    let (status, err) = delete(&call_url).await;
    assert_eq!((status, err["code"].clone()), (404, json!(20404)));
    let gone = server.get(&call_url).await;
    assert_eq!(gone["status"], 404);
    server.stop().await;
}

/// A refused create: its form, the status, Twilio's code, and what the message names.
type Case = (Vec<(&'static str, &'static str)>, u16, u32, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_calls_and_participants_checks_every_parameter() {
    let server = Server::start().await;
    let calls = account_url(&server, "/Calls.json");
    let twiml = ("Twiml", "<Response><Hangup/></Response>");
    let cases: Vec<Case> = vec![
        (vec![("From", "a"), twiml], 400, 21201, "To"),
        (vec![("To", "client:bob"), twiml], 400, 21213, "From"),
        (
            vec![("To", "+15005550006"), ("From", "a"), twiml],
            400,
            21214,
            "trunk",
        ),
        (
            vec![("To", "sip:bob@example.com"), ("From", "a"), twiml],
            400,
            21214,
            "trunk",
        ),
        (
            vec![("To", "client:"), ("From", "a"), twiml],
            400,
            21211,
            "To",
        ),
        (
            vec![("To", "app:APnope"), ("From", "a"), twiml],
            400,
            21211,
            "To",
        ),
        (vec![("To", "client:bob"), ("From", "a")], 400, 21205, "Url"),
        (
            vec![("To", "client:bob"), ("From", "a"), ("Url", "nope")],
            400,
            21205,
            "Url",
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                ("ApplicationSid", "AP1"),
            ],
            400,
            21218,
            "ApplicationSid",
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                ("ApplicationSid", "AP0123456789abcdef0123456789abcdef"),
            ],
            400,
            21218,
            "ApplicationSid",
        ),
        (
            vec![("To", "client:bob"), ("From", "a"), ("Twiml", "<Nope/>")],
            400,
            12100,
            "Twiml",
        ),
        (
            vec![("To", "client:bob"), ("From", "a"), twiml, ("Timeout", "0")],
            400,
            20001,
            "Timeout",
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                twiml,
                ("Method", "PUT"),
            ],
            400,
            20001,
            "Method",
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                twiml,
                ("Record", "maybe"),
            ],
            400,
            20001,
            "Record",
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                twiml,
                ("StatusCallback", "https://example.com/s"),
                ("StatusCallbackEvent", "exploded"),
            ],
            400,
            20001,
            "StatusCallbackEvent",
        ),
        (
            vec![
                (
                    "To",
                    format!("app:{}", "AP0123456789abcdef0123456789abcdef").leak(),
                ),
                ("From", "a"),
                twiml,
            ],
            400,
            20001,
            "To",
        ),
    ];
    for (form, status, code, names) in &cases {
        let (s, body) = server.post(&calls, form).await;
        assert_eq!(
            (s, body["code"].clone()),
            (*status, json!(code)),
            "{form:?}: {body:#}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(names),
            "{form:?}: {body:#}"
        );
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
    }
    assert!(server.get(&calls).await["calls"]
        .as_array()
        .unwrap()
        .is_empty());

    // Participants: an unknown conference SID is a 404; the same checks on To and From.
    let cf = "CF00000000000000000000000000000000";
    let (s, body) = server
        .post(
            &account_url(&server, &format!("/Conferences/{cf}/Participants.json")),
            &[("To", "client:bob"), ("From", "a")],
        )
        .await;
    assert_eq!((s, body["code"].clone()), (404, json!(20404)), "{body:#}");
    let by_name = account_url(&server, "/Conferences/standup/Participants.json");
    for (form, code) in [
        (vec![("From", "a")], 21201),
        (vec![("To", "client:bob")], 21213),
        (vec![("To", "+15005550006"), ("From", "a")], 21214),
        (
            vec![("To", "client:bob"), ("From", "a"), ("Coaching", "true")],
            20001,
        ),
        (
            vec![("To", "client:bob"), ("From", "a"), ("Beep", "loud")],
            20001,
        ),
        (
            vec![
                ("To", "client:bob"),
                ("From", "a"),
                ("CallSidToCoach", "CA1"),
            ],
            20001,
        ),
    ] {
        let (s, body) = server.post(&by_name, &form).await;
        assert_eq!(
            (s, body["code"].clone()),
            (400, json!(code)),
            "{form:?}: {body:#}"
        );
    }
    // By friendly name, a conference is made for the new participant.
    let (s, p) = server
        .post(
            &by_name,
            &[
                ("To", "client:bob"),
                ("From", "client:api"),
                ("Hold", "true"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{p:#}");
    assert_eq!(p["hold"], true);
    assert_eq!(p["status"], "ringing");
    let conf = conference_named(&server, "standup").await;
    assert_eq!(p["conference_sid"], conf["sid"]);
    server.stop().await;
}
