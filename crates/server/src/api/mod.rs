//! The HTTP API: Twilio's paths, parameters, JSON shapes and error bodies.
//!
//! Handlers parse what came in (PascalCase form parameters, SIDs in paths), then run a closure on
//! the core thread that applies the change and renders the answer. Everything here is about the
//! wire; the rules live in the engine.

mod desktop;
mod flex;
mod functions;
mod keys;
mod stats;
mod taskrouter;
mod voice;
mod web;

use std::sync::{Arc, RwLock};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use switchboard_routing::EngineError;
use switchboard_sid::{Account, Sid, SidKind};

use crate::core::CoreHandle;
use crate::credentials::Credentials;
use crate::render::Urls;

/// What every handler can reach.
#[derive(Clone)]
pub struct App {
    /// The core thread.
    pub core: CoreHandle,
    /// The credentials (read here for authentication, written by the core).
    pub credentials: Arc<RwLock<Credentials>>,
    /// The account SID.
    pub account: Sid<Account>,
    /// The public base URL, when configured (else taken from each request's Host header).
    pub public_url: Option<String>,
    /// The key that signs desktop access tokens.
    pub token_key: Arc<[u8]>,
    /// The workflow the built-in enqueue function uses (else the one named "Internal Call").
    pub internal_call_workflow: Option<String>,
    /// Demo mode: agents may sign in without credentials.
    pub demo: bool,
    /// How long a call to a queue waits for an agent before the caller is told nobody answered.
    pub queue_call_timeout: std::time::Duration,
    /// Becomes true when the server shuts down (desktop sessions close then).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The router: every API route behind authentication, plus the unauthenticated health checks.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .merge(taskrouter::routes())
        .merge(stats::routes())
        .merge(flex::routes())
        .merge(keys::routes())
        .merge(desktop::routes())
        .merge(voice::routes())
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
    let ok = crate::core::read(&app.credentials).check(header);
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

/// An error in Twilio's shape: `{code, message, more_info, status}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Twilio's error code.
    pub code: u32,
    /// What went wrong.
    pub message: String,
}

/// What handlers return.
pub type ApiResult = Result<Response, ApiError>;

impl ApiError {
    /// 400, 20001: a parameter is wrong.
    pub fn invalid(param: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 20001,
            message: format!("{param} {message}"),
        }
    }
    /// 400, 20001: a required parameter is missing.
    pub fn missing(param: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 20001,
            message: format!("Required parameter {param} missing."),
        }
    }
    /// 404, 20404.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: 20404,
            message: format!("The requested resource {what} was not found"),
        }
    }
    /// 500, 20500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 20500,
            message: message.into(),
        }
    }
    /// 500, 20500, for a failed read of stored data: the detail goes to the log, not the client.
    pub fn store(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "reading stored data failed");
        ApiError::internal("reading stored data failed")
    }

    /// 503, 20503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: 20503,
            message: message.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let (status, code) = match &e {
            EngineError::NotFound { .. } => (StatusCode::NOT_FOUND, 20404),
            EngineError::Gone { .. } => (StatusCode::GONE, 20410),
            EngineError::AlreadyExists { .. } => (StatusCode::CONFLICT, 20409),
            EngineError::Invalid { .. }
            | EngineError::Conflict(_)
            | EngineError::NoMatchingFilter { .. }
            | EngineError::LimitExceeded(_) => (StatusCode::BAD_REQUEST, 20001),
        };
        let message = match &e {
            EngineError::NotFound { kind, sid } => {
                format!("The requested resource {kind} {sid} was not found")
            }
            other => other.to_string(),
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}

/// The URLs to render, from the configured public URL or the request's Host header.
pub struct Ctx {
    /// Where resources live.
    pub urls: Urls,
    /// The request path (for list `meta`).
    pub path: String,
    /// The request query.
    pub query: Form,
}

