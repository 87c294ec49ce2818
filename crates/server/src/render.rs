//! Resources as JSON, in the shapes Twilio's TaskRouter returns: snake_case fields, ISO-8601
//! dates, attribute documents as JSON text, and `url` / `links` pointing back at this server.

use serde_json::{json, Map, Value};
use switchboard_routing::{
    ActivityRecord, ChannelRecord, QueueRecord, ReservationRecord, Routing, RoutingTarget,
    TaskRecord, Timestamp, WorkerChannelRecord, WorkerRecord, WorkflowRecord, Workspace,
};
use switchboard_sid::{Account, Sid};

use switchboard_center::model::WorkspaceState;

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

/// ISO-8601 UTC without fraction, as Twilio writes dates: `2014-05-14T18:50:02Z`.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::from("1970-01-01T00:00:00Z"),
    }
}

/// Where resources live on this server.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Scheme, host and port, without a trailing slash: `http://127.0.0.1:3000`.
    pub base: String,
    /// The account SID.
    pub account: Sid<Account>,
}

impl Urls {
    /// `{base}/v1/Workspaces/{ws}{rest}`.
    pub fn ws(&self, ws: &impl std::fmt::Display, rest: &str) -> String {
        format!("{}/v1/Workspaces/{ws}{rest}", self.base)
    }
}

/// A workspace.
pub fn workspace(u: &Urls, ws: &WorkspaceState) -> Value {
    let e = &ws.engine;
    let sid = e.sid();
    let url = u.ws(&sid, "");
    json!({
        "sid": sid.to_string(),
        "account_sid": u.account.to_string(),
        "friendly_name": ws.friendly_name,
        "event_callback_url": ws.event_callback_url,
        "events_filter": ws.events_filter.as_ref().map(|f| f.join(",")),
        "default_activity_sid": e.default_activity().map(|a| a.sid.to_string()),
        "default_activity_name": e.default_activity().map(|a| a.friendly_name.to_string()),
        "timeout_activity_sid": e.timeout_activity().map(|a| a.sid.to_string()),
        "timeout_activity_name": e.timeout_activity().map(|a| a.friendly_name.to_string()),
        "multi_task_enabled": e.multi_task_enabled(),
        "prioritize_queue_order": order(e.prioritize_queue_order()),
        "date_created": iso(ws.date_created.0),
        "date_updated": iso(ws.date_updated.0),
        "url": url,
        "links": {
            "activities": format!("{url}/Activities"),
            "events": format!("{url}/Events"),
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "task_channels": format!("{url}/TaskChannels"),
            "task_queues": format!("{url}/TaskQueues"),
            "tasks": format!("{url}/Tasks"),
            "workers": format!("{url}/Workers"),
            "workflows": format!("{url}/Workflows"),
        },
    })
}

fn order(o: switchboard_routing::TaskOrder) -> &'static str {
    match o {
        switchboard_routing::TaskOrder::Fifo => "FIFO",
        switchboard_routing::TaskOrder::Lifo => "LIFO",
    }
}

/// An activity.
pub fn activity(u: &Urls, e: &Workspace, a: &ActivityRecord) -> Value {
    json!({
        "sid": a.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "friendly_name": &*a.friendly_name,
        "available": a.available,
        "date_created": iso(a.date_created.0),
        "date_updated": iso(a.date_updated.0),
        "url": u.ws(&e.sid(), &format!("/Activities/{}", a.sid)),
        "links": {"workspace": u.ws(&e.sid(), "")},
    })
}

/// A task channel.
pub fn channel(u: &Urls, e: &Workspace, c: &ChannelRecord) -> Value {
    json!({
        "sid": c.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "friendly_name": &*c.friendly_name,
        "unique_name": &*c.unique_name,
        "channel_optimized_routing": c.channel_optimized_routing,
        "date_created": iso(c.date_created.0),
        "date_updated": iso(c.date_updated.0),
        "url": u.ws(&e.sid(), &format!("/TaskChannels/{}", c.sid)),
        "links": {"workspace": u.ws(&e.sid(), "")},
    })
}

