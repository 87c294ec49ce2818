//! Retention: events and finished tasks older than the window are deleted in the background,
//! by the server's clock, while new ones stay and changes go on.

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::*;
use switchboard_server::driver::Clock;
use switchboard_server::Limits;

const HOUR_MS: i64 = 3_600_000;

/// The SIDs of the workspace's events of the last 10 hours.
async fn event_sids(server: &Server, task: &str) -> Vec<String> {
    let v = server
        .get(&server.ws_url(&format!("/Events?Minutes=600&TaskSid={task}&PageSize=1000")))
        .await;
    v["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["sid"].as_str().unwrap().to_owned())
        .collect()
}

/// A task created and canceled: a few events and one finished task.
async fn task_with_history(server: &Server) -> String {
    let workflow = server
        .get(&server.ws_url("/Workflows?FriendlyName=Assign%20to%20Anyone"))
        .await["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, task) = server
        .post(
            &server.ws_url("/Tasks"),
            &[("WorkflowSid", &workflow), ("Attributes", "{}")],
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let sid = task["sid"].as_str().unwrap().to_owned();
    let (status, v) = server
        .post(
            &server.ws_url(&format!("/Tasks/{sid}")),
            &[("AssignmentStatus", "canceled")],
        )
        .await;
    assert_eq!(status, 200, "{v}");
    sid
}

async fn status_of(url: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_finished_tasks_older_than_the_window_are_pruned_in_the_background() {
    // A clock the test moves; a window of one hour.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ms = Arc::new(AtomicI64::new(start));
    let read = ms.clone();
    let clock = Clock::from_fn(move || read.load(Ordering::SeqCst));
    let limits = Limits {
        retention: Some(Duration::from_secs(3600)),
        ..Limits::default()
    };
    let server = Server::start_in(tempfile::tempdir().unwrap(), limits, clock).await;

    let old = task_with_history(&server).await;
    let old_events = event_sids(&server, &old).await;
    assert!(old_events.len() >= 2, "{old_events:?}");
    assert_eq!(server.task(&old).await["assignment_status"], "canceled");

    // Two hours later, a new task; the old one is past the window.
    ms.fetch_add(2 * HOUR_MS, Ordering::SeqCst);
    let new = task_with_history(&server).await;
    let new_events = event_sids(&server, &new).await;
    assert!(!new_events.is_empty());

    // The driver prunes between jobs once the clock says the next prune is due (at most
    // `PRUNE_INTERVAL` after the last one).
    ms.fetch_add(
        i64::try_from(switchboard_server::driver::PRUNE_INTERVAL.as_millis()).unwrap(),
        Ordering::SeqCst,
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        server.nudge().await;
        if event_sids(&server, &old).await.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old events are still listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Old events are gone from the list and one by one; the old finished task too.
    assert_eq!(
        status_of(&server.ws_url(&format!("/Events/{}", old_events[0]))).await,
        404
    );
    assert_eq!(
        status_of(&server.ws_url(&format!("/Tasks/{old}"))).await,
        404
    );
    // The new ones stay.
    assert_eq!(event_sids(&server, &new).await, new_events);
    assert_eq!(server.task(&new).await["assignment_status"], "canceled");
    assert_eq!(
        status_of(&server.ws_url(&format!("/Events/{}", new_events[0]))).await,
        200
    );
    // Changes go on.
    let later = task_with_history(&server).await;
    let v: Value = server.task(&later).await;
    assert_eq!(v["assignment_status"], "canceled");
    assert!(!event_sids(&server, &later).await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_window_nothing_is_pruned() {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ms = Arc::new(AtomicI64::new(start));
    let read = ms.clone();
    let clock = Clock::from_fn(move || read.load(Ordering::SeqCst));
    let limits = Limits {
        retention: None,
        ..Limits::default()
    };
    let server = Server::start_in(tempfile::tempdir().unwrap(), limits, clock).await;
    let old = task_with_history(&server).await;
    let events = event_sids(&server, &old).await;
    ms.fetch_add(5 * HOUR_MS, Ordering::SeqCst);
    server.nudge().await;
    server.nudge().await;
    assert_eq!(event_sids(&server, &old).await, events);
    assert_eq!(server.task(&old).await["assignment_status"], "canceled");
    server.stop().await;
}
