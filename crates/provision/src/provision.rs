//! `provision`: plan, then apply, the internal call's resources.
//!
//! Every resource is matched by friendly name. For each, one function says how what exists
//! differs from what we want ([`Change`]); the plan is those answers for the state found at the
//! start, and applying walks the resources in dependency order (workspace, application, queue,
//! workflow, Flex flags, outbound call flow), asking again with the SIDs created so far and
//! writing only what differs.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;

use serde_json::{json, Map, Value};

use crate::api::{field, Client, Target};
use crate::error::{quoted_list, Error};
use crate::names::{APPLICATION_NAME, ENQUEUE_PATH, QUEUE_NAME, WORKFLOW_NAME};

/// The internal queue's routing settings (the template's Terraform module).
const QUEUE_TARGET_WORKERS: &str = "1==1";
const QUEUE_MAX_RESERVED_WORKERS: i64 = 1;
const QUEUE_TASK_ORDER: &str = "FIFO";
/// The workflow's reservation timeout, set on create only.
const WORKFLOW_RESERVATION_TIMEOUT: &str = "30";
/// Stands for a SID this run will create, while planning.
const NEW_SID: &str = "(new)";
/// The workflow and queue `--set-outbound-call-flow` prefers.
const ANYONE_WORKFLOW: &str = "Assign to Anyone";
const EVERYONE_QUEUE: &str = "Everyone";

/// What to do about `outbound_call_flows.default` when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundCallFlow {
    /// Say that it is missing and how to set it.
    Report,
    /// Set it, with this caller ID.
    Set {
        /// The E.164 number outbound calls come from.
        caller_id: String,
    },
}

/// What `provision` is asked to do.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// The workspace's friendly name.
    pub workspace: String,
    /// Where the enqueue function is served (the serverless domain); on a Switchboard server the
    /// server itself by default.
    pub functions_base_url: Option<String>,
    /// The queues agents may call; empty means every queue but the internal one.
    pub queues: Vec<String>,
    /// Print the plan and stop.
    pub dry_run: bool,
    /// What to do when `outbound_call_flows.default` is missing.
    pub outbound_call_flow: OutboundCallFlow,
}

/// How one resource differs from what is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It does not exist; it will be created.
    Create,
    /// It exists and differs in these respects.
    Update(Vec<String>),
    /// It exists as wanted.
    Unchanged,
    /// It is missing and this run will not create it (the reason and remedy).
    Missing(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Create => f.write_str("create"),
            Change::Update(what) => write!(f, "update ({})", what.join("; ")),
            Change::Unchanged => f.write_str("unchanged"),
            Change::Missing(_) => f.write_str("missing (not set by this run)"),
        }
    }
}

/// The resources, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The TaskRouter workspace.
    Workspace,
    /// The "Internal Call" TwiML application.
    Application,
    /// The "Internal Calls" task queue.
    Queue,
    /// The "Internal Call" workflow.
    Workflow,
    /// `ui_attributes.custom_data.features.internal_call` in the Flex Configuration.
    FlexFlags,
    /// `outbound_call_flows.default` in the Flex Configuration.
    OutboundCallFlow,
}

impl Resource {
    const ALL: [Resource; 6] = [
        Resource::Workspace,
        Resource::Application,
        Resource::Queue,
        Resource::Workflow,
        Resource::FlexFlags,
        Resource::OutboundCallFlow,
    ];

    fn label(self, workspace: &str) -> String {
        match self {
            Resource::Workspace => format!("workspace \"{workspace}\""),
            Resource::Application => format!("application \"{APPLICATION_NAME}\""),
            Resource::Queue => format!("task queue \"{QUEUE_NAME}\""),
            Resource::Workflow => format!("workflow \"{WORKFLOW_NAME}\""),
            Resource::FlexFlags => {
                "Flex Configuration ui_attributes.custom_data.features.internal_call".into()
            }
            Resource::OutboundCallFlow => "Flex Configuration outbound_call_flows.default".into(),
        }
    }
}

/// Per resource, how it differs from what is wanted.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In the order they are applied.
    pub steps: Vec<(Resource, Change)>,
}

impl Plan {
    /// Whether applying would write anything.
    pub fn has_changes(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, c)| matches!(c, Change::Create | Change::Update(_)))
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Resources created.
    pub created: usize,
    /// Resources updated.
    pub updated: usize,
    /// Resources already as wanted.
    pub unchanged: usize,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
}

