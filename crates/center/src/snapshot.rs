//! Snapshots of the durable model: what the log's first entries built, written down once, so a
//! start loads the latest snapshot and replays only the entries after it.
//!
//! A [`Snapshot`] holds every workspace (the routing engine's primary state, see
//! `switchboard_routing::snapshot`, and the settings kept beside it: callback URL, events filter,
//! the instructions given with reservations, which live tasks the call path created, the seed and
//! count that name future stored events), the TwiML applications, the Flex configuration
//! document, the API keys, and the log format read last. Nothing else is durable: calls,
//! sessions and audio connections do not survive a restart, and the center's SID generator is
//! seeded afresh at every start (the SIDs it made are in the log).
//!
//! Take it from a center that has replayed entries `0..k` and not started
//! (`center.model().snapshot(center.now())`); a center made with [`Center::restore`] from it and
//! fed entries `k..` is then the same as one fed every entry: the same snapshot, byte for byte,
//! and the same behaviour afterwards. (A live center's model differs from a replayed one only in
//! routing deadlines already fired and a later clock: replaying the tail fires them anyway, so
//! its snapshot gives the same behaviour, though not the same bytes.)
//!
//! The encoding ([`Snapshot::to_bytes`]) is JSON with every map ordered, so the same state is
//! always the same bytes. [`Snapshot::from_bytes`] refuses a snapshot written by a newer program
//! ([`SNAPSHOT_FORMAT`]) and names the field it could not read.
//!
//! [`Center::restore`]: crate::Center::restore

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_routing::snapshot::SnapshotError as EngineSnapshotError;
use switchboard_routing::{Timestamp, Workspace, WorkspaceSnapshot};
use switchboard_sid::{Account, ApiKey, Reservation, Sid, Task};

use crate::entry::TaskOrigin;
use crate::error::CenterError;
use crate::flex::FlexConfig;
use crate::model::{Model, WorkspaceState};
use crate::records::{ApiKeyRecord, ApplicationRecord};

/// The snapshot format this program writes, and the newest it reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Why a snapshot could not be read or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Written by a newer program, in a format this one does not know.
    #[error("the snapshot is in format {found}, newer than this program reads ({SNAPSHOT_FORMAT}); start a newer release, or start from the log alone")]
    TooNew {
        /// Its format.
        found: u32,
    },
    /// A field could not be read.
    #[error("the snapshot cannot be read: {at}: {message}")]
    Decode {
        /// Which field (`workspaces[0].engine.tasks[3]`; empty for the document itself).
        at: String,
        /// What is wrong with it.
        message: String,
    },
    /// It reads, but does not hold together.
    #[error("the snapshot does not hold together: {at}: {message}")]
    Invalid {
        /// Where.
        at: String,
        /// What is wrong.
        message: String,
    },
}

impl SnapshotError {
    fn decode(at: impl Into<String>, message: impl std::fmt::Display) -> SnapshotError {
        SnapshotError::Decode {
            at: at.into(),
            message: message.to_string(),
        }
    }
}

impl From<SnapshotError> for CenterError {
    fn from(e: SnapshotError) -> CenterError {
        CenterError::internal(e.to_string())
    }
}

/// The durable model, written down. See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] when written.
    pub version: u32,
    /// The account.
    pub account: Sid<Account>,
    /// The center's time: the latest entry's.
    pub now: Timestamp,
    /// The log format of the entries read last.
    pub log_format: u32,
    /// Workspaces, by SID.
    pub workspaces: Vec<WorkspaceEntry>,
    /// TwiML applications, by SID.
    pub applications: Vec<ApplicationRecord>,
    /// The Flex configuration.
    pub flex: FlexEntry,
    /// API keys, by SID.
    pub api_keys: Vec<ApiKeyEntry>,
}

/// A workspace: its engine and the settings kept beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceEntry {
    /// The routing engine's state.
    pub engine: WorkspaceSnapshot,
    /// Its name.
    pub friendly_name: String,
    /// Where its events are posted.
    pub event_callback_url: Option<String>,
    /// Which events are posted (all when `None`).
    pub events_filter: Option<Vec<String>>,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
    /// Instructions given with reservation updates, by reservation.
    pub instructions: Vec<InstructionEntry>,
    /// Which path created each live call task, by task.
    pub origins: Vec<OriginEntry>,
    /// Seeds the SIDs of its stored events, as decimal text.
    pub seed: String,
    /// How many events it has had.
    pub event_count: u64,
}

/// An instruction given with a reservation update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstructionEntry {
    /// The reservation.
    pub reservation: Sid<Reservation>,
    /// `conference`, `dequeue`, `call`, ...
    pub instruction: String,
    /// Its parameters, by TaskRouter name.
    pub params: Map<String, Value>,
}

/// Which path created a live task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginEntry {
    /// The task.
    pub task: Sid<Task>,
    /// The path.
    pub origin: TaskOrigin,
}

