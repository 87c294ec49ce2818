//! TaskRouter v1: `/v1/Workspaces` and everything under a workspace.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use switchboard_expr::{Context, Expression};
use switchboard_routing::*;
use switchboard_sid::{
    Activity, Reservation, Sid, Task, TaskChannel, TaskQueue, Worker, Workflow,
    Workspace as WorkspaceKind,
};
use switchboard_store::TaskQuery;

use crate::app::App;
use crate::driver::Driver as Core;
use crate::http::{
    created, list, no_content, ok, page_of, path_sid, ApiError, ApiResult, Ctx, Form, Paging,
};
use crate::ids::{new_sid, random_u128};
use crate::render;
use switchboard_center::model::WorkspaceState;
use switchboard_center::Entry;

/// The routes.
pub fn routes() -> Router<App> {
    let w = "/v1/Workspaces/{ws}";
    Router::new()
        .route(
            "/v1/Workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            w,
            get(fetch_workspace)
                .post(update_workspace)
                .delete(delete_workspace),
        )
        .route(
            &format!("{w}/Activities"),
            get(list_activities).post(create_activity),
        )
        .route(
            &format!("{w}/Activities/{{sid}}"),
            get(fetch_activity)
                .post(update_activity)
                .delete(delete_activity),
        )
        .route(
            &format!("{w}/TaskChannels"),
            get(list_channels).post(create_channel),
        )
        .route(
            &format!("{w}/TaskChannels/{{sid}}"),
            get(fetch_channel)
                .post(update_channel)
                .delete(delete_channel),
        )
        .route(
            &format!("{w}/Workers"),
            get(list_workers).post(create_worker),
        )
        .route(
            &format!("{w}/Workers/{{sid}}"),
            get(fetch_worker).post(update_worker).delete(delete_worker),
        )
        .route(
            &format!("{w}/Workers/{{sid}}/Channels"),
            get(list_worker_channels),
        )
        .route(
            &format!("{w}/Workers/{{sid}}/Channels/{{channel}}"),
            get(fetch_worker_channel).post(update_worker_channel),
        )
        .route(
            &format!("{w}/Workers/{{sid}}/Reservations"),
            get(list_worker_reservations),
        )
        .route(
            &format!("{w}/Workers/{{sid}}/Reservations/{{reservation}}"),
            get(fetch_worker_reservation).post(update_worker_reservation),
        )
        .route(
            &format!("{w}/TaskQueues"),
            get(list_queues).post(create_queue),
        )
        .route(
            &format!("{w}/TaskQueues/{{sid}}"),
            get(fetch_queue).post(update_queue).delete(delete_queue),
        )
        .route(
            &format!("{w}/Workflows"),
            get(list_workflows).post(create_workflow),
        )
        .route(
            &format!("{w}/Workflows/{{sid}}"),
            get(fetch_workflow)
                .post(update_workflow)
                .delete(delete_workflow),
        )
        .route(&format!("{w}/Tasks"), get(list_tasks).post(create_task))
        .route(
            &format!("{w}/Tasks/{{sid}}"),
            get(fetch_task).post(update_task).delete(delete_task),
        )
        .route(
            &format!("{w}/Tasks/{{sid}}/Reservations"),
            get(list_task_reservations),
        )
        .route(
            &format!("{w}/Tasks/{{sid}}/Reservations/{{reservation}}"),
            get(fetch_task_reservation).post(update_task_reservation),
        )
}

fn ws_sid(s: &str) -> Result<Sid<WorkspaceKind>, ApiError> {
    path_sid(s, "Workspace")
}

fn engine(core: &mut Core, ws: Sid<WorkspaceKind>, command: Command) -> Result<(), ApiError> {
    core.execute(Entry::engine(ws, command))
}

/// Checks a friendly name against TaskRouter's length rule before anything is changed.
fn name_param(form: &Form, required: bool) -> Result<Option<String>, ApiError> {
    let name = if required {
        Some(form.required("FriendlyName")?)
    } else {
        form.string("FriendlyName")
    };
    if let Some(n) = &name {
        if n.chars().count() > 64 {
            return Err(ApiError::invalid(
                "FriendlyName",
                "must be at most 64 characters",
            ));
        }
    }
    Ok(name)
}

fn task_order(form: &Form, param: &str) -> Result<Option<TaskOrder>, ApiError> {
    match form.get(param) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("FIFO") => Ok(Some(TaskOrder::Fifo)),
        Some(v) if v.eq_ignore_ascii_case("LIFO") => Ok(Some(TaskOrder::Lifo)),
        Some(v) => Err(ApiError::invalid(
            param,
            format!("must be FIFO or LIFO, got {v:?}"),
        )),
    }
}

/// A workflow's callback URL as the engine takes it: empty clears.
fn workflow_url(form: &Form, param: &str) -> Result<Option<String>, ApiError> {
    Ok(form.callback_url(param)?.map(Option::unwrap_or_default))
}

fn events_filter(form: &Form) -> Result<Option<Option<Vec<String>>>, ApiError> {
    let Some(v) = form.get("EventsFilter") else {
        return Ok(None);
    };
    let list: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = list
        .iter()
        .find(|t| !EventType::ALL.iter().any(|e| e.as_str() == t.as_str()))
    {
        return Err(ApiError::invalid(
            "EventsFilter",
            format!("names an unknown event type {bad:?}"),
        ));
    }
    Ok(Some((!list.is_empty()).then_some(list)))
}

fn parse_time(param: &str, v: &str) -> Result<Timestamp, ApiError> {
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::invalid(param, format!("must be an ISO-8601 date-time: {e}")))?;
    Ok(Timestamp(
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
    ))
}

// ---------------------------------------------------------------------------------------------
// Workspaces

async fn create_workspace(State(app): State<App>, ctx: Ctx, body: Bytes) -> ApiResult {
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, true)?.unwrap_or_default();
    let event_callback_url = form.callback_url("EventCallbackUrl")?.flatten();
    let events_filter = events_filter(&form)?.flatten();
    let multi_task_enabled = form.bool("MultiTaskEnabled").unwrap_or(true);
    let prioritize_queue_order = task_order(&form, "PrioritizeQueueOrder")?.unwrap_or_default();
    let template = form.get("Template").unwrap_or("NONE").to_ascii_uppercase();
    if !matches!(template.as_str(), "NONE" | "FIFO") {
        return Err(ApiError::invalid("Template", "must be NONE or FIFO"));
    }
    let sid: Sid<WorkspaceKind> = new_sid();
    let entries = workspace_template(
        sid,
        friendly_name,
        event_callback_url,
        events_filter,
        multi_task_enabled,
        prioritize_queue_order,
        &template,
    );
    app.core
        .run(move |core| {
            core.execute_many(entries)?;
            Ok(created(render::workspace(&ctx.urls, core.workspace(sid)?)))
        })
        .await?
}

