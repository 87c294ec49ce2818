//! TaskRouter events as the outside world sees them: stored rows (the Events resource), webhook
//! parameters (PascalCase, form-encoded), and finished tasks kept as history; plus the sender that
//! posts webhooks, signed, with retries, off the core thread.

use std::time::Duration;

use serde_json::{json, Map, Value};
use switchboard_routing::{Event, FinishedTask, ResourceSid, Workspace};
use switchboard_sid::{Account, Event as EventKind, Sid, Workspace as WorkspaceKind};
use switchboard_store::{EventRow, TaskRow};

use crate::render::{iso, task_json_parts};

/// How many event webhooks may wait to be posted before new ones are dropped (and logged).
pub const WEBHOOK_QUEUE: usize = 10_000;
/// How many event webhooks are posted (or retried) at once.
pub const WEBHOOKS_IN_FLIGHT: usize = 64;

/// One webhook to post.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Where.
    pub url: String,
    /// The form parameters.
    pub params: Vec<(String, String)>,
}

/// `(type, sid)` of the resource an event is about, as TaskRouter names them.
pub fn resource(e: &Event) -> (&'static str, String) {
    match e.resource {
        ResourceSid::Workspace => ("workspace", String::new()),
        ResourceSid::Activity(s) => ("activity", s.to_string()),
        ResourceSid::TaskChannel(s) => ("taskchannel", s.to_string()),
        ResourceSid::Worker(s) => ("worker", s.to_string()),
        ResourceSid::TaskQueue(s) => ("taskqueue", s.to_string()),
        ResourceSid::Workflow(s) => ("workflow", s.to_string()),
        ResourceSid::Task(s) => ("task", s.to_string()),
        ResourceSid::Reservation(s) => ("reservation", s.to_string()),
    }
}

/// The event's fields, snake_case, as in the Events resource's `event_data`.
pub fn event_data(e: &Event) -> Map<String, Value> {
    let mut d = Map::new();
    if let Some(t) = &e.task {
        d.insert("task_sid".into(), json!(t.sid.to_string()));
        d.insert("task_attributes".into(), json!(t.attributes.raw()));
        d.insert("task_age".into(), json!(t.age));
        d.insert("task_priority".into(), json!(t.priority));
        d.insert(
            "task_assignment_status".into(),
            json!(t.assignment_status.as_str()),
        );
        d.insert("task_date_created".into(), json!(iso(t.date_created.0)));
        d.insert("task_version".into(), json!(t.version));
        d.insert("task_channel_sid".into(), json!(t.channel_sid.to_string()));
        d.insert(
            "task_channel_unique_name".into(),
            json!(&*t.channel_unique_name),
        );
        if let Some(at) = t.queue_entered_date {
            d.insert("task_queue_entered_date".into(), json!(iso(at.0)));
        }
        if let Some(r) = &t.reason {
            let key = match t.assignment_status {
                switchboard_routing::TaskStatus::Completed => "task_completed_reason",
                _ => "task_canceled_reason",
            };
            d.insert(key.into(), json!(&**r));
        }
    }
    if let Some(w) = &e.worker {
        d.insert("worker_sid".into(), json!(w.sid.to_string()));
        d.insert("worker_name".into(), json!(&*w.friendly_name));
        d.insert("worker_attributes".into(), json!(w.attributes.raw()));
        d.insert(
            "worker_activity_sid".into(),
            json!(w.activity_sid.to_string()),
        );
        d.insert("worker_activity_name".into(), json!(&*w.activity_name));
        d.insert("worker_version".into(), json!(w.version));
    }
    if let Some(p) = &e.previous_activity {
        d.insert(
            "worker_previous_activity_sid".into(),
            json!(p.sid.to_string()),
        );
        d.insert(
            "worker_previous_activity_name".into(),
            json!(&*p.friendly_name),
        );
        d.insert(
            "worker_time_in_previous_activity".into(),
            json!(p.time_in_ms / 1000),
        );
        d.insert(
            "worker_time_in_previous_activity_ms".into(),
            json!(p.time_in_ms),
        );
    }
    if let Some(r) = e.reservation_sid {
        d.insert("reservation_sid".into(), json!(r.to_string()));
    }
    if let Some(q) = &e.queue {
        d.insert("task_queue_sid".into(), json!(q.sid.to_string()));
        d.insert("task_queue_name".into(), json!(&*q.friendly_name));
        d.insert(
            "task_queue_target_expression".into(),
            json!(q.target_expression.as_deref()),
        );
    }
    if let Some(w) = &e.workflow {
        d.insert("workflow_sid".into(), json!(w.sid.to_string()));
        d.insert("workflow_name".into(), json!(&*w.friendly_name));
        if let Some(f) = &w.filter_name {
            d.insert("workflow_filter_name".into(), json!(&**f));
        }
    }
    if let Some(a) = &e.activity {
        d.insert("activity_sid".into(), json!(a.sid.to_string()));
        d.insert("activity_name".into(), json!(&*a.friendly_name));
        d.insert("activity_available".into(), json!(a.available));
    }
    if let Some(c) = &e.channel {
        d.insert("task_channel_sid".into(), json!(c.sid.to_string()));
        d.insert("task_channel_unique_name".into(), json!(&*c.unique_name));
        d.insert("task_channel_name".into(), json!(&*c.friendly_name));
        if let Some(a) = c.worker_channel_available {
            d.insert("worker_channel_available".into(), json!(a));
        }
        if let Some(a) = c.worker_channel_capacity {
            d.insert("worker_channel_available_capacity".into(), json!(a));
        }
        if let Some(a) = c.worker_channel_previous_capacity {
            d.insert("worker_channel_previous_capacity".into(), json!(a));
        }
    }
    if let Some(k) = e.known_worker_sid {
        d.insert("known_worker_sid".into(), json!(k.to_string()));
    }
    d
}

