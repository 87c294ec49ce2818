//! The front of a node: every request goes to the node that owns the state, this one's own
//! server included (on its loopback port), with the same method, path, headers and body; a
//! desktop WebSocket is proxied message by message. Answered here: `/healthz` (the node is up),
//! `/cluster` (what this node knows, as JSON: its role, the owner, the token; on the owner, the
//! loopback address of its own server) and `/cluster/owner` (200 only on the owner, for
//! a load balancer that prefers it).
//!
//! A request that finds no owner (a takeover under way), or an owner that cannot be reached
//! (its connection refused: the request never got there, so it is safe to send again), waits
//! for the lease loop to learn of a new owner, up to `takeover_wait`, then is answered 503. A
//! forwarded request carries `X-Switchboard-Forwarded`; a node that gets one without owning the
//! state answers 503 with `X-Switchboard-Not-Owner` rather than forwarding it on, and the
//! sender waits and tries again: views of who owns the state may lag, but requests never
//! circle.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message as DownMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as UpMessage;

use super::node::{Role, Shared};
use crate::config::Limits;
use crate::http::ApiError;

/// Marks a request a node forwarded (its value: the sender's node id).
pub const FORWARDED: &str = "x-switchboard-forwarded";
/// Marks the answer of a node that got a forwarded request but does not own the state.
pub const NOT_OWNER: &str = "x-switchboard-not-owner";

/// The largest desktop message proxied (the desktop endpoint's own limit).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Clone)]
struct Front {
    shared: Arc<Shared>,
    client: reqwest::Client,
    limits: Limits,
    down: watch::Receiver<bool>,
}

/// Serves the front on `listener` until `down` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    limits: Limits,
    down: watch::Receiver<bool>,
) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(1))
        .timeout(limits.request_timeout + Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let front = Front {
        shared,
        client,
        limits: limits.clone(),
        down: down.clone(),
    };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/cluster", get(status))
        .route("/cluster/owner", get(owner))
        .fallback(dispatch)
        .with_state(front);
    let mut down = down;
    crate::conn::serve(listener, router, &limits, async move {
        while !*down.borrow() {
            if down.changed().await.is_err() {
                break;
            }
        }
    })
    .await;
}

async fn status(State(front): State<Front>) -> Response {
    let role = front.shared.role.borrow().clone();
    let c = &front.shared.config;
    let body = match role {
        Role::Electing => serde_json::json!({"node_id": c.node_id, "role": "electing"}),
        Role::Owner {
            token, internal, ..
        } => serde_json::json!({
            "node_id": c.node_id, "role": "owner", "owner": c.node_id,
            "owner_url": c.advertise_url, "token": token, "internal": internal.to_string(),
        }),
        Role::Follower { holder, url, token } => serde_json::json!({
            "node_id": c.node_id, "role": "follower", "owner": holder, "owner_url": url,
            "token": token,
        }),
    };
    axum::Json(body).into_response()
}

