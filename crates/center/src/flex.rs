//! The Flex Configuration: the document as clients wrote it, the settings the center acts on
//! (parsed once into types when the document is set; nothing else reads the document by string
//! paths), and the rules of an update: which keys Twilio's document has and with which types,
//! what a key holds until it is written, how a `POST` merges, and which SIDs must exist.
//!
//! The key list is Twilio's: the 49 properties of `flex.v1.configuration` in its OpenAPI
//! description (`twilio/twilio-oai`, `spec/json/twilio_flex_v1.json`), in that order.

use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_routing::{Timestamp, Workspace as Engine};
use switchboard_sid::{
    Account, Activity, Application, Sid, SidKind, TaskQueue, Workflow, Workspace,
};

use crate::error::{CenterError, ErrorKind};

/// A key's type, as Twilio's description gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A string.
    String,
    /// A SID of a resource Switchboard has, with this prefix (lower-case hex, as it makes them).
    Sid(&'static str),
    /// A SID of a Twilio product Switchboard does not have, with this prefix (the description's
    /// pattern: 32 hexadecimal digits of either case).
    ForeignSid(&'static str),
    /// A list of such SIDs.
    ForeignSids(&'static str),
    /// `true` or `false`.
    Bool,
    /// A JSON object (the description leaves these untyped; every value Twilio shows is one).
    Object,
    /// A JSON array.
    Array,
}

/// Who writes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Clients, with `POST`.
    Writable,
    /// Nobody: Twilio sets it. A value given in a `POST` is ignored; a value an older release
    /// stored is still shown.
    ReadOnly,
    /// The HTTP layer, on every answer (the account, the resource's URL, its dates).
    Server,
}

/// What a key holds until it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initial {
    /// `null`.
    Null,
    /// This boolean.
    Bool(bool),
    /// This string.
    Str(&'static str),
    /// `{}`.
    Object,
    /// `[]`.
    Array,
    /// `null` here; the HTTP layer fills in a value of its own (this server's URL, its version).
    Server,
}

impl Initial {
    /// The JSON value.
    pub fn value(self) -> Value {
        match self {
            Initial::Null | Initial::Server => Value::Null,
            Initial::Bool(b) => Value::Bool(b),
            Initial::Str(s) => Value::String(s.to_owned()),
            Initial::Object => Value::Object(Map::new()),
            Initial::Array => Value::Array(Vec::new()),
        }
    }
}

/// One key of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: KeyType,
    /// Who writes it.
    pub access: Access,
    /// What it holds until written.
    pub initial: Initial,
}

const fn key(name: &'static str, ty: KeyType, access: Access, initial: Initial) -> Key {
    Key {
        name,
        ty,
        access,
        initial,
    }
}

use Access::{ReadOnly, Server, Writable};
use KeyType as T;