/// What a new workspace starts with, as TaskRouter makes it: activities Offline (the default and
/// timeout activity), Available and Unavailable, and the channels voice, chat, sms, video and
/// default; with `Template=FIFO` also a queue and a workflow.
pub fn workspace_template(
    sid: Sid<WorkspaceKind>,
    friendly_name: String,
    event_callback_url: Option<String>,
    events_filter: Option<Vec<String>>,
    multi_task_enabled: bool,
    prioritize_queue_order: TaskOrder,
    template: &str,
) -> Vec<Entry> {
    let mut entries = vec![Entry::CreateWorkspace {
        sid,
        friendly_name,
        event_callback_url,
        events_filter,
        multi_task_enabled,
        prioritize_queue_order,
        seed: random_u128().to_string(),
    }];
    let mut cmd = |command| entries.push(Entry::engine(sid, command));
    let offline: Sid<Activity> = new_sid();
    for (a, name, available) in [
        (offline, "Offline", false),
        (new_sid(), "Available", true),
        (new_sid(), "Unavailable", false),
    ] {
        cmd(Command::CreateActivity {
            sid: a,
            friendly_name: name.into(),
            available,
        });
    }
    cmd(Command::UpdateWorkspace(WorkspaceUpdate {
        default_activity_sid: Some(offline),
        timeout_activity_sid: Some(offline),
        prioritize_queue_order: None,
    }));
    for (unique, name) in [
        ("default", "Default"),
        ("voice", "Voice"),
        ("chat", "Chat"),
        ("sms", "SMS"),
        ("video", "Video"),
    ] {
        cmd(Command::CreateTaskChannel {
            sid: new_sid(),
            unique_name: unique.into(),
            friendly_name: name.into(),
            channel_optimized_routing: false,
        });
    }
    if template == "FIFO" {
        let queue: Sid<TaskQueue> = new_sid();
        cmd(Command::CreateTaskQueue(NewTaskQueue {
            sid: queue,
            friendly_name: "Sample Queue".into(),
            target_workers: Some("1==1".into()),
            max_reserved_workers: None,
            task_order: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }));
        cmd(Command::CreateWorkflow(NewWorkflow {
            sid: new_sid(),
            friendly_name: "Default Fifo Workflow".into(),
            configuration: format!(
                r#"{{"task_routing":{{"filters":[],"default_filter":{{"queue":"{queue}"}}}}}}"#
            ),
            task_reservation_timeout: None,
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
        }));
    }
    entries
}

async fn list_workspaces(State(app): State<App>, ctx: Ctx) -> ApiResult {
    let paging = Paging::from(&ctx.query)?;
    app.core
        .run(move |core| {
            let name = ctx.query.get("FriendlyName");
            let all: Vec<Value> = core
                .center()
                .model()
                .workspaces()
                .map(|(_, w)| w)
                .filter(|w| name.is_none_or(|n| w.friendly_name == n))
                .map(|w| render::workspace(&ctx.urls, w))
                .collect();
            let (items, more) = page_of(all, paging);
            Ok(list(&ctx, "workspaces", paging, items, more))
        })
        .await?
}

async fn fetch_workspace(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    app.core
        .run(move |core| Ok(ok(render::workspace(&ctx.urls, core.workspace(ws)?))))
        .await?
}

async fn update_workspace(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, false)?;
    let event_callback_url = form.callback_url("EventCallbackUrl")?;
    let filter = events_filter(&form)?;
    let update = WorkspaceUpdate {
        default_activity_sid: form.sid("DefaultActivitySid")?,
        timeout_activity_sid: form.sid("TimeoutActivitySid")?,
        prioritize_queue_order: task_order(&form, "PrioritizeQueueOrder")?,
    };
    let multi = form.bool("MultiTaskEnabled");
    app.core
        .run(move |core| {
            let current = core.workspace(ws)?;
            if multi.is_some_and(|m| m != current.engine.multi_task_enabled()) {
                return Err(ApiError::invalid(
                    "MultiTaskEnabled",
                    "cannot be changed after the workspace is created",
                ));
            }
            let mut entries = Vec::new();
            if update.default_activity_sid.is_some()
                || update.timeout_activity_sid.is_some()
                || update.prioritize_queue_order.is_some()
            {
                entries.push(Entry::engine(ws, Command::UpdateWorkspace(update)));
            }
            entries.push(Entry::UpdateWorkspace {
                sid: ws,
                friendly_name,
                event_callback_url,
                events_filter: filter,
            });
            core.execute_many(entries)?;
            Ok(ok(render::workspace(&ctx.urls, core.workspace(ws)?)))
        })
        .await?
}

async fn delete_workspace(State(app): State<App>, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    app.core
        .run(move |core| {
            core.workspace(ws)?;
            core.execute(Entry::DeleteWorkspace { sid: ws })?;
            Ok(no_content())
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Activities

async fn create_activity(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, true)?.unwrap_or_default();
    let available = form.bool("Available").unwrap_or(false);
    let sid: Sid<Activity> = new_sid();
    app.core
        .run(move |core| {
            engine(
                core,
                ws,
                Command::CreateActivity {
                    sid,
                    friendly_name,
                    available,
                },
            )?;
            let w = &core.workspace(ws)?.engine;
            let a = w
                .activity(sid)
                .ok_or_else(|| ApiError::internal("activity vanished"))?;
            Ok(created(render::activity(&ctx.urls, w, a)))
        })
        .await?
}

async fn list_activities(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let name = ctx.query.get("FriendlyName");
            let available = ctx.query.bool("Available");
            let mut all: Vec<&ActivityRecord> = w
                .activities()
                .filter(|a| name.is_none_or(|n| &*a.friendly_name == n))
                .filter(|a| available.is_none_or(|v| a.available == v))
                .collect();
            all.sort_by_key(|a| (a.date_created, a.sid));
            let (items, more) = page_of(all, paging);
            let items = items
                .into_iter()
                .map(|a| render::activity(&ctx.urls, w, a))
                .collect();
            Ok(list(&ctx, "activities", paging, items, more))
        })
        .await?
}

async fn fetch_activity(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Activity> = path_sid(&sid, "Activity")?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let a = w
                .activity(sid)
                .ok_or_else(|| ApiError::not_found(format!("Activity {sid}")))?;
            Ok(ok(render::activity(&ctx.urls, w, a)))
        })
        .await?
}

async fn update_activity(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Activity> = path_sid(&sid, "Activity")?;
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, false)?;
    if form.get("Available").is_some() {
        return Err(ApiError::invalid(
            "Available",
            "cannot be changed after the activity is created",
        ));
    }
    app.core
        .run(move |core| {
            if core.workspace(ws)?.engine.activity(sid).is_none() {
                return Err(ApiError::not_found(format!("Activity {sid}")));
            }
            if let Some(friendly_name) = friendly_name {
                engine(core, ws, Command::UpdateActivity { sid, friendly_name })?;
            }
            let w = &core.workspace(ws)?.engine;
            let a = w
                .activity(sid)
                .ok_or_else(|| ApiError::not_found(format!("Activity {sid}")))?;
            Ok(ok(render::activity(&ctx.urls, w, a)))
        })
        .await?
}

