//! Voice REST API under `/2010-04-01/Accounts/{AccountSid}/`: Applications, Calls, Conferences
//! and conference Participants, in the shapes of Twilio's 2010-04-01 API (snake_case JSON, RFC 2822
//! dates, relative `uri` fields, and the 2010 list shape with `next_page_uri`).
//!
//! Applications are durable (log entries); calls and conferences live in the voice layer only,
//! so changes to them go straight to `core.voice()` and end with the server.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use switchboard_sid::{Account, Application, Call, Conference, Sid};
use switchboard_voice::{CallRecord, CallStatus, ConferenceRecord, Participation};

use crate::app::App;
use crate::driver::Driver as Core;
use crate::http::{created, no_content, ok, page_of, ApiError, ApiResult, Ctx, Form, Paging};
use crate::ids::new_sid;
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
            get(fetch_call).post(update_call),
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

/// RFC 2822 in GMT, as the 2010-04-01 API writes dates: `Thu, 26 Nov 2026 08:00:00 +0000`.
pub fn rfc2822(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let day = DAYS
        .get(usize::from(t.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or("Mon");
    let month = MONTHS
        .get(usize::from(u8::from(t.month())).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day}, {:02} {month} {:04} {:02}:{:02}:{:02} +0000",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn account_path(account: Sid<Account>) -> String {
    format!("/{API_VERSION}/Accounts/{account}")
}

/// A list in the 2010-04-01 shape: the items under `key`, then `first_page_uri`,
/// `next_page_uri`, `previous_page_uri`, `page`, `page_size`, `start`, `end` and `uri`, the URIs
/// relative to the host as Twilio writes them (the library makes them absolute).
fn list2010(ctx: &Ctx, key: &str, paging: Paging, items: Vec<Value>, has_more: bool) -> Response {
    let keep: Vec<(String, String)> = ctx
        .query
        .pairs()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .cloned()
        .collect();
    let page_uri = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(&keep);
        s.append_pair("PageSize", &paging.size.to_string());
        s.append_pair("Page", &page.to_string());
        if page > 0 {
            s.append_pair("PageToken", &format!("PT{page}"));
        }
        format!("{}?{}", ctx.path, s.finish())
    };
    let start = paging.offset();
    let end = (start + items.len()).saturating_sub(1).max(start);
    let body = json!({
        key: items,
        "first_page_uri": page_uri(0),
        "next_page_uri": has_more.then(|| page_uri(paging.page + 1)),
        "previous_page_uri": (paging.page > 0).then(|| page_uri(paging.page - 1)),
        "page": paging.page,
        "page_size": paging.size,
        "start": start,
        "end": end,
        "uri": page_uri(paging.page),
    });
    Json(body).into_response()
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
    Ok(list2010(&ctx, "applications", paging, items, more))
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
    Ok(list2010(&ctx, "calls", paging, items, more))
}

async fn create_call(State(app): State<App>, Path(account): Path<String>) -> ApiResult {
    check_account(&app, &account)?;
    Err(ApiError {
        status: StatusCode::BAD_REQUEST,
        code: 20001,
        message: "Creating calls through the REST API is not supported by Switchboard: outbound \
                  calls are placed through the StartOutboundCall function or from the agent \
                  desktop."
            .into(),
    })
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
    // Ignored, but a URL we would call must still be one.
    form.check_callback_urls(&["StatusCallback", "FallbackUrl"])?;
    for redirect in ["Url", "Twiml"] {
        if form.get(redirect).is_some() {
            return Err(ApiError::invalid(
                redirect,
                "is not supported: Switchboard cannot redirect a live call; only Status=completed \
                 or Status=canceled is",
            ));
        }
    }
    let status = form.required("Status")?;
    let cancel_only = match status.as_str() {
        "completed" => false,
        "canceled" => true,
        other => {
            return Err(ApiError::invalid(
                "Status",
                format!("must be completed or canceled, got {other:?}"),
            ))
        }
    };
    app.core
        .run(move |core| {
            let current = core
                .voice()
                .call(sid)
                .map(|c| c.status)
                .ok_or_else(|| ApiError::not_found(format!("Call {sid}")))?;
            // `canceled` only stops a call that has not been answered, as Twilio does.
            let applies = !current.is_final()
                && (!cancel_only || matches!(current, CallStatus::Queued | CallStatus::Ringing));
            if applies {
                core.handle(Input::Voice(VoiceRequest::Hangup { call: sid }))?;
            }
            stored_call(core, sid).map(ok)
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
    Ok(list2010(&ctx, "conferences", paging, items, more))
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
    p: &Participation,
) -> Value {
    json!({
        "account_sid": account.to_string(),
        "call_sid": call.to_string(),
        "conference_sid": conf.sid.to_string(),
        "label": p.label,
        "call_sid_to_coach": null,
        "coaching": false,
        "end_conference_on_exit": p.end_on_exit,
        "start_conference_on_enter": p.start_on_enter,
        "hold": p.hold,
        "muted": p.muted,
        "status": "connected",
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
    core.voice()
        .participation(conf, call)
        .map(|p| render_participant(account, record, call, p))
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
            let all: Vec<Value> = if coaching == Some(true) {
                Vec::new()
            } else {
                members(core, record)
                    .iter()
                    .filter(|(_, p)| hold.is_none_or(|h| p.hold == h))
                    .filter(|(_, p)| muted.is_none_or(|m| p.muted == m))
                    .map(|(call, p)| render_participant(account, record, *call, p))
                    .collect()
            };
            Ok::<_, ApiError>(page_of(all, paging))
        })
        .await??;
    Ok(list2010(&ctx, "participants", paging, items, more))
}

async fn create_participant(
    State(app): State<App>,
    Path((account, _sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    Err(ApiError {
        status: StatusCode::BAD_REQUEST,
        code: 20001,
        message: "Adding participants through the REST API is not supported by Switchboard: \
                  calls join conferences through TaskRouter's conference instruction or the \
                  agent desktop."
            .into(),
    })
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
    // Ignored, but a URL we would call must still be one.
    form.check_callback_urls(&["HoldUrl", "AnnounceUrl", "WaitUrl"])?;
    let hold = strict_bool(&form, "Hold")?;
    let muted = strict_bool(&form, "Muted")?;
    app.core
        .run(move |core| {
            let call = resolve_participant(core, conf, &call)?;
            if hold.is_some() || muted.is_some() {
                core.handle(Input::Voice(VoiceRequest::UpdateParticipant {
                    conference: conf,
                    call,
                    hold,
                    muted,
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