/// What exists, as far as provisioning cares.
struct State {
    workspace: Option<Value>,
    queues: Vec<Value>,
    workflows: Vec<Value>,
    application: Option<Value>,
    flex: Value,
}

/// Plans and (unless `dry_run`) applies the internal call's resources, printing each step to
/// `out`.
pub fn provision(
    client: &Client<'_>,
    options: &ProvisionOptions,
    out: &mut dyn Write,
) -> Result<Summary, Error> {
    let voice_url = voice_url(client.target(), options.functions_base_url.as_deref())?;
    writeln!(
        out,
        "Provisioning the internal call on {} (workspace \"{}\").",
        client.target(),
        options.workspace
    )?;
    let mut state = State::load(client, options)?;
    let plan = plan(&state, options, &voice_url)?;

    writeln!(out, "Plan:")?;
    for (resource, change) in &plan.steps {
        writeln!(out, "  {}: {change}", resource.label(&options.workspace))?;
    }
    for (_, change) in &plan.steps {
        if let Change::Missing(remedy) = change {
            writeln!(out, "Note: {remedy}")?;
        }
    }
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    if !plan.has_changes() {
        summary.unchanged = plan
            .steps
            .iter()
            .filter(|(_, c)| *c == Change::Unchanged)
            .count();
        writeln!(out, "Nothing to change.")?;
        return Ok(summary);
    }
    if options.dry_run {
        writeln!(out, "Dry run: nothing was written.")?;
        return Ok(summary);
    }

    writeln!(out, "Applying:")?;
    for resource in Resource::ALL {
        let label = resource.label(&options.workspace);
        let (change, sid) = apply(client, &mut state, options, &voice_url, resource)?;
        let sid = sid.map(|s| format!(" ({s})")).unwrap_or_default();
        match &change {
            Change::Create => {
                summary.created += 1;
                writeln!(out, "  {label}: created{sid}")?;
            }
            Change::Update(what) => {
                summary.updated += 1;
                writeln!(out, "  {label}: updated{sid}: {}", what.join("; "))?;
            }
            Change::Unchanged => {
                summary.unchanged += 1;
                writeln!(out, "  {label}: unchanged{sid}")?;
            }
            Change::Missing(_) => writeln!(out, "  {label}: missing (not set)")?,
        }
        out.flush()?;
    }
    writeln!(
        out,
        "Done: {} created, {} updated, {} unchanged.",
        summary.created, summary.updated, summary.unchanged
    )?;
    Ok(summary)
}

/// The application's voice URL: the enqueue function on the functions' domain, or on the
/// Switchboard server.
pub fn voice_url(target: &Target, functions_base_url: Option<&str>) -> Result<String, Error> {
    let base = match (functions_base_url, target) {
        (Some(base), _) => base.trim_end_matches('/'),
        (None, Target::Switchboard(base)) => base.as_str(),
        (None, Target::Twilio) => {
            return Err(Error::Invalid(format!(
                "--functions-base-url is required against Twilio: the \"{APPLICATION_NAME}\" \
                 application's voice URL is the enqueue function of your deployed serverless \
                 service (e.g. --functions-base-url https://custom-flex-extensions-serverless-1234-dev.twil.io \
                 gives …{ENQUEUE_PATH})"
            )))
        }
    };
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(Error::Invalid(format!(
            "the functions base URL \"{base}\" must start with https:// or http://"
        )));
    }
    Ok(format!("{base}{ENQUEUE_PATH}"))
}

/// The expression that matches calls to queue `name`: single quotes, or double quotes when the
/// name contains a single quote.
pub fn queue_expression(name: &str) -> Result<String, Error> {
    if !name.contains('\'') {
        Ok(format!("callToQueue == '{name}'"))
    } else if !name.contains('"') {
        Ok(format!("callToQueue == \"{name}\""))
    } else {
        Err(Error::Invalid(format!(
            "cannot build workflow \"{WORKFLOW_NAME}\": task queue \"{name}\" contains both ' and \", \
             so no TaskRouter expression can name it; rename the queue or leave it out with --queue"
        )))
    }
}