async fn delete_activity(
    State(app): State<App>,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Activity> = path_sid(&sid, "Activity")?;
    app.core
        .run(move |core| {
            if core.workspace(ws)?.engine.activity(sid).is_none() {
                return Err(ApiError::not_found(format!("Activity {sid}")));
            }
            engine(core, ws, Command::DeleteActivity { sid })?;
            Ok(no_content())
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Task channels

fn find_channel<'a>(w: &'a Workspace, key: &str) -> Result<&'a ChannelRecord, ApiError> {
    let found = match key.parse::<Sid<TaskChannel>>() {
        Ok(sid) => w.channel(sid),
        Err(_) => w.channel_by_name(key),
    };
    found.ok_or_else(|| ApiError::not_found(format!("TaskChannel {key}")))
}

async fn create_channel(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, true)?.unwrap_or_default();
    let unique_name = form.required("UniqueName")?;
    let optimized = form.bool("ChannelOptimizedRouting").unwrap_or(false);
    let sid: Sid<TaskChannel> = new_sid();
    app.core
        .run(move |core| {
            engine(
                core,
                ws,
                Command::CreateTaskChannel {
                    sid,
                    unique_name,
                    friendly_name,
                    channel_optimized_routing: optimized,
                },
            )?;
            let w = &core.workspace(ws)?.engine;
            Ok(created(render::channel(
                &ctx.urls,
                w,
                find_channel(w, &sid.to_string())?,
            )))
        })
        .await?
}

async fn list_channels(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let all: Vec<&ChannelRecord> = w.channels().collect();
            let (items, more) = page_of(all, paging);
            let items = items
                .into_iter()
                .map(|c| render::channel(&ctx.urls, w, c))
                .collect();
            Ok(list(&ctx, "channels", paging, items, more))
        })
        .await?
}

async fn fetch_channel(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            Ok(ok(render::channel(&ctx.urls, w, find_channel(w, &sid)?)))
        })
        .await?
}

async fn update_channel(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let friendly_name = name_param(&form, false)?;
    let optimized = form.bool("ChannelOptimizedRouting");
    app.core
        .run(move |core| {
            let sid = find_channel(&core.workspace(ws)?.engine, &key)?.sid;
            engine(
                core,
                ws,
                Command::UpdateTaskChannel {
                    sid,
                    friendly_name,
                    channel_optimized_routing: optimized,
                },
            )?;
            let w = &core.workspace(ws)?.engine;
            Ok(ok(render::channel(&ctx.urls, w, find_channel(w, &key)?)))
        })
        .await?
}

async fn delete_channel(
    State(app): State<App>,
    Path((ws, key)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    app.core
        .run(move |core| {
            let sid = find_channel(&core.workspace(ws)?.engine, &key)?.sid;
            engine(core, ws, Command::DeleteTaskChannel { sid })?;
            Ok(no_content())
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Workers

fn find_worker(w: &Workspace, sid: Sid<Worker>) -> Result<&WorkerRecord, ApiError> {
    w.worker(sid)
        .ok_or_else(|| ApiError::not_found(format!("Worker {sid}")))
}

fn if_match(headers: &HeaderMap, version: u64) -> Result<(), ApiError> {
    match headers.get(header::IF_MATCH).and_then(|h| h.to_str().ok()) {
        Some(tag) if tag.trim().trim_matches('"') != version.to_string() => Err(ApiError {
            status: StatusCode::PRECONDITION_FAILED,
            code: 20412,
            message: format!("If-Match {tag} does not match the current version {version}"),
        }),
        _ => Ok(()),
    }
}

fn with_etag(mut r: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn create_worker(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let new = NewWorker {
        sid: new_sid(),
        friendly_name: name_param(&form, true)?.unwrap_or_default(),
        attributes: form.string("Attributes"),
        activity_sid: form.sid("ActivitySid")?,
    };
    let sid = new.sid;
    app.core
        .run(move |core| {
            engine(core, ws, Command::CreateWorker(new))?;
            let w = &core.workspace(ws)?.engine;
            Ok(created(render::worker(&ctx.urls, w, find_worker(w, sid)?)))
        })
        .await?
}

async fn list_workers(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    let q = &ctx.query;
    let expression = q
        .get("TargetWorkersExpression")
        .map(|e| Expression::parse(e, Context::TargetWorkers))
        .transpose()
        .map_err(|e| ApiError::invalid("TargetWorkersExpression", format!("is invalid: {e}")))?;
    let activity_sid: Option<Sid<Activity>> = q.sid("ActivitySid")?;
    let queue_sid: Option<Sid<TaskQueue>> = q.sid("TaskQueueSid")?;
    let ordering = q.string("Ordering");
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let q = &ctx.query;
            let activity_name = q.get("ActivityName");
            let available = q.bool("Available");
            let name = q.get("FriendlyName");
            let queue = match (queue_sid, q.get("TaskQueueName")) {
                (Some(s), _) => Some(w.queue(s).ok_or_else(|| {
                    ApiError::invalid(
                        "TaskQueueSid",
                        format!("names {s}, which is not a task queue of this workspace"),
                    )
                })?),
                (None, Some(n)) => {
                    Some(w.queues().find(|x| &*x.friendly_name == n).ok_or_else(|| {
                        ApiError::invalid(
                            "TaskQueueName",
                            format!("names {n:?}, which is not a task queue of this workspace"),
                        )
                    })?)
                }
                (None, None) => None,
            };
            let mut all: Vec<&WorkerRecord> = w
                .workers()
                .filter(|x| activity_sid.is_none_or(|a| x.activity_sid == a))
                .filter(|x| activity_name.is_none_or(|n| &*w.activity_name(x.activity_sid) == n))
                .filter(|x| available.is_none_or(|a| w.worker_available(x) == a))
                .filter(|x| name.is_none_or(|n| x.friendly_name.eq_ignore_ascii_case(n)))
                .filter(|x| queue.is_none_or(|q| q.has_member(x.sid)))
                .filter(|x| expression.as_ref().is_none_or(|e| w.worker_matches(x, e)))
                .collect();
            match ordering.as_deref() {
                Some("DateStatusChanged:desc") => {
                    all.sort_by_key(|x| std::cmp::Reverse((x.date_status_changed, x.sid)))
                }
                Some("DateStatusChanged:asc") => {
                    all.sort_by_key(|x| (x.date_status_changed, x.sid))
                }
                Some(o) if !o.is_empty() => {
                    return Err(ApiError::invalid(
                        "Ordering",
                        "must be DateStatusChanged:asc or DateStatusChanged:desc",
                    ))
                }
                _ => all.sort_by_key(|x| (x.date_created, x.sid)),
            }
            let (items, more) = page_of(all, paging);
            let items = items
                .into_iter()
                .map(|x| render::worker(&ctx.urls, w, x))
                .collect();
            Ok(list(&ctx, "workers", paging, items, more))
        })
        .await?
}

async fn fetch_worker(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let worker = find_worker(w, sid)?;
            Ok(with_etag(
                ok(render::worker(&ctx.urls, w, worker)),
                worker.version,
            ))
        })
        .await?
}

async fn update_worker(
    State(app): State<App>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    let form = Form::parse(&body)?;
    let update = WorkerUpdate {
        friendly_name: name_param(&form, false)?,
        attributes: form.string("Attributes"),
        activity_sid: form.sid("ActivitySid")?,
        reject_pending_reservations: form.bool("RejectPendingReservations").unwrap_or(false),
    };
    app.core
        .run(move |core| {
            if_match(
                &headers,
                find_worker(&core.workspace(ws)?.engine, sid)?.version,
            )?;
            engine(core, ws, Command::UpdateWorker { sid, update })?;
            let w = &core.workspace(ws)?.engine;
            let worker = find_worker(w, sid)?;
            Ok(with_etag(
                ok(render::worker(&ctx.urls, w, worker)),
                worker.version,
            ))
        })
        .await?
}

async fn delete_worker(
    State(app): State<App>,
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    app.core
        .run(move |core| {
            if_match(
                &headers,
                find_worker(&core.workspace(ws)?.engine, sid)?.version,
            )?;
            engine(core, ws, Command::DeleteWorker { sid })?;
            Ok(no_content())
        })
        .await?
}

async fn list_worker_channels(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    let paging = Paging::from(&ctx.query)?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let worker = find_worker(w, sid)?;
            let all: Vec<Value> = w
                .worker_channels(sid)
                .map(|(c, wc)| render::worker_channel(&ctx.urls, w, worker, c, wc))
                .collect();
            let (items, more) = page_of(all, paging);
            Ok(list(&ctx, "channels", paging, items, more))
        })
        .await?
}

