//! Desktop endpoints: the WebSocket (`GET /v1/Desktop?token=…`), access tokens
//! (`POST /v1/AccessTokens`, account credentials), and in demo mode the agent list and sign-in
//! (`GET /demo/agents`, `POST /demo/sign-in`) that need no credentials.

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

use super::{created, ok, ApiError, ApiResult, App, Ctx, Form};
use crate::tokens::{self, Grant};

/// Routes that authenticate with account credentials.
pub fn routes() -> Router<App> {
    Router::new().route("/v1/AccessTokens", post(create_token))
}

/// Routes that carry their own authentication (a token) or none (demo only).
pub fn open_routes(demo: bool) -> Router<App> {
    let r = Router::new().route("/v1/Desktop", get(connect));
    if demo {
        r.route("/demo/agents", get(demo_agents))
            .route("/demo/sign-in", post(demo_sign_in))
    } else {
        r
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

async fn mint(
    app: &App,
    workspace: Sid<WorkspaceKind>,
    worker: Sid<Worker>,
    ttl: i64,
) -> ApiResult {
    let identity = app
        .core
        .run(move |core| {
            let w = core
                .workspace(workspace)?
                .engine
                .worker(worker)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "WorkerSid",
                        format!("names {worker}, which is not a worker of this workspace"),
                    )
                })?;
            let contact = w
                .attributes
                .value()
                .get("contact_uri")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok::<_, ApiError>(
                contact
                    .and_then(|c| c.strip_prefix("client:").map(str::to_owned))
                    .unwrap_or_else(|| w.friendly_name.to_string()),
            )
        })
        .await??;
    let grant = Grant {
        workspace,
        worker,
        identity: identity.clone(),
    };
    let token = tokens::issue(
        &app.token_key,
        "SKswitchboarddesktop",
        &app.account.to_string(),
        &grant,
        now_secs(),
        ttl,
    )
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(created(json!({
        "token": token,
        "identity": identity,
        "workspace_sid": workspace.to_string(),
        "worker_sid": worker.to_string(),
        "ttl": ttl,
    })))
}

async fn create_token(State(app): State<App>, body: Bytes) -> ApiResult {
    let form = Form::parse(&body)?;
    let workspace = form
        .sid("WorkspaceSid")?
        .ok_or_else(|| ApiError::missing("WorkspaceSid"))?;
    let worker = form
        .sid("WorkerSid")?
        .ok_or_else(|| ApiError::missing("WorkerSid"))?;
    let ttl = form.uint::<i64>("Ttl")?.unwrap_or(3600);
    if !(60..=86_400).contains(&ttl) {
        return Err(ApiError::invalid(
            "Ttl",
            "must be between 60 and 86400 seconds",
        ));
    }
    mint(&app, workspace, worker, ttl).await
}

async fn demo_agents(State(app): State<App>, ctx: Ctx) -> ApiResult {
    let _ = ctx;
    app.core
        .run(|core| {
            let (ws, state) = core
                .workspaces
                .iter()
                .find(|(_, w)| w.friendly_name == crate::demo::WORKSPACE_NAME)
                .ok_or_else(|| ApiError::not_found("demo workspace"))?;
            let mut agents: Vec<Value> = state
                .engine
                .workers()
                .map(|w| {
                    json!({
                        "sid": w.sid.to_string(),
                        "friendly_name": &*w.friendly_name,
                        "full_name": w.attributes.value().get("full_name"),
                        "activity_name": &*state.engine.activity_name(w.activity_sid),
                    })
                })
                .collect();
            agents.sort_by(|a, b| {
                a["friendly_name"]
                    .as_str()
                    .cmp(&b["friendly_name"].as_str())
            });
            Ok(ok(
                json!({"workspace_sid": ws.to_string(), "agents": agents}),
            ))
        })
        .await?
}

async fn demo_sign_in(State(app): State<App>, body: Bytes) -> ApiResult {
    let form = Form::parse(&body)?;
    let worker: Sid<Worker> = form
        .sid("WorkerSid")?
        .ok_or_else(|| ApiError::missing("WorkerSid"))?;
    let workspace = app
        .core
        .run(|core| {
            core.workspaces
                .iter()
                .find(|(_, w)| w.friendly_name == crate::demo::WORKSPACE_NAME)
                .map(|(s, _)| *s)
                .ok_or_else(|| ApiError::not_found("demo workspace"))
        })
        .await??;
    mint(&app, workspace, worker, 12 * 3600).await
}

/// The largest message a desktop may send (its actions are small JSON objects).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

fn unauthorized(message: impl Into<String>) -> Response {
    ApiError {
        status: axum::http::StatusCode::UNAUTHORIZED,
        code: 20003,
        message: message.into(),
    }
    .into_response()
}

async fn connect(
    State(app): State<App>,
    ctx: Ctx,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // The token is checked before anything else, so a request without one learns nothing.
    let token = ctx.query.get("token").unwrap_or_default().to_owned();
    let grant = match tokens::verify(&app.token_key, &token, now_secs(), &app.account.to_string()) {
        Ok(g) => g,
        Err(e) => return unauthorized(e.to_string()),
    };
    // A token must not outlive its worker.
    let (ws, worker) = (grant.workspace, grant.worker);
    let exists = app
        .core
        .run(move |core| {
            core.workspaces
                .get(&ws)
                .is_some_and(|w| w.engine.worker(worker).is_some())
        })
        .await
        .unwrap_or(false);
    if !exists {
        return unauthorized("the access token's worker no longer exists");
    }
    match upgrade {
        Ok(upgrade) => upgrade
            .max_message_size(MAX_MESSAGE_BYTES)
            .max_frame_size(MAX_MESSAGE_BYTES)
            .on_upgrade(move |socket| session(app, grant, socket)),
        Err(rejection) => rejection.into_response(),
    }
}

/// One desktop session: state pushed out, actions carried out, until either side closes.
async fn session(app: App, grant: Grant, mut socket: WebSocket) {
    let (tx, mut rx) = tokio::sync::watch::channel(String::new());
    let (ws, worker) = (grant.workspace, grant.worker);
    let id = match app
        .core
        .run(move |core| core.desktop_connect(ws, worker, tx))
        .await
        .and_then(|r| r)
    {
        Ok(id) => id,
        Err(e) => {
            let refusal = json!({"type": "error", "error": {"code": e.code, "message": e.message}});
            let _ = socket.send(Message::Text(refusal.to_string().into())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                let down = changed.is_err() || *shutdown.borrow();
                if down {
                    break;
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    break; // the core closed this session (its worker was deleted)
                }
                let text = rx.borrow_and_update().clone();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle(&app, ws, worker, text.as_str()).await;
                    if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    let _ = app.core.run(move |core| core.desktop_disconnect(id)).await;
}

async fn handle(app: &App, ws: Sid<WorkspaceKind>, worker: Sid<Worker>, text: &str) -> Value {
    let msg: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return json!({"type": "result", "ok": false, "error": {"code": 20001, "message": "messages must be JSON objects"}})
        }
    };
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let result = app
        .core
        .run(move |core| {
            let r = core.desktop_action(ws, worker, &msg);
            core.settle();
            r
        })
        .await
        .and_then(|r| r);
    match result {
        Ok(data) => json!({"type": "result", "id": id, "ok": true, "data": data}),
        Err(e) => {
            json!({"type": "result", "id": id, "ok": false, "error": {"code": e.code, "message": e.message}})
        }
    }
}