/// The workflow's configuration: the agent filter on the internal queue, then one filter per
/// callable queue (given as name and SID, in the order given).
pub fn workflow_configuration(
    internal_queue: &str,
    callable: &[(String, String)],
) -> Result<Value, Error> {
    let mut filters = vec![json!({
        "filter_friendly_name": "Assign to Agent",
        "expression": "worker_sid != null AND callToQueue == null",
        "targets": [{
            "queue": internal_queue,
            "priority": 1000,
            "known_worker_sid": "task.worker_sid",
        }],
    })];
    for (name, sid) in callable {
        filters.push(json!({
            "filter_friendly_name": format!("Assign to Queue - {name}"),
            "expression": queue_expression(name)?,
            "targets": [{"queue": sid}],
        }));
    }
    Ok(json!({"task_routing": {"filters": filters}}))
}

impl State {
    fn load(client: &Client<'_>, options: &ProvisionOptions) -> Result<State, Error> {
        let name = &options.workspace;
        let workspace = find_workspace(client, name)?;
        if workspace.is_none() && !client.target().is_switchboard() {
            let found = client
                .workspaces(None)
                .map_err(Error::request("list workspaces"))?;
            return Err(Error::Invalid(format!(
                "no workspace named \"{name}\" on Twilio; found: {}. Flex creates and owns its \
                 workspace: name it with --workspace",
                quoted_list(found.iter().map(|w| field(w, "friendly_name")))
            )));
        }
        let (queues, workflows) = match &workspace {
            Some(ws) => list_routing(client, ws)?,
            None => (Vec::new(), Vec::new()),
        };
        let application = find_application(client)?;
        let flex = client
            .flex_configuration()
            .map_err(Error::request("fetch the Flex Configuration"))?;
        Ok(State {
            workspace,
            queues,
            workflows,
            application,
            flex,
        })
    }

    fn workspace_sid(&self) -> Option<&str> {
        self.workspace.as_ref().map(|w| field(w, "sid"))
    }

    fn internal_queue(&self) -> Result<Option<&Value>, Error> {
        unique_by_name(&self.queues, QUEUE_NAME, "task queues")
    }

    fn internal_workflow(&self) -> Result<Option<&Value>, Error> {
        unique_by_name(&self.workflows, WORKFLOW_NAME, "workflows")
    }

    /// The callable queues (name, SID), in name order.
    fn callable_queues(&self, requested: &[String]) -> Result<Vec<(String, String)>, Error> {
        let names: BTreeSet<&str> = if requested.is_empty() {
            self.queues
                .iter()
                .map(|q| field(q, "friendly_name"))
                .filter(|n| *n != QUEUE_NAME)
                .collect()
        } else {
            requested.iter().map(String::as_str).collect()
        };
        let mut callable = Vec::new();
        for name in names {
            match unique_by_name(&self.queues, name, "task queues")? {
                Some(q) => callable.push((name.to_string(), field(q, "sid").to_string())),
                None => {
                    return Err(Error::Invalid(format!(
                    "--queue \"{name}\": no task queue of that name in workspace \"{}\"; found: {}",
                    self.workspace
                        .as_ref()
                        .map(|w| field(w, "friendly_name"))
                        .unwrap_or(""),
                    quoted_list(self.queues.iter().map(|q| field(q, "friendly_name")))
                )))
                }
            }
        }
        Ok(callable)
    }

    fn flex_flags(&self) -> Option<&Map<String, Value>> {
        self.flex
            .pointer("/ui_attributes/custom_data/features/internal_call")
            .and_then(Value::as_object)
    }

    fn outbound_call_flow(&self) -> Option<&Value> {
        self.flex
            .pointer("/outbound_call_flows/default")
            .filter(|v| !v.is_null())
    }

    fn replace(list: &mut Vec<Value>, resource: Value) {
        let sid = field(&resource, "sid").to_string();
        match list.iter_mut().find(|r| field(r, "sid") == sid) {
            Some(existing) => *existing = resource,
            None => list.push(resource),
        }
    }
}

fn list_routing(client: &Client<'_>, ws: &Value) -> Result<(Vec<Value>, Vec<Value>), Error> {
    let sid = field(ws, "sid");
    let name = field(ws, "friendly_name");
    let queues = client.task_queues(sid).map_err(Error::request(format!(
        "list the task queues of workspace \"{name}\""
    )))?;
    let workflows = client.workflows(sid).map_err(Error::request(format!(
        "list the workflows of workspace \"{name}\""
    )))?;
    Ok((queues, workflows))
}

