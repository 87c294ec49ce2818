//! Recording resources under `/2010-04-01/Accounts/{AccountSid}/`: the account's Recordings
//! (list, fetch, delete, media as `.wav`, `.mp3`), a call's Recordings (start, list, pause,
//! resume, stop, delete) and a conference's (list, pause, resume, stop, delete), in Twilio's
//! 2010-04-01 shapes. The work is the recordings service's (`crate::recordings`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Value};
use switchboard_center::recording::{RecordingTarget, Track};
use switchboard_sid::{Call, Conference, Recording, Sid};

use crate::app::App;
use crate::http::{created, no_content, ok, page_of, ApiError, ApiResult, Ctx, Form, Paging};
use crate::recordings::{status, PauseBehavior, RecordingMeta, Recordings, StartOptions};
use crate::render::rfc2822;

type Service = Extension<Arc<Recordings>>;

/// The routes. The call and conference segments are named `{sid}` like the Voice routes'
/// (the router wants one name per position).
pub fn routes() -> Router<App> {
    const A: &str = "/2010-04-01/Accounts/{account}";
    Router::new()
        .route(&format!("{A}/Recordings.json"), get(list_account))
        .route(
            &format!("{A}/Recordings/{{rec}}"),
            get(fetch_account).delete(delete_account),
        )
        .route(
            &format!("{A}/Calls/{{sid}}/Recordings.json"),
            get(list_call).post(start_call),
        )
        .route(
            &format!("{A}/Calls/{{sid}}/Recordings/{{rec}}"),
            get(fetch_call).post(update_call).delete(delete_call),
        )
        .route(
            &format!("{A}/Conferences/{{sid}}/Recordings.json"),
            get(list_conference),
        )
        .route(
            &format!("{A}/Conferences/{{sid}}/Recordings/{{rec}}"),
            get(fetch_conference)
                .post(update_conference)
                .delete(delete_conference),
        )
}

fn check_account(app: &App, account: &str) -> Result<(), ApiError> {
    if account == app.account.to_string() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("Account {account}")))
    }
}

/// What a path segment asks for: the resource (`.json`) or its media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Json,
    Wav,
    Mp3,
}

fn recording_segment(segment: &str) -> Result<(Sid<Recording>, Want), ApiError> {
    let (bare, want) = if let Some(s) = segment.strip_suffix(".json") {
        (s, Want::Json)
    } else if let Some(s) = segment.strip_suffix(".wav") {
        (s, Want::Wav)
    } else if let Some(s) = segment.strip_suffix(".mp3") {
        (s, Want::Mp3)
    } else {
        // Twilio serves a recording's URL without an extension as WAV.
        (segment, Want::Wav)
    };
    let sid = bare
        .parse()
        .map_err(|_| ApiError::not_found(format!("Recording {bare}")))?;
    Ok((sid, want))
}

fn parent_sid<K: switchboard_sid::SidKind>(segment: &str, what: &str) -> Result<Sid<K>, ApiError> {
    let s = segment.strip_suffix(".json").unwrap_or(segment);
    s.parse()
        .map_err(|_| ApiError::not_found(format!("{what} {s}")))
}

/// A recording in Twilio's shape.
pub fn render(ctx: &Ctx, m: &RecordingMeta) -> Value {
    let path = format!(
        "/2010-04-01/Accounts/{}/Recordings/{}",
        m.account_sid, m.sid
    );
    let duration = match (&m.duration_s, m.is_final()) {
        (Some(d), true) => d.to_string(),
        _ => "-1".to_owned(),
    };
    json!({
        "sid": m.sid,
        "account_sid": m.account_sid,
        "api_version": "2010-04-01",
        "call_sid": m.call_sid,
        "conference_sid": m.conference_sid,
        "status": m.status,
        "channels": m.channels,
        "source": m.source,
        "track": m.track,
        "duration": duration,
        "start_time": rfc2822(m.start_time_ms),
        "date_created": rfc2822(m.date_created_ms),
        "date_updated": rfc2822(m.date_updated_ms),
        "price": null,
        "price_unit": "USD",
        "error_code": m.error_code,
        "encryption_details": null,
        "media_url": format!("{}{path}", ctx.urls.base),
        "uri": format!("{path}.json"),
        "subresource_uris": {
            "add_on_results": format!("{path}/AddOnResults.json"),
            "transcriptions": format!("{path}/Transcriptions.json"),
        },
    })
}

fn list(
    ctx: &Ctx,
    service: &Recordings,
    keep: impl Fn(&RecordingMeta) -> bool,
) -> Result<Response, ApiError> {
    let paging = Paging::from(&ctx.query)?;
    let call = ctx.query.string("CallSid");
    let conference = ctx.query.string("ConferenceSid");
    let all: Vec<Value> = service
        .list(|m| {
            keep(m)
                && call
                    .as_deref()
                    .is_none_or(|c| m.call_sid.as_deref() == Some(c))
                && conference
                    .as_deref()
                    .is_none_or(|c| m.conference_sid.as_deref() == Some(c))
        })
        .iter()
        .map(|m| render(ctx, m))
        .collect();
    let (items, more) = page_of(all, paging);
    Ok(crate::http::list2010(
        ctx,
        "recordings",
        paging,
        items,
        more,
    ))
}

