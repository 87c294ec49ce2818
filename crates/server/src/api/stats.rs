//! TaskRouter Events and Statistics.
//!
//! Events are read from the store (every event the engine emitted, as stored rows). Statistics
//! come in two kinds, as on Twilio: real-time figures are read from the engine's current state
//! (tasks by status and priority, the longest waiting task, workers by activity), and cumulative
//! figures are counted from the stored events of a time window (`Minutes`, default 15, or
//! `StartDate`/`EndDate`).

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use switchboard_routing::{TaskRecord, TaskStatus, Timestamp, WorkerRecord, Workspace};
use switchboard_sid::{
    Event as EventKind, Sid, TaskChannel, TaskQueue, Worker, Workflow, Workspace as WorkspaceKind,
};
use switchboard_store::{EventQuery, EventRow, Reads};

use crate::app::App;
use crate::driver::Driver as Core;
use crate::http::{list, ok, page_of, path_sid, ApiError, ApiResult, Ctx, Form, Paging};
use crate::render::iso;

/// The default window of Events and cumulative statistics, as on Twilio: 15 minutes.
const DEFAULT_MINUTES: i64 = 15;

/// The routes.
pub fn routes() -> Router<App> {
    let w = "/v1/Workspaces/{ws}";
    Router::new()
        .route(&format!("{w}/Events"), get(list_events))
        .route(&format!("{w}/Events/{{sid}}"), get(fetch_event))
        .route(&format!("{w}/Statistics"), get(workspace_statistics))
        .route(&format!("{w}/RealTimeStatistics"), get(workspace_realtime))
        .route(
            &format!("{w}/CumulativeStatistics"),
            get(workspace_cumulative),
        )
        .route(
            &format!("{w}/TaskQueues/RealTimeStatistics"),
            post(bulk_queue_realtime),
        )
        .route(
            &format!("{w}/TaskQueues/Statistics"),
            get(list_queue_statistics),
        )
        .route(
            &format!("{w}/TaskQueues/{{sid}}/Statistics"),
            get(queue_statistics),
        )
        .route(
            &format!("{w}/TaskQueues/{{sid}}/RealTimeStatistics"),
            get(queue_realtime),
        )
        .route(
            &format!("{w}/TaskQueues/{{sid}}/CumulativeStatistics"),
            get(queue_cumulative),
        )
        .route(&format!("{w}/Workers/Statistics"), get(workers_statistics))
        .route(
            &format!("{w}/Workers/RealTimeStatistics"),
            get(workers_realtime),
        )
        .route(
            &format!("{w}/Workers/CumulativeStatistics"),
            get(workers_cumulative),
        )
        .route(
            &format!("{w}/Workers/{{sid}}/Statistics"),
            get(worker_statistics),
        )
        .route(
            &format!("{w}/Workflows/{{sid}}/Statistics"),
            get(workflow_statistics),
        )
        .route(
            &format!("{w}/Workflows/{{sid}}/RealTimeStatistics"),
            get(workflow_realtime),
        )
        .route(
            &format!("{w}/Workflows/{{sid}}/CumulativeStatistics"),
            get(workflow_cumulative),
        )
}

fn ws_sid(s: &str) -> Result<Sid<WorkspaceKind>, ApiError> {
    path_sid(s, "Workspace")
}

fn store_error(e: switchboard_store::StoreError) -> ApiError {
    ApiError::store(e)
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// An ISO-8601 date-time (`2015-07-30T20:00:00Z`, with any offset, or without one meaning UTC),
/// or a date (`2015-07-30`, midnight UTC), as milliseconds since the epoch.
fn parse_date(param: &str, value: &str) -> Result<i64, ApiError> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let to_ms = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    let v = value.trim();
    // A `+` in an unencoded query string arrives as a space.
    let v = v.replace(' ', "+");
    let parsed = time::OffsetDateTime::parse(&v, &Rfc3339)
        .ok()
        .and_then(to_ms)
        .or_else(|| {
            time::PrimitiveDateTime::parse(
                &v,
                format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
            )
            .ok()
            .and_then(|t| to_ms(t.assume_utc()))
        })
        .or_else(|| {
            time::Date::parse(&v, format_description!("[year]-[month]-[day]"))
                .ok()
                .and_then(|d| to_ms(d.midnight().assume_utc()))
        });
    parsed.ok_or_else(|| {
        ApiError::invalid(
            param,
            format!("must be an ISO-8601 date-time such as 2015-07-30T20:00:00Z, got {value:?}"),
        )
    })
}

/// The time window of Events and cumulative statistics, in milliseconds, both ends included.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
}

/// The parsed window parameters, resolved against the core's clock later.
#[derive(Debug, Clone, Copy)]
struct WindowParams {
    minutes: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
}

impl WindowParams {
    /// `Minutes`, `StartDate`, `EndDate`. `Minutes` cannot be combined with the dates.
    fn parse(q: &Form) -> Result<WindowParams, ApiError> {
        let minutes = match q.get("Minutes").filter(|v| !v.is_empty()) {
            None => None,
            Some(_) => {
                let m = q.uint::<u64>("Minutes")?.unwrap_or(0);
                if m == 0 {
                    return Err(ApiError::invalid("Minutes", "must be at least 1"));
                }
                Some(i64::try_from(m).unwrap_or(i64::MAX))
            }
        };
        let date = |name: &str| {
            q.get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| parse_date(name, v))
                .transpose()
        };
        let start = date("StartDate")?;
        let end = date("EndDate")?;
        if minutes.is_some() && (start.is_some() || end.is_some()) {
            return Err(ApiError::invalid(
                "Minutes",
                "cannot be used together with StartDate or EndDate",
            ));
        }
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(ApiError::invalid(
                    "StartDate",
                    "must not be later than EndDate",
                ));
            }
        }
        // Like Twilio (warning 14241), statistics reach back 30 days at most; this also bounds
        // how much history one request reads.
        const MAX_MINUTES: i64 = 30 * 24 * 60;
        if minutes.is_some_and(|m| m > MAX_MINUTES) {
            return Err(ApiError::invalid(
                "Minutes",
                format!("must be at most {MAX_MINUTES} (30 days)"),
            ));
        }
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if start.is_some_and(|s| s < wall.saturating_sub(MAX_MINUTES * 60_000)) {
            return Err(ApiError::invalid(
                "StartDate",
                "must be within the last 30 days (Twilio warning 14241)",
            ));
        }
        Ok(WindowParams {
            minutes,
            start,
            end,
        })
    }

    /// The window: `Minutes` before now; from `StartDate` to `EndDate` (or now); or the 15
    /// minutes before `EndDate` (or now).
    fn resolve(&self, now: Timestamp) -> Window {
        let span = |m: i64| m.saturating_mul(60_000);
        let end = self.end.unwrap_or(now.0);
        let start = match (self.minutes, self.start) {
            (Some(m), _) => now.0.saturating_sub(span(m)),
            (None, Some(s)) => s,
            (None, None) => end.saturating_sub(span(DEFAULT_MINUTES)),
        };
        Window { start, end }
    }
}

