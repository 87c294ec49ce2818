//! Desktop endpoints: the WebSocket (`GET /v1/Desktop?token=…`), access tokens
//! (`POST /v1/AccessTokens`, account credentials), and in demo mode the agent list, sign-in and
//! token renewal (`GET /demo/agents`, `POST /demo/sign-in`, `POST /demo/token`) that need no
//! credentials. Messages are the center's typed protocol (`switchboard_center::protocol`).

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use switchboard_center::protocol::{
    Action, ActionData, ActionResult, ErrorBody, Request, ServerMessage,
};
use switchboard_center::{Input, MediaInput, Reply, SessionId};
use switchboard_routing::Timestamp;
use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

use std::sync::Arc;

use switchboard_center::protocol::RecordingAction;
use switchboard_center::recording::RecordingTarget;
use switchboard_sid::Task;

use crate::app::App;
use crate::driver::{SessionSink, SESSION_MESSAGES};
use crate::http::{created, ok, ApiError, ApiResult, Ctx, Form};
use crate::recordings::{PauseBehavior, Recordings, StartOptions};
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
            .route("/demo/token", post(demo_token))
    } else {
        r
    }
}

/// How long a demo sign-in's token lasts.
const DEMO_TTL_SECS: i64 = 12 * 3600;

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
        app.clock.now_secs(),
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

async fn demo_workspace(app: &App) -> Result<Sid<WorkspaceKind>, ApiError> {
    app.core
        .run(|core| {
            switchboard_center::demo::workspace(core.center().model())
                .ok_or_else(|| ApiError::not_found("demo workspace"))
        })
        .await?
}