/// Every key of Twilio's document, in its description's order. Defaults: what an account that
/// never configured the key would sensibly hold here — `null` for SIDs, URLs and settings of
/// Flex features Switchboard does not have, `false` for their switches, empty lists, empty
/// objects for free-form attribute bags, Flex's own `en` for the language.
#[rustfmt::skip]
pub const KEYS: [Key; 49] = [
    key("account_sid", T::Sid("AC"), Server, Initial::Server),
    key("date_created", T::String, Server, Initial::Server),
    key("date_updated", T::String, Server, Initial::Server),
    key("attributes", T::Object, Writable, Initial::Object),
    key("status", T::String, ReadOnly, Initial::Str("ok")),
    key("taskrouter_workspace_sid", T::Sid("WS"), Writable, Initial::Null),
    key("taskrouter_target_workflow_sid", T::Sid("WW"), Writable, Initial::Null),
    key("taskrouter_target_taskqueue_sid", T::Sid("WQ"), Writable, Initial::Null),
    key("taskrouter_taskqueues", T::Array, Writable, Initial::Array),
    key("taskrouter_skills", T::Array, Writable, Initial::Array),
    key("taskrouter_worker_channels", T::Object, Writable, Initial::Object),
    key("taskrouter_worker_attributes", T::Object, Writable, Initial::Object),
    key("taskrouter_offline_activity_sid", T::Sid("WA"), Writable, Initial::Null),
    key("runtime_domain", T::String, Writable, Initial::Server),
    key("messaging_service_instance_sid", T::ForeignSid("MG"), Writable, Initial::Null),
    key("chat_service_instance_sid", T::ForeignSid("IS"), Writable, Initial::Null),
    key("flex_service_instance_sid", T::ForeignSid("IS"), Writable, Initial::Null),
    key("flex_instance_sid", T::ForeignSid("GO"), Writable, Initial::Null),
    key("ui_language", T::String, Writable, Initial::Str("en")),
    key("ui_attributes", T::Object, Writable, Initial::Object),
    key("ui_dependencies", T::Object, Writable, Initial::Object),
    key("ui_version", T::String, Writable, Initial::Null),
    key("service_version", T::String, ReadOnly, Initial::Server),
    key("call_recording_enabled", T::Bool, Writable, Initial::Bool(false)),
    key("call_recording_webhook_url", T::String, Writable, Initial::Null),
    key("crm_enabled", T::Bool, Writable, Initial::Bool(false)),
    key("crm_type", T::String, Writable, Initial::Null),
    key("crm_callback_url", T::String, Writable, Initial::Null),
    key("crm_fallback_url", T::String, Writable, Initial::Null),
    key("crm_attributes", T::Object, Writable, Initial::Object),
    key("public_attributes", T::Object, Writable, Initial::Object),
    key("plugin_service_enabled", T::Bool, Writable, Initial::Bool(false)),
    key("plugin_service_attributes", T::Object, Writable, Initial::Object),
    key("integrations", T::Array, Writable, Initial::Array),
    key("outbound_call_flows", T::Object, Writable, Initial::Null),
    key("serverless_service_sids", T::ForeignSids("ZS"), Writable, Initial::Array),
    key("queue_stats_configuration", T::Object, Writable, Initial::Null),
    key("notifications", T::Object, Writable, Initial::Null),
    key("markdown", T::Object, Writable, Initial::Null),
    key("url", T::String, Server, Initial::Server),
    key("flex_insights_hr", T::Object, Writable, Initial::Null),
    key("flex_insights_drilldown", T::Bool, Writable, Initial::Bool(false)),
    key("flex_url", T::String, Writable, Initial::Null),
    key("channel_configs", T::Array, Writable, Initial::Array),
    key("debugger_integration", T::Object, Writable, Initial::Null),
    key("flex_ui_status_report", T::Object, Writable, Initial::Null),
    key("agent_conv_end_methods", T::Object, Writable, Initial::Null),
    key("citrix_voice_vdi", T::Object, Writable, Initial::Null),
    key("offline_config", T::Object, Writable, Initial::Null),
];

/// The key of this name, if Twilio's document has one.
pub fn key_named(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// `outbound_call_flows.default`: how an agent's outbound call is placed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundFlow {
    /// `enabled` (Flex's default: true).
    pub enabled: bool,
    /// `workflow_sid`: the workflow of the agent's own outbound task.
    pub workflow_sid: Option<Sid<Workflow>>,
    /// `queue_sid`: the queue the outbound task is counted in.
    pub queue_sid: Option<Sid<TaskQueue>>,
    /// `caller_id`.
    pub caller_id: Option<String>,
    /// `location`.
    pub location: Option<String>,
}

/// `ui_attributes.custom_data.features.internal_call`, with Flex's defaults for absent keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InternalCallFeature {
    /// `enabled` (default false); false without an `application_sid`.
    pub enabled: bool,
    /// `enable_call_agent` (default true).
    pub enable_call_agent: bool,
    /// `enable_call_queue` (default false).
    pub enable_call_queue: bool,
    /// `application_sid`: the "Internal Call" TwiML application.
    #[cfg_attr(test, ts(type = "string | null"))]
    pub application_sid: Option<Sid<Application>>,
    /// `outbound_queue_sid`: the queue of internal calls (left out of the queue directory).
    #[cfg_attr(test, ts(type = "string | null"))]
    pub outbound_queue_sid: Option<Sid<TaskQueue>>,
}

impl Default for InternalCallFeature {
    fn default() -> Self {
        InternalCallFeature {
            enabled: false,
            enable_call_agent: true,
            enable_call_queue: false,
            application_sid: None,
            outbound_queue_sid: None,
        }
    }
}