/// `SplitByWaitTime`: thresholds in seconds.
fn split_param(q: &Form) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(v) = q.get("SplitByWaitTime").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n = part.parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "SplitByWaitTime",
                format!("must be a comma-separated list of whole seconds, got {part:?}"),
            )
        })?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(ApiError::invalid("SplitByWaitTime", "names no threshold"));
    }
    out.sort_unstable();
    Ok(Some(out))
}

/// A task channel named by `TaskChannel` (SID or unique name).
#[derive(Debug, Clone)]
struct ChannelFilter {
    sid: Sid<TaskChannel>,
    unique_name: String,
}

fn channel_param(q: &Form, e: &Workspace) -> Result<Option<ChannelFilter>, ApiError> {
    let Some(v) = q
        .get("TaskChannel")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let found = match v.parse::<Sid<TaskChannel>>() {
        Ok(sid) => e.channel(sid),
        Err(_) => e.channel_by_name(v),
    };
    found
        .map(|c| {
            Some(ChannelFilter {
                sid: c.sid,
                unique_name: c.unique_name.to_string(),
            })
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "TaskChannel",
                format!("names no task channel of this workspace: {v:?}"),
            )
        })
}

/// Whether a worker takes tasks of the channel (its worker channel is available, with capacity).
fn worker_on_channel(e: &Workspace, w: &WorkerRecord, channel: Option<&ChannelFilter>) -> bool {
    channel.is_none_or(|c| {
        e.worker_channels(w.sid)
            .any(|(ch, wc)| ch.sid == c.sid && wc.available && wc.capacity > 0)
    })
}

// ---------------------------------------------------------------------------------------------
// Events

/// Characters an event type name is made of (`reservation.accepted`, `task-queue.entered`).
fn event_type_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// A stored event as Twilio's Event resource.
fn render_event(ctx: &Ctx, ws: Sid<WorkspaceKind>, row: &EventRow) -> Value {
    let mut m = match serde_json::from_str::<Value>(&row.data) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.remove("workspace_name");
    let text = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let resource_type = text(&m, "resource_type");
    let mut resource_sid = text(&m, "resource_sid");
    if resource_sid.is_empty() && resource_type == "workspace" {
        resource_sid = ws.to_string();
        m.insert("resource_sid".into(), json!(resource_sid));
    }
    let task = m
        .get("event_data")
        .and_then(|d| d.get("task_sid"))
        .and_then(Value::as_str)
        .unwrap_or(&row.task_sid)
        .to_owned();
    let resource_url = match resource_type.as_str() {
        "workspace" => Some(ctx.urls.ws(&ws, "")),
        "activity" => Some(ctx.urls.ws(&ws, &format!("/Activities/{resource_sid}"))),
        "taskchannel" => Some(ctx.urls.ws(&ws, &format!("/TaskChannels/{resource_sid}"))),
        "worker" => Some(ctx.urls.ws(&ws, &format!("/Workers/{resource_sid}"))),
        "taskqueue" => Some(ctx.urls.ws(&ws, &format!("/TaskQueues/{resource_sid}"))),
        "workflow" => Some(ctx.urls.ws(&ws, &format!("/Workflows/{resource_sid}"))),
        "task" => Some(ctx.urls.ws(&ws, &format!("/Tasks/{resource_sid}"))),
        "reservation" if !task.is_empty() => Some(
            ctx.urls
                .ws(&ws, &format!("/Tasks/{task}/Reservations/{resource_sid}")),
        ),
        _ => None,
    };
    let at = m
        .get("event_date_ms")
        .and_then(Value::as_i64)
        .unwrap_or(row.at_ms);
    m.insert("event_date_ms".into(), json!(at));
    m.insert("event_date".into(), json!(iso(at)));
    m.insert("actor_sid".into(), Value::Null);
    m.insert("actor_type".into(), Value::Null);
    m.insert("actor_url".into(), Value::Null);
    m.insert("resource_url".into(), json!(resource_url));
    m.insert("source".into(), json!("twilio"));
    m.insert("source_ip_address".into(), Value::Null);
    m.insert(
        "url".into(),
        json!(ctx.urls.ws(&ws, &format!("/Events/{}", row.sid))),
    );
    m.insert("links".into(), json!({"workspace": ctx.urls.ws(&ws, "")}));
    Value::Object(m)
}

/// The Events list's filters, parsed before reaching the core.
struct EventFilters {
    types: Vec<String>,
    window: WindowParams,
    task: String,
    worker: String,
    workflow: String,
    queue: String,
    reservation: String,
    sid: String,
}

fn event_filters(q: &Form) -> Result<EventFilters, ApiError> {
    let types = q.list("EventType");
    if let Some(bad) = types.iter().find(|t| !event_type_ok(t)) {
        return Err(ApiError::invalid(
            "EventType",
            format!("is not an event type: {bad:?}"),
        ));
    }
    let text = |s: Option<String>| s.unwrap_or_default();
    Ok(EventFilters {
        types,
        window: WindowParams::parse(q)?,
        task: text(
            q.sid::<switchboard_sid::Task>("TaskSid")?
                .map(|s| s.to_string()),
        ),
        worker: text(q.sid::<Worker>("WorkerSid")?.map(|s| s.to_string())),
        workflow: text(q.sid::<Workflow>("WorkflowSid")?.map(|s| s.to_string())),
        queue: text(q.sid::<TaskQueue>("TaskQueueSid")?.map(|s| s.to_string())),
        reservation: text(
            q.sid::<switchboard_sid::Reservation>("ReservationSid")?
                .map(|s| s.to_string()),
        ),
        sid: text(q.sid::<EventKind>("Sid")?.map(|s| s.to_string())),
    })
}