fn find_worker_channel<'a>(
    w: &'a Workspace,
    worker: Sid<Worker>,
    key: &str,
) -> Result<(&'a ChannelRecord, &'a WorkerChannelRecord), ApiError> {
    w.worker_channels(worker)
        .find(|(c, wc)| {
            wc.sid.to_string() == key || &*c.unique_name == key || c.sid.to_string() == key
        })
        .ok_or_else(|| ApiError::not_found(format!("WorkerChannel {key}")))
}

async fn fetch_worker_channel(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid, key)): Path<(String, String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let worker = find_worker(w, sid)?;
            let (c, wc) = find_worker_channel(w, sid, &key)?;
            Ok(ok(render::worker_channel(&ctx.urls, w, worker, c, wc)))
        })
        .await?
}

async fn update_worker_channel(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid, key)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Worker> = path_sid(&sid, "Worker")?;
    let form = Form::parse(&body)?;
    let capacity = form.uint::<u32>("Capacity")?;
    let available = form.bool("Available");
    app.core
        .run(move |core| {
            let channel = {
                let w = &core.workspace(ws)?.engine;
                find_worker(w, sid)?;
                ChannelRef::Sid(find_worker_channel(w, sid, &key)?.0.sid)
            };
            engine(
                core,
                ws,
                Command::UpdateWorkerChannel {
                    worker_sid: sid,
                    channel,
                    capacity,
                    available,
                },
            )?;
            let w = &core.workspace(ws)?.engine;
            let worker = find_worker(w, sid)?;
            let (c, wc) = find_worker_channel(w, sid, &key)?;
            Ok(ok(render::worker_channel(&ctx.urls, w, worker, c, wc)))
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Task queues

fn find_queue(w: &Workspace, sid: Sid<TaskQueue>) -> Result<&QueueRecord, ApiError> {
    w.queue(sid)
        .ok_or_else(|| ApiError::not_found(format!("TaskQueue {sid}")))
}

fn queue_fields(form: &Form) -> Result<TaskQueueUpdate, ApiError> {
    Ok(TaskQueueUpdate {
        friendly_name: name_param(form, false)?,
        target_workers: form.string("TargetWorkers"),
        max_reserved_workers: form.uint("MaxReservedWorkers")?,
        task_order: task_order(form, "TaskOrder")?,
        reservation_activity_sid: form.sid("ReservationActivitySid")?,
        assignment_activity_sid: form.sid("AssignmentActivitySid")?,
    })
}

async fn create_queue(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    form.required("FriendlyName")?;
    let f = queue_fields(&form)?;
    let sid: Sid<TaskQueue> = new_sid();
    let new = NewTaskQueue {
        sid,
        friendly_name: f.friendly_name.unwrap_or_default(),
        target_workers: f.target_workers,
        max_reserved_workers: f.max_reserved_workers,
        task_order: f.task_order,
        reservation_activity_sid: f.reservation_activity_sid,
        assignment_activity_sid: f.assignment_activity_sid,
    };
    app.core
        .run(move |core| {
            engine(core, ws, Command::CreateTaskQueue(new))?;
            let w = &core.workspace(ws)?.engine;
            Ok(created(render::queue(&ctx.urls, w, find_queue(w, sid)?)))
        })
        .await?
}

async fn list_queues(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    let worker_sid: Option<Sid<Worker>> = ctx.query.sid("WorkerSid")?;
    let evaluate = ctx
        .query
        .get("EvaluateWorkerAttributes")
        .map(|doc| {
            serde_json::from_str::<Value>(doc)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    ApiError::invalid("EvaluateWorkerAttributes", "must be a JSON object")
                })
        })
        .transpose()?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let name = ctx.query.get("FriendlyName");
            let mut all: Vec<&QueueRecord> = w
                .queues()
                .filter(|q| name.is_none_or(|n| &*q.friendly_name == n))
                .filter(|q| worker_sid.is_none_or(|s| q.has_member(s)))
                .filter(|q| {
                    evaluate.as_ref().is_none_or(|doc| {
                        q.target_workers.as_ref().is_some_and(|e| {
                            e.evaluate(&switchboard_expr::Scope {
                                worker: Some(doc),
                                ..Default::default()
                            })
                        })
                    })
                })
                .collect();
            match ctx.query.get("Ordering") {
                Some("DateUpdated:desc") => {
                    all.sort_by_key(|q| std::cmp::Reverse((q.date_updated, q.sid)))
                }
                Some("DateUpdated:asc") => all.sort_by_key(|q| (q.date_updated, q.sid)),
                Some(o) if !o.is_empty() => {
                    return Err(ApiError::invalid(
                        "Ordering",
                        "must be DateUpdated:asc or DateUpdated:desc",
                    ))
                }
                _ => all.sort_by_key(|q| (q.date_created, q.sid)),
            }
            let (items, more) = page_of(all, paging);
            let items = items
                .into_iter()
                .map(|q| render::queue(&ctx.urls, w, q))
                .collect();
            Ok(list(&ctx, "task_queues", paging, items, more))
        })
        .await?
}

