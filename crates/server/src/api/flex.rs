//! Flex Configuration: `GET` and `POST /v1/Configuration`.
//!
//! The rules live in the center (`switchboard_center::flex`): the key list and defaults, the
//! merge, the checks of the SIDs the document names. Here: the JSON body and its bounds, the
//! keys only this server knows (its URL, the account, the dates), and the answer.

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
use switchboard_center::flex::{self, Directory};
use switchboard_center::model::Model;
use switchboard_center::Entry;
use switchboard_routing::Workspace as Engine;
use switchboard_sid::{Application, Sid, Workspace};

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

/// The model, as the center's configuration checks look SIDs up in it.
struct Known<'m>(&'m Model);

impl Directory for Known<'_> {
    fn workspace(&self, sid: Sid<Workspace>) -> Option<&Engine> {
        self.0.workspace(sid).map(|w| &w.engine)
    }

    fn workspaces(&self) -> Vec<(Sid<Workspace>, &Engine)> {
        self.0.workspaces().map(|(s, w)| (s, &w.engine)).collect()
    }

    fn has_application(&self, sid: Sid<Application>) -> bool {
        self.0.applications().contains_key(&sid)
    }
}

/// Every key of Twilio's document: the center's (stored values, else defaults) and this
/// server's (the account, the resource's URL and dates; where nothing is stored, the server as
/// `runtime_domain` and its version as `service_version`).
fn render(core: &Core, ctx: &Ctx) -> Value {
    let flex = core.center().model().flex();
    let mut doc = flex.full_document();
    let (created, updated) = flex
        .dates()
        .map_or((None, None), |(c, u)| (Some(iso(c.0)), Some(iso(u.0))));
    doc.insert("account_sid".into(), json!(ctx.urls.account.to_string()));
    doc.insert("date_created".into(), json!(created));
    doc.insert("date_updated".into(), json!(updated));
    doc.insert(
        "url".into(),
        json!(format!("{}/v1/Configuration", ctx.urls.base)),
    );
    for (name, value) in [
        ("runtime_domain", ctx.urls.base.as_str()),
        ("service_version", env!("CARGO_PKG_VERSION")),
    ] {
        if doc.get(name).is_none_or(Value::is_null) {
            doc.insert(name.into(), json!(value));
        }
    }
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
    app.core
        .run(move |core| {
            let model = core.center().model();
            let doc = flex::merge(model.flex().document(), &changes, ctx.urls.account)?;
            flex::check_references(&Known(model), &doc, &changes)?;
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