async fn list_events(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    let f = event_filters(&ctx.query)?;
    let asked = ctx
        .query
        .get("TaskChannel")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let (now, channel) = app
        .core
        .run(move |core| {
            let e = &core.workspace(ws)?.engine;
            let channel = match asked {
                None => String::new(),
                Some(v) => match v.parse::<Sid<TaskChannel>>() {
                    Ok(sid) => e
                        .channel(sid)
                        .map(|c| c.unique_name.to_string())
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "TaskChannel",
                                format!("names no task channel of this workspace: {v:?}"),
                            )
                        })?,
                    // A unique name is matched as given: the channel may since have been deleted.
                    Err(_) => v,
                },
            };
            Ok::<_, ApiError>((core.now(), channel))
        })
        .await??;
    let window = f.window.resolve(now);
    let query = EventQuery {
        workspace_sid: ws.to_string(),
        sid: f.sid,
        event_types: f.types,
        from_ms: Some(window.start),
        to_ms: Some(window.end),
        task_sid: f.task,
        worker_sid: f.worker,
        reservation_sid: f.reservation,
        workflow_sid: f.workflow,
        queue_sid: f.queue,
        channel,
    };
    let mut rows = app
        .read(move |store| store.events(&query, paging.offset(), paging.size.saturating_add(1)))
        .await?
        .map_err(store_error)?;
    let more = rows.len() > paging.size;
    rows.truncate(paging.size);
    let items = rows.iter().map(|r| render_event(&ctx, ws, r)).collect();
    Ok(list(&ctx, "events", paging, items, more))
}

async fn fetch_event(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<EventKind> = path_sid(&sid, "Event")?;
    app.core
        .run(move |core| core.workspace(ws).map(|_| ()))
        .await??;
    let query = EventQuery {
        workspace_sid: ws.to_string(),
        sid: sid.to_string(),
        ..Default::default()
    };
    let rows = app
        .read(move |store| store.events(&query, 0, 1))
        .await?
        .map_err(store_error)?;
    rows.first()
        .map(|r| ok(render_event(&ctx, ws, r)))
        .ok_or_else(|| ApiError::not_found(format!("Event {sid}")))
}

// ---------------------------------------------------------------------------------------------
// Real-time figures

/// Tasks by status and priority, their total, and the longest waiting (pending or reserved) one.
fn task_figures<'a>(
    tasks: impl Iterator<Item = &'a TaskRecord>,
    now: Timestamp,
) -> Map<String, Value> {
    let mut by_status: BTreeMap<&str, u64> = ["pending", "reserved", "assigned", "wrapping"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    let mut by_priority: BTreeMap<u32, u64> = BTreeMap::new();
    let mut total = 0u64;
    let mut oldest: Option<&TaskRecord> = None;
    for t in tasks {
        total += 1;
        *by_status.entry(t.status.as_str()).or_insert(0) += 1;
        *by_priority.entry(t.priority).or_insert(0) += 1;
        if matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved)
            && oldest.is_none_or(|o| (t.date_created, t.sid) < (o.date_created, o.sid))
        {
            oldest = Some(t);
        }
    }
    let mut m = Map::new();
    m.insert("tasks_by_status".into(), json!(by_status));
    m.insert(
        "tasks_by_priority".into(),
        Value::Object(
            by_priority
                .into_iter()
                .map(|(p, n)| (p.to_string(), json!(n)))
                .collect(),
        ),
    );
    m.insert("total_tasks".into(), json!(total));
    m.insert(
        "longest_task_waiting_age".into(),
        json!(oldest.map_or(0, |t| now.secs_since(t.date_created))),
    );
    m.insert(
        "longest_task_waiting_sid".into(),
        json!(oldest.map(|t| t.sid.to_string())),
    );
    m
}

/// Workers by activity, every activity listed (oldest first).
fn activity_statistics<'a>(
    e: &Workspace,
    workers: impl Iterator<Item = &'a WorkerRecord>,
) -> Vec<Value> {
    let mut counts: BTreeMap<Sid<switchboard_sid::Activity>, u64> = BTreeMap::new();
    for w in workers {
        *counts.entry(w.activity_sid).or_insert(0) += 1;
    }
    let mut activities: Vec<_> = e.activities().collect();
    activities.sort_by_key(|a| (a.date_created, a.sid));
    activities
        .into_iter()
        .map(|a| {
            json!({
                "sid": a.sid.to_string(),
                "friendly_name": &*a.friendly_name,
                "workers": counts.get(&a.sid).copied().unwrap_or(0),
            })
        })
        .collect()
}

fn live_tasks<'a>(
    e: &'a Workspace,
    channel: Option<&'a ChannelFilter>,
) -> impl Iterator<Item = &'a TaskRecord> + 'a {
    e.tasks()
        .filter(move |t| channel.is_none_or(|c| t.channel_sid == c.sid))
}

