//! The real server on PostgreSQL: tasks created over REST are still there, the same, after a
//! restart on the same database, and so are the finished ones and the events (read beside the
//! writer). Each run uses a scratch schema on the server `SWITCHBOARD_TEST_POSTGRES` names
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
    let prepared = prepare(config(database)).await.unwrap();
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
    let r = reqwest::Client::new()
        .request(method, url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
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