async fn fetch_queue(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<TaskQueue> = path_sid(&sid, "TaskQueue")?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            Ok(ok(render::queue(&ctx.urls, w, find_queue(w, sid)?)))
        })
        .await?
}

async fn update_queue(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<TaskQueue> = path_sid(&sid, "TaskQueue")?;
    let update = queue_fields(&Form::parse(&body)?)?;
    app.core
        .run(move |core| {
            find_queue(&core.workspace(ws)?.engine, sid)?;
            engine(core, ws, Command::UpdateTaskQueue { sid, update })?;
            let w = &core.workspace(ws)?.engine;
            Ok(ok(render::queue(&ctx.urls, w, find_queue(w, sid)?)))
        })
        .await?
}

async fn delete_queue(
    State(app): State<App>,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<TaskQueue> = path_sid(&sid, "TaskQueue")?;
    app.core
        .run(move |core| {
            find_queue(&core.workspace(ws)?.engine, sid)?;
            engine(core, ws, Command::DeleteTaskQueue { sid })?;
            Ok(no_content())
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Workflows

fn find_workflow(w: &Workspace, sid: Sid<Workflow>) -> Result<&WorkflowRecord, ApiError> {
    w.workflow(sid)
        .ok_or_else(|| ApiError::not_found(format!("Workflow {sid}")))
}

fn workflow_json(ctx: &Ctx, w: &Workspace, wf: &WorkflowRecord) -> Value {
    let cb = wf.assignment_callback_url.as_deref().map(str::to_owned);
    let fb = wf
        .fallback_assignment_callback_url
        .as_deref()
        .map(str::to_owned);
    render::workflow(&ctx.urls, w, wf, (&cb, &fb))
}

async fn create_workflow(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let new = NewWorkflow {
        sid: new_sid(),
        friendly_name: name_param(&form, true)?.unwrap_or_default(),
        configuration: form.required("Configuration")?,
        task_reservation_timeout: form.uint("TaskReservationTimeout")?,
        assignment_callback_url: workflow_url(&form, "AssignmentCallbackUrl")?,
        fallback_assignment_callback_url: workflow_url(&form, "FallbackAssignmentCallbackUrl")?,
    };
    let sid = new.sid;
    app.core
        .run(move |core| {
            engine(core, ws, Command::CreateWorkflow(new))?;
            let w = &core.workspace(ws)?.engine;
            Ok(created(workflow_json(&ctx, w, find_workflow(w, sid)?)))
        })
        .await?
}

async fn list_workflows(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            let name = ctx.query.get("FriendlyName");
            let mut all: Vec<&WorkflowRecord> = w
                .workflows()
                .filter(|x| name.is_none_or(|n| &*x.friendly_name == n))
                .collect();
            all.sort_by_key(|x| (x.date_created, x.sid));
            let (items, more) = page_of(all, paging);
            let items = items
                .into_iter()
                .map(|x| workflow_json(&ctx, w, x))
                .collect();
            Ok(list(&ctx, "workflows", paging, items, more))
        })
        .await?
}

async fn fetch_workflow(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Workflow> = path_sid(&sid, "Workflow")?;
    app.core
        .run(move |core| {
            let w = &core.workspace(ws)?.engine;
            Ok(ok(workflow_json(&ctx, w, find_workflow(w, sid)?)))
        })
        .await?
}

async fn update_workflow(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Workflow> = path_sid(&sid, "Workflow")?;
    let form = Form::parse(&body)?;
    let update = WorkflowUpdate {
        friendly_name: name_param(&form, false)?,
        configuration: form.string("Configuration"),
        task_reservation_timeout: form.uint("TaskReservationTimeout")?,
        assignment_callback_url: workflow_url(&form, "AssignmentCallbackUrl")?,
        fallback_assignment_callback_url: workflow_url(&form, "FallbackAssignmentCallbackUrl")?,
        re_evaluate_tasks: form.bool("ReEvaluateTasks").unwrap_or(false),
    };
    app.core
        .run(move |core| {
            find_workflow(&core.workspace(ws)?.engine, sid)?;
            engine(core, ws, Command::UpdateWorkflow { sid, update })?;
            let w = &core.workspace(ws)?.engine;
            Ok(ok(workflow_json(&ctx, w, find_workflow(w, sid)?)))
        })
        .await?
}

async fn delete_workflow(
    State(app): State<App>,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Workflow> = path_sid(&sid, "Workflow")?;
    app.core
        .run(move |core| {
            find_workflow(&core.workspace(ws)?.engine, sid)?;
            engine(core, ws, Command::DeleteWorkflow { sid })?;
            Ok(no_content())
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// A task wherever it is: live in the engine, or finished in the store.
enum Found {
    Live(Map<String, Value>, u64),
    Finished(Value),
}

fn find_task(core: &mut Core, ws: Sid<WorkspaceKind>, sid: Sid<Task>) -> Result<Found, ApiError> {
    let state = core.workspace(ws)?;
    if let Some(t) = state.engine.task(sid) {
        return Ok(Found::Live(
            render::task_json_parts(&state.engine, t),
            t.version,
        ));
    }
    let row = core
        .store()
        .finished_task(&ws.to_string(), &sid.to_string())
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("Task {sid}")))?;
    serde_json::from_str(&row.data)
        .map(Found::Finished)
        .map_err(|e| ApiError::internal(format!("stored task {sid} is unreadable: {e}")))
}

fn finished_parts(doc: &Value) -> Map<String, Value> {
    doc.get("task")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn task_response(ctx: &Ctx, core: &mut Core, ws: Sid<WorkspaceKind>, sid: Sid<Task>) -> ApiResult {
    let now = core.now();
    match find_task(core, ws, sid)? {
        Found::Live(parts, version) => Ok(with_etag(
            ok(render::task(&ctx.urls, &ws, parts, now)),
            version,
        )),
        Found::Finished(doc) => Ok(ok(render::task(&ctx.urls, &ws, finished_parts(&doc), now))),
    }
}

async fn create_task(
    State(app): State<App>,
    ctx: Ctx,
    Path(ws): Path<String>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let form = Form::parse(&body)?;
    let routing_target = match form.get("RoutingTarget").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) if v.starts_with("WK") => Some(RoutingTarget::Worker(
            form.sid("RoutingTarget")?
                .ok_or_else(|| ApiError::missing("RoutingTarget"))?,
        )),
        Some(v) if v.starts_with("WQ") => Some(RoutingTarget::Queue(
            form.sid("RoutingTarget")?
                .ok_or_else(|| ApiError::missing("RoutingTarget"))?,
        )),
        Some(v) if v.starts_with("WW") => Some(RoutingTarget::Workflow(
            form.sid("RoutingTarget")?
                .ok_or_else(|| ApiError::missing("RoutingTarget"))?,
        )),
        Some(v) => {
            return Err(ApiError::invalid(
                "RoutingTarget",
                format!("must be a Worker (WK), TaskQueue (WQ) or Workflow (WW) SID, got {v:?}"),
            ))
        }
    };
    let task_channel = form.get("TaskChannel").filter(|v| !v.is_empty()).map(|v| {
        match v.parse::<Sid<TaskChannel>>() {
            Ok(sid) => ChannelRef::Sid(sid),
            Err(_) => ChannelRef::UniqueName(v.to_owned()),
        }
    });
    let virtual_start_time = form
        .get("VirtualStartTime")
        .map(|v| parse_time("VirtualStartTime", v))
        .transpose()?;
    let new = NewTask {
        sid: new_sid(),
        attributes: form.string("Attributes"),
        workflow_sid: form.sid("WorkflowSid")?,
        priority: form.uint("Priority")?,
        timeout: form.uint("Timeout")?,
        task_channel,
        virtual_start_time,
        routing_target,
        ignore_capacity: form.bool("IgnoreCapacity"),
        task_queue_sid: form.sid("TaskQueueSid")?,
    };
    let sid = new.sid;
    app.core
        .run(move |core| {
            engine(core, ws, Command::CreateTask(new))?;
            let mut r = task_response(&ctx, core, ws, sid)?;
            *r.status_mut() = StatusCode::CREATED;
            Ok(r)
        })
        .await?
}

async fn fetch_task(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Task> = path_sid(&sid, "Task")?;
    app.core
        .run(move |core| task_response(&ctx, core, ws, sid))
        .await?
}

async fn update_task(
    State(app): State<App>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Task> = path_sid(&sid, "Task")?;
    let form = Form::parse(&body)?;
    let assignment_status = match form.get("AssignmentStatus") {
        None => None,
        Some("canceled") => Some(TaskStatusChange::Canceled),
        Some("wrapping") => Some(TaskStatusChange::Wrapping),
        Some("completed") => Some(TaskStatusChange::Completed),
        Some(v) => {
            return Err(ApiError::invalid(
                "AssignmentStatus",
                format!("must be canceled, wrapping or completed, got {v:?}"),
            ))
        }
    };
    let update = TaskUpdate {
        attributes: form.string("Attributes"),
        priority: form.uint("Priority")?,
        assignment_status,
        reason: form.string("Reason"),
        virtual_start_time: form
            .get("VirtualStartTime")
            .map(|v| parse_time("VirtualStartTime", v))
            .transpose()?,
    };
    app.core
        .run(move |core| {
            match find_task(core, ws, sid)? {
                Found::Live(_, version) => if_match(&headers, version)?,
                Found::Finished(_) => {
                    return Err(ApiError::invalid(
                        "AssignmentStatus",
                        format!("Task {sid} has already finished and cannot be changed"),
                    ))
                }
            }
            engine(core, ws, Command::UpdateTask { sid, update })?;
            task_response(&ctx, core, ws, sid)
        })
        .await?
}

async fn delete_task(
    State(app): State<App>,
    headers: HeaderMap,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let sid: Sid<Task> = path_sid(&sid, "Task")?;
    app.core
        .run(move |core| {
            match find_task(core, ws, sid)? {
                Found::Live(_, version) => {
                    if_match(&headers, version)?;
                    engine(core, ws, Command::DeleteTask { sid })?;
                }
                Found::Finished(_) => {
                    core.execute(Entry::ForgetTask { workspace: ws, sid })?;
                }
            }
            Ok(no_content())
        })
        .await?
}

async fn list_tasks(State(app): State<App>, ctx: Ctx, Path(ws): Path<String>) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let paging = Paging::from(&ctx.query)?;
    let q = &ctx.query;
    let evaluate = q
        .get("EvaluateTaskAttributes")
        .map(|e| Expression::parse(e, Context::Filter))
        .transpose()
        .map_err(|e| ApiError::invalid("EvaluateTaskAttributes", format!("is invalid: {e}")))?;
    let statuses = q.list("AssignmentStatus");
    const STATUSES: [&str; 6] = [
        "pending",
        "reserved",
        "assigned",
        "wrapping",
        "completed",
        "canceled",
    ];
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
        return Err(ApiError::invalid(
            "AssignmentStatus",
            format!("names an unknown status {bad:?}"),
        ));
    }
    let priority = q.uint::<u64>("Priority")?;
    let workflow_sid: Option<Sid<Workflow>> = q.sid("WorkflowSid")?;
    let queue_sid: Option<Sid<TaskQueue>> = q.sid("TaskQueueSid")?;
    let ordering = parse_task_ordering(q.get("Ordering"))?;
    let routing_target = q.string("RoutingTarget");
    // The live tasks come from the core, rendered to their fields; the finished ones, and the
    // filtering, sorting and rendering of what may be a long list, are done off the core.
    let (now, mut all) = app
        .core
        .run(move |core| {
            let state: &WorkspaceState = core.workspace(ws)?;
            let live: Vec<Map<String, Value>> = state
                .engine
                .tasks()
                .map(|t| render::task_json_parts(&state.engine, t))
                .collect();
            Ok::<_, ApiError>((core.now(), live))
        })
        .await??;
    let want_finished =
        statuses.is_empty() || statuses.iter().any(|s| s == "completed" || s == "canceled");
    let rows = if want_finished {
        app.read(move |store| {
            store.finished_tasks(&TaskQuery {
                workspace_sid: ws.to_string(),
                statuses: vec![],
            })
        })
        .await?
        .map_err(ApiError::store)?
    } else {
        Vec::new()
    };
    tokio::task::spawn_blocking(move || {
        for row in rows {
            if let Ok(doc) = serde_json::from_str::<Value>(&row.data) {
                all.push(finished_parts(&doc));
            }
        }
        let q = &ctx.query;
        let text =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let workflow_name = q.get("WorkflowName");
        let queue_name = q.get("TaskQueueName");
        all.retain(|t| {
            let status = text(t, "assignment_status").unwrap_or_default();
            (statuses.is_empty() || statuses.contains(&status))
                && priority.is_none_or(|p| t.get("priority").and_then(Value::as_u64) == Some(p))
                && workflow_sid.is_none_or(|s| text(t, "workflow_sid") == Some(s.to_string()))
                && workflow_name
                    .is_none_or(|n| text(t, "workflow_friendly_name").as_deref() == Some(n))
                && queue_sid.is_none_or(|s| text(t, "task_queue_sid") == Some(s.to_string()))
                && queue_name
                    .is_none_or(|n| text(t, "task_queue_friendly_name").as_deref() == Some(n))
                && routing_target
                    .as_ref()
                    .is_none_or(|r| text(t, "routing_target").as_ref() == Some(r))
                && evaluate.as_ref().is_none_or(|e| {
                    let attrs: Value = text(t, "attributes")
                        .and_then(|a| serde_json::from_str(&a).ok())
                        .unwrap_or(Value::Null);
                    e.evaluate(&switchboard_expr::Scope {
                        task: Some(switchboard_expr::TaskScope {
                            attributes: &attrs,
                            sid: None,
                        }),
                        now: Some(switchboard_expr::Clock::from_unix_millis(now.0)),
                        ..Default::default()
                    })
                })
        });
        sort_tasks(&mut all, &ordering);
        let (items, more) = page_of(all, paging);
        let items = items
            .into_iter()
            .map(|t| render::task(&ctx.urls, &ws, t, now))
            .collect();
        Ok(list(&ctx, "tasks", paging, items, more))
    })
    .await
    .map_err(|_| ApiError::internal("listing tasks failed inside the server"))?
}