async fn demo_agents(State(app): State<App>) -> ApiResult {
    app.core
        .run(|core| {
            let ws = switchboard_center::demo::workspace(core.center().model())
                .ok_or_else(|| ApiError::not_found("demo workspace"))?;
            let engine = &core.workspace(ws)?.engine;
            let mut agents: Vec<Value> = engine
                .workers()
                .map(|w| {
                    json!({
                        "sid": w.sid.to_string(),
                        "friendly_name": &*w.friendly_name,
                        "full_name": w.attributes.value().get("full_name"),
                        "activity_name": &*engine.activity_name(w.activity_sid),
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

fn demo_worker(body: &[u8]) -> Result<Sid<Worker>, ApiError> {
    Form::parse(body)?
        .sid("WorkerSid")?
        .ok_or_else(|| ApiError::missing("WorkerSid"))
}

/// Signing in starts the agent's shift: an Offline agent becomes Available.
async fn demo_sign_in(State(app): State<App>, body: Bytes) -> ApiResult {
    let worker = demo_worker(&body)?;
    let workspace = demo_workspace(&app).await?;
    let answer = mint(&app, workspace, worker, DEMO_TTL_SECS).await?;
    app.core
        .run(move |core| {
            match switchboard_center::demo::sign_in(core.center().model(), workspace, worker) {
                Some(entry) => core.execute(entry),
                None => Ok(()),
            }
        })
        .await??;
    Ok(answer)
}

/// A fresh token for a signed-in demo agent; its activity stays as it is.
async fn demo_token(State(app): State<App>, body: Bytes) -> ApiResult {
    let worker = demo_worker(&body)?;
    let workspace = demo_workspace(&app).await?;
    mint(&app, workspace, worker, DEMO_TTL_SECS).await
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

/// A token checked against this server: its grant and when it expires.
fn check_token(app: &App, token: &str) -> Result<(Grant, Timestamp), tokens::TokenError> {
    let (grant, exp) = tokens::verify_with_expiry(
        &app.token_key,
        token,
        app.clock.now_secs(),
        &app.account.to_string(),
    )?;
    Ok((grant, Timestamp(exp.saturating_mul(1000))))
}

async fn connect(
    State(app): State<App>,
    recorder: Option<axum::Extension<Arc<Recordings>>>,
    ctx: Ctx,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // The token is checked before anything else, so a request without one learns nothing.
    let token = ctx.query.get("token").unwrap_or_default().to_owned();
    let (grant, expires_at) = match check_token(&app, &token) {
        Ok(g) => g,
        Err(e) => return unauthorized(e.to_string()),
    };
    // A token must not outlive its worker.
    let (ws, worker) = (grant.workspace, grant.worker);
    let exists = app
        .core
        .run(move |core| {
            core.center()
                .model()
                .workspace(ws)
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
            .on_upgrade(move |socket| {
                session(app, recorder.map(|e| e.0), grant, expires_at, socket)
            }),
        Err(rejection) => rejection.into_response(),
    }
}

fn text(message: &ServerMessage) -> Message {
    // Our own types always serialize.
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}

/// One desktop session: states and messages out, actions in, until either side closes. States
/// are serialized here, off the core thread.
async fn session(
    app: App,
    recorder: Option<Arc<Recordings>>,
    grant: Grant,
    expires_at: Timestamp,
    mut socket: WebSocket,
) {
    let (state_tx, mut states) = tokio::sync::watch::channel(None);
    let (msg_tx, mut messages) = tokio::sync::mpsc::channel(SESSION_MESSAGES);
    let sink = SessionSink {
        state: state_tx,
        messages: msg_tx,
    };
    let (ws, worker) = (grant.workspace, grant.worker);
    let id = match app
        .core
        .run(move |core| core.connect(ws, worker, expires_at, sink))
        .await
        .and_then(|r| r)
    {
        Ok(id) => id,
        Err(e) => {
            let refusal = ServerMessage::Error {
                error: ErrorBody {
                    code: e.code,
                    message: e.message,
                },
            };
            let _ = socket.send(text(&refusal)).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    let closed = ServerMessage::Closed {
                        reason: switchboard_center::protocol::CloseReason::Shutdown,
                    };
                    let _ = socket.send(text(&closed)).await;
                    break;
                }
            }
            changed = states.changed() => {
                if changed.is_err() {
                    // The driver dropped this session: say why (the messages it left), then end.
                    while let Ok(message) = messages.try_recv() {
                        if socket.send(text(&message)).await.is_err() {
                            break;
                        }
                    }
                    break;
                }
                let state = states.borrow_and_update().clone();
                if let Some(state) = state {
                    if socket.send(text(&ServerMessage::State(state))).await.is_err() {
                        break;
                    }
                }
            }
            message = messages.recv() => {
                let Some(message) = message else { break };
                let last = matches!(message, ServerMessage::Closed { .. });
                if socket.send(text(&message)).await.is_err() || last {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    let reply = handle(&app, recorder.as_deref(), id, worker, t.as_str()).await;
                    if socket.send(text(&ServerMessage::Result(reply))).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    let _ = app.core.run(move |core| core.disconnect(id)).await;
}

/// A desktop's audio offer: the center says which relay peer takes it (a new one, or the
/// agent's own for an ICE restart), the relay answers, and the center hears if it refused.
async fn media_offer(
    app: &App,
    id: Option<u64>,
    session: SessionId,
    sdp: String,
    restart: bool,
) -> ActionResult {
    let Some(relay) = app.relay.clone() else {
        return refused(
            id,
            20001,
            "media_offer cannot be taken: this server relays no audio".into(),
        );
    };
    let attached = app
        .core
        .run(move |core| core.handle(Input::Media(MediaInput::Offer { session, restart })))
        .await
        .and_then(|r| r);
    let attachment = match attached {
        Ok(Reply::Media(a)) => a,
        Ok(other) => return refused(id, 20500, format!("unexpected reply {other:?}")),
        Err(e) => return refused(id, e.code, e.message),
    };
    let peer = switchboard_media::PeerId(attachment.peer.0);
    let answer = if attachment.restart {
        match relay.restart_peer(peer, sdp.clone()).await {
            // The relay dropped the peer meanwhile (it never came back): start it afresh.
            Err(_) => relay.add_peer(peer, sdp).await,
            ok => ok,
        }
    } else {
        relay.add_peer(peer, sdp).await
    };
    match answer {
        Ok(sdp) => ActionResult {
            id,
            ok: true,
            data: Some(ActionData::MediaAnswer { sdp }),
            error: None,
        },
        Err(e) => {
            let why = e.to_string();
            let report = why.clone();
            let _ = app
                .core
                .run(move |core| {
                    core.handle(Input::Media(MediaInput::Refused {
                        peer: attachment.peer,
                        why: report,
                    }))
                })
                .await;
            refused(id, 20001, format!("media_offer was refused: {why}"))
        }
    }
}

/// A desktop's `recording` action: start, pause, resume or stop the recording of its own
/// task's call, through the recorder (which then tells the center, so the desktops show it).
async fn recording(
    app: &App,
    recorder: Option<&Recordings>,
    id: Option<u64>,
    session: SessionId,
    task: Sid<Task>,
    action: RecordingAction,
) -> ActionResult {
    let Some(recorder) = recorder else {
        return refused(
            id,
            20001,
            "recording cannot be done: this server has no recorder".into(),
        );
    };
    let context = app
        .core
        .run(move |core| core.center().recording_context(session, task))
        .await;
    let (conference, running) = match context {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return refused(id, e.code, e.message),
        Err(e) => return refused(id, e.code, e.message),
    };
    let result = match (action, running) {
        (RecordingAction::Start, Some(sid)) => {
            return refused(
                id,
                20001,
                format!("task_sid's call is already being recorded ({sid})"),
            )
        }
        (RecordingAction::Start, None) => recorder
            .start(
                &app.core,
                RecordingTarget::Conference(conference),
                StartOptions {
                    source: "StartConferenceRecordingAPI".into(),
                    ..StartOptions::default()
                },
            )
            .await
            .map(|_| ()),
        (_, None) => return refused(id, 20001, "task_sid's call is not being recorded".into()),
        (RecordingAction::Pause, Some(sid)) => {
            recorder.pause(sid, PauseBehavior::Skip).await.map(|_| ())
        }
        (RecordingAction::Resume, Some(sid)) => recorder.resume(sid).await.map(|_| ()),
        (RecordingAction::Stop, Some(sid)) => recorder.stop(sid).await.map(|_| ()),
    };
    recorder.sync_center(&app.core).await;
    match result {
        Ok(()) => ActionResult {
            id,
            ok: true,
            data: Some(ActionData::Done {}),
            error: None,
        },
        Err(e) => refused(id, e.code, e.message),
    }
}

fn refused(id: Option<u64>, code: u32, message: String) -> ActionResult {
    ActionResult {
        id,
        ok: false,
        data: None,
        error: Some(ErrorBody { code, message }),
    }
}

async fn handle(
    app: &App,
    recorder: Option<&Recordings>,
    session: SessionId,
    worker: Sid<Worker>,
    text: &str,
) -> ActionResult {
    let value: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => return refused(None, 20001, "messages must be JSON objects".into()),
    };
    // The id is echoed even when the rest of the message cannot be read.
    let id = value.get("id").and_then(Value::as_u64);
    let request: Request = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return refused(
                id,
                20001,
                format!("the message is not a desktop action: {e}"),
            )
        }
    };
    let input = match request.action {
        Action::MediaOffer { sdp, restart } => {
            return media_offer(app, id, session, sdp, restart).await
        }
        Action::MediaClose {} => Input::Media(MediaInput::Close { session }),
        Action::Recording { task_sid, action } => {
            return recording(app, recorder, id, session, task_sid, action).await
        }
        Action::UpdateToken { token } => match check_token(app, &token) {
            Ok((grant, expires_at)) if grant.worker == worker => Input::RenewToken {
                session,
                worker,
                expires_at,
            },
            Ok((grant, _)) => {
                return refused(
                    id,
                    20001,
                    format!(
                        "token is for worker {}, not this session's {worker}",
                        grant.worker
                    ),
                )
            }
            Err(e) => return refused(id, 20003, e.to_string()),
        },
        action => Input::Desktop { session, action },
    };
    let renewal = match &input {
        Input::RenewToken { expires_at, .. } => Some(expires_at.0),
        _ => None,
    };
    let result = app
        .core
        .run(move |core| core.handle(input))
        .await
        .and_then(|r| r);
    match result {
        Ok(reply) => ActionResult {
            id,
            ok: true,
            data: Some(match (reply, renewal) {
                (Reply::Desktop(data), _) => data,
                (_, Some(expires_at)) => ActionData::Token { expires_at },
                _ => ActionData::Done {},
            }),
            error: None,
        },
        Err(e) => refused(id, e.code, e.message),
    }
}