fn workspace_realtime_figures(
    e: &Workspace,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Map<String, Value> {
    let mut m = task_figures(live_tasks(e, channel), now);
    let workers: Vec<&WorkerRecord> = e
        .workers()
        .filter(|w| worker_on_channel(e, w, channel))
        .collect();
    m.insert("total_workers".into(), json!(workers.len()));
    m.insert(
        "activity_statistics".into(),
        json!(activity_statistics(e, workers.into_iter())),
    );
    m
}

fn queue_realtime_figures(
    e: &Workspace,
    queue: Sid<TaskQueue>,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Result<Map<String, Value>, ApiError> {
    let q = e
        .queue(queue)
        .ok_or_else(|| ApiError::not_found(format!("TaskQueue {queue}")))?;
    let tasks: Vec<&TaskRecord> = live_tasks(e, channel)
        .filter(|t| t.queue_sid == Some(queue))
        .collect();
    let mut m = task_figures(tasks.iter().copied(), now);
    let longest_in_queue = tasks
        .iter()
        .filter(|t| matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved))
        .filter_map(|t| t.queue_entered.map(|at| (at, t.sid)))
        .min();
    m.insert(
        "longest_relative_task_age_in_queue".into(),
        json!(longest_in_queue.map_or(0, |(at, _)| now.secs_since(at))),
    );
    m.insert(
        "longest_relative_task_sid_in_queue".into(),
        json!(longest_in_queue.map(|(_, sid)| sid.to_string())),
    );
    let members: Vec<&WorkerRecord> = e
        .workers()
        .filter(|w| q.has_member(w.sid) && worker_on_channel(e, w, channel))
        .collect();
    let available = members.iter().filter(|w| e.worker_available(w)).count();
    m.insert("total_eligible_workers".into(), json!(members.len()));
    m.insert("total_available_workers".into(), json!(available));
    m.insert(
        "activity_statistics".into(),
        json!(activity_statistics(e, members.into_iter())),
    );
    m.insert("task_queue_sid".into(), json!(queue.to_string()));
    Ok(m)
}

fn workflow_realtime_figures(
    e: &Workspace,
    workflow: Sid<Workflow>,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Result<Map<String, Value>, ApiError> {
    e.workflow(workflow)
        .ok_or_else(|| ApiError::not_found(format!("Workflow {workflow}")))?;
    let mut m = task_figures(
        live_tasks(e, channel).filter(|t| t.workflow_sid == Some(workflow)),
        now,
    );
    m.insert("workflow_sid".into(), json!(workflow.to_string()));
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Cumulative figures

/// What the events of a window say.
#[derive(Debug, Default)]
struct Tally {
    counts: BTreeMap<String, i64>,
    /// Seconds from task creation to acceptance, per accepted reservation.
    accepted: Vec<u64>,
    /// Seconds from entering the queue to acceptance, per accepted reservation.
    accepted_in_queue: Vec<u64>,
    /// Seconds from task creation to cancellation, per canceled task.
    canceled: Vec<u64>,
}

impl Tally {
    fn count(&self, event_type: &str) -> i64 {
        self.counts.get(event_type).copied().unwrap_or(0)
    }
}

/// Which events a cumulative figure counts.
#[derive(Debug, Clone, Default)]
struct Scope {
    queue: String,
    workflow: String,
    worker: String,
}

fn event_data(row: &EventRow) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(&row.data).ok()? {
        Value::Object(mut m) => match m.remove("event_data") {
            Some(Value::Object(d)) => Some(d),
            _ => None,
        },
        _ => None,
    }
}

/// Counts the window's events by type and collects wait times.
fn tally(
    store: &mut dyn Reads,
    ws: Sid<WorkspaceKind>,
    window: Window,
    channel: Option<&ChannelFilter>,
    scope: &Scope,
) -> Result<Tally, ApiError> {
    let base = EventQuery {
        workspace_sid: ws.to_string(),
        from_ms: Some(window.start),
        to_ms: Some(window.end),
        channel: channel.map(|c| c.unique_name.clone()).unwrap_or_default(),
        queue_sid: scope.queue.clone(),
        workflow_sid: scope.workflow.clone(),
        worker_sid: scope.worker.clone(),
        ..Default::default()
    };
    let mut t = Tally {
        counts: store
            .event_counts(&base)
            .map_err(store_error)?
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let of_type = |ty: &str| EventQuery {
        event_types: vec![ty.to_owned()],
        ..base.clone()
    };
    for row in store
        .events(&of_type("reservation.accepted"), 0, usize::MAX)
        .map_err(store_error)?
    {
        let Some(d) = event_data(&row) else { continue };
        if let Some(age) = d.get("task_age").and_then(Value::as_u64) {
            t.accepted.push(age);
        }
        let entered = d
            .get("task_queue_entered_date")
            .and_then(Value::as_str)
            .and_then(|s| parse_date("task_queue_entered_date", s).ok());
        if let Some(at) = entered {
            let secs = row.at_ms.saturating_sub(at).max(0) / 1000;
            t.accepted_in_queue.push(u64::try_from(secs).unwrap_or(0));
        }
    }
    for row in store
        .events(&of_type("task.canceled"), 0, usize::MAX)
        .map_err(store_error)?
    {
        if let Some(age) = event_data(&row).and_then(|d| d.get("task_age").and_then(Value::as_u64))
        {
            t.canceled.push(age);
        }
    }
    Ok(t)
}

/// `{avg, min, max, total}` in seconds (all 0 when there is nothing to measure).
fn durations(values: &[u64]) -> Value {
    let total: u64 = values.iter().sum();
    let n = values.len() as u64;
    json!({
        "avg": (total + n / 2).checked_div(n).unwrap_or(0),
        "min": values.iter().min().copied().unwrap_or(0),
        "max": values.iter().max().copied().unwrap_or(0),
        "total": total,
    })
}

/// `{"5": {"above": {...}, "below": {...}}}`: at or under a threshold counts as below.
fn split_by_wait_time(t: &Tally, thresholds: Option<&[u64]>) -> Value {
    let Some(thresholds) = thresholds else {
        return Value::Null;
    };
    let mut m = Map::new();
    for &limit in thresholds {
        let below = |v: &[u64]| v.iter().filter(|&&s| s <= limit).count();
        let above = |v: &[u64]| v.iter().filter(|&&s| s > limit).count();
        m.insert(
            limit.to_string(),
            json!({
                "above": {"tasks_canceled": above(&t.canceled), "reservations_accepted": above(&t.accepted)},
                "below": {"tasks_canceled": below(&t.canceled), "reservations_accepted": below(&t.accepted)},
            }),
        );
    }
    Value::Object(m)
}

fn reservation_counts(m: &mut Map<String, Value>, t: &Tally) {
    for (field, event) in [
        ("reservations_created", "reservation.created"),
        ("reservations_accepted", "reservation.accepted"),
        ("reservations_rejected", "reservation.rejected"),
        ("reservations_timed_out", "reservation.timeout"),
        ("reservations_canceled", "reservation.canceled"),
        ("reservations_rescinded", "reservation.rescinded"),
    ] {
        m.insert(field.into(), json!(t.count(event)));
    }
}

/// The fields workspace, queue and workflow cumulative statistics share.
fn common_cumulative(t: &Tally, window: Window, thresholds: Option<&[u64]>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("start_time".into(), json!(iso(window.start)));
    m.insert("end_time".into(), json!(iso(window.end)));
    reservation_counts(&mut m, t);
    let accepted = durations(&t.accepted);
    m.insert("avg_task_acceptance_time".into(), accepted["avg"].clone());
    m.insert("wait_duration_until_accepted".into(), accepted);
    m.insert(
        "wait_duration_until_canceled".into(),
        durations(&t.canceled),
    );
    m.insert(
        "split_by_wait_time".into(),
        split_by_wait_time(t, thresholds),
    );
    for (field, event) in [
        ("tasks_canceled", "task.canceled"),
        ("tasks_completed", "task.completed"),
        ("tasks_deleted", "task.deleted"),
        ("tasks_moved", "task-queue.moved"),
    ] {
        m.insert(field.into(), json!(t.count(event)));
    }
    m
}

/// What a cumulative request asked for, parsed before reaching the core.
#[derive(Debug, Clone)]
struct CumulativeParams {
    window: WindowParams,
    splits: Option<Vec<u64>>,
}

impl CumulativeParams {
    fn parse(q: &Form) -> Result<CumulativeParams, ApiError> {
        Ok(CumulativeParams {
            window: WindowParams::parse(q)?,
            splits: split_param(q)?,
        })
    }
}

fn workspace_cumulative_figures(
    store: &mut dyn Reads,
    ws: Sid<WorkspaceKind>,
    p: &CumulativeParams,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Result<Map<String, Value>, ApiError> {
    let window = p.window.resolve(now);
    let t = tally(store, ws, window, channel, &Scope::default())?;
    let mut m = common_cumulative(&t, window, p.splits.as_deref());
    m.insert("tasks_created".into(), json!(t.count("task.created")));
    m.insert(
        "tasks_timed_out_in_workflow".into(),
        json!(t.count("workflow.timeout")),
    );
    Ok(m)
}

fn queue_cumulative_figures(
    store: &mut dyn Reads,
    ws: Sid<WorkspaceKind>,
    queue: Sid<TaskQueue>,
    p: &CumulativeParams,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Result<Map<String, Value>, ApiError> {
    let window = p.window.resolve(now);
    let scope = Scope {
        queue: queue.to_string(),
        ..Default::default()
    };
    let t = tally(store, ws, window, channel, &scope)?;
    let mut m = common_cumulative(&t, window, p.splits.as_deref());
    m.insert("tasks_entered".into(), json!(t.count("task-queue.entered")));
    m.insert(
        "wait_duration_in_queue_until_accepted".into(),
        durations(&t.accepted_in_queue),
    );
    m.insert("task_queue_sid".into(), json!(queue.to_string()));
    Ok(m)
}

fn workflow_cumulative_figures(
    store: &mut dyn Reads,
    ws: Sid<WorkspaceKind>,
    workflow: Sid<Workflow>,
    p: &CumulativeParams,
    channel: Option<&ChannelFilter>,
    now: Timestamp,
) -> Result<Map<String, Value>, ApiError> {
    let window = p.window.resolve(now);
    let scope = Scope {
        workflow: workflow.to_string(),
        ..Default::default()
    };
    let t = tally(store, ws, window, channel, &scope)?;
    let mut m = common_cumulative(&t, window, p.splits.as_deref());
    m.insert("tasks_entered".into(), json!(t.count("workflow.entered")));
    m.insert(
        "tasks_timed_out_in_workflow".into(),
        json!(t.count("workflow.timeout")),
    );
    m.insert("workflow_sid".into(), json!(workflow.to_string()));
    Ok(m)
}

/// Workers' cumulative figures: reservations (of the given workers, or all) and time spent in
/// each activity within the window.
fn workers_cumulative_figures(
    store: &mut dyn Reads,
    ws: Sid<WorkspaceKind>,
    workers: Option<&BTreeSet<Sid<Worker>>>,
    window: Window,
    channel: Option<&ChannelFilter>,
    roster: &Roster,
) -> Result<Map<String, Value>, ApiError> {
    let now = roster.now;
    let base = EventQuery {
        workspace_sid: ws.to_string(),
        from_ms: Some(window.start),
        to_ms: Some(window.end),
        channel: channel.map(|c| c.unique_name.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let wanted = |row: &EventRow| {
        workers.is_none_or(|set| {
            row.worker_sid
                .parse::<Sid<Worker>>()
                .is_ok_and(|w| set.contains(&w))
        })
    };
    let mut t = Tally::default();
    match workers {
        Some(set) if set.len() == 1 => {
            let only = set.iter().next().map(|w| w.to_string()).unwrap_or_default();
            let q = EventQuery {
                worker_sid: only,
                ..base.clone()
            };
            t.counts = store
                .event_counts(&q)
                .map_err(store_error)?
                .into_iter()
                .collect();
        }
        Some(_) => {
            let q = EventQuery {
                event_types: [
                    "reservation.created",
                    "reservation.accepted",
                    "reservation.rejected",
                    "reservation.timeout",
                    "reservation.canceled",
                    "reservation.rescinded",
                ]
                .map(str::to_owned)
                .to_vec(),
                ..base.clone()
            };
            for row in store.events(&q, 0, usize::MAX).map_err(store_error)? {
                if wanted(&row) {
                    *t.counts.entry(row.event_type.clone()).or_insert(0) += 1;
                }
            }
        }
        None => {
            t.counts = store
                .event_counts(&base)
                .map_err(store_error)?
                .into_iter()
                .collect()
        }
    }
    // Stints that ended in or after the window (activity changes carry no channel).
    let changes = store
        .events(
            &EventQuery {
                workspace_sid: ws.to_string(),
                event_types: vec!["worker.activity.update".into()],
                from_ms: Some(window.start),
                ..Default::default()
            },
            0,
            usize::MAX,
        )
        .map_err(store_error)?;
    let mut stints: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut add = |activity: String, start: i64, end: i64| {
        let overlap = end.min(window.end).saturating_sub(start.max(window.start));
        if overlap > 0 {
            stints
                .entry(activity)
                .or_default()
                .push(u64::try_from(overlap / 1000).unwrap_or(0));
        }
    };
    for row in changes.iter().filter(|r| wanted(r)) {
        let Some(d) = event_data(row) else { continue };
        let (Some(activity), Some(ms)) = (
            d.get("worker_previous_activity_sid")
                .and_then(Value::as_str),
            d.get("worker_time_in_previous_activity_ms")
                .and_then(Value::as_i64),
        ) else {
            continue;
        };
        add(activity.to_owned(), row.at_ms.saturating_sub(ms), row.at_ms);
    }
    for (sid, activity, since) in &roster.workers {
        if workers.is_none_or(|set| set.contains(sid)) {
            add(activity.to_string(), since.0, now.0);
        }
    }
    let activity_durations: Vec<Value> = roster
        .activities
        .iter()
        .map(|(sid, name)| {
            let d = durations(stints.get(&sid.to_string()).map_or(&[][..], Vec::as_slice));
            json!({
                "sid": sid.to_string(),
                "friendly_name": name,
                "avg": d["avg"],
                "min": d["min"],
                "max": d["max"],
                "total": d["total"],
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("start_time".into(), json!(iso(window.start)));
    m.insert("end_time".into(), json!(iso(window.end)));
    reservation_counts(&mut m, &t);
    m.insert(
        "tasks_assigned".into(),
        json!(t.count("reservation.accepted")),
    );
    m.insert("activity_durations".into(), json!(activity_durations));
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A statistics resource: `account_sid`, `workspace_sid`, `url`, and the given fields.
fn resource(ctx: &Ctx, ws: Sid<WorkspaceKind>, path: &str, fields: Map<String, Value>) -> Value {
    let mut m = fields;
    m.insert("account_sid".into(), json!(ctx.urls.account.to_string()));
    m.insert("workspace_sid".into(), json!(ws.to_string()));
    m.insert("url".into(), json!(ctx.urls.ws(&ws, path)));
    Value::Object(m)
}

fn channel_of(
    core: &Core,
    ws: Sid<WorkspaceKind>,
    q: &Form,
) -> Result<Option<ChannelFilter>, ApiError> {
    channel_param(q, &core.workspace(ws)?.engine)
}

/// What a statistics request needs from the core: the time, the channel filter, and what else
/// the route reads from the current state. Taken in one short job; the counting over stored
/// events then runs off the core thread.
struct Now<T> {
    now: Timestamp,
    channel: Option<ChannelFilter>,
    extra: T,
}

async fn on_core<T: Send + 'static>(
    app: &App,
    ws: Sid<WorkspaceKind>,
    query: &Form,
    f: impl FnOnce(&mut Core, Timestamp, Option<&ChannelFilter>) -> Result<T, ApiError> + Send + 'static,
) -> Result<Now<T>, ApiError> {
    let query = query.clone();
    app.core
        .run(move |core| {
            let now = core.now();
            let channel = channel_of(core, ws, &query)?;
            let extra = f(core, now, channel.as_ref())?;
            Ok(Now {
                now,
                channel,
                extra,
            })
        })
        .await?
}

/// The workers and activities cumulative worker figures need, as they are now.
struct Roster {
    now: Timestamp,
    /// Each worker, its activity and since when.
    workers: Vec<(Sid<Worker>, Sid<switchboard_sid::Activity>, Timestamp)>,
    /// Every activity, oldest first, with its name.
    activities: Vec<(Sid<switchboard_sid::Activity>, String)>,
}

impl Roster {
    fn of(e: &Workspace, now: Timestamp) -> Roster {
        let mut activities: Vec<_> = e.activities().collect();
        activities.sort_by_key(|a| (a.date_created, a.sid));
        Roster {
            now,
            workers: e
                .workers()
                .map(|w| (w.sid, w.activity_sid, w.date_status_changed))
                .collect(),
            activities: activities
                .into_iter()
                .map(|a| (a.sid, a.friendly_name.to_string()))
                .collect(),
        }
    }
}

async fn workspace_statistics(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        Ok(workspace_realtime_figures(
            &core.workspace(ws)?.engine,
            channel,
            now,
        ))
    })
    .await?;
    let (now, channel) = (got.now, got.channel.clone());
    let cumulative = app
        .read(move |store| workspace_cumulative_figures(store, ws, &p, channel.as_ref(), now))
        .await??;
    let mut m = Map::new();
    m.insert("realtime".into(), Value::Object(got.extra));
    m.insert("cumulative".into(), Value::Object(cumulative));
    Ok(ok(resource(&ctx, ws, "/Statistics", m)))
}

async fn workspace_realtime(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        Ok(workspace_realtime_figures(
            &core.workspace(ws)?.engine,
            channel,
            now,
        ))
    })
    .await?;
    Ok(ok(resource(&ctx, ws, "/RealTimeStatistics", got.extra)))
}

async fn workspace_cumulative(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, |_, _, _| Ok(())).await?;
    let m = app
        .read(move |store| {
            workspace_cumulative_figures(store, ws, &p, got.channel.as_ref(), got.now)
        })
        .await??;
    Ok(ok(resource(&ctx, ws, "/CumulativeStatistics", m)))
}

fn queue_sid(s: &str) -> Result<Sid<TaskQueue>, ApiError> {
    path_sid(s, "TaskQueue")
}

/// A queue's combined statistics (without `url`, as in the list).
fn queue_both(
    queue: Sid<TaskQueue>,
    mut realtime: Map<String, Value>,
    mut cumulative: Map<String, Value>,
) -> Map<String, Value> {
    realtime.remove("task_queue_sid");
    cumulative.remove("task_queue_sid");
    let mut m = Map::new();
    m.insert("task_queue_sid".into(), json!(queue.to_string()));
    m.insert("realtime".into(), Value::Object(realtime));
    m.insert("cumulative".into(), Value::Object(cumulative));
    m
}

async fn queue_statistics(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let queue = queue_sid(&sid)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        queue_realtime_figures(&core.workspace(ws)?.engine, queue, channel, now)
    })
    .await?;
    let (now, channel) = (got.now, got.channel.clone());
    let cumulative = app
        .read(move |store| queue_cumulative_figures(store, ws, queue, &p, channel.as_ref(), now))
        .await??;
    let m = queue_both(queue, got.extra, cumulative);
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/TaskQueues/{queue}/Statistics"),
        m,
    )))
}

async fn queue_realtime(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let queue = queue_sid(&sid)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        queue_realtime_figures(&core.workspace(ws)?.engine, queue, channel, now)
    })
    .await?;
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/TaskQueues/{queue}/RealTimeStatistics"),
        got.extra,
    )))
}

