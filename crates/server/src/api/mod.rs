//! The HTTP API: Twilio's paths, parameters, JSON shapes and error bodies.
//!
//! Handlers parse what came in (PascalCase form parameters, SIDs in paths), then run a closure on
//! the driver's thread that hands the change to the center and renders the answer. Everything
//! here is about the wire; the rules live in the center. Shared wire helpers are in `http`, so
//! no route module reaches back into this one.

mod desktop;
mod flex;
mod functions;
mod keys;
mod recordings;
mod stats;
mod taskrouter;
mod voice;
mod web;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::App;
use crate::config::Limits;
use crate::http::{twilio_code, ApiError};

/// The router: every API route behind authentication, plus the unauthenticated health checks;
/// around it all, our limits on request heads, bodies and time, and Twilio's error body on every
/// error answer.
pub fn router(app: App) -> Router {
    let limits = app.limits.clone();
    let api = Router::new()
        .merge(taskrouter::routes())
        .merge(stats::routes())
        .merge(flex::routes())
        .merge(keys::routes())
        .merge(desktop::routes())
        .merge(voice::routes())
        .merge(recordings::routes())
        .fallback(|| async { ApiError::not_found("this resource") })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(functions::routes())
        .merge(web::routes())
        .merge(desktop::open_routes(app.demo))
        .merge(api)
        .with_state(app)
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            head_limits,
        ))
        .layer(axum::middleware::from_fn_with_state(limits, twilio_errors))
}

/// Refuses request heads beyond our limits, with Twilio's body. hyper's own limits are far
/// higher (its read buffer, about 400 KiB, and twice our header count) and it answers them
/// without a body, so ours come first.
async fn head_limits(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > limits.max_uri_bytes {
        return ApiError {
            status: StatusCode::URI_TOO_LONG,
            code: twilio_code(StatusCode::URI_TOO_LONG),
            message: format!(
                "The request URI is {target} bytes long; at most {} are allowed",
                limits.max_uri_bytes
            ),
        }
        .into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > limits.max_header_count || bytes > limits.max_header_bytes {
        return ApiError {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code: twilio_code(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            message: format!(
                "The request has {} header fields of {bytes} bytes; at most {} fields of {} bytes \
                 are allowed",
                headers.len(),
                limits.max_header_count,
                limits.max_header_bytes
            ),
        }
        .into_response();
    }
    next.run(request).await
}

/// Gives every error answer Twilio's body: ours already have it; those made elsewhere (axum's
/// extractor rejections, 405 for a wrong method, 413 for a body too large, 408 from the timeout,
/// the web app's 404) get it here, with their text as the message where they have one.
async fn twilio_errors(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // These bodies are short texts; a long one is cut off rather than read whole.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = match status {
        StatusCode::NOT_FOUND => format!("The requested resource {path} was not found"),
        StatusCode::METHOD_NOT_ALLOWED => format!("Method {method} is not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "The request body is larger than {} bytes",
            limits.max_body_bytes
        ),
        StatusCode::REQUEST_TIMEOUT => format!(
            "The request was not complete within {} ms",
            limits.request_timeout.as_millis()
        ),
        _ => text.unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned()),
    };
    // Whoever made the answer has logged what needed logging (`/readyz` answers 503 on every
    // probe while the server cannot store changes).
    let mut answer = ApiError {
        status,
        code: twilio_code(status),
        message,
    }
    .into_body();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    answer
}

async fn ready(State(app): State<App>) -> Response {
    match app.core.run(|core| core.healthy()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        // The reason is in the server's log; an unauthenticated caller learns only the state.
        Ok(Err(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the server cannot store changes (see its log)",
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn authenticate(State(app): State<App>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let ok = crate::driver::read(&app.credentials).check(header);
    if ok {
        next.run(request).await
    } else {
        let mut response = ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: 20003,
            message: "Authenticate".into(),
        }
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        response
    }
}