/// A worker.
pub fn worker(u: &Urls, e: &Workspace, w: &WorkerRecord) -> Value {
    let url = u.ws(&e.sid(), &format!("/Workers/{}", w.sid));
    json!({
        "sid": w.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "friendly_name": &*w.friendly_name,
        "attributes": w.attributes.raw(),
        "activity_sid": w.activity_sid.to_string(),
        "activity_name": &*e.activity_name(w.activity_sid),
        "available": e.worker_available(w),
        "date_status_changed": iso(w.date_status_changed.0),
        "date_created": iso(w.date_created.0),
        "date_updated": iso(w.date_updated.0),
        "url": url,
        "links": {
            "channels": format!("{url}/Channels"),
            "worker_channels": format!("{url}/Channels"),
            "reservations": format!("{url}/Reservations"),
            "statistics": format!("{url}/Statistics"),
            "worker_statistics": format!("{url}/Statistics"),
            "activity": u.ws(&e.sid(), &format!("/Activities/{}", w.activity_sid)),
            "workspace": u.ws(&e.sid(), ""),
        },
    })
}

/// A worker's channel.
pub fn worker_channel(
    u: &Urls,
    e: &Workspace,
    w: &WorkerRecord,
    c: &ChannelRecord,
    wc: &WorkerChannelRecord,
) -> Value {
    let free = if wc.capacity == 0 {
        0
    } else {
        u64::from(wc.capacity.saturating_sub(wc.live)) * 100 / u64::from(wc.capacity)
    };
    json!({
        "sid": wc.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "worker_sid": w.sid.to_string(),
        "task_channel_sid": c.sid.to_string(),
        "task_channel_unique_name": &*c.unique_name,
        "configured_capacity": wc.capacity,
        "assigned_tasks": wc.assigned,
        "available": wc.available,
        "available_capacity_percentage": free,
        "date_created": iso(wc.date_created.0),
        "date_updated": iso(wc.date_updated.0),
        "url": u.ws(&e.sid(), &format!("/Workers/{}/Channels/{}", w.sid, wc.sid)),
    })
}

/// A task queue.
pub fn queue(u: &Urls, e: &Workspace, q: &QueueRecord) -> Value {
    let url = u.ws(&e.sid(), &format!("/TaskQueues/{}", q.sid));
    let activity = |a: Option<Sid<switchboard_sid::Activity>>| {
        (
            a.map(|a| a.to_string()),
            a.map(|a| e.activity_name(a).to_string()),
        )
    };
    let (ra_sid, ra_name) = activity(q.reservation_activity_sid);
    let (aa_sid, aa_name) = activity(q.assignment_activity_sid);
    json!({
        "sid": q.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "friendly_name": &*q.friendly_name,
        "target_workers": q.target_workers_source(),
        "max_reserved_workers": q.max_reserved_workers,
        "task_order": order(q.task_order),
        "reservation_activity_sid": ra_sid,
        "reservation_activity_name": ra_name,
        "assignment_activity_sid": aa_sid,
        "assignment_activity_name": aa_name,
        "date_created": iso(q.date_created.0),
        "date_updated": iso(q.date_updated.0),
        "url": url,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "list_statistics": u.ws(&e.sid(), "/TaskQueues/Statistics"),
            "workspace": u.ws(&e.sid(), ""),
        },
    })
}

/// A workflow.
pub fn workflow(
    u: &Urls,
    e: &Workspace,
    w: &WorkflowRecord,
    callbacks: (&Option<String>, &Option<String>),
) -> Value {
    let url = u.ws(&e.sid(), &format!("/Workflows/{}", w.sid));
    json!({
        "sid": w.sid.to_string(),
        "account_sid": u.account.to_string(),
        "workspace_sid": e.sid().to_string(),
        "friendly_name": &*w.friendly_name,
        "configuration": &*w.configuration,
        "document_content_type": "application/json",
        "assignment_callback_url": callbacks.0,
        "fallback_assignment_callback_url": callbacks.1,
        "task_reservation_timeout": w.task_reservation_timeout,
        "date_created": iso(w.date_created.0),
        "date_updated": iso(w.date_updated.0),
        "url": url,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": u.ws(&e.sid(), ""),
        },
    })
}