/// A stored event row.
pub fn event_row(
    account: Sid<Account>,
    workspace: Sid<WorkspaceKind>,
    workspace_name: &str,
    sid: Sid<EventKind>,
    e: &Event,
) -> EventRow {
    let (resource_type, resource_sid) = resource(e);
    let data = event_data(e);
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let doc = json!({
        "sid": sid.to_string(),
        "account_sid": account.to_string(),
        "workspace_sid": workspace.to_string(),
        "workspace_name": workspace_name,
        "event_type": e.event_type.as_str(),
        "event_date_ms": e.timestamp.0,
        "description": describe(e),
        "resource_type": resource_type,
        "resource_sid": resource_sid,
        "event_data": data.clone(),
    });
    EventRow {
        sid: sid.to_string(),
        workspace_sid: workspace.to_string(),
        event_type: e.event_type.as_str().to_owned(),
        at_ms: e.timestamp.0,
        task_sid: text("task_sid"),
        worker_sid: text("worker_sid"),
        reservation_sid: text("reservation_sid"),
        workflow_sid: text("workflow_sid"),
        queue_sid: text("task_queue_sid"),
        channel: text("task_channel_unique_name"),
        data: doc.to_string(),
    }
}

/// A human description, like TaskRouter's `EventDescription`.
pub fn describe(e: &Event) -> String {
    let (kind, sid) = resource(e);
    format!("{kind} {sid}: {}", e.event_type.as_str())
}

/// The webhook's form parameters: TaskRouter's PascalCase names.
pub fn webhook_params(
    account: Sid<Account>,
    workspace: Sid<WorkspaceKind>,
    workspace_name: &str,
    sid: Sid<EventKind>,
    e: &Event,
) -> Vec<(String, String)> {
    let (resource_type, resource_sid) = resource(e);
    let mut params = vec![
        ("EventType".to_owned(), e.event_type.as_str().to_owned()),
        ("Sid".to_owned(), sid.to_string()),
        ("AccountSid".to_owned(), account.to_string()),
        ("WorkspaceSid".to_owned(), workspace.to_string()),
        ("WorkspaceName".to_owned(), workspace_name.to_owned()),
        ("EventDescription".to_owned(), describe(e)),
        ("ResourceType".to_owned(), resource_type.to_owned()),
        ("ResourceSid".to_owned(), resource_sid),
        (
            "Timestamp".to_owned(),
            (e.timestamp.0.div_euclid(1000)).to_string(),
        ),
        ("TimestampMs".to_owned(), e.timestamp.0.to_string()),
    ];
    for (k, v) in event_data(e) {
        let value = match v {
            Value::String(s) => s,
            Value::Null => continue,
            other => other.to_string(),
        };
        params.push((pascal(&k), value));
    }
    params
}

/// `task_queue_sid` → `TaskQueueSid`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A finished task as a stored row (the task's JSON without URLs, and its reservations).
pub fn finished_row(
    workspace: Sid<WorkspaceKind>,
    engine: &Workspace,
    f: &FinishedTask,
) -> TaskRow {
    let data = json!({
        "task": task_json_parts(engine, &f.task),
        "reservations": f.reservations.iter().map(|r| json!({
            "sid": r.sid.to_string(),
            "worker_sid": r.worker_sid.to_string(),
            "worker_name": engine.worker(r.worker_sid).map(|w| w.friendly_name.to_string()),
            "reservation_status": r.status.as_str(),
            "date_created": iso(r.date_created.0),
            "date_updated": iso(r.date_updated.0),
        })).collect::<Vec<_>>(),
    });
    TaskRow {
        sid: f.task.sid.to_string(),
        workspace_sid: workspace.to_string(),
        status: f.task.status.as_str().to_owned(),
        date_created_ms: f.task.date_created.0,
        date_updated_ms: f.task.date_updated.0,
        data: data.to_string(),
    }
}

/// Posts webhooks as they come, each signed, retried with backoff, never holding up the core.
pub async fn sender(
    mut rx: tokio::sync::mpsc::Receiver<Delivery>,
    auth_token: String,
    attempts: u32,
    first_backoff: Duration,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; event webhooks are off");
            return;
        }
    };
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(WEBHOOKS_IN_FLIGHT));
    while let Some(d) = rx.recv().await {
        let client = client.clone();
        let token = auth_token.clone();
        // At most WEBHOOKS_IN_FLIGHT deliveries (with their retries) at once; the rest wait in
        // the bounded queue.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let signature = crate::signature::compute(&token, &d.url, &d.params);
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&d.params)
                .finish();
            let mut backoff = first_backoff;
            for attempt in 1..=attempts.max(1) {
                let result = client
                    .post(&d.url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("X-Twilio-Signature", &signature)
                    .header("User-Agent", "TwilioProxy/1.1")
                    .body(body.clone())
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::warn!(url = %d.url, status = %r.status(), attempt, "event webhook refused")
                    }
                    Err(e) => {
                        tracing::warn!(url = %d.url, error = %e, attempt, "event webhook failed")
                    }
                }
                if attempt < attempts {
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
            }
            tracing::error!(url = %d.url, "event webhook given up after {attempts} attempts");
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pascal_case() {
        assert_eq!(super::pascal("task_queue_sid"), "TaskQueueSid");
        assert_eq!(
            super::pascal("worker_time_in_previous_activity_ms"),
            "WorkerTimeInPreviousActivityMs"
        );
    }
}
