//! The Flex Configuration's rules: every key of Twilio's document with its default, the merge of
//! a `POST` body, type errors named by path, and the SIDs it names checked against two demo
//! workspaces.

#![recursion_limit = "256"]

use serde_json::{json, Map, Value};
use switchboard_center::demo::{self, DemoSids};
use switchboard_center::flex::{self, Directory, FlexConfig, KEYS};
use switchboard_center::ids::SidGen;
use switchboard_center::model::Model;
use switchboard_routing::{Timestamp, Workspace as Engine};
use switchboard_sid::{Account, Application, Sid, Workspace};

const ACCOUNT: Sid<Account> = Sid::from_u128(0xabc);

/// A model with two demo workspaces (the second one's configuration is the one stored).
struct World {
    model: Model,
    a: DemoSids,
    b: DemoSids,
}

impl World {
    fn new() -> World {
        let mut model = Model::new(ACCOUNT);
        model.go_live();
        let mut ids = SidGen::new(7);
        let mut seed = |model: &mut Model| {
            let (entries, sids) =
                demo::entries(&mut ids, "http://127.0.0.1:1", Timestamp(1)).unwrap();
            for e in entries {
                model.execute(Timestamp(1), e).unwrap();
            }
            sids
        };
        let a = seed(&mut model);
        let b = seed(&mut model);
        World { model, a, b }
    }

    /// What a `POST` of `body` would store, or the refusal's message.
    fn post(&self, body: Value) -> Result<Map<String, Value>, String> {
        let changes = body.as_object().unwrap();
        let doc =
            flex::merge(self.model.flex().document(), changes, ACCOUNT).map_err(|e| e.message)?;
        flex::check_references(&Known(&self.model), &doc, changes).map_err(|e| e.message)?;
        Ok(doc)
    }
}

struct Known<'m>(&'m Model);

impl Directory for Known<'_> {
    fn workspace(&self, sid: Sid<Workspace>) -> Option<&Engine> {
        self.0.workspace(sid).map(|w| &w.engine)
    }

    fn workspaces(&self) -> Vec<(Sid<Workspace>, &Engine)> {
        self.0.workspaces().map(|(s, w)| (s, &w.engine)).collect()
    }

    fn has_application(&self, sid: Sid<Application>) -> bool {
        self.0.applications().contains_key(&sid)
    }
}

fn absent<K: switchboard_sid::SidKind>() -> Sid<K> {
    Sid::from_u128(0xdead)
}

#[test]
fn an_unwritten_document_has_every_key_with_its_default() {
    let full = FlexConfig::default().full_document();
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(full.len(), 49);
    assert!(names.iter().all(|n| full.contains_key(*n)));
    let expected = json!({
        "account_sid": null, "date_created": null, "date_updated": null, "url": null,
        "runtime_domain": null, "service_version": null,
        "attributes": {}, "status": "ok",
        "taskrouter_workspace_sid": null, "taskrouter_target_workflow_sid": null,
        "taskrouter_target_taskqueue_sid": null, "taskrouter_taskqueues": [],
        "taskrouter_skills": [], "taskrouter_worker_channels": {},
        "taskrouter_worker_attributes": {}, "taskrouter_offline_activity_sid": null,
        "messaging_service_instance_sid": null, "chat_service_instance_sid": null,
        "flex_service_instance_sid": null, "flex_instance_sid": null,
        "ui_language": "en", "ui_attributes": {}, "ui_dependencies": {}, "ui_version": null,
        "call_recording_enabled": false, "call_recording_webhook_url": null,
        "crm_enabled": false, "crm_type": null, "crm_callback_url": null,
        "crm_fallback_url": null, "crm_attributes": {}, "public_attributes": {},
        "plugin_service_enabled": false, "plugin_service_attributes": {},
        "integrations": [], "outbound_call_flows": null, "serverless_service_sids": [],
        "queue_stats_configuration": null, "notifications": null, "markdown": null,
        "flex_insights_hr": null, "flex_insights_drilldown": false, "flex_url": null,
        "channel_configs": [], "debugger_integration": null, "flex_ui_status_report": null,
        "agent_conv_end_methods": null, "citrix_voice_vdi": null, "offline_config": null,
    });
    assert_eq!(Value::Object(full), expected);
}