async fn queue_cumulative(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let queue = queue_sid(&sid)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, _, _| {
        if core.workspace(ws)?.engine.queue(queue).is_none() {
            return Err(ApiError::not_found(format!("TaskQueue {queue}")));
        }
        Ok(())
    })
    .await?;
    let m = app
        .read(move |store| {
            queue_cumulative_figures(store, ws, queue, &p, got.channel.as_ref(), got.now)
        })
        .await??;
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/TaskQueues/{queue}/CumulativeStatistics"),
        m,
    )))
}

async fn list_queue_statistics(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let name = ctx.query.get("FriendlyName").map(str::to_owned);
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        let e = &core.workspace(ws)?.engine;
        let mut all: Vec<_> = e
            .queues()
            .filter(|q| name.as_deref().is_none_or(|n| &*q.friendly_name == n))
            .collect();
        all.sort_by_key(|q| (q.date_created, q.sid));
        let (page, more) = page_of(all.into_iter().map(|q| q.sid).collect::<Vec<_>>(), paging);
        let realtime = page
            .iter()
            .map(|q| queue_realtime_figures(e, *q, channel, now).map(|m| (*q, m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((realtime, more))
    })
    .await?;
    let (now, channel) = (got.now, got.channel.clone());
    let (realtime, more) = got.extra;
    let account = ctx.urls.account.to_string();
    let items = app
        .read(move |store| {
            realtime
                .into_iter()
                .map(|(queue, rt)| {
                    let c = queue_cumulative_figures(store, ws, queue, &p, channel.as_ref(), now)?;
                    let mut m = queue_both(queue, rt, c);
                    m.insert("account_sid".into(), json!(account));
                    m.insert("workspace_sid".into(), json!(ws.to_string()));
                    Ok(Value::Object(m))
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await??;
    Ok(list(&ctx, "task_queues_statistics", paging, items, more))
}

/// `POST /TaskQueues/RealTimeStatistics`: real-time figures of up to 50 queues, named in a JSON
/// body `{"QueueSids": [...]}`. Queues that are not in the workspace get zeros, as on Twilio.
async fn bulk_queue_realtime(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid("QueueSids", format!("must be given in a JSON body: {e}"))
    })?;
    let sids = doc
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("QueueSids")))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ApiError::missing("QueueSids"))?;
    if sids.is_empty() || sids.len() > 50 {
        return Err(ApiError::invalid(
            "QueueSids",
            "must name between 1 and 50 task queues",
        ));
    }
    let queues = sids
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse::<Sid<TaskQueue>>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("QueueSids", format!("holds an invalid TaskQueue SID: {v}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    app.core
        .run(move |core| {
            let now = core.now();
            let e = &core.workspace(ws)?.engine;
            let data: Vec<Value> = queues
                .iter()
                .map(|&q| match queue_realtime_figures(e, q, None, now) {
                    Ok(m) => Value::Object(m),
                    Err(_) => json!({
                        "task_queue_sid": q.to_string(),
                        "total_available_workers": 0,
                        "total_eligible_workers": 0,
                        "total_tasks": 0,
                        "longest_task_waiting_age": 0,
                        "longest_task_waiting_sid": null,
                        "longest_relative_task_age_in_queue": 0,
                        "longest_relative_task_sid_in_queue": null,
                        "tasks_by_status": {"pending": 0, "reserved": 0, "assigned": 0, "wrapping": 0},
                        "tasks_by_priority": {},
                        "activity_statistics": [],
                    }),
                })
                .collect();
            let mut m = Map::new();
            m.insert("task_queue_response_count".into(), json!(data.len()));
            m.insert("task_queue_data".into(), json!(data));
            Ok(crate::http::created(resource(&ctx, ws, "/TaskQueues/RealTimeStatistics", m)))
        })
        .await?
}

/// The workers `/Workers/Statistics` covers: `FriendlyName`, `TaskQueueSid`, `TaskQueueName`.
fn selected_workers(e: &Workspace, q: &Form) -> Result<Option<BTreeSet<Sid<Worker>>>, ApiError> {
    let name = q.get("FriendlyName").filter(|v| !v.is_empty());
    let queue = match (
        q.sid::<TaskQueue>("TaskQueueSid")?,
        q.get("TaskQueueName").filter(|v| !v.is_empty()),
    ) {
        (Some(s), _) => Some(e.queue(s).ok_or_else(|| {
            ApiError::invalid(
                "TaskQueueSid",
                format!("names {s}, which is not a task queue of this workspace"),
            )
        })?),
        (None, Some(n)) => Some(e.queues().find(|x| &*x.friendly_name == n).ok_or_else(|| {
            ApiError::invalid(
                "TaskQueueName",
                format!("names {n:?}, which is not a task queue of this workspace"),
            )
        })?),
        (None, None) => None,
    };
    if name.is_none() && queue.is_none() {
        return Ok(None);
    }
    Ok(Some(
        e.workers()
            .filter(|w| name.is_none_or(|n| w.friendly_name.eq_ignore_ascii_case(n)))
            .filter(|w| queue.is_none_or(|q| q.has_member(w.sid)))
            .map(|w| w.sid)
            .collect(),
    ))
}

fn workers_realtime_figures(
    e: &Workspace,
    set: Option<&BTreeSet<Sid<Worker>>>,
    channel: Option<&ChannelFilter>,
) -> Map<String, Value> {
    let workers: Vec<&WorkerRecord> = e
        .workers()
        .filter(|w| set.is_none_or(|s| s.contains(&w.sid)) && worker_on_channel(e, w, channel))
        .collect();
    let mut m = Map::new();
    m.insert("total_workers".into(), json!(workers.len()));
    m.insert(
        "activity_statistics".into(),
        json!(activity_statistics(e, workers.into_iter())),
    );
    m
}

async fn workers_statistics(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let window = WindowParams::parse(&ctx.query)?;
    let query = ctx.query.clone();
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        let e = &core.workspace(ws)?.engine;
        let set = selected_workers(e, &query)?;
        let realtime = workers_realtime_figures(e, set.as_ref(), channel);
        Ok((set, realtime, Roster::of(e, now)))
    })
    .await?;
    let (set, realtime, roster) = got.extra;
    let channel = got.channel;
    let window = window.resolve(got.now);
    let cumulative = app
        .read(move |store| {
            workers_cumulative_figures(store, ws, set.as_ref(), window, channel.as_ref(), &roster)
        })
        .await??;
    let mut m = Map::new();
    m.insert("realtime".into(), Value::Object(realtime));
    m.insert("cumulative".into(), Value::Object(cumulative));
    Ok(ok(resource(&ctx, ws, "/Workers/Statistics", m)))
}

