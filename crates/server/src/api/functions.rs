//! Built-in functions, called by the voice layer like any webhook: the internal-call enqueue
//! function of Flex's internal-call feature (`POST /features/internal-call/common/enqueue`).
//! Only requests signed with a valid `X-Twilio-Signature` are accepted. A signed request that
//! cannot be put through (no destination, no workflow) is answered with TwiML that says why and
//! hangs up, never with a server error.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};
use switchboard_twiml::{Document, Enqueue, Method, TaskSpec, Verb};

use super::{base_url, App, Form};
use crate::calls::ENQUEUE_PATH;

/// The routes (they authenticate by signature, not by credentials).
pub fn routes() -> Router<App> {
    Router::new().route(ENQUEUE_PATH, post(enqueue))
}

/// TwiML that tells the caller why the call cannot be put through, then hangs up.
fn cannot_connect(reason: &str) -> Response {
    let doc = Document {
        verbs: vec![
            Verb::Say {
                text: format!("This call cannot be put through: {reason}."),
                voice: None,
                language: None,
                loop_count: 1,
            },
            Verb::Hangup,
        ],
    };
    (
        [(header::CONTENT_TYPE, "text/xml")],
        switchboard_twiml::render(&doc),
    )
        .into_response()
}

async fn enqueue(State(app): State<App>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    // The URL Twilio (or our voice layer) signed: the public URL, by default from Host.
    let url = format!(
        "{}{}",
        base_url(app.public_url.as_deref(), &headers),
        uri.path_and_query().map_or(ENQUEUE_PATH, |p| p.as_str())
    );
    let token = crate::core::read(&app.credentials).auth_token.clone();
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|h| h.to_str().ok());
    let valid =
        signature.is_some_and(|s| crate::signature::validate(&token, &url, form.pairs(), s));
    if !valid {
        let why = if signature.is_none() {
            "missing X-Twilio-Signature"
        } else {
            "invalid X-Twilio-Signature"
        };
        tracing::warn!(%url, why, "refused an unsigned enqueue request");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let workflow = match &app.internal_call_workflow {
        Some(w) => Some(w.clone()),
        None => {
            let found = app
                .core
                .run(|core| {
                    core.workspaces.values().find_map(|w| {
                        w.engine
                            .workflows()
                            .find(|wf| wf.friendly_name.starts_with("Internal Call"))
                            .map(|wf| wf.sid.to_string())
                    })
                })
                .await;
            match found {
                Ok(w) => w,
                Err(e) => return e.into_response(),
            }
        }
    };
    let Some(workflow) = workflow else {
        tracing::error!(
            "no Internal Call workflow is configured (TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID)"
        );
        return cannot_connect("no Internal Call workflow is configured");
    };
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(form.get("from").unwrap_or_default()));
    attributes.insert(
        "conversations".into(),
        json!({"conversation_id": form.get("conversation_id")}),
    );
    let mut timeout = None;
    if let Some(worker) = form.get("worker_sid").filter(|w| !w.is_empty()) {
        attributes.insert("worker_sid".into(), Value::String(worker.to_owned()));
    } else if let Some(queue) = form.get("callToQueue").filter(|q| !q.is_empty()) {
        attributes.insert("callToQueue".into(), Value::String(queue.to_owned()));
        timeout = Some(app.queue_call_timeout.as_secs().max(1));
    } else {
        return cannot_connect(
            "the request names neither an agent (worker_sid) nor a queue (callToQueue)",
        );
    }
    let doc = Document {
        verbs: vec![Verb::Enqueue(Enqueue {
            workflow_sid: Some(workflow),
            method: Method::Post,
            wait_url_method: Method::Post,
            task: Some(TaskSpec {
                priority: None,
                timeout,
                attributes,
            }),
            ..Default::default()
        })],
    };
    (
        [(header::CONTENT_TYPE, "text/xml")],
        switchboard_twiml::render(&doc),
    )
        .into_response()
}
