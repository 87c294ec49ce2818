//! Voice REST API under `/2010-04-01/Accounts/{AccountSid}/`: Applications, Calls, Conferences
//! and conference Participants, in the shapes of Twilio's 2010-04-01 API (snake_case JSON, RFC 2822
//! dates, relative `uri` fields, and the 2010 list shape with `next_page_uri`).
//!
//! Applications are durable (log entries); calls and conferences live in the voice layer only,
//! so changes to them go straight to `core.voice()` and end with the server.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use switchboard_center::io::{CallInstructions, CallSpec, ParticipantSpec};
use switchboard_center::Reply;
use switchboard_sid::{Account, Application, Call, Conference, Sid};
use switchboard_twiml::Method;
use switchboard_voice::{
    Address, Beep, CallProgress, CallRecord, CallStatus, ConferenceRecord, ConferenceStatus,
    JoinSpec, ParticipantUpdate, Participation, StatusCallback,
};

use crate::app::App;
use crate::driver::Driver as Core;
use crate::http::{created, no_content, ok, page_of, ApiError, ApiResult, Ctx, Form, Paging};
use crate::ids::new_sid;
use crate::render::rfc2822;
use switchboard_center::records::ApplicationRecord;
use switchboard_center::{Entry, Input, VoiceRequest};

const API_VERSION: &str = "2010-04-01";

/// The routes.
pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Applications.json",
            get(list_applications).post(create_application),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Applications/{sid}",
            get(fetch_application)
                .post(update_application)
                .delete(delete_application),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            get(list_calls).post(create_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{sid}",
            get(fetch_call).post(update_call).delete(delete_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Conferences.json",
            get(list_conferences),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Conferences/{sid}",
            get(fetch_conference).post(update_conference),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Conferences/{sid}/Participants.json",
            get(list_participants).post(create_participant),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Conferences/{sid}/Participants/{call}",
            get(fetch_participant)
                .post(update_participant)
                .delete(delete_participant),
        )
}

// ------------------------------------------------------------------------------------------------
// Shared helpers

fn check_account(app: &App, account: &str) -> Result<(), ApiError> {
    if account == app.account.to_string() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("Account {account}")))
    }
}

/// The segment without its `.json` suffix.
fn bare(segment: &str) -> &str {
    segment.strip_suffix(".json").unwrap_or(segment)
}

fn segment_sid<K: switchboard_sid::SidKind>(segment: &str, what: &str) -> Result<Sid<K>, ApiError> {
    let s = bare(segment);
    s.parse()
        .map_err(|_| ApiError::not_found(format!("{what} {s}")))
}

fn account_path(account: Sid<Account>) -> String {
    format!("/{API_VERSION}/Accounts/{account}")
}

/// A strict boolean parameter: `true` or `false` (any case).
fn strict_bool(form: &Form, name: &str) -> Result<Option<bool>, ApiError> {
    match form.get(name) {
        None => Ok(None),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ApiError::invalid(
                name,
                format!("must be true or false, got {v:?}"),
            )),
        },
    }
}

// ------------------------------------------------------------------------------------------------
// Applications

fn render_application(account: Sid<Account>, a: &ApplicationRecord) -> Value {
    json!({
        "sid": a.sid.to_string(),
        "account_sid": account.to_string(),
        "friendly_name": a.friendly_name,
        "api_version": API_VERSION,
        "voice_url": a.voice_url,
        "voice_method": a.voice_method,
        "voice_fallback_url": a.voice_fallback_url,
        "voice_fallback_method": a.voice_fallback_method,
        "status_callback": a.status_callback,
        "status_callback_method": a.status_callback_method,
        "voice_caller_id_lookup": false,
        "sms_url": null,
        "sms_method": null,
        "sms_fallback_url": null,
        "sms_fallback_method": null,
        "sms_status_callback": null,
        "message_status_callback": null,
        "public_application_connect_enabled": false,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "uri": format!("{}/Applications/{}.json", account_path(account), a.sid),
    })
}

fn method_param(form: &Form, name: &str) -> Result<Option<String>, ApiError> {
    match form.get(name) {
        None => Ok(None),
        Some(v) => match v.trim().to_ascii_uppercase().as_str() {
            "GET" => Ok(Some("GET".into())),
            "POST" => Ok(Some("POST".into())),
            _ => Err(ApiError::invalid(
                name,
                format!("must be GET or POST, got {v:?}"),
            )),
        },
    }
}

/// What a create or update asks for, validated before it reaches the core.
struct ApplicationChanges {
    friendly_name: Option<String>,
    voice_url: Option<Option<String>>,
    voice_method: Option<String>,
    voice_fallback_url: Option<Option<String>>,
    voice_fallback_method: Option<String>,
    status_callback: Option<Option<String>>,
    status_callback_method: Option<String>,
}