async fn workers_realtime(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let got = on_core(&app, ws, &ctx.query, move |core, _, channel| {
        Ok(workers_realtime_figures(
            &core.workspace(ws)?.engine,
            None,
            channel,
        ))
    })
    .await?;
    Ok(ok(resource(
        &ctx,
        ws,
        "/Workers/RealTimeStatistics",
        got.extra,
    )))
}

async fn workers_cumulative(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let window = WindowParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, _| {
        Ok(Roster::of(&core.workspace(ws)?.engine, now))
    })
    .await?;
    let window = window.resolve(got.now);
    let (roster, channel) = (got.extra, got.channel);
    let mut m = app
        .read(move |store| {
            workers_cumulative_figures(store, ws, None, window, channel.as_ref(), &roster)
        })
        .await??;
    m.remove("tasks_assigned");
    Ok(ok(resource(&ctx, ws, "/Workers/CumulativeStatistics", m)))
}

async fn worker_statistics(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let worker: Sid<Worker> = path_sid(&sid, "Worker")?;
    let window = WindowParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, _| {
        let e = &core.workspace(ws)?.engine;
        if e.worker(worker).is_none() {
            return Err(ApiError::not_found(format!("Worker {worker}")));
        }
        Ok(Roster::of(e, now))
    })
    .await?;
    let window = window.resolve(got.now);
    let (roster, channel) = (got.extra, got.channel);
    let set: BTreeSet<Sid<Worker>> = [worker].into_iter().collect();
    let cumulative = app
        .read(move |store| {
            workers_cumulative_figures(store, ws, Some(&set), window, channel.as_ref(), &roster)
        })
        .await??;
    let mut m = Map::new();
    m.insert("worker_sid".into(), json!(worker.to_string()));
    m.insert("cumulative".into(), Value::Object(cumulative));
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/Workers/{worker}/Statistics"),
        m,
    )))
}