/// A task's fields, without URLs (also what is stored when it finishes).
pub fn task_json_parts(e: &Workspace, t: &TaskRecord) -> Map<String, Value> {
    let queue = t.queue_sid.and_then(|q| e.queue(q));
    let workflow = t.workflow_sid.and_then(|w| e.workflow(w));
    let channel = e.channel(t.channel_sid);
    let routing_target = t.routing_target.map(|r| match r {
        RoutingTarget::Worker(s) => s.to_string(),
        RoutingTarget::Queue(s) => s.to_string(),
        RoutingTarget::Workflow(s) => s.to_string(),
    });
    let ignore_capacity = matches!(
        t.routing,
        Routing::Worker {
            ignore_capacity: true,
            ..
        }
    );
    let mut m = Map::new();
    m.insert("sid".into(), json!(t.sid.to_string()));
    m.insert("workspace_sid".into(), json!(e.sid().to_string()));
    m.insert("attributes".into(), json!(t.attributes.raw()));
    m.insert("assignment_status".into(), json!(t.status.as_str()));
    m.insert("priority".into(), json!(t.priority));
    m.insert("timeout".into(), json!(t.timeout));
    m.insert("reason".into(), json!(t.reason.as_deref()));
    m.insert(
        "task_queue_sid".into(),
        json!(t.queue_sid.map(|q| q.to_string())),
    );
    m.insert(
        "task_queue_friendly_name".into(),
        json!(queue.map(|q| q.friendly_name.to_string())),
    );
    m.insert(
        "task_queue_entered_date".into(),
        json!(t.queue_entered.map(|d| iso(d.0))),
    );
    m.insert("task_channel_sid".into(), json!(t.channel_sid.to_string()));
    m.insert(
        "task_channel_unique_name".into(),
        json!(channel.map(|c| c.unique_name.to_string())),
    );
    m.insert(
        "workflow_sid".into(),
        json!(t.workflow_sid.map(|w| w.to_string())),
    );
    m.insert(
        "workflow_friendly_name".into(),
        json!(workflow.map(|w| w.friendly_name.to_string())),
    );
    m.insert(
        "virtual_start_time".into(),
        json!(iso(t.virtual_start_time.0)),
    );
    m.insert("routing_target".into(), json!(routing_target));
    m.insert("ignore_capacity".into(), json!(ignore_capacity));
    m.insert("addons".into(), json!("{}"));
    m.insert("date_created".into(), json!(iso(t.date_created.0)));
    m.insert("date_updated".into(), json!(iso(t.date_updated.0)));
    m.insert("date_created_ms".into(), json!(t.date_created.0));
    m.insert("version".into(), json!(t.version));
    m
}

/// A task (live, or finished from its stored parts), with age, URL and links.
pub fn task(
    u: &Urls,
    ws: &impl std::fmt::Display,
    mut parts: Map<String, Value>,
    now: Timestamp,
) -> Value {
    let sid = parts
        .get("sid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let created = parts
        .remove("date_created_ms")
        .and_then(|v| v.as_i64())
        .unwrap_or(now.0);
    parts.remove("version");
    let url = u.ws(ws, &format!("/Tasks/{sid}"));
    parts.insert("account_sid".into(), json!(u.account.to_string()));
    parts.insert("age".into(), json!(now.secs_since(Timestamp(created))));
    let queue = parts
        .get("task_queue_sid")
        .and_then(Value::as_str)
        .map(|q| u.ws(ws, &format!("/TaskQueues/{q}")));
    let workflow = parts
        .get("workflow_sid")
        .and_then(Value::as_str)
        .map(|w| u.ws(ws, &format!("/Workflows/{w}")));
    parts.insert(
        "links".into(),
        json!({
            "task_queue": queue,
            "workflow": workflow,
            "workspace": u.ws(ws, ""),
            "reservations": format!("{url}/Reservations"),
        }),
    );
    parts.insert("url".into(), json!(url));
    Value::Object(parts)
}

/// A reservation of a live task.
pub fn reservation(u: &Urls, e: &Workspace, r: &ReservationRecord) -> Value {
    reservation_parts(
        u,
        &e.sid(),
        &r.task_sid.to_string(),
        json!({
            "sid": r.sid.to_string(),
            "worker_sid": r.worker_sid.to_string(),
            "worker_name": e.worker(r.worker_sid).map(|w| w.friendly_name.to_string()),
            "reservation_status": r.status.as_str(),
            "date_created": iso(r.date_created.0),
            "date_updated": iso(r.date_updated.0),
        }),
    )
}

/// A reservation from its stored or live fields.
pub fn reservation_parts(
    u: &Urls,
    ws: &impl std::fmt::Display,
    task: &str,
    fields: Value,
) -> Value {
    let mut m = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let sid = m
        .get("sid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let worker = m
        .get("worker_sid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    m.insert("account_sid".into(), json!(u.account.to_string()));
    m.insert("workspace_sid".into(), json!(ws.to_string()));
    m.insert("task_sid".into(), json!(task));
    m.insert(
        "url".into(),
        json!(u.ws(ws, &format!("/Tasks/{task}/Reservations/{sid}"))),
    );
    m.insert(
        "links".into(),
        json!({
            "task": u.ws(ws, &format!("/Tasks/{task}")),
            "worker": u.ws(ws, &format!("/Workers/{worker}")),
            "workspace": u.ws(ws, ""),
        }),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso(1_400_093_402_999), "2014-05-14T18:50:02Z");
    }
}