/// What the center reads from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlexSettings {
    /// `taskrouter_offline_activity_sid`.
    pub offline_activity: Option<Sid<Activity>>,
    /// `outbound_call_flows.default`, when configured.
    pub outbound: Option<OutboundFlow>,
    /// The internal-call feature flags.
    pub internal_call: InternalCallFeature,
}

/// The configuration: the document and its parsed settings.
#[derive(Debug, Clone, Default)]
pub struct FlexConfig {
    document: Map<String, Value>,
    settings: FlexSettings,
    dates: Option<(Timestamp, Timestamp)>,
}

impl FlexConfig {
    /// The document as written (only the keys clients wrote).
    pub fn document(&self) -> &Map<String, Value> {
        &self.document
    }

    /// Every key of Twilio's document: the stored value where there is one, else the key's
    /// default. Keys the HTTP layer owns ([`Access::Server`], [`Initial::Server`]) are `null`
    /// here for it to fill in. A key outside Twilio's document that an older release stored
    /// stays in [`FlexConfig::document`] but is not shown.
    pub fn full_document(&self) -> Map<String, Value> {
        KEYS.iter()
            .map(|k| {
                let stored = match k.access {
                    Access::Server => None,
                    Access::Writable | Access::ReadOnly => self.document.get(k.name),
                };
                let value = stored.cloned().unwrap_or_else(|| k.initial.value());
                (k.name.to_owned(), value)
            })
            .collect()
    }

    /// The parsed settings.
    pub fn settings(&self) -> &FlexSettings {
        &self.settings
    }

    /// When it was first and last written, if ever.
    pub fn dates(&self) -> Option<(Timestamp, Timestamp)> {
        self.dates
    }

    /// Replaces the document. `strict` refuses a document whose settings do not parse (a live
    /// change); otherwise unreadable settings are left unset (replaying an old log).
    pub(crate) fn set(
        &mut self,
        now: Timestamp,
        document: &Value,
        strict: bool,
    ) -> Result<(), CenterError> {
        let Value::Object(doc) = document else {
            return Err(CenterError::invalid(
                "configuration",
                "must be a JSON object",
            ));
        };
        let mut problems = Vec::new();
        let settings = FlexSettings::parse(doc, &mut problems);
        if strict {
            if let Some(first) = problems.into_iter().next() {
                return Err(first);
            }
        }
        self.document = doc.clone();
        self.settings = settings;
        let created = self.dates.map_or(now, |(c, _)| c);
        self.dates = Some((created, now));
        Ok(())
    }
}

/// Applies a `POST` body to the stored document, as Twilio does: each top-level key the body
/// names replaces the stored value whole (an object is not merged into: Twilio's documentation
/// says a JSON property "will be completely replaced"), the others are kept. `null` removes the
/// stored value, so the key reads as its default again. Read-only and server-owned keys are
/// ignored, except that `account_sid`, when given, must be the account's. A key Twilio's
/// document does not have is refused, and so is a value of the wrong type, the message naming
/// its path (`outbound_call_flows.default.workflow_sid: expected a string`). Whether the SIDs
/// exist is [`check_references`]'s business.
pub fn merge(
    current: &Map<String, Value>,
    changes: &Map<String, Value>,
    account: Sid<Account>,
) -> Result<Map<String, Value>, CenterError> {
    let mut problems = Vec::new();
    let mut r = Reader {
        problems: &mut problems,
    };
    let mut written = Map::new();
    for (name, value) in changes {
        let Some(k) = key_named(name) else {
            return Err(bad(
                name,
                "is not a key of the Flex Configuration (see Twilio's flex.v1.configuration)",
            ));
        };
        match k.access {
            Access::Server if name == "account_sid" => {
                if !value.is_null() && value.as_str() != Some(account.to_string().as_str()) {
                    return Err(bad(name, "does not match the authenticated account"));
                }
            }
            Access::Server | Access::ReadOnly => {}
            Access::Writable => {
                r.typed(k.ty, value, name);
                if name == "taskrouter_taskqueues" {
                    r.task_queues(value);
                }
                written.insert(name.clone(), value.clone());
            }
        }
    }
    // The settings inside what is written (outbound_call_flows, the internal-call flags).
    FlexSettings::parse(&written, &mut problems);
    if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    let mut doc = current.clone();
    for (name, value) in written {
        if value.is_null() {
            doc.remove(&name);
        } else {
            doc.insert(name, value);
        }
    }
    Ok(doc)
}