#[test]
fn an_update_replaces_the_top_level_keys_it_names_and_keeps_the_others() {
    let w = World::new();
    let stored = w.model.flex().document().clone();
    let doc = w
        .post(json!({"ui_attributes": {"theme": "dark"}, "crm_enabled": true}))
        .unwrap();
    // ui_attributes is replaced whole (the internal-call flags in it are gone), not merged into.
    assert_eq!(doc["ui_attributes"], json!({"theme": "dark"}));
    assert_eq!(doc["crm_enabled"], json!(true));
    assert_eq!(doc["outbound_call_flows"], stored["outbound_call_flows"]);
    assert_eq!(
        doc["taskrouter_workspace_sid"],
        stored["taskrouter_workspace_sid"]
    );
    // null removes the stored value: the key reads as its default again.
    let doc = w.post(json!({"outbound_call_flows": null})).unwrap();
    assert!(!doc.contains_key("outbound_call_flows"));
}

#[test]
fn read_only_keys_are_ignored_and_the_account_must_be_ours() {
    let w = World::new();
    let doc = w
        .post(json!({
            "account_sid": ACCOUNT.to_string(), "url": "https://example.com", "status": "inprogress",
            "date_created": "2001-01-01T00:00:00Z", "date_updated": 5, "service_version": 9,
            "ui_language": "es-ES",
        }))
        .unwrap();
    for k in [
        "account_sid",
        "url",
        "status",
        "date_created",
        "date_updated",
        "service_version",
    ] {
        assert!(!doc.contains_key(k), "{k} was stored");
    }
    assert_eq!(doc["ui_language"], json!("es-ES"));
    assert_eq!(
        w.post(json!({"account_sid": "AC00000000000000000000000000000001"})),
        Err("account_sid: does not match the authenticated account".into())
    );
}