/// The recording, checked to belong to `parent` (a call's or a conference's).
fn owned(
    service: &Recordings,
    sid: Sid<Recording>,
    parent: Option<(&str, &str)>,
) -> Result<RecordingMeta, ApiError> {
    let m = service
        .get(sid)
        .ok_or_else(|| ApiError::not_found(format!("Recording {sid}")))?;
    let belongs = match parent {
        None => true,
        Some(("call", p)) => m.call_sid.as_deref() == Some(p),
        Some((_, p)) => m.conference_sid.as_deref() == Some(p),
    };
    if belongs {
        Ok(m)
    } else {
        Err(ApiError::not_found(format!("Recording {sid}")))
    }
}

async fn media(service: &Recordings, sid: Sid<Recording>, want: Want) -> ApiResult {
    let path = service.wav_path(sid)?;
    match want {
        Want::Json => Err(ApiError::internal("not media")),
        Want::Wav => {
            let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
                .await
                .map_err(|e| ApiError::internal(format!("the recording's file: {e}")))?
                .map_err(|e| ApiError::internal(format!("the recording's file: {e}")))?;
            Ok(([(header::CONTENT_TYPE, "audio/x-wav")], bytes).into_response())
        }
        Want::Mp3 => mp3(path).await,
    }
}

#[cfg(feature = "mp3")]
async fn mp3(path: std::path::PathBuf) -> ApiResult {
    let bytes = tokio::task::spawn_blocking(move || switchboard_media::encode_mp3(&path))
        .await
        .map_err(|e| ApiError::internal(format!("MP3 encoding: {e}")))?
        .map_err(|e| ApiError::internal(format!("MP3 encoding: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "audio/mpeg")], bytes).into_response())
}

#[cfg(not(feature = "mp3"))]
async fn mp3(_path: std::path::PathBuf) -> ApiResult {
    Err(ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: 20415,
        message: "MP3 is not enabled on this server (it is built without the mp3 feature, as \
                  LAME is LGPL): fetch the recording as .wav"
            .into(),
    })
}

// ------------------------------------------------------------------------------------------------
// The account's recordings

async fn list_account(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path(account): Path<String>,
) -> ApiResult {
    check_account(&app, &account)?;
    list(&ctx, &service, |_| true)
}

async fn fetch_account(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, rec)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let (sid, want) = recording_segment(&rec)?;
    let m = owned(&service, sid, None)?;
    match want {
        Want::Json => Ok(ok(render(&ctx, &m))),
        _ => media(&service, sid, want).await,
    }
}

async fn delete_account(
    State(app): State<App>,
    Extension(service): Service,
    Path((account, rec)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let (sid, _) = recording_segment(&rec)?;
    service.delete(sid).await?;
    Ok(no_content())
}

// ------------------------------------------------------------------------------------------------
// A call's recordings

async fn list_call(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, call)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let call: Sid<Call> = parent_sid(&call, "Call")?;
    let c = call.to_string();
    let known = app
        .core
        .run(move |d| d.voice().call(call).is_some())
        .await?;
    let mine = move |m: &RecordingMeta| m.call_sid.as_deref() == Some(c.as_str());
    if !known && service.list(&mine).is_empty() {
        return Err(ApiError::not_found(format!("Call {call}")));
    }
    list(&ctx, &service, mine)
}

/// `RecordingStatusCallbackEvent`: space- or comma-separated, or repeated.
fn callback_events(form: &Form) -> Result<Vec<String>, ApiError> {
    let mut events: Vec<String> = form
        .pairs()
        .iter()
        .filter(|(k, _)| k == "RecordingStatusCallbackEvent")
        .flat_map(|(_, v)| v.split([' ', ',']))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    for e in &events {
        if !matches!(
            e.as_str(),
            status::IN_PROGRESS | status::COMPLETED | status::ABSENT
        ) {
            return Err(ApiError::invalid(
                "RecordingStatusCallbackEvent",
                format!("must be in-progress, completed or absent, got {e:?}"),
            ));
        }
    }
    if events.is_empty() {
        events.push(status::COMPLETED.into());
    }
    Ok(events)
}

/// The options of a start (`RecordingChannels`, the callback and its events and method).
pub fn start_options(form: &Form, source: &str) -> Result<StartOptions, ApiError> {
    let channels = match form.get("RecordingChannels").map(str::to_ascii_lowercase) {
        None => 1,
        Some(v) if v == "mono" => 1,
        Some(v) if v == "dual" => 2,
        Some(v) => {
            return Err(ApiError::invalid(
                "RecordingChannels",
                format!("must be mono or dual, got {v:?}"),
            ))
        }
    };
    if let Some(m) = form.get("RecordingStatusCallbackMethod") {
        if !m.eq_ignore_ascii_case("POST") {
            return Err(ApiError::invalid(
                "RecordingStatusCallbackMethod",
                "must be POST (Switchboard posts recording status callbacks)",
            ));
        }
    }
    Ok(StartOptions {
        channels,
        source: source.into(),
        status_callback: form.callback_url("RecordingStatusCallback")?.flatten(),
        status_callback_events: callback_events(form)?,
    })
}

async fn start_call(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, call)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let call: Sid<Call> = parent_sid(&call, "Call")?;
    let form = Form::parse(&body)?;
    let track = match form.get("RecordingTrack") {
        None => Track::Both,
        Some(t) => Track::parse(t).ok_or_else(|| {
            ApiError::invalid(
                "RecordingTrack",
                format!("must be inbound, outbound or both, got {t:?}"),
            )
        })?,
    };
    let options = start_options(&form, "StartCallRecordingAPI")?;
    if app
        .core
        .run(move |d| d.voice().call(call).is_none())
        .await?
    {
        return Err(ApiError::not_found(format!("Call {call}")));
    }
    let m = service
        .start(&app.core, RecordingTarget::Call(call, track), options)
        .await?;
    Ok(created(render(&ctx, &m)))
}