fn workflow_sid(s: &str) -> Result<Sid<Workflow>, ApiError> {
    path_sid(s, "Workflow")
}

async fn workflow_statistics(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let workflow = workflow_sid(&sid)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        workflow_realtime_figures(&core.workspace(ws)?.engine, workflow, channel, now)
    })
    .await?;
    let (now, channel) = (got.now, got.channel.clone());
    let mut cumulative = app
        .read(move |store| {
            workflow_cumulative_figures(store, ws, workflow, &p, channel.as_ref(), now)
        })
        .await??;
    let mut realtime = got.extra;
    realtime.remove("workflow_sid");
    cumulative.remove("workflow_sid");
    let mut m = Map::new();
    m.insert("workflow_sid".into(), json!(workflow.to_string()));
    m.insert("realtime".into(), Value::Object(realtime));
    m.insert("cumulative".into(), Value::Object(cumulative));
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/Workflows/{workflow}/Statistics"),
        m,
    )))
}

async fn workflow_realtime(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let workflow = workflow_sid(&sid)?;
    let got = on_core(&app, ws, &ctx.query, move |core, now, channel| {
        workflow_realtime_figures(&core.workspace(ws)?.engine, workflow, channel, now)
    })
    .await?;
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/Workflows/{workflow}/RealTimeStatistics"),
        got.extra,
    )))
}