impl ApplicationChanges {
    fn parse(form: &Form) -> Result<ApplicationChanges, ApiError> {
        let friendly_name = form.string("FriendlyName");
        if let Some(name) = &friendly_name {
            if name.chars().count() > 64 {
                return Err(ApiError::invalid(
                    "FriendlyName",
                    "must be at most 64 characters",
                ));
            }
        }
        if let Some(v) = form.get("ApiVersion") {
            if !matches!(v.trim(), "2010-04-01" | "2008-08-01") {
                return Err(ApiError::invalid(
                    "ApiVersion",
                    format!("must be 2010-04-01 or 2008-08-01, got {v:?}"),
                ));
            }
        }
        Ok(ApplicationChanges {
            friendly_name,
            voice_url: form.callback_url("VoiceUrl")?,
            voice_method: method_param(form, "VoiceMethod")?,
            voice_fallback_url: form.callback_url("VoiceFallbackUrl")?,
            voice_fallback_method: method_param(form, "VoiceFallbackMethod")?,
            status_callback: form.callback_url("StatusCallback")?,
            status_callback_method: method_param(form, "StatusCallbackMethod")?,
        })
    }

    fn apply(self, a: &mut ApplicationRecord) {
        if let Some(v) = self.friendly_name {
            a.friendly_name = v;
        }
        if let Some(v) = self.voice_url {
            a.voice_url = v;
        }
        if let Some(v) = self.voice_method {
            a.voice_method = v;
        }
        if let Some(v) = self.voice_fallback_url {
            a.voice_fallback_url = v;
        }
        if let Some(v) = self.voice_fallback_method {
            a.voice_fallback_method = v;
        }
        if let Some(v) = self.status_callback {
            a.status_callback = v;
        }
        if let Some(v) = self.status_callback_method {
            a.status_callback_method = v;
        }
    }
}

async fn create_application(
    State(app): State<App>,
    Path(account): Path<String>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let changes = ApplicationChanges::parse(&Form::parse(&body)?)?;
    let sid: Sid<Application> = new_sid();
    app.core
        .run(move |core| {
            let now = core.now().0;
            let mut application = ApplicationRecord {
                sid,
                friendly_name: String::new(),
                voice_url: None,
                voice_method: "POST".into(),
                voice_fallback_url: None,
                voice_fallback_method: "POST".into(),
                status_callback: None,
                status_callback_method: "POST".into(),
                date_created: now,
                date_updated: now,
            };
            changes.apply(&mut application);
            core.execute(Entry::PutApplication { application })?;
            stored_application(core, sid).map(created)
        })
        .await?
}

fn stored_application(core: &Core, sid: Sid<Application>) -> Result<Value, ApiError> {
    let account = core.account();
    core.center()
        .model()
        .applications()
        .get(&sid)
        .map(|a| render_application(account, a))
        .ok_or_else(|| ApiError::not_found(format!("Application {sid}")))
}

async fn list_applications(
    State(app): State<App>,
    ctx: Ctx,
    Path(account): Path<String>,
) -> ApiResult {
    check_account(&app, &account)?;
    let paging = Paging::from(&ctx.query)?;
    let name = ctx.query.string("FriendlyName");
    let (items, more) = app
        .core
        .run(move |core| {
            let account = core.account();
            let mut apps: Vec<&ApplicationRecord> = core
                .center()
                .model()
                .applications()
                .values()
                .filter(|a| name.as_deref().is_none_or(|n| a.friendly_name == n))
                .collect();
            apps.sort_by_key(|a| (a.date_created, a.sid.to_string()));
            let all: Vec<Value> = apps
                .into_iter()
                .map(|a| render_application(account, a))
                .collect();
            page_of(all, paging)
        })
        .await?;
    Ok(crate::http::list2010(
        &ctx,
        "applications",
        paging,
        items,
        more,
    ))
}

async fn fetch_application(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Application> = segment_sid(&sid, "Application")?;
    app.core
        .run(move |core| stored_application(core, sid).map(ok))
        .await?
}

async fn update_application(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Application> = segment_sid(&sid, "Application")?;
    let changes = ApplicationChanges::parse(&Form::parse(&body)?)?;
    app.core
        .run(move |core| {
            let mut application = core
                .center()
                .model()
                .applications()
                .get(&sid)
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("Application {sid}")))?;
            changes.apply(&mut application);
            application.date_updated = core.now().0;
            core.execute(Entry::PutApplication { application })?;
            stored_application(core, sid).map(ok)
        })
        .await?
}

async fn delete_application(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Application> = segment_sid(&sid, "Application")?;
    app.core
        .run(move |core| {
            core.execute(Entry::DeleteApplication { sid })?;
            Ok(no_content())
        })
        .await?
}

// ------------------------------------------------------------------------------------------------
// Calls