async fn fetch_call(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, call, rec)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let call: Sid<Call> = parent_sid(&call, "Call")?;
    let (sid, want) = recording_segment(&rec)?;
    let m = owned(&service, sid, Some(("call", &call.to_string())))?;
    match want {
        Want::Json => Ok(ok(render(&ctx, &m))),
        _ => media(&service, sid, want).await,
    }
}

/// `Status=paused|in-progress|stopped` with `PauseBehavior=skip|silence`.
async fn update(service: &Recordings, ctx: &Ctx, sid: Sid<Recording>, body: &[u8]) -> ApiResult {
    let form = Form::parse(body)?;
    let wanted = form.required("Status")?;
    let behavior = match form.get("PauseBehavior") {
        None | Some("skip") => PauseBehavior::Skip,
        Some("silence") => PauseBehavior::Silence,
        Some(v) => {
            return Err(ApiError::invalid(
                "PauseBehavior",
                format!("must be skip or silence, got {v:?}"),
            ))
        }
    };
    let m = match wanted.as_str() {
        status::PAUSED => service.pause(sid, behavior).await?,
        status::IN_PROGRESS => service.resume(sid).await?,
        status::STOPPED => {
            let mut m = service.stop(sid).await?;
            // Twilio answers the stop itself as `stopped`; the resource is `completed` after.
            if m.status == status::COMPLETED {
                m.status = status::STOPPED.into();
            }
            m
        }
        other => {
            return Err(ApiError::invalid(
                "Status",
                format!("must be paused, in-progress or stopped, got {other:?}"),
            ))
        }
    };
    Ok(ok(render(ctx, &m)))
}

async fn update_call(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, call, rec)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let call: Sid<Call> = parent_sid(&call, "Call")?;
    let (sid, _) = recording_segment(&rec)?;
    owned(&service, sid, Some(("call", &call.to_string())))?;
    update(&service, &ctx, sid, &body).await
}

async fn delete_call(
    State(app): State<App>,
    Extension(service): Service,
    Path((account, call, rec)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let call: Sid<Call> = parent_sid(&call, "Call")?;
    let (sid, _) = recording_segment(&rec)?;
    owned(&service, sid, Some(("call", &call.to_string())))?;
    service.delete(sid).await?;
    Ok(no_content())
}

// ------------------------------------------------------------------------------------------------
// A conference's recordings

async fn list_conference(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, cf)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let cf: Sid<Conference> = parent_sid(&cf, "Conference")?;
    let c = cf.to_string();
    let known = app
        .core
        .run(move |d| d.voice().conference(cf).is_some())
        .await?;
    let mine = move |m: &RecordingMeta| m.conference_sid.as_deref() == Some(c.as_str());
    if !known && service.list(&mine).is_empty() {
        return Err(ApiError::not_found(format!("Conference {cf}")));
    }
    list(&ctx, &service, mine)
}

async fn fetch_conference(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, cf, rec)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let cf: Sid<Conference> = parent_sid(&cf, "Conference")?;
    let (sid, want) = recording_segment(&rec)?;
    let m = owned(&service, sid, Some(("conference", &cf.to_string())))?;
    match want {
        Want::Json => Ok(ok(render(&ctx, &m))),
        _ => media(&service, sid, want).await,
    }
}

async fn update_conference(
    State(app): State<App>,
    Extension(service): Service,
    ctx: Ctx,
    Path((account, cf, rec)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let cf: Sid<Conference> = parent_sid(&cf, "Conference")?;
    let (sid, _) = recording_segment(&rec)?;
    owned(&service, sid, Some(("conference", &cf.to_string())))?;
    update(&service, &ctx, sid, &body).await
}

async fn delete_conference(
    State(app): State<App>,
    Extension(service): Service,
    Path((account, cf, rec)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let cf: Sid<Conference> = parent_sid(&cf, "Conference")?;
    let (sid, _) = recording_segment(&rec)?;
    owned(&service, sid, Some(("conference", &cf.to_string())))?;
    service.delete(sid).await?;
    Ok(no_content())
}