fn parse_task_ordering(v: Option<&str>) -> Result<Vec<(String, bool)>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(vec![("date_created_ms".into(), true)]);
    };
    let mut out = Vec::new();
    for clause in v.split(',') {
        let (field, dir) = clause
            .trim()
            .split_once(':')
            .unwrap_or((clause.trim(), "asc"));
        let key = match field {
            "DateCreated" => "date_created_ms",
            "Priority" => "priority",
            "VirtualStartTime" => "virtual_start_time",
            _ => {
                return Err(ApiError::invalid(
                    "Ordering",
                    format!(
                        "cannot order by {field:?}; use DateCreated, Priority or VirtualStartTime"
                    ),
                ))
            }
        };
        let asc = match dir {
            "asc" => true,
            "desc" => false,
            _ => {
                return Err(ApiError::invalid(
                    "Ordering",
                    format!("direction must be asc or desc, got {dir:?}"),
                ))
            }
        };
        out.push((key.to_owned(), asc));
    }
    if out.iter().any(|(k, _)| k == "date_created_ms")
        && out.iter().any(|(k, _)| k == "virtual_start_time")
    {
        return Err(ApiError::invalid(
            "Ordering",
            "cannot combine DateCreated and VirtualStartTime",
        ));
    }
    Ok(out)
}