fn render_call(account: Sid<Account>, c: &CallRecord) -> Value {
    let base = format!("{}/Calls/{}", account_path(account), c.sid);
    // Twilio's start_time: when the call was dialed (empty while queued).
    let start = match c.status {
        CallStatus::Queued => None,
        _ => Some(c.start_time.unwrap_or(c.date_created)),
    };
    // Duration counts from the answer; an unanswered call that ended lasted 0 seconds.
    let duration = c.end_time.map(|end| {
        let answered = c.start_time.unwrap_or(end);
        (end.saturating_sub(answered).max(0) / 1000).to_string()
    });
    let updated = [Some(c.date_created), c.start_time, c.end_time]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(c.date_created);
    json!({
        "sid": c.sid.to_string(),
        "account_sid": account.to_string(),
        "parent_call_sid": c.parent.map(|p| p.to_string()),
        "from": c.from,
        "from_formatted": c.from,
        "to": c.to,
        "to_formatted": c.to,
        "phone_number_sid": null,
        "status": c.status.as_str(),
        "direction": c.direction.as_str(),
        "start_time": start.map(rfc2822),
        "end_time": c.end_time.map(rfc2822),
        "duration": duration,
        "price": null,
        "price_unit": "USD",
        "answered_by": null,
        "caller_name": null,
        "forwarded_from": null,
        "group_sid": null,
        "queue_time": "0",
        "trunk_sid": null,
        "annotation": null,
        "api_version": API_VERSION,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(updated),
        "uri": format!("{base}.json"),
        "subresource_uris": {
            "notifications": format!("{base}/Notifications.json"),
            "recordings": format!("{base}/Recordings.json"),
            "payments": format!("{base}/Payments.json"),
            "events": format!("{base}/Events.json"),
            "siprec": format!("{base}/Siprec.json"),
            "streams": format!("{base}/Streams.json"),
            "user_defined_message_subscriptions":
                format!("{base}/UserDefinedMessageSubscriptions.json"),
            "user_defined_messages": format!("{base}/UserDefinedMessages.json"),
        },
    })
}

async fn list_calls(State(app): State<App>, ctx: Ctx, Path(account): Path<String>) -> ApiResult {
    check_account(&app, &account)?;
    let paging = Paging::from(&ctx.query)?;
    let to = ctx.query.string("To");
    let from = ctx.query.string("From");
    let parent = ctx.query.string("ParentCallSid");
    let status = ctx.query.string("Status");
    let (items, more) = app
        .core
        .run(move |core| {
            let account = core.account();
            let mut calls: Vec<&CallRecord> = core
                .voice()
                .calls()
                .filter(|c| to.as_deref().is_none_or(|v| c.to == v))
                .filter(|c| from.as_deref().is_none_or(|v| c.from == v))
                .filter(|c| {
                    parent
                        .as_deref()
                        .is_none_or(|v| c.parent.is_some_and(|p| p.to_string() == v))
                })
                .filter(|c| status.as_deref().is_none_or(|v| c.status.as_str() == v))
                .collect();
            // Most recent first, as Twilio lists calls.
            calls.sort_by_key(|c| (std::cmp::Reverse(c.date_created), c.sid.to_string()));
            let all: Vec<Value> = calls.into_iter().map(|c| render_call(account, c)).collect();
            page_of(all, paging)
        })
        .await?;
    Ok(crate::http::list2010(&ctx, "calls", paging, items, more))
}

/// Twilio's codes for the Calls and Participants parameters (its error dictionary).
mod codes {
    /// No `To` given.
    pub const MISSING_TO: u32 = 21201;
    /// `Url` missing or not a URL we can call.
    pub const INVALID_URL: u32 = 21205;
    /// A `To` that is not a destination at all.
    pub const INVALID_TO: u32 = 21211;
    /// No `From` given.
    pub const MISSING_FROM: u32 = 21213;
    /// A well-formed `To` that cannot be reached: a number or SIP address, without a trunk.
    pub const UNREACHABLE_TO: u32 = 21214;
    /// An `ApplicationSid` that is malformed or names no application.
    pub const INVALID_APPLICATION: u32 = 21218;
    /// The call is not in a state that allows it.
    pub const INVALID_CALL_STATE: u32 = 21220;
}

/// A 400 with one of Twilio's specific codes.
fn coded(code: u32, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: message.into(),
    }
}

/// The longest inline `Twiml` Twilio accepts, in characters.
const MAX_TWIML_CHARS: usize = 4000;
/// The longest ring Twilio allows (`Timeout`), in seconds; the default is 60.
const MAX_TIMEOUT_SECS: u64 = 600;

/// `To` and `From`, checked: a destination we can dial (`client:` or `app:`).
fn destination(form: &Form) -> Result<(String, String), ApiError> {
    let to = match form.get("To").map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => {
            return Err(coded(
                codes::MISSING_TO,
                "Required parameter To missing: the client:<identity> or app:AP… to call",
            ))
        }
    };
    let from = match form.get("From").map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => {
            return Err(coded(
                codes::MISSING_FROM,
                "Required parameter From missing: the caller ID the callee is shown",
            ))
        }
    };
    match Address::parse(&to) {
        Err(e) => Err(coded(
            codes::INVALID_TO,
            format!("To {to:?} is not a valid destination: {e}"),
        )),
        Ok(Address::Number(_) | Address::Sip(_)) => Err(coded(
            codes::UNREACHABLE_TO,
            format!(
                "To {to:?} cannot be reached: no telephone or SIP trunk is configured, so numbers \
                 cannot be dialled; call client:<identity> or app:AP…"
            ),
        )),
        Ok(_) => Ok((to, from)),
    }
}

