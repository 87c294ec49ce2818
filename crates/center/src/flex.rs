//! The Flex Configuration: the document as clients wrote it (returned whole by `GET
//! /v1/Configuration`) and the settings the center acts on, parsed once into types when the
//! document is set. Nothing else reads the document by string paths.

use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_routing::Timestamp;
use switchboard_sid::{Activity, Application, Sid, SidKind, TaskQueue, Workflow};

use crate::error::CenterError;

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
    /// The document as written.
    pub fn document(&self) -> &Map<String, Value> {
        &self.document
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
        self.problems
            .push(CenterError::invalid(path, format!("must be {what}")));
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
                "taskrouter_offline_activity_sid must be a WA… SID, not \"WK00000000000000000000000000000001\"",
                "outbound_call_flows.default.enabled must be true or false",
                "ui_attributes.custom_data.features.internal_call must be an object",
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
        assert_eq!(e.message, "outbound_call_flows must be an object");
        assert_eq!(c.document().get("ui_language"), Some(&json!("en")));
        c.set(Timestamp(3), &json!({"outbound_call_flows": 3}), false)
            .unwrap();
        assert_eq!(c.settings().outbound, None);
        assert_eq!(c.dates(), Some((Timestamp(1), Timestamp(3))));
    }
}