/// The Flex configuration document (its settings are parsed from it again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlexEntry {
    /// The document as written.
    pub document: Map<String, Value>,
    /// When it was first and last written, if ever.
    pub dates: Option<(Timestamp, Timestamp)>,
}

/// An API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyEntry {
    /// `SK…`.
    pub sid: Sid<ApiKey>,
    /// Its name.
    pub friendly_name: String,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}

impl Model {
    /// The durable state, at `now` (the center's time, [`crate::Center::now`]). Take it between
    /// inputs, from a model that replayed the log's first entries (see the module documentation).
    pub fn snapshot(&self, now: Timestamp) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_FORMAT,
            account: self.account(),
            now,
            log_format: self.format,
            workspaces: self
                .workspaces
                .values()
                .map(|w| WorkspaceEntry {
                    engine: w.engine.snapshot(),
                    friendly_name: w.friendly_name.clone(),
                    event_callback_url: w.event_callback_url.clone(),
                    events_filter: w.events_filter.clone(),
                    date_created: w.date_created,
                    date_updated: w.date_updated,
                    instructions: w
                        .instructions
                        .iter()
                        .map(|(r, (i, p))| InstructionEntry {
                            reservation: *r,
                            instruction: i.clone(),
                            params: p.clone(),
                        })
                        .collect(),
                    origins: w
                        .origins
                        .iter()
                        .map(|(t, o)| OriginEntry {
                            task: *t,
                            origin: *o,
                        })
                        .collect(),
                    seed: w.seed.to_string(),
                    event_count: w.event_count,
                })
                .collect(),
            applications: self.applications.values().cloned().collect(),
            flex: FlexEntry {
                document: self.flex.document().clone(),
                dates: self.flex.dates(),
            },
            api_keys: self
                .api_keys
                .values()
                .map(|k| ApiKeyEntry {
                    sid: k.sid,
                    friendly_name: k.friendly_name.clone(),
                    secret_sha256: k.secret_sha256.clone(),
                    date_created: k.date_created,
                    date_updated: k.date_updated,
                })
                .collect(),
        }
    }

    /// A model rebuilt from a snapshot, replaying (as [`Model::new`] makes it) until
    /// [`Model::go_live`].
    pub fn restore(account: Sid<Account>, s: Snapshot) -> Result<Model, SnapshotError> {
        if s.version > SNAPSHOT_FORMAT {
            return Err(SnapshotError::TooNew { found: s.version });
        }
        if s.account != account {
            return Err(SnapshotError::Invalid {
                at: "account".into(),
                message: format!("is {}, but this server is for {account}", s.account),
            });
        }
        let mut model = Model::new(account);
        model.format = s.log_format;
        for (i, w) in s.workspaces.into_iter().enumerate() {
            let at = format!("workspaces[{i}]");
            let invalid = |message: String| SnapshotError::Invalid {
                at: at.clone(),
                message,
            };
            let seed: u128 = w
                .seed
                .parse()
                .map_err(|_| invalid("seed is not a decimal number".into()))?;
            let engine = Workspace::restore(w.engine).map_err(|e: EngineSnapshotError| {
                SnapshotError::Invalid {
                    at: format!("{at}.engine.{}", e.at),
                    message: e.message,
                }
            })?;
            let sid = engine.sid();
            let origins: BTreeMap<Sid<Task>, TaskOrigin> =
                w.origins.iter().map(|o| (o.task, o.origin)).collect();
            if let Some(o) = w.origins.iter().find(|o| engine.task(o.task).is_none()) {
                return Err(invalid(format!(
                    "origins names {}, which is not a live task",
                    o.task
                )));
            }
            let state = WorkspaceState {
                engine,
                friendly_name: w.friendly_name,
                event_callback_url: w.event_callback_url,
                events_filter: w.events_filter,
                date_created: w.date_created,
                date_updated: w.date_updated,
                instructions: w
                    .instructions
                    .into_iter()
                    .map(|i| (i.reservation, (i.instruction, i.params)))
                    .collect(),
                origins,
                seed,
                event_count: w.event_count,
            };
            if model.workspaces.insert(sid, state).is_some() {
                return Err(invalid(format!("{sid} appears twice")));
            }
        }
        for a in s.applications {
            model.applications.insert(a.sid, a);
        }
        let mut flex = FlexConfig::default();
        if let Some((created, updated)) = s.flex.dates {
            // As replay sets it: leniently, first when it was created, then when last written.
            let document = Value::Object(s.flex.document);
            for at in [created, updated] {
                flex.set(at, &document, false)
                    .map_err(|e| SnapshotError::Invalid {
                        at: "flex.document".into(),
                        message: e.to_string(),
                    })?;
            }
        }
        model.flex = flex;
        for k in s.api_keys {
            model.api_keys.insert(
                k.sid,
                ApiKeyRecord {
                    sid: k.sid,
                    friendly_name: k.friendly_name,
                    secret_sha256: k.secret_sha256,
                    date_created: k.date_created,
                    date_updated: k.date_updated,
                },
            );
        }
        Ok(model)
    }
}