/// `Timeout`: seconds to ring, 1 to 600, default 60.
fn ring_timeout(form: &Form) -> Result<u64, ApiError> {
    match form.uint::<u64>("Timeout")? {
        None => Ok(60),
        Some(t) if (1..=MAX_TIMEOUT_SECS).contains(&t) => Ok(t),
        Some(t) => Err(ApiError::invalid(
            "Timeout",
            format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds, got {t}"),
        )),
    }
}

/// `StatusCallback`, `StatusCallbackMethod` and `StatusCallbackEvent` (repeated or
/// space/comma-separated: `initiated`, `ringing`, `answered`, `completed`).
fn status_callback(form: &Form) -> Result<Option<StatusCallback>, ApiError> {
    let url = form.callback_url("StatusCallback")?.flatten();
    let method = method_param(form, "StatusCallbackMethod")?;
    let mut events = Vec::new();
    for raw in form.list("StatusCallbackEvent") {
        for name in raw.split_whitespace() {
            let step = CallProgress::parse(name).ok_or_else(|| {
                ApiError::invalid(
                    "StatusCallbackEvent",
                    format!("must be initiated, ringing, answered or completed, got {name:?}"),
                )
            })?;
            if !events.contains(&step) {
                events.push(step);
            }
        }
    }
    Ok(url.map(|url| StatusCallback {
        url,
        method: twiml_method(method.as_deref()),
        events,
    }))
}

fn twiml_method(m: Option<&str>) -> Method {
    match m {
        Some("GET") => Method::Get,
        _ => Method::Post,
    }
}

/// What a call runs once answered: `ApplicationSid`, else `Url` (with `Method`), else `Twiml`,
/// as Twilio ranks them. `None` when none is given.
fn instructions(form: &Form) -> Result<Option<CallInstructions>, ApiError> {
    let method = method_param(form, "Method")?;
    let url = form.callback_url("Url").map_err(|e| ApiError {
        code: codes::INVALID_URL,
        ..e
    })?;
    let application = match form.get("ApplicationSid").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<Sid<Application>>().map_err(|_| {
            coded(
                codes::INVALID_APPLICATION,
                format!("ApplicationSid {v:?} is not an application SID (AP and 32 hex digits)"),
            )
        })?),
    };
    let twiml = match form.get("Twiml").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) if v.chars().count() > MAX_TWIML_CHARS => {
            return Err(ApiError::invalid(
                "Twiml",
                format!("must be at most {MAX_TWIML_CHARS} characters"),
            ))
        }
        Some(v) => Some(v.to_owned()),
    };
    Ok(match (application, url.flatten(), twiml) {
        (Some(sid), _, _) => Some(CallInstructions::Application(sid)),
        (None, Some(url), _) => Some(CallInstructions::Url {
            url,
            method: twiml_method(method.as_deref()),
        }),
        (None, None, Some(xml)) => Some(CallInstructions::Twiml(xml)),
        (None, None, None) => None,
    })
}

async fn create_call(
    State(app): State<App>,
    Path(account): Path<String>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let form = Form::parse(&body)?;
    let (to, from) = destination(&form)?;
    let instructions = instructions(&form)?.ok_or_else(|| {
        coded(
            codes::INVALID_URL,
            "Required parameter Url missing: give Url, Twiml or ApplicationSid, what the call \
             runs once answered",
        )
    })?;
    // Accepted and ignored, but a URL we would call must still be one.
    form.check_callback_urls(&[
        "FallbackUrl",
        "RecordingStatusCallback",
        "AsyncAmdStatusCallback",
    ])?;
    method_param(&form, "FallbackMethod")?;
    let spec = CallSpec {
        from,
        to,
        instructions,
        ring_timeout: ring_timeout(&form)?,
        status_callback: status_callback(&form)?,
        record: strict_bool(&form, "Record")?.unwrap_or(false),
    };
    app.core
        .run(move |core| {
            let call =
                placed(core.handle(Input::Voice(VoiceRequest::CreateCall(Box::new(spec))))?)?;
            stored_call(core, call).map(created)
        })
        .await?
}

/// The call a placing request answered with.
fn placed(reply: Reply) -> Result<Sid<Call>, ApiError> {
    match reply {
        Reply::Call(call) => Ok(call),
        other => Err(ApiError::internal(format!("unexpected reply {other:?}"))),
    }
}

fn stored_call(core: &Core, sid: Sid<Call>) -> Result<Value, ApiError> {
    let account = core.account();
    core.voice()
        .call(sid)
        .map(|c| render_call(account, c))
        .ok_or_else(|| ApiError::not_found(format!("Call {sid}")))
}

async fn fetch_call(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Call> = segment_sid(&sid, "Call")?;
    app.core
        .run(move |core| stored_call(core, sid).map(ok))
        .await?
}

