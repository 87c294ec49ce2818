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
use switchboard_center::functions::{internal_call_enqueue, internal_call_workflow};
use switchboard_sid::{Sid, Workflow};

use crate::app::App;
use crate::http::{base_url, Form};
use switchboard_center::functions::ENQUEUE_PATH;

/// The routes (they authenticate by signature, not by credentials).
pub fn routes() -> Router<App> {
    Router::new().route(ENQUEUE_PATH, post(enqueue))
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
    let token = crate::driver::read(&app.credentials).auth_token.clone();
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
    let configured = app
        .internal_call_workflow
        .as_deref()
        .and_then(|w| w.parse::<Sid<Workflow>>().ok());
    let workflow = match configured {
        Some(w) => Some(w),
        None => match app
            .core
            .run(|core| internal_call_workflow(core.center().model()))
            .await
        {
            Ok(w) => w,
            Err(e) => return e.into_response(),
        },
    };
    if workflow.is_none() {
        tracing::error!(
            "no Internal Call workflow is configured (TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID)"
        );
    }
    let doc = internal_call_enqueue(form.pairs(), workflow, app.queue_call_timeout.as_secs());
    (
        [(header::CONTENT_TYPE, "text/xml")],
        switchboard_twiml::render(&doc),
    )
        .into_response()
}