/// What the center knows, for checking the SIDs a configuration names.
pub trait Directory {
    /// A workspace's routing engine.
    fn workspace(&self, sid: Sid<Workspace>) -> Option<&Engine>;
    /// Every workspace, by SID.
    fn workspaces(&self) -> Vec<(Sid<Workspace>, &Engine)>;
    /// Whether this TwiML application exists.
    fn has_application(&self, sid: Sid<Application>) -> bool;
}

/// Checks that the SIDs a merged document names exist, each where it must: the workspace; the
/// target workflow and queue, the offline activity, the queues of `taskrouter_taskqueues`, the
/// outbound workflow and queue and the internal-call queue in that workspace (in any workspace
/// when none is configured, the outbound queue then in its workflow's); the internal-call
/// application in the account. A SID is checked when the update writes it (its top-level key is
/// in `changes`), and those that must be in the workspace are checked again when the update
/// writes `taskrouter_workspace_sid`; what an update leaves alone is not, so a workflow deleted
/// since does not block unrelated changes.
pub fn check_references(
    dir: &dyn Directory,
    doc: &Map<String, Value>,
    changes: &Map<String, Value>,
) -> Result<(), CenterError> {
    let mut ignored = Vec::new();
    let mut r = Reader {
        problems: &mut ignored,
    };
    let moved = changes.contains_key("taskrouter_workspace_sid");
    let writes = |name: &str| moved || changes.contains_key(name);
    let scope: Option<Sid<Workspace>> = r.sid(
        doc.get("taskrouter_workspace_sid"),
        "taskrouter_workspace_sid",
    );
    if let (true, Some(ws)) = (moved, scope) {
        if dir.workspace(ws).is_none() {
            return Err(bad(
                "taskrouter_workspace_sid",
                format!("workspace {ws} does not exist"),
            ));
        }
    }
    let find = Finder { dir, scope };
    const WORKFLOW: &str = "taskrouter_target_workflow_sid";
    if writes(WORKFLOW) {
        if let Some(sid) = r.sid(doc.get(WORKFLOW), WORKFLOW) {
            find.workflow(WORKFLOW, sid)?;
        }
    }
    const QUEUE: &str = "taskrouter_target_taskqueue_sid";
    if writes(QUEUE) {
        if let Some(sid) = r.sid(doc.get(QUEUE), QUEUE) {
            find.queue(QUEUE, sid, scope)?;
        }
    }
    if writes("taskrouter_taskqueues") {
        if let Some(Value::Array(items)) = doc.get("taskrouter_taskqueues") {
            for (i, item) in items.iter().enumerate() {
                let path = format!("taskrouter_taskqueues[{i}].sid");
                if let Some(sid) = r.sid(item.get("sid"), &path) {
                    find.queue(&path, sid, scope)?;
                }
            }
        }
    }
    let settings = FlexSettings::parse(doc, &mut ignored);
    const OFFLINE: &str = "taskrouter_offline_activity_sid";
    if let (true, Some(sid)) = (writes(OFFLINE), settings.offline_activity) {
        find.activity(OFFLINE, sid)?;
    }
    if let (true, Some(flow)) = (writes("outbound_call_flows"), &settings.outbound) {
        let home = match flow.workflow_sid {
            Some(sid) => Some(find.workflow("outbound_call_flows.default.workflow_sid", sid)?),
            None => None,
        };
        if let Some(sid) = flow.queue_sid {
            find.queue("outbound_call_flows.default.queue_sid", sid, scope.or(home))?;
        }
    }
    const FEATURE: &str = "ui_attributes.custom_data.features.internal_call";
    let feature = &settings.internal_call;
    if let (true, Some(sid)) = (
        changes.contains_key("ui_attributes"),
        feature.application_sid,
    ) {
        if !dir.has_application(sid) {
            return Err(bad(
                &format!("{FEATURE}.application_sid"),
                format!("application {sid} does not exist"),
            ));
        }
    }
    if let (true, Some(sid)) = (writes("ui_attributes"), feature.outbound_queue_sid) {
        find.queue(&format!("{FEATURE}.outbound_queue_sid"), sid, scope)?;
    }
    Ok(())
}

