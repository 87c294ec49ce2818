//! Restarting on the same database rebuilds exactly the state that was acknowledged: every
//! resource renders the same, and deadlines still fire at their original times.

use std::time::Duration;

use serde_json::Value;
use switchboard_server::{demo, prepare, Config};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "secret-token";

fn config(db: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{db}"),
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
    core: switchboard_server::driver::CoreHandle,
}

async fn start(db: &str) -> Running {
    let prepared = prepare(config(db)).await.unwrap();
    let (workspace, created) = demo::seed(&prepared.core).await.unwrap();
    if created {
        // Demo agents start Offline; these tests route to them without desktops.
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
    let core = prepared.core.clone();
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
        core,
    }
}

async fn call(method: reqwest::Method, url: &str, form: &[(&str, &str)]) -> Value {
    let client = reqwest::Client::new();
    let r = client
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

/// Every resource of the workspace, as the API renders it, minus fields that move with the clock.
async fn snapshot(base: &str, ws: &str) -> Value {
    let w = format!("{base}/v1/Workspaces/{ws}");
    let mut out = serde_json::Map::new();
    for (path, key) in [
        ("", ""),
        ("/Activities", "activities"),
        ("/TaskChannels", "channels"),
        ("/Workers", "workers"),
        ("/TaskQueues", "task_queues"),
        ("/Workflows", "workflows"),
        ("/Tasks", "tasks"),
    ] {
        let mut v = get(&format!("{w}{path}?PageSize=1000")).await;
        if !key.is_empty() {
            v = v[key].take();
        }
        strip_age(&mut v);
        out.insert(path.to_owned(), v);
    }
    let tasks: Vec<String> = out["/Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sid"].as_str().unwrap().to_owned())
        .collect();
    for t in tasks {
        let r = get(&format!("{w}/Tasks/{t}/Reservations")).await;
        out.insert(format!("reservations of {t}"), r["reservations"].clone());
    }
    out.insert(
        "config".into(),
        get(&format!("{base}/v1/Configuration")).await,
    );
    Value::Object(out)
}

fn strip_age(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("age");
            m.values_mut().for_each(strip_age);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_age),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebuilds_the_same_state_and_keeps_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();

    let s = start(db).await;
    let w = format!("{}/v1/Workspaces/{}", s.base, s.workspace);
    let workflows = get(&format!("{w}/Workflows?FriendlyName=Internal%20Call")).await;
    let wf = workflows["workflows"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let workers = get(&format!("{w}/Workers?PageSize=50")).await;
    let sid_of = |name: &str| {
        workers["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["friendly_name"] == name)
            .unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // A queue call accepted and completed, one rejected and re-offered, one left pending with
    // its 30 s reservation deadline running, and an agent on a break.
    for (i, attrs) in [
        r#"{"callToQueue":"Sales","name":"Bob Brown"}"#,
        r#"{"callToQueue":"Support","name":"Alice Anders"}"#,
        &format!(
            r#"{{"worker_sid":"{}","name":"Eva Estrada"}}"#,
            sid_of("dmitri")
        ),
    ]
    .iter()
    .enumerate()
    {
        let t = post(
            &format!("{w}/Tasks"),
            &[
                ("WorkflowSid", &wf),
                ("TaskChannel", "voice"),
                ("Attributes", attrs),
            ],
        )
        .await;
        let tsid = t["sid"].as_str().unwrap().to_owned();
        let rs = get(&format!("{w}/Tasks/{tsid}/Reservations")).await;
        let r = rs["reservations"][0]["sid"].as_str().unwrap().to_owned();
        match i {
            0 => {
                post(
                    &format!("{w}/Tasks/{tsid}/Reservations/{r}"),
                    &[("ReservationStatus", "accepted")],
                )
                .await;
                post(
                    &format!("{w}/Tasks/{tsid}"),
                    &[("AssignmentStatus", "completed"), ("Reason", "done")],
                )
                .await;
            }
            1 => {
                post(
                    &format!("{w}/Tasks/{tsid}/Reservations/{r}"),
                    &[("ReservationStatus", "rejected")],
                )
                .await;
            }
            _ => {}
        }
    }
    let activities = get(&format!("{w}/Activities?FriendlyName=Break")).await;
    let break_sid = activities["activities"][0]["sid"].as_str().unwrap();
    post(
        &format!("{w}/Workers/{}", sid_of("zoe")),
        &[("ActivitySid", break_sid)],
    )
    .await;

    let before = snapshot(&s.base, &s.workspace).await;
    let pending_before: Vec<Value> = before["/Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["assignment_status"] == "reserved")
        .cloned()
        .collect();
    assert!(
        !pending_before.is_empty(),
        "the scenario leaves a reserved task"
    );
    let deadline_before = s
        .core
        .run(|c| c.center().model().next_deadline().map(|(t, _)| t))
        .await
        .unwrap();
    assert!(deadline_before.is_some());
    drop(s.core);
    let _ = s.stop.send(());
    s.done.await.unwrap();

    let s = start(db).await;
    assert_eq!(
        s.workspace,
        before[""]["sid"].as_str().unwrap(),
        "the demo is not seeded twice"
    );
    let after = snapshot(&s.base, &s.workspace).await;
    assert_eq!(before, after);
    // The reservation's deadline is the same instant, not restarted from the restart.
    assert_eq!(
        s.core
            .run(|c| c.center().model().next_deadline().map(|(t, _)| t))
            .await
            .unwrap(),
        deadline_before
    );
    drop(s.core);
    let _ = s.stop.send(());
    s.done.await.unwrap();
}