impl Snapshot {
    /// The snapshot as bytes: JSON, every map ordered, so the same state gives the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        serde_json::to_vec(self).map_err(|e| SnapshotError::decode("", e))
    }

    /// Reads a snapshot. One written by a newer program is refused ([`SnapshotError::TooNew`]);
    /// a field that does not read is named ([`SnapshotError::Decode`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        // The common case in one pass; the slow path below reads field by field to say which
        // one fails, and looks at the version before anything else.
        if let Ok(snapshot) = serde_json::from_slice::<Snapshot>(bytes) {
            if snapshot.version > SNAPSHOT_FORMAT {
                return Err(SnapshotError::TooNew {
                    found: snapshot.version,
                });
            }
            return Ok(snapshot);
        }
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| SnapshotError::decode("", format!("is not JSON: {e}")))?;
        let Value::Object(mut top) = doc else {
            return Err(SnapshotError::decode("", "is not a JSON object"));
        };
        let version: u32 = field(&mut top, "", "version")?;
        if version > SNAPSHOT_FORMAT {
            return Err(SnapshotError::TooNew { found: version });
        }
        let workspaces = match top.remove("workspaces") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, w)| workspace(w, &format!("workspaces[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(SnapshotError::decode("workspaces", "is not an array")),
            None => return Err(SnapshotError::decode("workspaces", "is missing")),
        };
        Ok(Snapshot {
            version,
            account: field(&mut top, "", "account")?,
            now: field(&mut top, "", "now")?,
            log_format: field(&mut top, "", "log_format")?,
            workspaces,
            applications: list(&mut top, "", "applications")?,
            flex: field(&mut top, "", "flex")?,
            api_keys: list(&mut top, "", "api_keys")?,
        })
    }
}

fn workspace(v: Value, at: &str) -> Result<WorkspaceEntry, SnapshotError> {
    let Value::Object(mut w) = v else {
        return Err(SnapshotError::decode(at, "is not a JSON object"));
    };
    let engine = match w.remove("engine") {
        Some(Value::Object(e)) => engine(e, &format!("{at}.engine"))?,
        Some(_) => {
            return Err(SnapshotError::decode(
                format!("{at}.engine"),
                "is not an object",
            ))
        }
        None => return Err(SnapshotError::decode(format!("{at}.engine"), "is missing")),
    };
    Ok(WorkspaceEntry {
        engine,
        friendly_name: field(&mut w, at, "friendly_name")?,
        event_callback_url: field(&mut w, at, "event_callback_url")?,
        events_filter: field(&mut w, at, "events_filter")?,
        date_created: field(&mut w, at, "date_created")?,
        date_updated: field(&mut w, at, "date_updated")?,
        instructions: list(&mut w, at, "instructions")?,
        origins: list(&mut w, at, "origins")?,
        seed: field(&mut w, at, "seed")?,
        event_count: field(&mut w, at, "event_count")?,
    })
}

fn engine(mut e: Map<String, Value>, at: &str) -> Result<WorkspaceSnapshot, SnapshotError> {
    Ok(WorkspaceSnapshot {
        sid: field(&mut e, at, "sid")?,
        friendly_name: field(&mut e, at, "friendly_name")?,
        multi_task_enabled: field(&mut e, at, "multi_task_enabled")?,
        prioritize_queue_order: field(&mut e, at, "prioritize_queue_order")?,
        seed: field(&mut e, at, "seed")?,
        now: field(&mut e, at, "now")?,
        default_activity: field(&mut e, at, "default_activity")?,
        timeout_activity: field(&mut e, at, "timeout_activity")?,
        activities: list(&mut e, at, "activities")?,
        channels: list(&mut e, at, "channels")?,
        workers: list(&mut e, at, "workers")?,
        queues: list(&mut e, at, "queues")?,
        workflows: list(&mut e, at, "workflows")?,
        tasks: list(&mut e, at, "tasks")?,
        reservations: list(&mut e, at, "reservations")?,
        timers: list(&mut e, at, "timers")?,
        clock_tasks: list(&mut e, at, "clock_tasks")?,
        clock_timer: field(&mut e, at, "clock_timer")?,
    })
}

fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// One field of an object, typed; a missing field reads as `null` (so an `Option` may be left
/// out, anything else is named as missing).
fn field<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<T, SnapshotError> {
    let value = obj.remove(name).unwrap_or(Value::Null);
    let missing = value.is_null();
    serde_json::from_value(value).map_err(|e| {
        if missing {
            SnapshotError::decode(path(at, name), "is missing")
        } else {
            SnapshotError::decode(path(at, name), e)
        }
    })
}

/// A list field, read item by item so an error names the item.
fn list<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<Vec<T>, SnapshotError> {
    let here = path(at, name);
    match obj.remove(name) {
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map_err(|e| SnapshotError::decode(format!("{here}[{i}]"), e))
            })
            .collect(),
        Some(_) => Err(SnapshotError::decode(here, "is not an array")),
        None => Err(SnapshotError::decode(here, "is missing")),
    }
}