/// Looks SIDs up in the configured workspace, or in every workspace when none is.
struct Finder<'d> {
    dir: &'d dyn Directory,
    scope: Option<Sid<Workspace>>,
}

impl Finder<'_> {
    /// The workspace that has it, or the refusal that names `path`, the SID and where it was
    /// looked for.
    fn find(
        &self,
        path: &str,
        what: &str,
        scope: Option<Sid<Workspace>>,
        has: impl Fn(&Engine) -> bool,
    ) -> Result<Sid<Workspace>, CenterError> {
        match scope {
            Some(ws) => match self.dir.workspace(ws) {
                Some(engine) if has(engine) => Ok(ws),
                _ => Err(bad(
                    path,
                    format!("{what} does not exist in workspace {ws}"),
                )),
            },
            None => self
                .dir
                .workspaces()
                .into_iter()
                .find(|(_, engine)| has(engine))
                .map(|(ws, _)| ws)
                .ok_or_else(|| bad(path, format!("{what} does not exist"))),
        }
    }

    fn workflow(&self, path: &str, sid: Sid<Workflow>) -> Result<Sid<Workspace>, CenterError> {
        self.find(path, &format!("workflow {sid}"), self.scope, |e| {
            e.workflow(sid).is_some()
        })
    }

    fn queue(
        &self,
        path: &str,
        sid: Sid<TaskQueue>,
        scope: Option<Sid<Workspace>>,
    ) -> Result<Sid<Workspace>, CenterError> {
        self.find(path, &format!("task queue {sid}"), scope, |e| {
            e.queue(sid).is_some()
        })
    }

    fn activity(&self, path: &str, sid: Sid<Activity>) -> Result<Sid<Workspace>, CenterError> {
        self.find(path, &format!("activity {sid}"), self.scope, |e| {
            e.activity(sid).is_some()
        })
    }
}

/// A refusal (400, 20001) naming the key path: `path: message`.
fn bad(path: &str, message: impl std::fmt::Display) -> CenterError {
    CenterError::coded(ErrorKind::Invalid, 20001, format!("{path}: {message}"))
}

impl FlexSettings {
    /// Parses the settings, noting every malformed one in `problems` (and leaving it unset).
    pub fn parse(doc: &Map<String, Value>, problems: &mut Vec<CenterError>) -> FlexSettings {
        let mut r = Reader { problems };
        let offline_activity = r.sid(
            doc.get("taskrouter_offline_activity_sid"),
            "taskrouter_offline_activity_sid",
        );
        let outbound = doc
            .get("outbound_call_flows")
            .and_then(|f| r.object(Some(f), "outbound_call_flows"))
            .and_then(|f| r.object(f.get("default"), "outbound_call_flows.default"))
            .map(|d| OutboundFlow {
                enabled: r
                    .bool(d.get("enabled"), "outbound_call_flows.default.enabled")
                    .unwrap_or(true),
                workflow_sid: r.sid(
                    d.get("workflow_sid"),
                    "outbound_call_flows.default.workflow_sid",
                ),
                queue_sid: r.sid(d.get("queue_sid"), "outbound_call_flows.default.queue_sid"),
                caller_id: r.string(d.get("caller_id"), "outbound_call_flows.default.caller_id"),
                location: r.string(d.get("location"), "outbound_call_flows.default.location"),
            });
        const PATH: &str = "ui_attributes.custom_data.features.internal_call";
        let flags = doc
            .get("ui_attributes")
            .and_then(|v| r.object(Some(v), "ui_attributes"))
            .and_then(|v| r.object(v.get("custom_data"), "ui_attributes.custom_data"))
            .and_then(|v| r.object(v.get("features"), "ui_attributes.custom_data.features"))
            .and_then(|v| r.object(v.get("internal_call"), PATH));
        let defaults = InternalCallFeature::default();
        let internal_call = match flags {
            None => defaults,
            Some(f) => InternalCallFeature {
                enabled: r
                    .bool(f.get("enabled"), &format!("{PATH}.enabled"))
                    .unwrap_or(defaults.enabled),
                enable_call_agent: r
                    .bool(
                        f.get("enable_call_agent"),
                        &format!("{PATH}.enable_call_agent"),
                    )
                    .unwrap_or(defaults.enable_call_agent),
                enable_call_queue: r
                    .bool(
                        f.get("enable_call_queue"),
                        &format!("{PATH}.enable_call_queue"),
                    )
                    .unwrap_or(defaults.enable_call_queue),
                application_sid: r
                    .sid(f.get("application_sid"), &format!("{PATH}.application_sid")),
                outbound_queue_sid: r.sid(
                    f.get("outbound_queue_sid"),
                    &format!("{PATH}.outbound_queue_sid"),
                ),
            },
        };
        // Without its application the feature cannot place a call: it is off, whatever the
        // flag says, so no desktop offers a dialpad that cannot work.
        let internal_call = InternalCallFeature {
            enabled: internal_call.enabled && internal_call.application_sid.is_some(),
            ..internal_call
        };
        FlexSettings {
            offline_activity,
            outbound,
            internal_call,
        }
    }
}