#[test]
fn type_errors_name_the_key_path() {
    let w = World::new();
    let cases = [
        (
            json!({"outbound_call_flows": {"default": {"workflow_sid": 5}}}),
            "outbound_call_flows.default.workflow_sid: expected a string",
        ),
        (
            json!({"ui_attributes": "dark"}),
            "ui_attributes: expected an object",
        ),
        (
            json!({"crm_enabled": "yes"}),
            "crm_enabled: expected true or false",
        ),
        (
            json!({"integrations": {}}),
            "integrations: expected an array",
        ),
        (
            json!({"ui_language": ["en"]}),
            "ui_language: expected a string",
        ),
        (
            json!({"taskrouter_workspace_sid": "WS123"}),
            "taskrouter_workspace_sid: expected a WS… SID, not \"WS123\"",
        ),
        (
            json!({"taskrouter_target_workflow_sid": format!("WW{}", "A".repeat(32))}),
            "taskrouter_target_workflow_sid: expected a WW… SID, not \"WWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
        ),
        (
            json!({"chat_service_instance_sid": "CH00000000000000000000000000000000"}),
            "chat_service_instance_sid: expected a IS… SID, not \"CH00000000000000000000000000000000\"",
        ),
        (
            json!({"serverless_service_sids": [format!("ZS{}", "0".repeat(32)), "ZSx"]}),
            "serverless_service_sids[1]: expected a ZS… SID, not \"ZSx\"",
        ),
        (
            json!({"taskrouter_taskqueues": [{"sid": "WQ1", "targettable": true}]}),
            "taskrouter_taskqueues[0].sid: expected a WQ… SID, not \"WQ1\"",
        ),
        (
            json!({"ui_attributes": {"custom_data": {"features": {"internal_call": {"application_sid": "WQ00000000000000000000000000000000"}}}}}),
            "ui_attributes.custom_data.features.internal_call.application_sid: expected a AP… SID, not \"WQ00000000000000000000000000000000\"",
        ),
        (
            json!({"ui_attribute": {}}),
            "ui_attribute: is not a key of the Flex Configuration (see Twilio's flex.v1.configuration)",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(w.post(body.clone()), Err(message.to_owned()), "{body}");
    }
    // Foreign SIDs follow Twilio's pattern (either case); empty strings and null mean unset.
    w.post(json!({
        "chat_service_instance_sid": format!("IS{}", "Ab".repeat(16)),
        "taskrouter_target_workflow_sid": "",
        "taskrouter_offline_activity_sid": null,
    }))
    .unwrap();
}

#[test]
fn sids_must_exist_where_the_configuration_says() {
    let w = World::new();
    let (a, b) = (&w.a, &w.b);
    // The stored configuration is the second workspace's.
    let ws = w.model.flex().document()["taskrouter_workspace_sid"].clone();
    assert_eq!(ws, json!(b.workspace.to_string()));
    let flows = |workflow: String, queue: String| json!({"outbound_call_flows": {"default": {"enabled": true, "workflow_sid": workflow, "queue_sid": queue}}});
    let feature = |app: String, queue: String| {
        json!({"ui_attributes": {"custom_data": {"features": {"internal_call": {
            "enabled": true, "application_sid": app, "outbound_queue_sid": queue}}}}})
    };
    let missing_ws = absent::<Workspace>();
    let missing_ww = absent::<switchboard_sid::Workflow>();
    let missing_wq = absent::<switchboard_sid::TaskQueue>();
    let missing_ap = absent::<Application>();
    let cases = [
        (
            json!({"taskrouter_workspace_sid": missing_ws.to_string()}),
            format!("taskrouter_workspace_sid: workspace {missing_ws} does not exist"),
        ),
        (
            flows(missing_ww.to_string(), b.queues[0].to_string()),
            format!("outbound_call_flows.default.workflow_sid: workflow {missing_ww} does not exist in workspace {}", b.workspace),
        ),
        // A workflow of the other workspace is not this one's.
        (
            flows(a.workflows[0].to_string(), b.queues[0].to_string()),
            format!("outbound_call_flows.default.workflow_sid: workflow {} does not exist in workspace {}", a.workflows[0], b.workspace),
        ),
        (
            flows(b.workflows[0].to_string(), missing_wq.to_string()),
            format!("outbound_call_flows.default.queue_sid: task queue {missing_wq} does not exist in workspace {}", b.workspace),
        ),
        (
            json!({"taskrouter_target_workflow_sid": missing_ww.to_string()}),
            format!("taskrouter_target_workflow_sid: workflow {missing_ww} does not exist in workspace {}", b.workspace),
        ),
        (
            json!({"taskrouter_target_taskqueue_sid": a.queues[1].to_string()}),
            format!("taskrouter_target_taskqueue_sid: task queue {} does not exist in workspace {}", a.queues[1], b.workspace),
        ),
        (
            json!({"taskrouter_offline_activity_sid": a.activities[0].to_string()}),
            format!("taskrouter_offline_activity_sid: activity {} does not exist in workspace {}", a.activities[0], b.workspace),
        ),
        (
            json!({"taskrouter_taskqueues": [{"sid": b.queues[0].to_string(), "targettable": true}, {"sid": missing_wq.to_string()}]}),
            format!("taskrouter_taskqueues[1].sid: task queue {missing_wq} does not exist in workspace {}", b.workspace),
        ),
        (
            feature(missing_ap.to_string(), b.queues[3].to_string()),
            format!("ui_attributes.custom_data.features.internal_call.application_sid: application {missing_ap} does not exist"),
        ),
        (
            feature(b.application.to_string(), a.queues[3].to_string()),
            format!("ui_attributes.custom_data.features.internal_call.outbound_queue_sid: task queue {} does not exist in workspace {}", a.queues[3], b.workspace),
        ),
        // Moving the workspace checks again what must be in it: the stored offline activity is
        // the second workspace's.
        (
            json!({"taskrouter_workspace_sid": a.workspace.to_string()}),
            format!("taskrouter_offline_activity_sid: activity {} does not exist in workspace {}", b.activities[0], a.workspace),
        ),
    ];
    let stored = w.model.flex().document().clone();
    for (body, message) in cases {
        assert_eq!(w.post(body.clone()), Err(message), "{body}");
    }
    assert_eq!(w.model.flex().document(), &stored);
    // What exists is accepted, and so is moving everything to the other workspace at once.
    w.post(flows(b.workflows[0].to_string(), b.queues[0].to_string()))
        .unwrap();
    w.post(feature(b.application.to_string(), b.queues[3].to_string()))
        .unwrap();
    w.post(json!({
        "taskrouter_workspace_sid": a.workspace.to_string(),
        "taskrouter_target_workflow_sid": a.workflows[0].to_string(),
        "taskrouter_target_taskqueue_sid": a.queues[0].to_string(),
        "taskrouter_offline_activity_sid": a.activities[0].to_string(),
        "outbound_call_flows": {"default": {"workflow_sid": a.workflows[0].to_string(), "queue_sid": a.queues[0].to_string()}},
        "ui_attributes": {"custom_data": {"features": {"internal_call": {"application_sid": a.application.to_string(), "outbound_queue_sid": a.queues[3].to_string()}}}},
    }))
    .unwrap();
}

#[test]
fn without_a_workspace_any_workspace_will_do_but_the_outbound_queue_follows_its_workflow() {
    let mut w = World::new();
    w.model
        .execute(
            Timestamp(2),
            switchboard_center::Entry::SetConfiguration {
                configuration: json!({}),
            },
        )
        .unwrap();
    let (a, b) = (&w.a, &w.b);
    let flows = |workflow: String, queue: String| json!({"outbound_call_flows": {"default": {"workflow_sid": workflow, "queue_sid": queue}}});
    w.post(flows(a.workflows[0].to_string(), a.queues[0].to_string()))
        .unwrap();
    w.post(flows(b.workflows[0].to_string(), b.queues[0].to_string()))
        .unwrap();
    assert_eq!(
        w.post(flows(a.workflows[0].to_string(), b.queues[0].to_string())),
        Err(format!(
            "outbound_call_flows.default.queue_sid: task queue {} does not exist in workspace {}",
            b.queues[0], a.workspace
        ))
    );
    let missing = absent::<switchboard_sid::Workflow>();
    assert_eq!(
        w.post(flows(missing.to_string(), a.queues[0].to_string())),
        Err(format!(
            "outbound_call_flows.default.workflow_sid: workflow {missing} does not exist"
        ))
    );
}

#[test]
fn a_reference_left_alone_is_not_checked_again() {
    let mut w = World::new();
    // The stored outbound workflow is deleted: nothing cascades into the configuration.
    let (ws, workflow) = (w.b.workspace, w.b.workflows[0]);
    w.model
        .execute(
            Timestamp(2),
            switchboard_center::Entry::engine(
                ws,
                switchboard_routing::Command::DeleteWorkflow { sid: workflow },
            ),
        )
        .unwrap();
    assert_eq!(
        w.model.flex().document()["outbound_call_flows"]["default"]["workflow_sid"],
        json!(workflow.to_string())
    );
    // An unrelated update still goes through; writing the dangling flow again does not.
    w.post(json!({"ui_language": "pt-BR"})).unwrap();
    let flows = w.model.flex().document()["outbound_call_flows"].clone();
    assert_eq!(
        w.post(json!({ "outbound_call_flows": flows })),
        Err(format!(
            "outbound_call_flows.default.workflow_sid: workflow {workflow} does not exist in workspace {ws}"
        ))
    );
}
