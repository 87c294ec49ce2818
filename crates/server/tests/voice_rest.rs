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