impl FromRequestParts<App> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Ctx, ApiError> {
        Ok(Ctx {
            urls: Urls {
                base: base_url(app.public_url.as_deref(), &parts.headers),
                account: app.account,
            },
            path: parts.uri.path().to_owned(),
            query: Form::parse(parts.uri.query().unwrap_or("").as_bytes()),
        })
    }
}

/// `http://host[:port]` from the configured public URL or the Host header.
pub fn base_url(public: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(p) = public {
        return p.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Form-encoded parameters (a body or a query string), in order, repeated names kept.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parses `a=1&b=2`.
    pub fn parse(bytes: &[u8]) -> Form {
        Form {
            pairs: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// All pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `name`, also splitting comma-separated lists.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// An owned value.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A value that must be present and not empty.
    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v.to_owned()),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// A boolean: `true`, `1` and `yes` (any case) are true, anything else is false.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }

    /// A non-negative integer.
    pub fn uint<T: TryFrom<u64>>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(name, format!("must be a non-negative integer, got {v:?}"))
            })
    }

    /// A SID of kind `K`.
    pub fn sid<K: SidKind>(&self, name: &str) -> Result<Option<Sid<K>>, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<Sid<K>>()
                    .map_err(|e| ApiError::invalid(name, format!("is invalid: {e}")))
            })
            .transpose()
    }
}

/// A SID from a path segment; anything else is a 404, as Twilio answers.
pub fn path_sid<K: SidKind>(segment: &str, what: &str) -> Result<Sid<K>, ApiError> {
    segment
        .parse()
        .map_err(|_| ApiError::not_found(format!("{what} {segment}")))
}

/// Page selection: `PageSize` (default 50, at most 1,000) and `Page` (or our `PageToken`).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// 0-based page.
    pub page: usize,
    /// Items per page.
    pub size: usize,
}

impl Paging {
    /// From a query.
    pub fn from(q: &Form) -> Result<Paging, ApiError> {
        let size = q.uint::<usize>("PageSize")?.unwrap_or(50);
        if size == 0 || size > 1000 {
            return Err(ApiError::invalid("PageSize", "must be between 1 and 1000"));
        }
        let page = match q.uint::<usize>("Page")? {
            Some(p) => p,
            None => q
                .get("PageToken")
                .and_then(|t| t.strip_prefix("PT"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        };
        Ok(Paging { page, size })
    }

    /// The offset of the first item.
    pub fn offset(&self) -> usize {
        self.page.saturating_mul(self.size)
    }
}

/// A list answer: one page of `items` (already cut), under `key`, with Twilio's `meta`.
pub fn list(ctx: &Ctx, key: &str, paging: Paging, items: Vec<Value>, has_more: bool) -> Response {
    let keep: Vec<(String, String)> = ctx
        .query
        .pairs()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .cloned()
        .collect();
    let page_url = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(&keep);
        s.append_pair("PageSize", &paging.size.to_string());
        s.append_pair("Page", &page.to_string());
        if page > 0 {
            s.append_pair("PageToken", &format!("PT{page}"));
        }
        format!("{}{}?{}", ctx.urls.base, ctx.path, s.finish())
    };
    let body = json!({
        key: items,
        "meta": {
            "page": paging.page,
            "page_size": paging.size,
            "first_page_url": page_url(0),
            "previous_page_url": (paging.page > 0).then(|| page_url(paging.page - 1)),
            "next_page_url": has_more.then(|| page_url(paging.page + 1)),
            "url": page_url(paging.page),
            "key": key,
        },
    });
    Json(body).into_response()
}

/// Cuts one page out of a full list.
pub fn page_of<T>(all: Vec<T>, paging: Paging) -> (Vec<T>, bool) {
    let total = all.len();
    let start = paging.offset().min(total);
    let end = start.saturating_add(paging.size).min(total);
    let has_more = end < total;
    let items = all.into_iter().skip(start).take(end - start).collect();
    (items, has_more)
}

/// `201 Created` with a JSON body.
pub fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// `200 OK` with a JSON body.
pub fn ok(v: Value) -> Response {
    Json(v).into_response()
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