fn sort_tasks(all: &mut [Map<String, Value>], ordering: &[(String, bool)]) {
    let cmp_value = |a: Option<&Value>, b: Option<&Value>| match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    };
    all.sort_by(|a, b| {
        for (key, asc) in ordering {
            let o = cmp_value(a.get(key), b.get(key));
            let o = if *asc { o } else { o.reverse() };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        cmp_value(a.get("sid"), b.get("sid"))
    });
}

// ---------------------------------------------------------------------------------------------
// Reservations

fn reservation_filter(q: &Form) -> Result<(Vec<String>, Option<Sid<Worker>>), ApiError> {
    Ok((q.list("ReservationStatus"), q.sid("WorkerSid")?))
}

/// Reservations of a task (live or finished), as JSON.
fn task_reservations(
    ctx: &Ctx,
    core: &mut Core,
    ws: Sid<WorkspaceKind>,
    task: Sid<Task>,
) -> Result<Vec<Value>, ApiError> {
    let state = core.workspace(ws)?;
    if let Some(t) = state.engine.task(task) {
        return Ok(t
            .reservations
            .iter()
            .filter_map(|r| state.engine.reservation(*r))
            .map(|r| render::reservation(&ctx.urls, &state.engine, r))
            .collect());
    }
    match find_task(core, ws, task)? {
        Found::Finished(doc) => Ok(doc
            .get("reservations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| render::reservation_parts(&ctx.urls, &ws, &task.to_string(), r))
            .collect()),
        Found::Live(..) => Ok(Vec::new()),
    }
}

fn filter_reservations(
    all: Vec<Value>,
    statuses: &[String],
    worker: Option<Sid<Worker>>,
) -> Vec<Value> {
    all.into_iter()
        .filter(|r| {
            statuses.is_empty()
                || r.get("reservation_status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| statuses.iter().any(|x| x == s))
        })
        .filter(|r| {
            worker
                .is_none_or(|w| r.get("worker_sid").and_then(Value::as_str) == Some(&w.to_string()))
        })
        .collect()
}

async fn list_task_reservations(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let task: Sid<Task> = path_sid(&sid, "Task")?;
    let paging = Paging::from(&ctx.query)?;
    let (statuses, worker) = reservation_filter(&ctx.query)?;
    app.core
        .run(move |core| {
            let all =
                filter_reservations(task_reservations(&ctx, core, ws, task)?, &statuses, worker);
            let (items, more) = page_of(all, paging);
            Ok(list(&ctx, "reservations", paging, items, more))
        })
        .await?
}

fn one_reservation(
    ctx: &Ctx,
    core: &mut Core,
    ws: Sid<WorkspaceKind>,
    task: Sid<Task>,
    sid: Sid<Reservation>,
) -> ApiResult {
    task_reservations(ctx, core, ws, task)?
        .into_iter()
        .find(|r| r.get("sid").and_then(Value::as_str) == Some(&sid.to_string()))
        .map(ok)
        .ok_or_else(|| ApiError::not_found(format!("Reservation {sid}")))
}

async fn fetch_task_reservation(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, task, sid)): Path<(String, String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let task: Sid<Task> = path_sid(&task, "Task")?;
    let sid: Sid<Reservation> = path_sid(&sid, "Reservation")?;
    app.core
        .run(move |core| one_reservation(&ctx, core, ws, task, sid))
        .await?
}

/// What a reservation update asks for, parsed before touching the core.
struct ReservationChange {
    action: Option<ReservationAction>,
    instruction: Option<(String, Map<String, Value>)>,
    /// `Instruction=conference` (or `dequeue`): dial the worker into a conference with the call.
    conference: Option<switchboard_center::ConferenceOptions>,
}

/// The URL parameters of reservation instructions (stored with the instruction; TaskRouter
/// calls them).
const INSTRUCTION_URLS: &[&str] = &[
    "ConferenceStatusCallback",
    "ConferenceRecordingStatusCallback",
    "RecordingStatusCallback",
    "StatusCallback",
    "WaitUrl",
    "DequeueStatusCallbackUrl",
    "CallUrl",
    "CallStatusCallbackUrl",
    "RedirectUrl",
];

fn reservation_change(form: &Form) -> Result<ReservationChange, ApiError> {
    form.check_callback_urls(INSTRUCTION_URLS)?;
    let worker_activity_sid = form.sid("WorkerActivitySid")?;
    let status = form.get("ReservationStatus");
    let instruction = form.get("Instruction").map(str::to_ascii_lowercase);
    let mut action = match status {
        None => None,
        Some("accepted") => Some(ReservationAction::Accept),
        Some("rejected") => Some(ReservationAction::Reject {
            worker_activity_sid,
        }),
        Some("wrapping") => Some(ReservationAction::Wrap),
        Some("completed") => Some(ReservationAction::Complete),
        Some(v) => {
            return Err(ApiError::invalid(
                "ReservationStatus",
                format!("must be accepted, rejected, wrapping or completed, got {v:?}"),
            ))
        }
    };
    let mut stored = None;
    let mut conference = None;
    if let Some(i) = instruction {
        if i == "conference" || i == "dequeue" {
            let (to, from, timeout) = if i == "conference" {
                ("To", "From", "Timeout")
            } else {
                ("DequeueTo", "DequeueFrom", "DequeueTimeout")
            };
            conference = Some(switchboard_center::ConferenceOptions {
                from: form.string(from),
                to: form.string(to),
                timeout: form.uint(timeout)?,
                auto_answer: false,
            });
            if action.is_some() {
                return Err(ApiError::invalid(
                    "Instruction",
                    "conference cannot be combined with ReservationStatus: the reservation is accepted when the worker answers",
                ));
            }
        }
        let accepts = |param: &str| form.bool(param).unwrap_or(false);
        let implied = match i.as_str() {
            "accept" => Some(ReservationAction::Accept),
            "reject" => Some(ReservationAction::Reject { worker_activity_sid }),
            // These dial the worker; the reservation is accepted when the worker answers.
            "conference" | "dequeue" => None,
            "call" => accepts("CallAccept").then_some(ReservationAction::Accept),
            "redirect" => accepts("RedirectAccept").then_some(ReservationAction::Accept),
            "supervise" => None,
            other => {
                return Err(ApiError::invalid(
                    "Instruction",
                    format!("must be accept, reject, conference, dequeue, call, redirect or supervise, got {other:?}"),
                ))
            }
        };
        if action.is_some() && implied.is_some() && action != implied {
            return Err(ApiError::invalid(
                "Instruction",
                "contradicts ReservationStatus",
            ));
        }
        action = action.or(implied);
        let params: Map<String, Value> = form
            .pairs()
            .iter()
            .filter(|(k, _)| k != "Instruction" && k != "ReservationStatus")
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        stored = Some((i, params));
    }
    if action.is_none() && stored.is_none() {
        return Err(ApiError::missing("ReservationStatus"));
    }
    Ok(ReservationChange {
        action,
        instruction: stored,
        conference,
    })
}

fn apply_reservation_change(
    core: &mut Core,
    ws: Sid<WorkspaceKind>,
    sid: Sid<Reservation>,
    change: ReservationChange,
) -> Result<(), ApiError> {
    if let Some(opts) = change.conference {
        core.handle(switchboard_center::Input::ConferenceInstruction {
            workspace: ws,
            reservation: sid,
            options: opts,
        })?;
    }
    let mut entries = Vec::new();
    if let Some((instruction, params)) = change.instruction {
        entries.push(Entry::Instruction {
            workspace: ws,
            reservation: sid,
            instruction,
            params,
        });
    }
    if let Some(action) = change.action {
        entries.insert(
            0,
            Entry::engine(ws, Command::UpdateReservation { sid, action }),
        );
    }
    core.execute_many(entries)
}

async fn update_task_reservation(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, task, sid)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let task: Sid<Task> = path_sid(&task, "Task")?;
    let sid: Sid<Reservation> = path_sid(&sid, "Reservation")?;
    let change = reservation_change(&Form::parse(&body)?)?;
    app.core
        .run(move |core| {
            let live = core
                .workspace(ws)?
                .engine
                .reservation(sid)
                .filter(|r| r.task_sid == task)
                .is_some();
            if !live {
                one_reservation(&ctx, core, ws, task, sid)?;
                return Err(ApiError::invalid(
                    "ReservationStatus",
                    format!("Reservation {sid} belongs to a finished task and cannot be changed"),
                ));
            }
            apply_reservation_change(core, ws, sid, change)?;
            one_reservation(&ctx, core, ws, task, sid)
        })
        .await?
}