async fn workflow_cumulative(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let workflow = workflow_sid(&sid)?;
    let p = CumulativeParams::parse(&ctx.query)?;
    let got = on_core(&app, ws, &ctx.query, move |core, _, _| {
        if core.workspace(ws)?.engine.workflow(workflow).is_none() {
            return Err(ApiError::not_found(format!("Workflow {workflow}")));
        }
        Ok(())
    })
    .await?;
    let m = app
        .read(move |store| {
            workflow_cumulative_figures(store, ws, workflow, &p, got.channel.as_ref(), got.now)
        })
        .await??;
    Ok(ok(resource(
        &ctx,
        ws,
        &format!("/Workflows/{workflow}/CumulativeStatistics"),
        m,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("StartDate", "1970-01-01T00:00:01Z").ok(),
            Some(1000)
        );
        assert_eq!(
            parse_date("StartDate", "1970-01-01T01:00:00+01:00").ok(),
            Some(0)
        );
        assert_eq!(
            parse_date("StartDate", "1970-01-01T01:00:00 01:00").ok(),
            Some(0)
        );
        assert_eq!(parse_date("StartDate", "1970-01-02").ok(), Some(86_400_000));
        assert_eq!(
            parse_date("StartDate", "1970-01-01T00:00:02").ok(),
            Some(2000)
        );
        let e = parse_date("EndDate", "yesterday").err().map(|e| e.message);
        assert!(e.is_some_and(|m| m.starts_with("EndDate ")));
    }

    #[test]
    fn windows() {
        let now = Timestamp(10_000_000);
        let w = WindowParams::parse(&Form::parse(b"").unwrap()).map(|p| p.resolve(now));
        assert!(matches!(
            w,
            Ok(Window {
                start: 9_100_000,
                end: 10_000_000
            })
        ));
        let w = WindowParams::parse(&Form::parse(b"Minutes=1").unwrap()).map(|p| p.resolve(now));
        assert!(matches!(
            w,
            Ok(Window {
                start: 9_940_000,
                end: 10_000_000
            })
        ));
        assert!(WindowParams::parse(&Form::parse(b"Minutes=0").unwrap()).is_err());
        assert!(WindowParams::parse(&Form::parse(b"Minutes=x").unwrap()).is_err());
        assert!(
            WindowParams::parse(&Form::parse(b"Minutes=5&StartDate=2020-01-01").unwrap()).is_err()
        );
        assert!(WindowParams::parse(
            &Form::parse(b"StartDate=2020-01-02&EndDate=2020-01-01").unwrap()
        )
        .is_err());
    }

    #[test]
    fn splits_and_durations() {
        assert_eq!(
            split_param(&Form::parse(b"SplitByWaitTime=30,5,5").unwrap())
                .ok()
                .flatten(),
            Some(vec![5, 30])
        );
        assert!(split_param(&Form::parse(b"SplitByWaitTime=5,x").unwrap()).is_err());
        assert_eq!(
            durations(&[1, 2, 6]),
            json!({"avg": 3, "min": 1, "max": 6, "total": 9})
        );
        assert_eq!(
            durations(&[]),
            json!({"avg": 0, "min": 0, "max": 0, "total": 0})
        );
        let t = Tally {
            accepted: vec![1, 10],
            canceled: vec![7],
            ..Default::default()
        };
        assert_eq!(
            split_by_wait_time(&t, Some(&[5])),
            json!({"5": {"above": {"tasks_canceled": 1, "reservations_accepted": 1},
                         "below": {"tasks_canceled": 0, "reservations_accepted": 1}}})
        );
    }
}