async fn update_call(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Call> = segment_sid(&sid, "Call")?;
    let form = Form::parse(&body)?;
    // Accepted and ignored, but a URL we would call must still be one.
    form.check_callback_urls(&["StatusCallback", "FallbackUrl"])?;
    method_param(&form, "StatusCallbackMethod")?;
    method_param(&form, "FallbackMethod")?;
    let redirect = instructions(&form)?;
    let status = match form.get("Status") {
        None => None,
        Some("completed") => Some(false),
        Some("canceled") => Some(true),
        Some(other) => {
            return Err(ApiError::invalid(
                "Status",
                format!("must be completed or canceled, got {other:?}"),
            ))
        }
    };
    if status.is_none() && redirect.is_none() {
        return Err(ApiError::invalid(
            "Status",
            "is missing: give Status (completed or canceled), Url, Twiml or ApplicationSid",
        ));
    }
    app.core
        .run(move |core| {
            let record = core
                .voice()
                .call(sid)
                .ok_or_else(|| ApiError::not_found(format!("Call {sid}")))?;
            let current = record.status;
            let waiting = record.awaits_answer();
            match (status, redirect) {
                // `Status` wins over a redirect given with it.
                (Some(cancel_only), _) => {
                    // `canceled` only stops a call that has not been answered, as Twilio does.
                    let applies = !current.is_final()
                        && (!cancel_only
                            || matches!(current, CallStatus::Queued | CallStatus::Ringing));
                    if applies {
                        core.handle(Input::Voice(VoiceRequest::Hangup { call: sid }))?;
                    }
                }
                (None, Some(instructions)) => {
                    if current.is_final() || (current != CallStatus::InProgress && !waiting) {
                        return Err(coded(
                            codes::INVALID_CALL_STATE,
                            format!(
                                "Call {sid} is not in-progress. Cannot redirect (it is {}).",
                                current.as_str()
                            ),
                        ));
                    }
                    core.handle(Input::Voice(VoiceRequest::Redirect {
                        call: sid,
                        instructions,
                    }))?;
                }
                (None, None) => {}
            }
            stored_call(core, sid).map(ok)
        })
        .await?
}

/// Twilio's `DELETE Calls/{CA}`: the record of a call that has ended goes; a live call is
/// refused (hang it up first with `Status=completed`).
async fn delete_call(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Call> = segment_sid(&sid, "Call")?;
    app.core
        .run(move |core| {
            let status = core
                .voice()
                .call(sid)
                .map(|c| c.status)
                .ok_or_else(|| ApiError::not_found(format!("Call {sid}")))?;
            if !status.is_final() {
                return Err(coded(
                    codes::INVALID_CALL_STATE,
                    format!(
                        "Call {sid} is {}: only a call that has ended can be deleted; hang it up \
                         first with Status=completed",
                        status.as_str()
                    ),
                ));
            }
            core.handle(Input::Voice(VoiceRequest::DeleteCall { call: sid }))?;
            Ok(no_content())
        })
        .await?
}

// ------------------------------------------------------------------------------------------------
// Conferences

fn render_conference(account: Sid<Account>, c: &ConferenceRecord) -> Value {
    let base = format!("{}/Conferences/{}", account_path(account), c.sid);
    json!({
        "sid": c.sid.to_string(),
        "account_sid": account.to_string(),
        "friendly_name": c.friendly_name,
        "status": c.status.as_str(),
        "region": "us1",
        "reason_conference_ended": c.end_reason,
        "call_sid_ending_conference": null,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "api_version": API_VERSION,
        "uri": format!("{base}.json"),
        "subresource_uris": {
            "participants": format!("{base}/Participants.json"),
            "recordings": format!("{base}/Recordings.json"),
        },
    })
}

async fn list_conferences(
    State(app): State<App>,
    ctx: Ctx,
    Path(account): Path<String>,
) -> ApiResult {
    check_account(&app, &account)?;
    let paging = Paging::from(&ctx.query)?;
    let name = ctx.query.string("FriendlyName");
    let status = match ctx.query.get("Status") {
        None => None,
        Some(v @ ("init" | "in-progress" | "completed")) => Some(v.to_owned()),
        Some(v) => {
            return Err(ApiError::invalid(
                "Status",
                format!("must be init, in-progress or completed, got {v:?}"),
            ))
        }
    };
    let (items, more) = app
        .core
        .run(move |core| {
            let account = core.account();
            let mut confs: Vec<&ConferenceRecord> = core
                .voice()
                .conferences()
                .filter(|c| name.as_deref().is_none_or(|n| c.friendly_name == n))
                .filter(|c| status.as_deref().is_none_or(|s| c.status.as_str() == s))
                .collect();
            confs.sort_by_key(|c| (std::cmp::Reverse(c.date_created), c.sid.to_string()));
            let all: Vec<Value> = confs
                .into_iter()
                .map(|c| render_conference(account, c))
                .collect();
            page_of(all, paging)
        })
        .await?;
    Ok(crate::http::list2010(
        &ctx,
        "conferences",
        paging,
        items,
        more,
    ))
}