async fn owner(State(front): State<Front>) -> Response {
    match &*front.shared.role.borrow() {
        Role::Owner { valid_until, .. } if std::time::Instant::now() < *valid_until => {
            (StatusCode::OK, "owner").into_response()
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not the owner").into_response(),
    }
}

/// Where a request goes now: the base URL (`http://…`) of the owner's server, if one is known
/// and may be sent to.
fn target(front: &Front, forwarded: bool) -> Option<String> {
    match &*front.shared.role.borrow() {
        Role::Owner {
            internal,
            valid_until,
            ..
        } if std::time::Instant::now() < *valid_until => Some(format!("http://{internal}")),
        Role::Follower { url, .. } if !forwarded && !url.is_empty() => Some(url.clone()),
        _ => None,
    }
}

/// Completes when another node than the one at `base` is known to own the state (a request
/// under way to `base` will never be carried out if it has not been already: a former owner is
/// fenced).
async fn owner_moved(front: &Front, base: &str, forwarded: bool) {
    let mut role = front.shared.role.subscribe();
    loop {
        if role.changed().await.is_err() {
            return std::future::pending().await;
        }
        if target(front, forwarded).is_some_and(|t| t != base) {
            return;
        }
    }
}

/// The answer to a request whose owner lost the state while it was under way (paused, cut
/// off): it may or may not have been carried out before, so it is not sent again.
fn moved_on() -> Response {
    let mut r = ApiError::unavailable(
        "the node that owned the state stopped answering and another took over while this \
         request was under way; it may or may not have been carried out",
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Waits until the role changes, a short while passes, or the deadline; `false` at the deadline.
async fn wait_for_news(front: &Front, deadline: Instant) -> bool {
    let mut role = front.shared.role.subscribe();
    let step = (front.shared.config.beat() / 2).max(Duration::from_millis(50));
    let until = deadline.min(Instant::now() + step);
    let _ = tokio::time::timeout_at(until, role.changed()).await;
    Instant::now() < deadline
}

fn no_owner(front: &Front, forwarded: bool) -> Response {
    let mut r = ApiError::unavailable(format!(
        "no node owns the state right now (node {} waited {} ms); try again",
        front.shared.config.node_id,
        front.shared.config.takeover_wait.as_millis()
    ))
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if forwarded {
        r.headers_mut()
            .insert(NOT_OWNER, HeaderValue::from_static("1"));
    }
    r
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !hop_by_hop(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn dispatch(State(front): State<Front>, request: Request) -> Response {
    let forwarded = request.headers().contains_key(FORWARDED);
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return websocket(front, request, forwarded).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, front.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: crate::http::twilio_code(StatusCode::PAYLOAD_TOO_LARGE),
                message: format!(
                    "The request body is larger than {} bytes",
                    front.limits.max_body_bytes
                ),
            }
            .into_response()
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let deadline = Instant::now() + front.shared.config.takeover_wait;
    loop {
        if let Some(base) = target(&front, forwarded) {
            let mut headers = HeaderMap::new();
            copy_headers(&parts.headers, &mut headers);
            if let Ok(v) = HeaderValue::from_str(&front.shared.config.node_id) {
                headers.insert(FORWARDED, v);
            }
            let send = front
                .client
                .request(parts.method.clone(), format!("{base}{path}"))
                .headers(headers)
                .body(body.clone())
                .send();
            let sent = tokio::select! {
                sent = send => sent,
                () = owner_moved(&front, &base, forwarded) => return moved_on(),
            };
            match sent {
                Ok(answer) if answer.headers().contains_key(NOT_OWNER) => {
                    // That node is not the owner (any more): our view is stale.
                    front.shared.poke.notify_one();
                }
                Ok(answer) => return relay(answer).await,
                Err(e) if e.is_connect() => {
                    tracing::debug!("the owner at {base} cannot be reached: {e}");
                    front.shared.poke.notify_one();
                }
                Err(e) => {
                    // The request may have been carried out: it is not sent again.
                    return ApiError {
                        status: StatusCode::BAD_GATEWAY,
                        code: 20500,
                        message: format!("the node that owns the state did not answer: {e}"),
                    }
                    .into_response();
                }
            }
        }
        if !wait_for_news(&front, deadline).await {
            return no_owner(&front, forwarded);
        }
    }
}

async fn relay(answer: reqwest::Response) -> Response {
    let status = answer.status();
    let mut headers = HeaderMap::new();
    copy_headers(answer.headers(), &mut headers);
    match answer.bytes().await {
        Ok(body) => {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = status;
            *r.headers_mut() = headers;
            r
        }
        Err(e) => ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: 20500,
            message: format!("the answer of the node that owns the state broke off: {e}"),
        }
        .into_response(),
    }
}

/// A desktop WebSocket: connect to the owner first (so a refusal, such as a bad token, reaches
/// the desktop as the owner gave it), then accept the desktop's upgrade and carry messages both
/// ways until either side closes. When the owner goes away the desktop's socket closes too, and
/// the desktop connects again (to this node or another), which finds the new owner.
async fn websocket(front: Front, request: Request, forwarded: bool) -> Response {
    let (mut parts, _) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let deadline = Instant::now() + front.shared.config.takeover_wait;
    let upstream = loop {
        if let Some(base) = target(&front, forwarded) {
            let url = format!("{}{path}", base.replacen("http", "ws", 1));
            match up_request(&url, &front.shared.config.node_id) {
                Ok(req) => match tokio::select! {
                    c = tokio_tungstenite::connect_async(req) => c,
                    () = owner_moved(&front, &base, forwarded) => {
                        front.shared.poke.notify_one();
                        continue;
                    }
                } {
                    Ok((socket, _)) => break socket,
                    Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
                        if !answer.headers().contains_key(NOT_OWNER) {
                            let (p, body) = answer.into_parts();
                            let mut r = Response::new(Body::from(body.unwrap_or_default()));
                            *r.status_mut() = p.status;
                            copy_headers(&p.headers, r.headers_mut());
                            return r;
                        }
                        front.shared.poke.notify_one();
                    }
                    Err(e) => {
                        tracing::debug!("the owner's desktop socket at {url} failed: {e}");
                        front.shared.poke.notify_one();
                    }
                },
                Err(e) => return ApiError::internal(e).into_response(),
            }
        }
        if !wait_for_news(&front, deadline).await {
            return no_owner(&front, forwarded);
        }
    };
    let down = front.down.clone();
    let Some(base) = target(&front, forwarded) else {
        return no_owner(&front, forwarded);
    };
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            tokio::select! {
                () = pump(socket, upstream, down) => {}
                // The desktop's session lives on the owner: when another node takes over, the
                // socket closes and the desktop connects again, to the new owner.
                () = owner_moved(&front, &base, forwarded) => {}
            }
        })
}

fn up_request(
    url: &str,
    node: &str,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if let Ok(v) = HeaderValue::from_str(node) {
        req.headers_mut().insert(FORWARDED, v);
    }
    Ok(req)
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Carries messages between the desktop and the owner until either closes or the node stops.
async fn pump(mut desktop: WebSocket, mut owner: Upstream, mut down: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            changed = down.changed() => {
                if changed.is_err() || *down.borrow() {
                    break;
                }
            }
            from_desktop = desktop.recv() => {
                let message = match from_desktop {
                    Some(Ok(DownMessage::Text(t))) => UpMessage::Text(t.as_str().into()),
                    Some(Ok(DownMessage::Binary(b))) => UpMessage::Binary(b),
                    Some(Ok(DownMessage::Ping(p))) => UpMessage::Ping(p),
                    Some(Ok(DownMessage::Pong(p))) => UpMessage::Pong(p),
                    Some(Ok(DownMessage::Close(_))) | None | Some(Err(_)) => break,
                };
                if owner.send(message).await.is_err() {
                    break;
                }
            }
            from_owner = owner.next() => {
                let message = match from_owner {
                    Some(Ok(UpMessage::Text(t))) => DownMessage::Text(t.as_str().into()),
                    Some(Ok(UpMessage::Binary(b))) => DownMessage::Binary(b),
                    Some(Ok(UpMessage::Ping(p))) => DownMessage::Ping(p),
                    Some(Ok(UpMessage::Pong(p))) => DownMessage::Pong(p),
                    Some(Ok(UpMessage::Frame(_))) => continue,
                    Some(Ok(UpMessage::Close(_))) | None | Some(Err(_)) => break,
                };
                if desktop.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = desktop.send(DownMessage::Close(None)).await;
    let _ = owner.close(None).await;
}
