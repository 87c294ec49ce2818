//! Flex Configuration: `GET` and `POST /v1/Configuration`.
//!
//! The document is stored as JSON. A `POST` (JSON body, as Flex's API takes it) replaces the
//! top-level keys it names and keeps the others, so updating `ui_attributes` leaves
//! `outbound_call_flows` alone.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::app::App;
use crate::driver::Driver as Core;
use crate::http::{ok, ApiError, ApiResult, Ctx};
use crate::render::iso;
use switchboard_center::Entry;

/// The routes.
pub fn routes() -> Router<App> {
    Router::new().route("/v1/Configuration", get(fetch).post(update))
}

/// How deeply a configuration value may nest.
const MAX_DEPTH: usize = 32;
/// The largest configuration document, in bytes of JSON.
const MAX_BYTES: usize = 1 << 20;

/// How many levels of arrays and objects a value has (a scalar has none), without recursion.
fn nesting(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, depth + 1))),
            _ => deepest = deepest.max(depth),
        }
        if matches!(v, Value::Array(_) | Value::Object(_)) {
            deepest = deepest.max(depth + 1);
        }
    }
    deepest
}

/// Keys whose values must be JSON objects when given.
const OBJECT_KEYS: &[&str] = &[
    "attributes",
    "ui_attributes",
    "ui_dependencies",
    "outbound_call_flows",
    "queue_stats_configuration",
    "notifications",
    "markdown",
    "public_attributes",
    "channel_configs",
    "debugger_integration",
    "flex_ui_status_report",
    "serverless_service_sids",
    "integrations",
];

/// Keys whose values must be strings (or null) when given.
const STRING_KEYS: &[&str] = &[
    "taskrouter_workspace_sid",
    "taskrouter_target_workflow_sid",
    "taskrouter_target_taskqueue_sid",
    "taskrouter_offline_activity_sid",
    "runtime_domain",
    "messaging_service_instance_sid",
    "chat_service_instance_sid",
    "flex_service_instance_sid",
    "flex_instance_sid",
    "ui_language",
    "ui_version",
    "service_version",
    "crm_type",
    "crm_callback_url",
    "crm_fallback_url",
    "call_recording_webhook_url",
    "plugin_service_attributes",
];

fn render(core: &Core, ctx: &Ctx) -> Value {
    let flex = core.center().model().flex();
    let mut doc = flex.document().clone();
    let (created, updated) = flex
        .dates()
        .map_or((None, None), |(c, u)| (Some(iso(c.0)), Some(iso(u.0))));
    doc.insert("account_sid".into(), json!(ctx.urls.account.to_string()));
    doc.insert("date_created".into(), json!(created));
    doc.insert("date_updated".into(), json!(updated));
    doc.entry("status").or_insert(json!("ok"));
    doc.insert(
        "url".into(),
        json!(format!("{}/v1/Configuration", ctx.urls.base)),
    );
    Value::Object(doc)
}

async fn fetch(State(app): State<App>, ctx: Ctx) -> ApiResult {
    app.core.run(move |core| Ok(ok(render(core, &ctx)))).await?
}

async fn update(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: Bytes) -> ApiResult {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_none_or(|c| c.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::invalid(
            "body",
            "must be a JSON object (Content-Type: application/json)",
        ));
    }
    let changes: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("is not valid JSON: {e}")))?;
    let Value::Object(changes) = changes else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    // Bounded so that every document accepted here can be logged and read back at start.
    for (k, v) in &changes {
        let depth = nesting(v);
        if depth > MAX_DEPTH {
            return Err(ApiError::invalid(
                k,
                format!("is nested {depth} levels deep; the limit is {MAX_DEPTH}"),
            ));
        }
    }
    for (k, v) in &changes {
        if OBJECT_KEYS.contains(&k.as_str()) && !(v.is_object() || v.is_null()) {
            return Err(ApiError::invalid(k, "must be a JSON object"));
        }
        if STRING_KEYS.contains(&k.as_str()) && !(v.is_string() || v.is_null()) {
            return Err(ApiError::invalid(k, "must be a string"));
        }
    }
    if let Some(a) = changes.get("account_sid").and_then(Value::as_str) {
        if a != ctx.urls.account.to_string() {
            return Err(ApiError::invalid(
                "account_sid",
                "does not match the authenticated account",
            ));
        }
    }
    app.core
        .run(move |core| {
            let mut doc = core.center().model().flex().document().clone();
            for (k, v) in changes {
                if matches!(
                    k.as_str(),
                    "account_sid" | "url" | "date_created" | "date_updated"
                ) {
                    continue;
                }
                doc.insert(k, v);
            }
            let size = serde_json::to_string(&doc).map_or(usize::MAX, |t| t.len());
            if size > MAX_BYTES {
                return Err(ApiError::invalid(
                    "body",
                    format!("would make the configuration {size} bytes; the limit is {MAX_BYTES}"),
                ));
            }
            core.execute(Entry::SetConfiguration {
                configuration: Value::Object(doc),
            })?;
            Ok(ok(render(core, &ctx)))
        })
        .await?
}
