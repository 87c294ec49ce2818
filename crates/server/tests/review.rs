//! Robustness: each test pins down a defect an audit found (and that is now fixed).

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_server::{demo, prepare, Config};
use tokio_tungstenite::tungstenite::Message;

const ACCOUNT: &str = support::ACCOUNT;
const TOKEN: &str = support::TOKEN;

fn config(db: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{db}"),
        public_url: None,
        account_sid: Some(ACCOUNT.into()),
        auth_token: Some(TOKEN.into()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(2),
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
    workspace: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(db: &str) -> Result<Running, String> {
    let prepared = prepare(config(db)).await.map_err(|e| e.to_string())?;
    let (workspace, created) = demo::seed(&prepared.core).await.map_err(|e| e.message)?;
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
            .map_err(|e| e.message)?;
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
    Ok(Running {
        base,
        workspace: workspace.to_string(),
        stop,
        done,
    })
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.done).await;
    }
    fn ws_url(&self, rest: &str) -> String {
        format!("{}/v1/Workspaces/{}{rest}", self.base, self.workspace)
    }
}

async fn get(url: &str) -> Value {
    let r = reqwest::Client::new()
        .get(url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null)
}

async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// A Flex Configuration value nested as deep as serde_json accepts in the request is
/// acknowledged and logged one level deeper (inside the log entry), so the log can no longer be
/// read back: the server refuses to start ("recursion limit exceeded").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_nested_configuration_does_not_break_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db").display().to_string();
    let s = start(&db).await.unwrap();
    // {"x": [[[ ... ]]]}: 1 object + 126 arrays = 127 levels, the most serde_json reads.
    let body = format!("{{\"x\": {}{}}}", "[".repeat(126), "]".repeat(126));
    let r = reqwest::Client::new()
        .post(format!("{}/v1/Configuration", s.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let accepted = r.status().is_success();
    s.stop().await;
    let restarted = start(&db).await;
    // Either the request is refused with a clear error, or the server still starts.
    assert!(
        !accepted || restarted.is_ok(),
        "an acknowledged configuration made the log unreadable: {:?}",
        restarted.err()
    );
    if let Ok(s) = restarted {
        s.stop().await;
    }
}

/// After a restart the tasks of calls that no longer exist are ended; which tasks those are is
/// recorded by the call path that made them, never guessed from attributes: an ordinary task
/// with a `call_sid` attribute (as a TaskRouter client may write) is left alone. (The call path's
/// own tasks ending at restart is shown by `internal_call::a_restart_ends_the_tasks_of_calls`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_ordinary_tasks_with_call_attributes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db").display().to_string();
    let s = start(&db).await.unwrap();
    let wfs = get(&s.ws_url("/Workflows")).await;
    let workflow = wfs["workflows"][0]["sid"].as_str().unwrap().to_owned();
    let attrs = json!({"call_sid": "CA0123456789abcdef0123456789abcdef", "callToQueue": "Sales"})
        .to_string();
    let (status, task) = post(
        &s.ws_url("/Tasks"),
        &[
            ("WorkflowSid", workflow.as_str()),
            ("Attributes", attrs.as_str()),
            ("TaskChannel", "voice"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let sid = task["sid"].as_str().unwrap().to_owned();
    s.stop().await;
    let s = start(&db).await.unwrap();
    let t = get(&s.ws_url(&format!("/Tasks/{sid}"))).await;
    let status = t["assignment_status"].as_str().unwrap_or("").to_owned();
    s.stop().await;
    assert!(
        matches!(status.as_str(), "pending" | "reserved"),
        "an ordinary task was ended as if it were a call's: {status:?}"
    );
}

async fn demo_token(base: &str, worker: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/demo/sign-in"))
        .form(&[("WorkerSid", worker)])
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// The desktop WebSocket takes messages of up to 64 MiB (tungstenite's default), 32 times the
/// REST body limit; every one is parsed and carried out. Desktop messages are a few hundred
/// bytes; a large one should be refused (connection closed with 1009, or an error reply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_desktop_messages_are_size_limited() {
    let server = support::Server::start().await;
    let worker = server.worker("alice").await;
    let token = demo_token(&server.base, &worker).await;
    let url = format!(
        "{}/v1/Desktop?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let big = "a".repeat(8 * 1024 * 1024);
    let msg = json!({"type": "directory_agents", "id": 1, "query": big}).to_string();
    let _ = socket.send(Message::Text(msg.into())).await;
    let mut answered_ok = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if v["type"] == "result" {
                    answered_ok = v["ok"] == json!(true);
                    break;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    server.stop().await;
    assert!(
        !answered_ok,
        "an 8 MiB desktop message was accepted and carried out"
    );
}

/// A desktop token outlives its worker: after the worker is deleted the WebSocket still opens
/// (and the session is registered on the core). The token check should also require that the
/// workspace and worker exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_token_of_deleted_worker_is_refused() {
    let server = support::Server::start().await;
    let worker = server.worker("alice").await;
    let token = demo_token(&server.base, &worker).await;
    let r = reqwest::Client::new()
        .delete(server.ws_url(&format!("/Workers/{worker}")))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
    let url = format!(
        "{}/v1/Desktop?token={token}",
        server.base.replace("http://", "ws://")
    );
    let connected = tokio_tungstenite::connect_async(url).await.is_ok();
    server.stop().await;
    assert!(
        !connected,
        "a token for a deleted worker still opens a desktop session"
    );
}