/// A worker's reservations: live ones from the engine, finished ones from stored tasks.
fn worker_reservations(
    ctx: &Ctx,
    core: &mut Core,
    ws: Sid<WorkspaceKind>,
    worker: Sid<Worker>,
) -> Result<Vec<Value>, ApiError> {
    let state = core.workspace(ws)?;
    find_worker(&state.engine, worker)?;
    let mut live: Vec<&ReservationRecord> = state
        .engine
        .reservations()
        .filter(|r| r.worker_sid == worker)
        .collect();
    live.sort_by_key(|r| (r.date_created, r.sid));
    let mut out: Vec<Value> = live
        .into_iter()
        .map(|r| render::reservation(&ctx.urls, &state.engine, r))
        .collect();
    let rows = core
        .store()
        .finished_tasks(&TaskQuery {
            workspace_sid: ws.to_string(),
            statuses: vec![],
        })
        .map_err(ApiError::store)?;
    let me = worker.to_string();
    for row in rows {
        let Ok(doc) = serde_json::from_str::<Value>(&row.data) else {
            continue;
        };
        for r in doc
            .get("reservations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.get("worker_sid").and_then(Value::as_str) == Some(me.as_str()) {
                out.push(render::reservation_parts(
                    &ctx.urls,
                    &ws,
                    &row.sid,
                    r.clone(),
                ));
            }
        }
    }
    Ok(out)
}

async fn list_worker_reservations(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, sid)): Path<(String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let worker: Sid<Worker> = path_sid(&sid, "Worker")?;
    let paging = Paging::from(&ctx.query)?;
    let statuses = ctx.query.list("ReservationStatus");
    app.core
        .run(move |core| {
            let all = filter_reservations(
                worker_reservations(&ctx, core, ws, worker)?,
                &statuses,
                None,
            );
            let (items, more) = page_of(all, paging);
            Ok(list(&ctx, "reservations", paging, items, more))
        })
        .await?
}

async fn fetch_worker_reservation(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, worker, sid)): Path<(String, String, String)>,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let worker: Sid<Worker> = path_sid(&worker, "Worker")?;
    let sid: Sid<Reservation> = path_sid(&sid, "Reservation")?;
    app.core
        .run(move |core| {
            worker_reservations(&ctx, core, ws, worker)?
                .into_iter()
                .find(|r| r.get("sid").and_then(Value::as_str) == Some(&sid.to_string()))
                .map(ok)
                .ok_or_else(|| ApiError::not_found(format!("Reservation {sid}")))
        })
        .await?
}

async fn update_worker_reservation(
    State(app): State<App>,
    ctx: Ctx,
    Path((ws, worker, sid)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ws = ws_sid(&ws)?;
    let worker: Sid<Worker> = path_sid(&worker, "Worker")?;
    let sid: Sid<Reservation> = path_sid(&sid, "Reservation")?;
    let change = reservation_change(&Form::parse(&body)?)?;
    app.core
        .run(move |core| {
            let task = core
                .workspace(ws)?
                .engine
                .reservation(sid)
                .filter(|r| r.worker_sid == worker)
                .map(|r| r.task_sid)
                .ok_or_else(|| ApiError::not_found(format!("Reservation {sid}")))?;
            apply_reservation_change(core, ws, sid, change)?;
            one_reservation(&ctx, core, ws, task, sid)
        })
        .await?
}