/// Reads typed values out of JSON, noting what is malformed. Absent and `null` are "not set"; so
/// is an empty string where a SID is expected (Flex writes `""` for unset SIDs).
struct Reader<'p> {
    problems: &'p mut Vec<CenterError>,
}

impl Reader<'_> {
    fn bad(&mut self, path: &str, what: &str) {
        self.problems.push(bad(path, format!("expected {what}")));
    }

    fn object<'v>(&mut self, v: Option<&'v Value>, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                self.bad(path, "an object");
                None
            }
        }
    }

    fn array<'v>(&mut self, v: Option<&'v Value>, path: &str) -> Option<&'v [Value]> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.bad(path, "an array");
                None
            }
        }
    }

    fn bool(&mut self, v: Option<&Value>, path: &str) -> Option<bool> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.bad(path, "true or false");
                None
            }
        }
    }

    fn string(&mut self, v: Option<&Value>, path: &str) -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad(path, "a string");
                None
            }
        }
    }

    fn sid<K: SidKind>(&mut self, v: Option<&Value>, path: &str) -> Option<Sid<K>> {
        let s = self.string(v, path)?;
        if s.is_empty() {
            return None;
        }
        match s.parse() {
            Ok(sid) => Some(sid),
            Err(_) => {
                self.bad(path, &format!("a {}… SID, not {s:?}", K::PREFIX));
                None
            }
        }
    }

    /// A SID of this prefix and the description's pattern (`^XX[0-9a-fA-F]{32}$`); `lower`
    /// for Switchboard's own, which are lower-case.
    fn sid_shaped(&mut self, v: &Value, path: &str, prefix: &str, lower: bool) {
        let Some(s) = self.string(Some(v), path) else {
            return;
        };
        let digits = s.strip_prefix(prefix).unwrap_or("");
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b.to_ascii_lowercase());
        let case = |b: u8| !lower || !b.is_ascii_uppercase();
        let ok = s.is_empty() || (digits.len() == 32 && digits.bytes().all(|b| hex(b) && case(b)));
        if !ok {
            self.bad(path, &format!("a {prefix}… SID, not {s:?}"));
        }
    }

    /// A top-level value of this type.
    fn typed(&mut self, ty: KeyType, v: &Value, path: &str) {
        match ty {
            KeyType::String => {
                self.string(Some(v), path);
            }
            KeyType::Sid(prefix) => self.sid_shaped(v, path, prefix, true),
            KeyType::ForeignSid(prefix) => self.sid_shaped(v, path, prefix, false),
            KeyType::ForeignSids(prefix) => {
                for (i, item) in self
                    .array(Some(v), path)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    if item.is_null() {
                        self.bad(&format!("{path}[{i}]"), "a string");
                    } else {
                        self.sid_shaped(item, &format!("{path}[{i}]"), prefix, false);
                    }
                }
            }
            KeyType::Bool => {
                self.bool(Some(v), path);
            }
            KeyType::Object => {
                self.object(Some(v), path);
            }
            KeyType::Array => {
                self.array(Some(v), path);
            }
        }
    }

    /// `taskrouter_taskqueues`: objects whose `sid` is a queue's and `targettable` a boolean.
    fn task_queues(&mut self, v: &Value) {
        const PATH: &str = "taskrouter_taskqueues";
        let Some(items) = v.as_array() else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{PATH}[{i}]");
            if let Some(q) = self.object(Some(item), &path) {
                self.sid::<TaskQueue>(q.get("sid"), &format!("{path}.sid"));
                self.bool(q.get("targettable"), &format!("{path}.targettable"));
            } else if item.is_null() {
                self.bad(&path, "an object");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> (FlexSettings, Vec<String>) {
        let mut problems = Vec::new();
        let s = FlexSettings::parse(v.as_object().unwrap(), &mut problems);
        (s, problems.into_iter().map(|p| p.message).collect())
    }

    #[test]
    fn defaults_when_absent() {
        let (s, p) = parse(json!({}));
        assert!(p.is_empty());
        assert_eq!(s, FlexSettings::default());
        assert!(s.internal_call.enable_call_agent && !s.internal_call.enabled);
    }

    #[test]
    fn reads_the_fixture_shape() {
        let (s, p) = parse(json!({
            "taskrouter_offline_activity_sid": "WA00000000000000000000000000000001",
            "outbound_call_flows": {"default": {"workflow_sid": "WW00000000000000000000000000000002",
                "enabled": true, "queue_sid": "WQ00000000000000000000000000000003", "caller_id": "+15005550006"}},
            "ui_attributes": {"custom_data": {"features": {"internal_call": {
                "enabled": true, "enable_call_queue": true, "application_sid": "",
                "outbound_queue_sid": "WQ00000000000000000000000000000004"}}}}
        }));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.offline_activity, Some(Sid::from_u128(1)));
        let o = s.outbound.unwrap();
        assert_eq!(o.workflow_sid, Some(Sid::from_u128(2)));
        assert_eq!(o.caller_id.as_deref(), Some("+15005550006"));
        // Enabled without an application cannot place a call: it reads as off.
        assert!(!s.internal_call.enabled && s.internal_call.enable_call_queue);
        assert_eq!(s.internal_call.application_sid, None);
        assert_eq!(s.internal_call.outbound_queue_sid, Some(Sid::from_u128(4)));
    }

    #[test]
    fn malformed_settings_are_named_by_path() {
        let (s, p) = parse(json!({
            "taskrouter_offline_activity_sid": "WK00000000000000000000000000000001",
            "outbound_call_flows": {"default": {"enabled": "yes"}},
            "ui_attributes": {"custom_data": {"features": {"internal_call": []}}}
        }));
        assert_eq!(
            p,
            [
                "taskrouter_offline_activity_sid: expected a WA… SID, not \"WK00000000000000000000000000000001\"",
                "outbound_call_flows.default.enabled: expected true or false",
                "ui_attributes.custom_data.features.internal_call: expected an object",
            ]
        );
        // What could be read is kept; the rest is unset.
        assert_eq!(s.offline_activity, None);
        assert!(s.outbound.unwrap().enabled);
    }

    #[test]
    fn strict_set_refuses_and_keeps_the_old_document() {
        let mut c = FlexConfig::default();
        c.set(Timestamp(1), &json!({"ui_language": "en"}), true)
            .unwrap();
        let e = c
            .set(Timestamp(2), &json!({"outbound_call_flows": 3}), true)
            .unwrap_err();
        assert_eq!(e.message, "outbound_call_flows: expected an object");
        assert_eq!(c.document().get("ui_language"), Some(&json!("en")));
        c.set(Timestamp(3), &json!({"outbound_call_flows": 3}), false)
            .unwrap();
        assert_eq!(c.settings().outbound, None);
        assert_eq!(c.dates(), Some((Timestamp(1), Timestamp(3))));
    }

    #[test]
    fn the_key_list_is_twilio_s() {
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), 49, "a key is listed twice");
        // The full document has every key, and only those.
        let full = FlexConfig::default().full_document();
        assert_eq!(
            full.keys()
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>(),
            unique
        );
        assert_eq!(full["status"], json!("ok"));
        assert_eq!(full["ui_language"], json!("en"));
        assert_eq!(full["taskrouter_workspace_sid"], Value::Null);
        assert_eq!(full["integrations"], json!([]));
        assert_eq!(full["ui_attributes"], json!({}));
        assert_eq!(full["call_recording_enabled"], json!(false));
    }
}