fn stored_conference(core: &Core, sid: Sid<Conference>) -> Result<Value, ApiError> {
    let account = core.account();
    core.voice()
        .conference(sid)
        .map(|c| render_conference(account, c))
        .ok_or_else(|| ApiError::not_found(format!("Conference {sid}")))
}

async fn fetch_conference(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Conference> = segment_sid(&sid, "Conference")?;
    app.core
        .run(move |core| stored_conference(core, sid).map(ok))
        .await?
}

async fn update_conference(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid: Sid<Conference> = segment_sid(&sid, "Conference")?;
    let form = Form::parse(&body)?;
    // Ignored, but a URL we would call must still be one.
    form.check_callback_urls(&["AnnounceUrl"])?;
    let end = match form.get("Status") {
        None => false,
        Some("completed") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "Status",
                format!("can only be completed, got {other:?}"),
            ))
        }
    };
    app.core
        .run(move |core| {
            if end {
                core.handle(Input::Voice(VoiceRequest::EndConference {
                    conference: sid,
                }))?;
            } else if core.voice().conference(sid).is_none() {
                return Err(ApiError::not_found(format!("Conference {sid}")));
            }
            stored_conference(core, sid).map(ok)
        })
        .await?
}

// ------------------------------------------------------------------------------------------------
// Participants

fn render_participant(
    account: Sid<Account>,
    conf: &ConferenceRecord,
    call: Sid<Call>,
    status: Option<CallStatus>,
    p: &Participation,
) -> Value {
    // Twilio's participant statuses, from the participant's call.
    let status = match status {
        Some(CallStatus::Queued) => "queued",
        Some(CallStatus::Ringing) => "ringing",
        Some(CallStatus::InProgress) => "connected",
        Some(CallStatus::Failed | CallStatus::Busy | CallStatus::NoAnswer) => "failed",
        _ => "complete",
    };
    json!({
        "account_sid": account.to_string(),
        "call_sid": call.to_string(),
        "conference_sid": conf.sid.to_string(),
        "label": p.label,
        "call_sid_to_coach": p.call_sid_to_coach.map(|c| c.to_string()),
        "coaching": p.coaching,
        "end_conference_on_exit": p.end_on_exit,
        "start_conference_on_enter": p.start_on_enter,
        "hold": p.hold,
        "muted": p.muted,
        "status": status,
        "queue_time": "0",
        "date_created": rfc2822(p.joined),
        "date_updated": rfc2822(conf.date_updated.max(p.joined)),
        "uri": format!(
            "{}/Conferences/{}/Participants/{}.json",
            account_path(account),
            conf.sid,
            call
        ),
    })
}

/// The calls still in a conference, in the order they joined.
fn members(core: &Core, conf: &ConferenceRecord) -> Vec<(Sid<Call>, Participation)> {
    let mut out: Vec<(Sid<Call>, Participation)> = conf
        .participants
        .iter()
        .filter_map(|call| {
            core.voice()
                .participation(conf.sid, *call)
                .map(|p| (*call, p.clone()))
        })
        .collect();
    out.dedup_by_key(|(c, _)| *c);
    out
}

/// The call a participant path names: its call SID, or (as Twilio allows) its label.
fn resolve_participant(
    core: &Core,
    conf: Sid<Conference>,
    segment: &str,
) -> Result<Sid<Call>, ApiError> {
    let key = bare(segment);
    let record = core
        .voice()
        .conference(conf)
        .ok_or_else(|| ApiError::not_found(format!("Conference {conf}")))?;
    let found = match key.parse::<Sid<Call>>() {
        Ok(call) => core.voice().participation(conf, call).map(|_| call),
        Err(_) => members(core, record)
            .into_iter()
            .find(|(_, p)| p.label.as_deref() == Some(key))
            .map(|(c, _)| c),
    };
    found.ok_or_else(|| ApiError::not_found(format!("Participant {key} of Conference {conf}")))
}

fn stored_participant(
    core: &Core,
    conf: Sid<Conference>,
    call: Sid<Call>,
) -> Result<Value, ApiError> {
    let account = core.account();
    let record = core
        .voice()
        .conference(conf)
        .ok_or_else(|| ApiError::not_found(format!("Conference {conf}")))?;
    let status = core.voice().call(call).map(|c| c.status);
    core.voice()
        .participation(conf, call)
        .map(|p| render_participant(account, record, call, status, p))
        .ok_or_else(|| ApiError::not_found(format!("Participant {call} of Conference {conf}")))
}

