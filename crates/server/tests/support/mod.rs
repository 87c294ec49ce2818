//! Scripted agents for end-to-end tests: a real server on a free port with the demo workspace,
//! agents signed in over the real desktop WebSocket, and REST with the account's credentials.
#![allow(dead_code)]

pub mod process;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_server::driver::Clock;
use switchboard_server::{demo, prepare, Config, Limits};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "secret-token";

/// How long a test waits for something to happen before it fails with what it saw.
pub const WAIT: Duration = Duration::from_secs(10);

/// Seconds an internal call to a queue rings before the caller hears "no answer" (short in tests).
pub const QUEUE_TIMEOUT_SECS: u64 = 2;

pub struct Server {
    pub base: String,
    pub workspace: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    dir: Option<tempfile::TempDir>,
    /// The driver, for tests that nudge it after moving a manual clock.
    pub core: switchboard_server::driver::CoreHandle,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(Limits::default()).await
    }

    /// A server with these connection and request limits.
    pub async fn start_with(limits: Limits) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_in(dir, limits, Clock::default()).await
    }

    /// A server on the database in `dir`, with this clock.
    pub async fn start_in(dir: tempfile::TempDir, limits: Limits, clock: Clock) -> Server {
        let db = dir.path().join("s.db");
        let prepared = prepare(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: format!("sqlite://{}", db.display()),
            public_url: None,
            account_sid: Some(ACCOUNT.into()),
            auth_token: Some(TOKEN.into()),
            webhook_attempts: 1,
            webhook_backoff: Duration::from_millis(10),
            fetch_timeout: Duration::from_secs(2),
            internal_call_workflow_sid: None,
            demo: true,
            queue_call_timeout: Duration::from_secs(QUEUE_TIMEOUT_SECS),
            limits,
            clock,
            media: None,
        })
        .await
        .unwrap();
        let core = prepared.core.clone();
        let (workspace, _) = demo::seed(&prepared.core).await.unwrap();
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
        Server {
            base,
            workspace: workspace.to_string(),
            stop: Some(stop),
            done: Some(done),
            dir: Some(dir),
            core,
        }
    }

    pub fn ws_url(&self, rest: &str) -> String {
        format!("{}/v1/Workspaces/{}{rest}", self.base, self.workspace)
    }

    pub async fn get(&self, url: &str) -> Value {
        let r = reqwest::Client::new()
            .get(url)
            .basic_auth(ACCOUNT, Some(TOKEN))
            .send()
            .await
            .unwrap();
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
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

    /// The SID of the demo worker with this friendly name.
    pub async fn worker(&self, name: &str) -> String {
        let v = self
            .get(&self.ws_url(&format!("/Workers?FriendlyName={name}")))
            .await;
        v["workers"][0]["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("no worker {name}"))
            .to_owned()
    }

    pub async fn activity(&self, name: &str) -> String {
        let v = self
            .get(&self.ws_url(&format!("/Activities?FriendlyName={name}")))
            .await;
        v["activities"][0]["sid"].as_str().unwrap().to_owned()
    }

    pub async fn task(&self, sid: &str) -> Value {
        self.get(&self.ws_url(&format!("/Tasks/{sid}"))).await
    }

    pub async fn sign_in(&self, name: &str) -> Agent {
        let worker = self.worker(name).await;
        let r = reqwest::Client::new()
            .post(format!("{}/demo/sign-in", self.base))
            .form(&[("WorkerSid", worker.as_str())])
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let token = v["token"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-in failed: {v}"));
        let url = format!(
            "{}/v1/Desktop?token={token}",
            self.base.replace("http://", "ws://")
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut agent = Agent {
            name: name.to_owned(),
            sid: worker,
            socket,
            state: Value::Null,
            next_id: 0,
        };
        agent.wait_for("the first state", |_| true).await;
        agent
    }

    /// Shuts the server down and gives back its database folder (to start it again).
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let dir = self.dir.take().unwrap();
        assert!(self.stop().await, "the server did not stop");
        dir
    }

    /// A desktop access token for a demo agent, minted with the account's credentials.
    pub async fn token_for(&self, name: &str) -> String {
        let worker = self.worker(name).await;
        let (status, v) = self
            .post(
                &format!("{}/v1/AccessTokens", self.base),
                &[
                    ("WorkspaceSid", &self.workspace),
                    ("WorkerSid", &worker),
                    ("Ttl", "86400"),
                ],
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Lets the driver fire what is due by the (manual) clock.
    pub async fn nudge(&self) {
        self.core.run(|_| ()).await.unwrap();
    }

    /// Shuts the server down; whether it finished within `WAIT`.
    pub async fn stop(mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.done.take() {
            Some(d) => tokio::time::timeout(WAIT, d).await.is_ok(),
            None => true,
        }
    }
}

pub struct Agent {
    pub name: String,
    pub sid: String,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub state: Value,
    next_id: u64,
}

impl Agent {
    async fn read(&mut self) -> Option<Value> {
        match tokio::time::timeout(WAIT, self.socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "state" {
                    self.state = v.clone();
                }
                Some(v)
            }
            Ok(Some(Ok(_))) => Some(Value::Null),
            _ => None,
        }
    }

    /// Sends a raw message.
    pub async fn socket_send(&mut self, msg: Value) {
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
    }

    /// Waits until the server closes the socket.
    pub async fn closed(&mut self) {
        loop {
            match self.socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a desktop action and returns its reply (`Ok(data)` or `Err(error)`).
    pub async fn request(&mut self, mut msg: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        msg["id"] = json!(id);
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        loop {
            let v = self
                .read()
                .await
                .unwrap_or_else(|| panic!("{}: no reply to {msg}", self.name));
            if v["type"] == "result" && v["id"] == json!(id) {
                return if v["ok"] == json!(true) {
                    Ok(v["data"].clone())
                } else {
                    Err(v["error"].clone())
                };
            }
        }
    }

    /// Waits until the pushed state satisfies `check`; fails with the last state seen.
    pub async fn wait_for(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if !self.state.is_null() && check(&self.state) {
                return self.state.clone();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.read()).await {
                Ok(Some(_)) => {}
                _ => panic!(
                    "{}: timed out waiting for {what}; last state: {:#}",
                    self.name, self.state
                ),
            }
        }
    }

    /// The agent's task whose attributes satisfy `check`.
    pub fn task_where(&self, check: impl Fn(&Value) -> bool) -> Option<Value> {
        self.state["tasks"]
            .as_array()?
            .iter()
            .find(|t| check(&t["attributes"]))
            .cloned()
    }

    pub fn config(&self, key: &str) -> String {
        self.state["internal_call"][key]
            .as_str()
            .unwrap_or_else(|| panic!("internal_call.{key} missing"))
            .to_owned()
    }

    /// Calls another agent the way the dialpad does.
    pub async fn call_agent(
        &mut self,
        callee_sid: &str,
        callee_name: &str,
        from: &str,
    ) -> Result<String, Value> {
        let app = self.config("application_sid");
        let conversation = format!("conv-{}-{}", self.name, self.next_id);
        let destination = switchboard_voice::app_address(
            app.parse().unwrap(),
            &[
                ("worker_sid", callee_sid),
                ("from", from),
                ("conversation_id", &conversation),
            ],
        );
        self.start_call(&destination, callee_name, &conversation)
            .await
    }

    /// Calls a queue the way the dialpad does.
    pub async fn call_queue(&mut self, queue: &str, from: &str) -> Result<String, Value> {
        let app = self.config("application_sid");
        let conversation = format!("conv-{}-{}", self.name, self.next_id);
        let destination = switchboard_voice::app_address(
            app.parse().unwrap(),
            &[
                ("callToQueue", queue),
                ("from", from),
                ("conversation_id", &conversation),
            ],
        );
        self.start_call(&destination, queue, &conversation).await
    }

    async fn start_call(
        &mut self,
        destination: &str,
        name: &str,
        conversation: &str,
    ) -> Result<String, Value> {
        let queue = self.config("outbound_queue_sid");
        let r = self
            .request(json!({
                "type": "start_outbound_call",
                "destination": destination,
                "queue_sid": queue,
                "task_attributes": {"name": name, "internal_outbound_to": name, "conversations": {"conversation_id": conversation}},
            }))
            .await?;
        Ok(r["task_sid"].as_str().unwrap().to_owned())
    }

    pub async fn act(&mut self, kind: &str, extra: Value) -> Result<Value, Value> {
        let mut msg = extra;
        msg["type"] = json!(kind);
        self.request(msg).await
    }

    /// The state of the call of one of this agent's tasks, and its outcome's code.
    pub fn call_state(&self, task: &str) -> Option<(String, Option<String>)> {
        let t = self.task(task)?;
        Some((
            t["call"]["state"].as_str()?.to_owned(),
            t["call"]["outcome"]["code"].as_str().map(str::to_owned),
        ))
    }

    /// One of this agent's tasks, by SID.
    pub fn task(&self, task: &str) -> Option<&Value> {
        self.state["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["task_sid"] == json!(task))
    }

    /// Waits for a message of another type than `state` (and skips states meanwhile).
    pub async fn message(&mut self, kind: &str) -> Value {
        loop {
            let v = self
                .read()
                .await
                .unwrap_or_else(|| panic!("{}: no {kind} message", self.name));
            if v["type"] == kind {
                return v;
            }
        }
    }
}
