//! The real server on PostgreSQL: tasks created over REST are still there, the same, after a
//! restart on the same database, and so are the finished ones and the events (read beside the
//! writer); and when its writer connection breaks, the server refuses changes for a moment and
//! then accepts them again by itself, with nothing acknowledged lost. Each run uses a scratch schema on the server `SWITCHBOARD_TEST_POSTGRES` names
//! (default `postgres://postgres@127.0.0.1:5432/test`); without that server the test fails.

use std::time::Duration;

use serde_json::Value;
use switchboard_server::{demo, prepare, Config};
use switchboard_store::ScratchSchema;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "secret-token";

fn config(database: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: database.to_owned(),
        public_url: Some("http://switchboard.test".into()),
        account_sid: Some(ACCOUNT.into()),
        auth_token: Some(TOKEN.into()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(5),
        internal_call_workflow_sid: None,
        demo: true,
        queue_call_timeout: Duration::from_secs(120),
        limits: switchboard_server::Limits::default(),
        clock: Default::default(),
        media: None,
    }
}

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
    workspace: String,
    seeded: bool,
}

async fn start(database: &str) -> Running {
    start_with(config(database)).await
}

async fn start_with(config: Config) -> Running {
    let prepared = prepare(config).await.unwrap();
    let (workspace, created) = demo::seed(&prepared.core).await.unwrap();
    if created {
        // Demo agents start Offline; this test routes to them without desktops.
        let ws = workspace;
        prepared
            .core
            .run(move |d| {
                let entries = switchboard_center::demo::everyone_available(d.center().model(), ws);
                d.execute_many(entries)
            })
            .await
            .and_then(|r| r)
            .map_err(|e| e.message)
            .expect("available");
    }
    let base = format!("http://{}", prepared.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        prepared
            .serve(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        base,
        stop,
        done,
        workspace: workspace.to_string(),
        seeded: created,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

async fn call(method: reqwest::Method, url: &str, form: &[(&str, &str)]) -> Value {
    let (status, body) = status_of(method, url, form).await;
    assert!((200..300).contains(&status), "{url}: {status} {body}");
    body
}

async fn get(url: &str) -> Value {
    call(reqwest::Method::GET, url, &[]).await
}

async fn post(url: &str, form: &[(&str, &str)]) -> Value {
    call(reqwest::Method::POST, url, form).await
}

/// A task as rendered, minus the field that moves with the clock.
async fn task(w: &str, sid: &str) -> Value {
    let mut t = get(&format!("{w}/Tasks/{sid}")).await;
    if let Some(m) = t.as_object_mut() {
        m.remove("age");
    }
    t
}

async fn event_types(w: &str, task: &str) -> Vec<String> {
    let v = get(&format!("{w}/Events?TaskSid={task}&PageSize=100")).await;
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_a_restart_on_postgres() {
    let schema = ScratchSchema::for_tests().unwrap_or_else(|e| panic!("{e}"));
    let s = start(schema.url()).await;
    assert!(s.seeded, "a fresh schema gets the demo");
    let w = format!("{}/v1/Workspaces/{}", s.base, s.workspace);
    let workflows = get(&format!("{w}/Workflows?FriendlyName=Internal%20Call")).await;
    let wf = workflows["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = |attrs: &'static str| {
        let (w, wf) = (w.clone(), wf.clone());
        async move {
            let t = post(
                &format!("{w}/Tasks"),
                &[
                    ("WorkflowSid", &wf),
                    ("TaskChannel", "voice"),
                    ("Attributes", attrs),
                ],
            )
            .await;
            t["sid"].as_str().unwrap().to_owned()
        }
    };
    // One task accepted and completed (it leaves the engine for the store), one left reserved.
    let done = create(r#"{"callToQueue":"Sales","name":"Bob Brown"}"#).await;
    let rs = get(&format!("{w}/Tasks/{done}/Reservations")).await;
    let r = rs["reservations"][0]["sid"].as_str().unwrap().to_owned();
    post(
        &format!("{w}/Tasks/{done}/Reservations/{r}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    post(
        &format!("{w}/Tasks/{done}"),
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;
    let open = create(r#"{"callToQueue":"Support","name":"Alice Anders"}"#).await;

    let done_before = task(&w, &done).await;
    let open_before = task(&w, &open).await;
    assert_eq!(done_before["assignment_status"], "completed");
    assert_eq!(open_before["assignment_status"], "reserved");
    let events_before = event_types(&w, &done).await;
    assert!(
        events_before.contains(&"task.completed".to_owned()),
        "{events_before:?}"
    );
    s.stop().await;

    let s = start(schema.url()).await;
    assert!(!s.seeded, "the demo is not seeded twice");
    let w = format!("{}/v1/Workspaces/{}", s.base, s.workspace);
    assert_eq!(task(&w, &open).await, open_before);
    assert_eq!(task(&w, &done).await, done_before);
    assert_eq!(event_types(&w, &done).await, events_before);
    // The restarted server goes on writing.
    post(
        &format!("{w}/Tasks/{open}"),
        &[("AssignmentStatus", "canceled"), ("Reason", "test over")],
    )
    .await;
    assert_eq!(task(&w, &open).await["assignment_status"], "canceled");
    s.stop().await;
}

async fn status_of(method: reqwest::Method, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_writer_connection_recovers_by_itself() {
    let schema = ScratchSchema::for_tests().unwrap_or_else(|e| panic!("{e}"));
    // The server's connections carry a name of their own, to find them among other tests'.
    let app = schema.name().replace("sb_test", "sb_recovery");
    let url = format!("{}&application_name={app}", schema.url());
    let mut c = config(&url);
    c.limits.recovery = Some(Duration::from_millis(50));
    let s = start_with(c).await;
    let w = format!("{}/v1/Workspaces/{}", s.base, s.workspace);
    let workflows = get(&format!("{w}/Workflows?FriendlyName=Internal%20Call")).await;
    let wf = workflows["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("WorkflowSid", wf.as_str()),
        (
            "Attributes",
            r#"{"callToQueue":"Support","name":"Recovery test"}"#,
        ),
    ];
    let before = post(&format!("{w}/Tasks"), &form).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // PostgreSQL ends every connection of the server (as a restart of PostgreSQL would).
    schema
        .execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .unwrap();
    // The change that meets the broken writer is not stored; within a few tries the server
    // takes changes again, on a new connection.
    let (status, body) = status_of(reqwest::Method::POST, &format!("{w}/Tasks"), &form).await;
    assert_eq!(status, 500, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let after = loop {
        let (status, body) = status_of(reqwest::Method::POST, &format!("{w}/Tasks"), &form).await;
        if status == 201 {
            break body["sid"].as_str().unwrap().to_owned();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("tries again by itself"),
            "{body}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "changes still refused: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(task(&w, &before).await["sid"], before.as_str());
    assert_eq!(task(&w, &after).await["sid"], after.as_str());
    s.stop().await;
    // And both are in the database.
    let s = start(schema.url()).await;
    let w = format!("{}/v1/Workspaces/{}", s.base, s.workspace);
    assert_eq!(task(&w, &before).await["sid"], before.as_str());
    assert_eq!(task(&w, &after).await["sid"], after.as_str());
    s.stop().await;
}