async fn list_participants(
    State(app): State<App>,
    ctx: Ctx,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let conf: Sid<Conference> = segment_sid(&sid, "Conference")?;
    let paging = Paging::from(&ctx.query)?;
    let hold = strict_bool(&ctx.query, "Hold")?;
    let muted = strict_bool(&ctx.query, "Muted")?;
    let coaching = strict_bool(&ctx.query, "Coaching")?;
    let (items, more) = app
        .core
        .run(move |core| {
            let account = core.account();
            let record = core
                .voice()
                .conference(conf)
                .ok_or_else(|| ApiError::not_found(format!("Conference {conf}")))?;
            let all: Vec<Value> = members(core, record)
                .iter()
                .filter(|(_, p)| hold.is_none_or(|h| p.hold == h))
                .filter(|(_, p)| muted.is_none_or(|m| p.muted == m))
                .filter(|(_, p)| coaching.is_none_or(|c| p.coaching == c))
                .map(|(call, p)| {
                    let status = core.voice().call(*call).map(|c| c.status);
                    render_participant(account, record, *call, status, p)
                })
                .collect();
            Ok::<_, ApiError>(page_of(all, paging))
        })
        .await??;
    Ok(crate::http::list2010(
        &ctx,
        "participants",
        paging,
        items,
        more,
    ))
}

/// The longest participant `Label` Twilio accepts, in characters.
const MAX_LABEL_CHARS: usize = 128;

/// `Beep`: `true`, `false`, `onEnter`, `onExit` (`true`/`false` in any case).
fn beep_param(form: &Form) -> Result<Option<Beep>, ApiError> {
    let Some(v) = form.get("Beep") else {
        return Ok(None);
    };
    let v = v.trim();
    let normal = match v.to_ascii_lowercase().as_str() {
        "true" => "true",
        "false" => "false",
        "onenter" => "onEnter",
        "onexit" => "onExit",
        _ => "",
    };
    Beep::parse(normal).map(Some).ok_or_else(|| {
        ApiError::invalid(
            "Beep",
            format!("must be true, false, onEnter or onExit, got {v:?}"),
        )
    })
}

/// `Coaching` and `CallSidToCoach`, checked against the conference: the coached call must be
/// another participant of it, as Twilio requires.
fn check_coaching(
    core: &Core,
    conf: Option<Sid<Conference>>,
    call: Option<Sid<Call>>,
    coaching: Option<bool>,
    target: Option<Sid<Call>>,
) -> Result<(), ApiError> {
    let current = match (conf, call) {
        (Some(cf), Some(c)) => core.voice().participation(cf, c).cloned(),
        _ => None,
    };
    let coaches = coaching
        .unwrap_or_else(|| current.as_ref().is_some_and(|p| p.coaching) || target.is_some());
    if !coaches || (coaching.is_none() && target.is_none()) {
        return Ok(());
    }
    let Some(target) = target.or_else(|| current.and_then(|p| p.call_sid_to_coach)) else {
        return Err(ApiError::invalid(
            "CallSidToCoach",
            "is required when Coaching is true: the participant's call to coach",
        ));
    };
    if Some(target) == call {
        return Err(ApiError::invalid(
            "CallSidToCoach",
            format!("{target} is the coaching participant itself"),
        ));
    }
    let present = conf.is_some_and(|cf| core.voice().participation(cf, target).is_some());
    if !present {
        return Err(ApiError::invalid(
            "CallSidToCoach",
            format!("{target} is not a participant of this conference"),
        ));
    }
    Ok(())
}