/// The workspace with this friendly name, if there is exactly one.
pub(crate) fn find_workspace(client: &Client<'_>, name: &str) -> Result<Option<Value>, Error> {
    let found = client
        .workspaces(Some(name))
        .map_err(Error::request(format!("find workspace \"{name}\"")))?;
    unique_by_name(&found, name, "workspaces").map(|w| w.cloned())
}

fn find_application(client: &Client<'_>) -> Result<Option<Value>, Error> {
    let found = client
        .applications(Some(APPLICATION_NAME))
        .map_err(Error::request(format!(
            "find application \"{APPLICATION_NAME}\""
        )))?;
    unique_by_name(&found, APPLICATION_NAME, "applications").map(|a| a.cloned())
}

/// The one resource named `name` in `list`; an error naming them when there are several.
pub(crate) fn unique_by_name<'v>(
    list: &'v [Value],
    name: &str,
    kind: &str,
) -> Result<Option<&'v Value>, Error> {
    let matching: Vec<&Value> = list
        .iter()
        .filter(|r| field(r, "friendly_name") == name)
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Error::Invalid(format!(
            "{} {kind} are named \"{name}\" ({}); rename or delete all but one",
            many.len(),
            many.iter()
                .map(|r| field(r, "sid"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn plan(state: &State, options: &ProvisionOptions, voice_url: &str) -> Result<Plan, Error> {
    let steps = Resource::ALL
        .iter()
        .map(|&r| Ok((r, diff(state, options, voice_url, r)?.0)))
        .collect::<Result<_, Error>>()?;
    Ok(Plan { steps })
}

/// What is wanted for a resource that [`diff`] found different: the parameters to send.
enum Wanted {
    Nothing,
    Workspace,
    Form(Vec<(&'static str, String)>),
    Flex(Map<String, Value>),
}

/// How `resource` differs from what is wanted, and what to send to fix it.
fn diff(
    state: &State,
    options: &ProvisionOptions,
    voice_url: &str,
    resource: Resource,
) -> Result<(Change, Wanted), Error> {
    let internal_queue_sid = || -> Result<String, Error> {
        Ok(state
            .internal_queue()?
            .map_or(NEW_SID.to_string(), |q| field(q, "sid").to_string()))
    };
    let application_sid = || {
        state
            .application
            .as_ref()
            .map_or(NEW_SID.to_string(), |a| field(a, "sid").to_string())
    };
    Ok(match resource {
        Resource::Workspace => match state.workspace {
            Some(_) => (Change::Unchanged, Wanted::Nothing),
            None => (Change::Create, Wanted::Workspace),
        },
        Resource::Application => {
            let wanted = [("VoiceUrl", voice_url), ("VoiceMethod", "POST")];
            match &state.application {
                None => (
                    Change::Create,
                    Wanted::Form(
                        [("FriendlyName", APPLICATION_NAME)]
                            .iter()
                            .chain(&wanted)
                            .map(|(k, v)| (*k, v.to_string()))
                            .collect(),
                    ),
                ),
                Some(app) => {
                    let mut changes = Vec::new();
                    let mut params = Vec::new();
                    if field(app, "voice_url") != voice_url {
                        changes.push(changed("voice_url", field(app, "voice_url"), voice_url));
                        params.push(("VoiceUrl", voice_url.to_string()));
                    }
                    if !field(app, "voice_method").eq_ignore_ascii_case("POST") {
                        changes.push(changed("voice_method", field(app, "voice_method"), "POST"));
                        params.push(("VoiceMethod", "POST".to_string()));
                    }
                    update_or_unchanged(changes, Wanted::Form(params))
                }
            }
        }
        Resource::Queue => {
            let max = QUEUE_MAX_RESERVED_WORKERS.to_string();
            match state.internal_queue()? {
                None => (
                    Change::Create,
                    Wanted::Form(vec![
                        ("FriendlyName", QUEUE_NAME.to_string()),
                        ("TargetWorkers", QUEUE_TARGET_WORKERS.to_string()),
                        ("MaxReservedWorkers", max),
                        ("TaskOrder", QUEUE_TASK_ORDER.to_string()),
                    ]),
                ),
                Some(q) => {
                    let mut changes = Vec::new();
                    let mut params = Vec::new();
                    if field(q, "target_workers") != QUEUE_TARGET_WORKERS {
                        changes.push(changed(
                            "target_workers",
                            field(q, "target_workers"),
                            QUEUE_TARGET_WORKERS,
                        ));
                        params.push(("TargetWorkers", QUEUE_TARGET_WORKERS.to_string()));
                    }
                    let existing_max = q.get("max_reserved_workers").and_then(Value::as_i64);
                    if existing_max != Some(QUEUE_MAX_RESERVED_WORKERS) {
                        let old = existing_max.map_or("none".to_string(), |m| m.to_string());
                        changes.push(format!("max_reserved_workers: {old} → {max}"));
                        params.push(("MaxReservedWorkers", max));
                    }
                    if !field(q, "task_order").eq_ignore_ascii_case(QUEUE_TASK_ORDER) {
                        changes.push(changed(
                            "task_order",
                            field(q, "task_order"),
                            QUEUE_TASK_ORDER,
                        ));
                        params.push(("TaskOrder", QUEUE_TASK_ORDER.to_string()));
                    }
                    update_or_unchanged(changes, Wanted::Form(params))
                }
            }
        }
        Resource::Workflow => {
            let callable = state.callable_queues(&options.queues)?;
            let wanted = workflow_configuration(&internal_queue_sid()?, &callable)?;
            let text = wanted.to_string();
            match state.internal_workflow()? {
                None => (
                    Change::Create,
                    Wanted::Form(vec![
                        ("FriendlyName", WORKFLOW_NAME.to_string()),
                        ("Configuration", text),
                        (
                            "TaskReservationTimeout",
                            WORKFLOW_RESERVATION_TIMEOUT.to_string(),
                        ),
                    ]),
                ),
                Some(wf) => {
                    let existing: Option<Value> =
                        serde_json::from_str(field(wf, "configuration")).ok();
                    if existing.as_ref() == Some(&wanted) {
                        (Change::Unchanged, Wanted::Nothing)
                    } else {
                        (
                            Change::Update(describe_filters_change(existing.as_ref(), &wanted)),
                            Wanted::Form(vec![("Configuration", text)]),
                        )
                    }
                }
            }
        }
        Resource::FlexFlags => {
            let wanted = json!({
                "enabled": true,
                "enable_call_agent": true,
                "enable_call_queue": true,
                "application_sid": application_sid(),
                "outbound_queue_sid": internal_queue_sid()?,
            });
            let existing = state.flex_flags();
            let mut changes = Vec::new();
            for (key, value) in wanted.as_object().into_iter().flatten() {
                let old = existing.and_then(|m| m.get(key));
                if old != Some(value) {
                    changes.push(format!(
                        "{key}: {} → {value}",
                        old.map_or("unset".to_string(), Value::to_string)
                    ));
                }
            }
            let mut flags = existing.cloned().unwrap_or_default();
            for (key, value) in wanted.as_object().into_iter().flatten() {
                flags.insert(key.clone(), value.clone());
            }
            let mut ui = match state.flex.get("ui_attributes") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            set_path(
                &mut ui,
                &["custom_data", "features", "internal_call"],
                flags,
            );
            let mut body = Map::new();
            body.insert("ui_attributes".into(), Value::Object(ui));
            update_or_unchanged(changes, Wanted::Flex(body))
        }
        Resource::OutboundCallFlow => match (
            state.outbound_call_flow(),
            &options.outbound_call_flow,
        ) {
            (Some(_), _) => (Change::Unchanged, Wanted::Nothing),
            (None, OutboundCallFlow::Report) => (
                Change::Missing(
                    "outbound_call_flows.default is not set in the Flex Configuration, and Flex \
                     shows no dialpad without it. Run again with --set-outbound-call-flow \
                     --caller-id +1XXXXXXXXXX to set it (workflow \"Assign to Anyone\", queue \
                     \"Everyone\", location US), or POST /v1/Configuration with \
                     {\"outbound_call_flows\": {\"default\": {\"workflow_sid\": \"WW…\", \
                     \"enabled\": true, \"queue_sid\": \"WQ…\", \"caller_id\": \"+1…\", \
                     \"location\": \"US\"}}}."
                        .into(),
                ),
                Wanted::Nothing,
            ),
            (None, OutboundCallFlow::Set { caller_id }) => {
                let workflow = state
                    .workflows
                    .iter()
                    .find(|w| field(w, "friendly_name") == ANYONE_WORKFLOW)
                    .or_else(|| {
                        state
                            .workflows
                            .iter()
                            .find(|w| field(w, "friendly_name") != WORKFLOW_NAME)
                    })
                    .or(state.internal_workflow()?)
                    .map_or(NEW_SID.to_string(), |w| field(w, "sid").to_string());
                let queue = unique_by_name(&state.queues, EVERYONE_QUEUE, "task queues")?
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "cannot set outbound_call_flows.default: no task queue named \
                             \"{EVERYONE_QUEUE}\" in workspace \"{}\"; found: {}",
                            options.workspace,
                            quoted_list(state.queues.iter().map(|q| field(q, "friendly_name")))
                        ))
                    })?;
                let mut flows = match state.flex.get("outbound_call_flows") {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                flows.insert(
                    "default".into(),
                    json!({
                        "workflow_sid": workflow,
                        "enabled": true,
                        "queue_sid": field(queue, "sid"),
                        "caller_id": caller_id,
                        "location": "US",
                    }),
                );
                let mut body = Map::new();
                body.insert("outbound_call_flows".into(), Value::Object(flows));
                (Change::Create, Wanted::Flex(body))
            }
        },
    })
}

fn changed(key: &str, old: &str, new: &str) -> String {
    format!("{key}: \"{old}\" → \"{new}\"")
}

fn update_or_unchanged(changes: Vec<String>, wanted: Wanted) -> (Change, Wanted) {
    if changes.is_empty() {
        (Change::Unchanged, Wanted::Nothing)
    } else {
        (Change::Update(changes), wanted)
    }
}

/// Sets `map[path[0]][path[1]]… = value`, making objects on the way and keeping their other keys.
fn set_path(map: &mut Map<String, Value>, path: &[&str], value: Map<String, Value>) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), Value::Object(value));
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Which filters a configuration change adds, removes or alters, by friendly name.
fn describe_filters_change(old: Option<&Value>, new: &Value) -> Vec<String> {
    let Some(old) = old else {
        return vec!["configuration: replace (the current one is not valid JSON)".into()];
    };
    let filters = |doc: &Value| -> Vec<(String, Value)> {
        doc.pointer("/task_routing/filters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|f| (field(f, "filter_friendly_name").to_string(), f.clone()))
            .collect()
    };
    let (old, new) = (filters(old), filters(new));
    let mut changes = Vec::new();
    for (name, filter) in &new {
        match old.iter().find(|(n, _)| n == name) {
            None => changes.push(format!("add filter \"{name}\"")),
            Some((_, f)) if f != filter => changes.push(format!("change filter \"{name}\"")),
            Some(_) => {}
        }
    }
    for (name, _) in &old {
        if !new.iter().any(|(n, _)| n == name) {
            changes.push(format!("remove filter \"{name}\""));
        }
    }
    if changes.is_empty() {
        changes.push("configuration: filter order or other keys".into());
    }
    changes
}

/// Applies one resource: asks [`diff`] again (with what earlier steps created) and writes what
/// differs. Returns what was done and the resource's SID.
fn apply(
    client: &Client<'_>,
    state: &mut State,
    options: &ProvisionOptions,
    voice_url: &str,
    resource: Resource,
) -> Result<(Change, Option<String>), Error> {
    let (change, wanted) = diff(state, options, voice_url, resource)?;
    let label = resource.label(&options.workspace);
    let verb = match change {
        Change::Create => "create",
        _ => "update",
    };
    let action = format!("{verb} {label}");
    let sid = match (resource, wanted) {
        (_, Wanted::Nothing) => match resource {
            Resource::Workspace => state.workspace_sid().map(str::to_string),
            Resource::Application => state.application.as_ref().map(|a| field(a, "sid").into()),
            Resource::Queue => state.internal_queue()?.map(|q| field(q, "sid").into()),
            Resource::Workflow => state.internal_workflow()?.map(|w| field(w, "sid").into()),
            _ => None,
        },
        (_, Wanted::Workspace) => {
            let ws = client
                .create_workspace(&options.workspace)
                .map_err(Error::request(&action))?;
            let sid = field(&ws, "sid").to_string();
            let (queues, workflows) = list_routing(client, &ws)?;
            state.workspace = Some(ws);
            state.queues = queues;
            state.workflows = workflows;
            Some(sid)
        }
        (Resource::Application, Wanted::Form(p)) => {
            let existing = state
                .application
                .as_ref()
                .map(|a| field(a, "sid").to_string());
            let app = client
                .save_application(existing.as_deref(), &pairs(&p))
                .map_err(Error::request(&action))?;
            let sid = field(&app, "sid").to_string();
            state.application = Some(app);
            Some(sid)
        }
        (Resource::Queue | Resource::Workflow, Wanted::Form(p)) => {
            let ws = state.workspace_sid().unwrap_or_default().to_string();
            let existing = match resource {
                Resource::Queue => state.internal_queue()?,
                _ => state.internal_workflow()?,
            }
            .map(|r| field(r, "sid").to_string());
            let saved = if resource == Resource::Queue {
                client.save_task_queue(&ws, existing.as_deref(), &pairs(&p))
            } else {
                client.save_workflow(&ws, existing.as_deref(), &pairs(&p))
            }
            .map_err(Error::request(&action))?;
            let sid = field(&saved, "sid").to_string();
            let list = match resource {
                Resource::Queue => &mut state.queues,
                _ => &mut state.workflows,
            };
            State::replace(list, saved);
            Some(sid)
        }
        (_, Wanted::Flex(body)) => {
            let doc = client
                .update_flex_configuration(body)
                .map_err(Error::request(format!("{verb} the {label}")))?;
            state.flex = doc;
            None
        }
        (_, Wanted::Form(_)) => None,
    };
    Ok((change, sid))
}

fn pairs<'p>(params: &'p [(&'static str, String)]) -> Vec<(&'static str, &'p str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_quoted_safely() {
        for (name, expected) in [
            ("Sales", Some("callToQueue == 'Sales'")),
            ("Bob's team", Some("callToQueue == \"Bob's team\"")),
            ("The \"A\" team", Some("callToQueue == 'The \"A\" team'")),
            ("Bob's \"A\" team", None),
        ] {
            let got = queue_expression(name).ok();
            assert_eq!(got.as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn the_workflow_has_the_fixture_shape() {
        let doc = workflow_configuration(
            "WQinternal",
            &[
                ("Everyone".into(), "WQe".into()),
                ("Sales".into(), "WQs".into()),
            ],
        )
        .unwrap();
        let expected = json!({"task_routing": {"filters": [
            {"filter_friendly_name": "Assign to Agent",
             "expression": "worker_sid != null AND callToQueue == null",
             "targets": [{"queue": "WQinternal", "priority": 1000, "known_worker_sid": "task.worker_sid"}]},
            {"filter_friendly_name": "Assign to Queue - Everyone", "expression": "callToQueue == 'Everyone'",
             "targets": [{"queue": "WQe"}]},
            {"filter_friendly_name": "Assign to Queue - Sales", "expression": "callToQueue == 'Sales'",
             "targets": [{"queue": "WQs"}]},
        ]}});
        assert_eq!(doc, expected);
    }

    #[test]
    fn twilio_needs_the_functions_base_url() {
        let err = voice_url(&Target::Twilio, None).unwrap_err().to_string();
        assert!(err.contains("--functions-base-url is required"), "{err}");
        assert_eq!(
            voice_url(&Target::Twilio, Some("https://x.twil.io/")).unwrap(),
            "https://x.twil.io/features/internal-call/common/enqueue"
        );
        assert_eq!(
            voice_url(&Target::Switchboard("http://h:1".into()), None).unwrap(),
            "http://h:1/features/internal-call/common/enqueue"
        );
    }

    #[test]
    fn set_path_keeps_other_keys() {
        let mut ui = json!({"other": 1, "custom_data": {"features": {"x": {"enabled": true}}}})
            .as_object()
            .unwrap()
            .clone();
        let mut flags = Map::new();
        flags.insert("enabled".into(), json!(true));
        set_path(
            &mut ui,
            &["custom_data", "features", "internal_call"],
            flags,
        );
        assert_eq!(
            Value::Object(ui),
            json!({"other": 1, "custom_data": {"features": {"x": {"enabled": true}, "internal_call": {"enabled": true}}}})
        );
    }
}
