//! Built-in functions, as pure rules: what the internal-call enqueue function
//! (`/features/internal-call/common/enqueue` in Flex's plugin) answers a signed request with.
//! The server checks the signature and serves the answer over HTTP.

use serde_json::{json, Map, Value};
use switchboard_sid::{Sid, Workflow};
use switchboard_twiml::{Document, Enqueue, Method, TaskSpec, Verb};

use crate::model::Model;

/// The URL path of the built-in internal-call enqueue function.
pub const ENQUEUE_PATH: &str = "/features/internal-call/common/enqueue";

/// The workflow the function enqueues into when none is configured: the first one named
/// "Internal Call…" in any workspace.
pub fn internal_call_workflow(model: &Model) -> Option<Sid<Workflow>> {
    model.workspaces().find_map(|(_, w)| {
        w.engine
            .workflows()
            .find(|wf| wf.friendly_name.starts_with("Internal Call"))
            .map(|wf| wf.sid)
    })
}

/// Says `text`, then hangs up: how the function answers a request it cannot carry out, so the
/// call ends with a reason instead of an HTTP error.
fn refusal(text: &str) -> Document {
    Document {
        verbs: vec![
            Verb::Say {
                text: text.to_owned(),
                voice: None,
                language: None,
                loop_count: 1,
            },
            Verb::Hangup,
        ],
    }
}

/// The function's answer to `params` (the call's webhook parameters, with the `app:` target's
/// `worker_sid` or `callToQueue`, `from` and `conversation_id`).
pub fn internal_call_enqueue(
    params: &[(String, String)],
    workflow: Option<Sid<Workflow>>,
    queue_call_timeout_secs: u64,
) -> Document {
    let get = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(workflow) = workflow else {
        return refusal(
            "This internal call cannot be placed: no Internal Call workflow is configured.",
        );
    };
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(get("from").unwrap_or_default()));
    attributes.insert(
        "conversations".into(),
        json!({"conversation_id": get("conversation_id")}),
    );
    let mut timeout = None;
    if let Some(worker) = get("worker_sid") {
        attributes.insert("worker_sid".into(), Value::String(worker.to_owned()));
    } else if let Some(queue) = get("callToQueue") {
        attributes.insert("callToQueue".into(), Value::String(queue.to_owned()));
        timeout = Some(queue_call_timeout_secs.max(1));
    } else {
        return refusal(
            "This internal call has no destination: it needs worker_sid or callToQueue.",
        );
    }
    Document {
        verbs: vec![Verb::Enqueue(Enqueue {
            workflow_sid: Some(workflow.to_string()),
            method: Method::Post,
            wait_url_method: Method::Post,
            task: Some(TaskSpec {
                priority: None,
                timeout,
                attributes,
            }),
            ..Default::default()
        })],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn an_agent_call_a_queue_call_and_refusals() {
        let wf = Some(Sid::from_u128(9));
        let doc = internal_call_enqueue(&p(&[("worker_sid", "WKx"), ("from", "alice")]), wf, 120);
        let Verb::Enqueue(e) = &doc.verbs[0] else {
            panic!("{doc:?}")
        };
        let task = e.task.as_ref().unwrap();
        assert_eq!(task.attributes["worker_sid"], "WKx");
        assert_eq!(task.attributes["name"], "alice");
        assert_eq!(task.timeout, None);
        let doc = internal_call_enqueue(&p(&[("callToQueue", "Sales")]), wf, 120);
        let Verb::Enqueue(e) = &doc.verbs[0] else {
            panic!("{doc:?}")
        };
        assert_eq!(e.task.as_ref().unwrap().timeout, Some(120));
        for (params, workflow) in [
            (p(&[("from", "alice")]), wf),
            (p(&[("worker_sid", "WKx")]), None),
        ] {
            let doc = internal_call_enqueue(&params, workflow, 120);
            assert!(
                matches!(doc.verbs[..], [Verb::Say { .. }, Verb::Hangup]),
                "{doc:?}"
            );
        }
    }
}