async fn create_participant(
    State(app): State<App>,
    Path((account, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let segment = bare(&sid).to_owned();
    let form = Form::parse(&body)?;
    let (to, from) = destination(&form)?;
    let label = form.string("Label").filter(|l| !l.is_empty());
    if let Some(l) = &label {
        if l.chars().count() > MAX_LABEL_CHARS {
            return Err(ApiError::invalid(
                "Label",
                format!("must be at most {MAX_LABEL_CHARS} characters"),
            ));
        }
    }
    let coaching = strict_bool(&form, "Coaching")?;
    let coach: Option<Sid<Call>> = form.sid("CallSidToCoach")?;
    // Accepted and ignored (the relay plays its own hold and wait music and records through
    // the recording layer), but a URL we would call must still be one.
    form.check_callback_urls(&[
        "HoldUrl",
        "WaitUrl",
        "ConferenceStatusCallback",
        "ConferenceRecordingStatusCallback",
        "RecordingStatusCallback",
        "AmdStatusCallback",
    ])?;
    for name in [
        "HoldMethod",
        "WaitMethod",
        "ConferenceStatusCallbackMethod",
        "ConferenceRecordingStatusCallbackMethod",
        "RecordingStatusCallbackMethod",
    ] {
        method_param(&form, name)?;
    }
    let defaults = JoinSpec::default();
    let join = JoinSpec {
        conference: String::new(),
        start_on_enter: strict_bool(&form, "StartConferenceOnEnter")?
            .unwrap_or(defaults.start_on_enter),
        end_on_exit: strict_bool(&form, "EndConferenceOnExit")?.unwrap_or(defaults.end_on_exit),
        muted: strict_bool(&form, "Muted")?.unwrap_or(false),
        hold: strict_bool(&form, "Hold")?.unwrap_or(false),
        label,
        coaching: coaching.unwrap_or(coach.is_some()),
        call_sid_to_coach: coach,
        beep: beep_param(&form)?.unwrap_or_default(),
        early_media: strict_bool(&form, "EarlyMedia")?.unwrap_or(true),
    };
    let ring_timeout = ring_timeout(&form)?;
    let status_callback = status_callback(&form)?;
    let record = strict_bool(&form, "Record")?.unwrap_or(false);
    app.core
        .run(move |core| {
            // The path names the conference by SID (it must be live) or, as Twilio allows, by
            // friendly name (created when no live conference has it).
            let existing = match segment.parse::<Sid<Conference>>() {
                Ok(cf) => {
                    let c = core
                        .voice()
                        .conference(cf)
                        .ok_or_else(|| ApiError::not_found(format!("Conference {cf}")))?;
                    if c.status == ConferenceStatus::Completed {
                        return Err(ApiError::invalid(
                            "ConferenceSid",
                            format!("{cf} has ended: participants cannot be added to it"),
                        ));
                    }
                    Some(c)
                }
                Err(_) => core.voice().conference_named(&segment),
            };
            let name = existing.map_or(segment.clone(), |c| c.friendly_name.clone());
            let conf = existing.map(|c| c.sid);
            if let (Some(l), Some(c)) = (&join.label, existing) {
                let taken = members(core, c)
                    .iter()
                    .any(|(_, p)| p.label.as_deref() == Some(l.as_str()));
                if taken {
                    return Err(ApiError::invalid(
                        "Label",
                        format!("{l:?} is already the label of a participant of this conference"),
                    ));
                }
            }
            check_coaching(
                core,
                conf,
                None,
                Some(join.coaching),
                join.call_sid_to_coach,
            )?;
            let spec = ParticipantSpec {
                from,
                to,
                join: JoinSpec {
                    conference: name.clone(),
                    ..join
                },
                ring_timeout,
                status_callback,
                record,
            };
            let call =
                placed(core.handle(Input::Voice(VoiceRequest::AddParticipant(Box::new(spec))))?)?;
            // The conference of the participant's call (new when the path named a new one).
            let cf = core
                .voice()
                .call(call)
                .and_then(|c| {
                    [&c.caller, &c.callee].into_iter().find_map(|e| match e {
                        switchboard_voice::End::Conference(p) => Some(p.conference),
                        _ => None,
                    })
                })
                .or(conf)
                .ok_or_else(|| ApiError::not_found(format!("Conference {name}")))?;
            stored_participant(core, cf, call).map(created)
        })
        .await?
}

async fn fetch_participant(
    State(app): State<App>,
    Path((account, sid, call)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let conf: Sid<Conference> = segment_sid(&sid, "Conference")?;
    app.core
        .run(move |core| {
            let call = resolve_participant(core, conf, &call)?;
            stored_participant(core, conf, call).map(ok)
        })
        .await?
}

async fn update_participant(
    State(app): State<App>,
    Path((account, sid, call)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let conf: Sid<Conference> = segment_sid(&sid, "Conference")?;
    let form = Form::parse(&body)?;
    for unsupported in ["AnnounceUrl", "AnnounceMethod"] {
        if form.get(unsupported).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::invalid(
                unsupported,
                "is not supported: Switchboard plays no announcements to a participant",
            ));
        }
    }
    // Accepted and ignored (the relay plays its own hold and wait music), but a URL we would
    // call must still be one.
    form.check_callback_urls(&["HoldUrl", "WaitUrl"])?;
    for name in ["HoldMethod", "WaitMethod"] {
        method_param(&form, name)?;
    }
    strict_bool(&form, "BeepOnExit")?;
    let update = ParticipantUpdate {
        hold: strict_bool(&form, "Hold")?,
        muted: strict_bool(&form, "Muted")?,
        coaching: strict_bool(&form, "Coaching")?,
        call_sid_to_coach: form.sid("CallSidToCoach")?,
        end_on_exit: strict_bool(&form, "EndConferenceOnExit")?,
    };
    app.core
        .run(move |core| {
            let call = resolve_participant(core, conf, &call)?;
            check_coaching(
                core,
                Some(conf),
                Some(call),
                update.coaching,
                update.call_sid_to_coach,
            )?;
            if update != ParticipantUpdate::default() {
                core.handle(Input::Voice(VoiceRequest::ModifyParticipant {
                    conference: conf,
                    call,
                    update,
                }))?;
            }
            stored_participant(core, conf, call).map(ok)
        })
        .await?
}

async fn delete_participant(
    State(app): State<App>,
    Path((account, sid, call)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let conf: Sid<Conference> = segment_sid(&sid, "Conference")?;
    app.core
        .run(move |core| {
            let call = resolve_participant(core, conf, &call)?;
            core.handle(Input::Voice(VoiceRequest::RemoveParticipant {
                conference: conf,
                call,
            }))?;
            Ok(no_content())
        })
        .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc_2822() {
        // 2026-11-26T08:00:00Z
        assert_eq!(
            rfc2822(1_795_680_000_000),
            "Thu, 26 Nov 2026 08:00:00 +0000"
        );
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
