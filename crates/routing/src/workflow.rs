//! Workflow configuration: Twilio's `task_routing` JSON, validated and compiled once.
//!
//! Every expression in it is parsed when the workflow is saved, so routing never meets an
//! unparsed string. Errors name the place: `filters[1].targets[0].expression: expected ...`.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use switchboard_expr::{AttributePath, Context, Expression, OrderBy, Scope, TaskReference};
use switchboard_sid::{Sid, TaskQueue};

use crate::error::EngineError;

/// The largest configuration TaskRouter accepts, in bytes.
pub const MAX_CONFIGURATION_BYTES: usize = 1_038_576;
/// The highest task priority.
pub const MAX_PRIORITY: u32 = 2_147_483_647;

/// A validated workflow configuration.
#[derive(Debug)]
pub struct RoutingConfig {
    /// The filters, in order.
    pub filters: Vec<Filter>,
    /// The target for tasks that match no filter (or skip out of the last one).
    pub default_filter: Option<Target>,
    /// The configuration text this was compiled from, when it is a workflow's (not the one-step
    /// configuration of a task routed straight to a queue): kept so a snapshot can write down
    /// the configuration a task is still routed under after its workflow changed.
    pub(crate) source: Option<Arc<str>>,
    /// The filters by their equality tests, for [`RoutingConfig::first_match`].
    index: FilterIndex,
}

/// One filter: an expression over task attributes and the targets it walks.
#[derive(Debug)]
pub struct Filter {
    /// `filter_friendly_name` (or legacy `friendly_name`).
    pub friendly_name: Option<Arc<str>>,
    /// The match expression.
    pub expression: Expression,
    /// The targets, in order, with inherited queues resolved.
    pub targets: Vec<Target>,
}

/// Which worker a target is restricted to.
#[derive(Debug)]
pub enum KnownWorker {
    /// `known_worker_sid`: a task attribute holding a worker SID.
    Sid(TaskReference),
    /// `known_worker_friendly_name`: a task attribute holding a worker's friendly name.
    FriendlyName(TaskReference),
}

/// One routing step.
#[derive(Debug)]
pub struct Target {
    /// The queue (inherited from the previous target when not given).
    pub queue: Sid<TaskQueue>,
    /// The worker expression (`task.` / `worker.`).
    pub expression: Option<Expression>,
    /// The priority the task takes when it reaches this step.
    pub priority: Option<u32>,
    /// Seconds, counted from the task's creation, cumulatively over the filter's targets.
    pub timeout: Option<u64>,
    /// Worker ordering.
    pub order_by: Option<OrderBy>,
    /// When to skip this step if no reservation can be made at once.
    pub skip_if: Option<Expression>,
    /// A known-worker restriction.
    pub known_worker: Option<KnownWorker>,
}

impl RoutingConfig {
    /// Parses and validates a configuration document. `queue_exists` and `activity_exists`
    /// answer whether a SID names a queue / an activity of this workspace.
    pub fn parse(
        text: &str,
        queue_exists: &dyn Fn(Sid<TaskQueue>) -> bool,
        activity_exists: &dyn Fn(&str) -> bool,
    ) -> Result<RoutingConfig, EngineError> {
        if text.len() > MAX_CONFIGURATION_BYTES {
            return Err(invalid(format!(
                "is {} bytes long; the limit is {MAX_CONFIGURATION_BYTES}",
                text.len()
            )));
        }
        let doc: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("is not valid JSON: {e}")))?;
        let root = doc
            .as_object()
            .ok_or_else(|| invalid("must be a JSON object"))?;
        let routing = root
            .get("task_routing")
            .ok_or_else(|| invalid("has no task_routing"))?;
        let routing = object(routing, "task_routing")?;
        let cx = Checker {
            queue_exists,
            activity_exists,
        };

        let mut filters = Vec::new();
        match routing.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    filters.push(cx.filter(item, &format!("filters[{i}]"))?);
                }
            }
            Some(_) => return Err(at("task_routing.filters", "must be an array")),
        }
        let default_filter = match routing.get("default_filter") {
            None | Some(Value::Null) => None,
            Some(v) => Some(cx.target(v, "default_filter", None)?),
        };
        Ok(RoutingConfig::new(filters, default_filter, None))
    }

    /// A configuration of these filters, indexed.
    pub(crate) fn new(
        filters: Vec<Filter>,
        default_filter: Option<Target>,
        source: Option<Arc<str>>,
    ) -> RoutingConfig {
        let index = FilterIndex::build(&filters);
        RoutingConfig {
            filters,
            default_filter,
            source,
            index,
        }
    }

    /// The position of the first filter at or after `from` whose expression is true in
    /// `scope`: the same answer as evaluating
    /// `filters[from..]` in order, found through the index. Only filters that may match (their
    /// guard admits the task's value, or they have no guard) are looked at, in order, and a
    /// filter whose guard is exact needs no evaluation.
    pub fn first_match(&self, scope: &Scope<'_>, from: usize) -> Option<usize> {
        let idx = &self.index;
        let attributes = scope.task.map(|t| t.attributes);
        let from = u32::try_from(from).unwrap_or(u32::MAX);
        // One ascending list of candidate positions per source: the unguarded filters, then for
        // each indexed attribute the filters whose guard admits the task's value.
        let mut lists: [&[Candidate]; MAX_INDEXED_PATHS + 1] = [&[]; MAX_INDEXED_PATHS + 1];
        lists[0] = &idx.unguarded;
        for (list, p) in lists[1..].iter_mut().zip(&idx.paths) {
            if let Some(Value::String(s)) = attributes.and_then(|a| p.path.lookup(a)) {
                if let Some(found) = p.by_value.get(s.as_str()) {
                    *list = found;
                }
            }
        }
        let used = 1 + idx.paths.len();
        for list in &mut lists[..used] {
            let start = list.partition_point(|c| c.pos < from);
            *list = &list[start..];
        }
        loop {
            // The smallest head of the lists; positions are distinct across lists.
            let (k, c) = lists[..used]
                .iter()
                .enumerate()
                .filter_map(|(k, l)| l.first().map(|c| (k, *c)))
                .min_by_key(|(_, c)| c.pos)?;
            lists[k] = &lists[k][1..];
            let pos = c.pos as usize;
            if c.exact || self.filters[pos].expression.evaluate(scope) {
                return Some(pos);
            }
        }
    }

    /// The same as [`RoutingConfig::first_match`], by evaluating every filter in order (the
    /// reference the index is tested against).
    pub fn first_match_unindexed(&self, scope: &Scope<'_>, from: usize) -> Option<usize> {
        self.filters
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, f)| f.expression.evaluate(scope))
            .map(|(i, _)| i)
    }

    /// Every queue the configuration routes to.
    pub fn queues(&self) -> impl Iterator<Item = Sid<TaskQueue>> + '_ {
        self.filters
            .iter()
            .flat_map(|f| f.targets.iter())
            .chain(self.default_filter.iter())
            .map(|t| t.queue)
    }
}

/// The most task attributes one workflow's filters are indexed by; filters guarded by further
/// attributes (the least used ones) are evaluated in order like unguarded ones.
const MAX_INDEXED_PATHS: usize = 8;

/// A filter position that may match, and whether its guard alone decides.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    pos: u32,
    exact: bool,
}

/// Workflow filters indexed by their equality guards ([`Expression::equality_guard`]).
#[derive(Debug, Default)]
struct FilterIndex {
    /// Filters evaluated for every task: no guard, or a guard on an attribute not indexed.
    unguarded: Vec<Candidate>,
    /// One entry per indexed attribute, most used first.
    paths: Vec<PathIndex>,
}

/// The filters guarded by one attribute, by the string values their guards admit.
#[derive(Debug)]
struct PathIndex {
    path: AttributePath,
    by_value: FxHashMap<Box<str>, Vec<Candidate>>,
}

impl FilterIndex {
    fn build(filters: &[Filter]) -> FilterIndex {
        let guards: Vec<_> = filters
            .iter()
            .map(|f| f.expression.equality_guard())
            .collect();
        // The attributes guards test, by how many filters test each (first seen breaks ties,
        // so the choice is deterministic).
        let mut counts: Vec<(&AttributePath, usize)> = Vec::new();
        for g in guards.iter().flatten() {
            match counts.iter_mut().find(|(p, _)| *p == &g.path) {
                Some((_, n)) => *n += 1,
                None => counts.push((&g.path, 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        counts.truncate(MAX_INDEXED_PATHS);
        let mut index = FilterIndex {
            unguarded: Vec::new(),
            paths: counts
                .iter()
                .map(|(p, _)| PathIndex {
                    path: (*p).clone(),
                    by_value: FxHashMap::default(),
                })
                .collect(),
        };
        for (pos, g) in guards.iter().enumerate() {
            let Ok(pos) = u32::try_from(pos) else {
                break; // more than 4 billion filters cannot fit in a configuration
            };
            let slot = g
                .as_ref()
                .and_then(|g| Some((g, index.paths.iter_mut().find(|p| p.path == g.path)?)));
            match slot {
                Some((g, p)) => {
                    for v in &g.values {
                        p.by_value.entry(v.clone()).or_default().push(Candidate {
                            pos,
                            exact: g.exact,
                        });
                    }
                }
                None => index.unguarded.push(Candidate { pos, exact: false }),
            }
        }
        index
    }
}

struct Checker<'a> {
    queue_exists: &'a dyn Fn(Sid<TaskQueue>) -> bool,
    activity_exists: &'a dyn Fn(&str) -> bool,
}

impl Checker<'_> {
    fn filter(&self, v: &Value, path: &str) -> Result<Filter, EngineError> {
        let f = object(v, path)?;
        let friendly_name = match f
            .get("filter_friendly_name")
            .or_else(|| f.get("friendly_name"))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Arc::from(s.as_str())),
            Some(_) => {
                return Err(at(
                    &format!("{path}.filter_friendly_name"),
                    "must be a string",
                ))
            }
        };
        let expression = match f.get("expression") {
            Some(Value::String(s)) => Expression::parse(s, Context::Filter)
                .map_err(|e| at(&format!("{path}.expression"), e.to_string()))?,
            None | Some(Value::Null) => {
                return Err(at(&format!("{path}.expression"), "is required"))
            }
            Some(_) => return Err(at(&format!("{path}.expression"), "must be a string")),
        };
        let items = match f.get("targets") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(Value::Array(_)) | None | Some(Value::Null) => {
                return Err(at(
                    &format!("{path}.targets"),
                    "must list at least one target",
                ))
            }
            Some(_) => return Err(at(&format!("{path}.targets"), "must be an array")),
        };
        let mut targets: Vec<Target> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let inherited = targets.last().map(|t| t.queue);
            targets.push(self.target(item, &format!("{path}.targets[{i}]"), inherited)?);
        }
        Ok(Filter {
            friendly_name,
            expression,
            targets,
        })
    }

    fn target(
        &self,
        v: &Value,
        path: &str,
        inherited_queue: Option<Sid<TaskQueue>>,
    ) -> Result<Target, EngineError> {
        let t = object(v, path)?;
        let field = |name: &str| format!("{path}.{name}");
        let queue = match t.get("queue") {
            Some(Value::String(s)) => {
                let sid: Sid<TaskQueue> =
                    s.parse().map_err(|e| at(&field("queue"), format!("{e}")))?;
                if !(self.queue_exists)(sid) {
                    return Err(at(
                        &field("queue"),
                        format!("names {sid}, which is not a task queue of this workspace"),
                    ));
                }
                sid
            }
            None | Some(Value::Null) => inherited_queue.ok_or_else(|| {
                at(
                    &field("queue"),
                    "is required on the first target of a filter",
                )
            })?,
            Some(_) => return Err(at(&field("queue"), "must be a TaskQueue SID string")),
        };
        let string = |name: &str| -> Result<Option<&str>, EngineError> {
            match t.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(at(&field(name), "must be a string")),
            }
        };
        let expression = string("expression")?
            .map(|s| Expression::parse(s, Context::Target))
            .transpose()
            .map_err(|e| at(&field("expression"), e.to_string()))?;
        let skip_if = string("skip_if")?
            .map(|s| Expression::parse(s, Context::SkipIf))
            .transpose()
            .map_err(|e| at(&field("skip_if"), e.to_string()))?;
        if let Some(skip) = &skip_if {
            if let Some(missing) = skip
                .activity_sids()
                .iter()
                .find(|a| !(self.activity_exists)(a))
            {
                return Err(at(
                    &field("skip_if"),
                    format!("names {missing}, which is not an activity of this workspace"),
                ));
            }
        }
        let order_by = string("order_by")?
            .map(OrderBy::parse)
            .transpose()
            .map_err(|e| at(&field("order_by"), e.to_string()))?;
        let known_sid = string("known_worker_sid")?;
        let known_name = string("known_worker_friendly_name")?;
        let known_worker = match (known_sid, known_name) {
            (Some(_), Some(_)) => {
                return Err(at(
                    path,
                    "sets both known_worker_sid and known_worker_friendly_name; use one",
                ))
            }
            (Some(s), None) => {
                Some(KnownWorker::Sid(TaskReference::parse(s).map_err(|e| {
                    at(&field("known_worker_sid"), e.to_string())
                })?))
            }
            (None, Some(s)) => Some(KnownWorker::FriendlyName(
                TaskReference::parse(s)
                    .map_err(|e| at(&field("known_worker_friendly_name"), e.to_string()))?,
            )),
            (None, None) => None,
        };
        let priority = integer(t.get("priority"), &field("priority"))?
            .map(|p| {
                u32::try_from(p)
                    .ok()
                    .filter(|p| *p <= MAX_PRIORITY)
                    .ok_or_else(|| {
                        at(
                            &field("priority"),
                            format!("must be between 0 and {MAX_PRIORITY}"),
                        )
                    })
            })
            .transpose()?;
        let timeout = integer(t.get("timeout"), &field("timeout"))?
            .map(|s| {
                u64::try_from(s)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| at(&field("timeout"), "must be a positive number of seconds"))
            })
            .transpose()?;
        Ok(Target {
            queue,
            expression,
            priority,
            timeout,
            order_by,
            skip_if,
            known_worker,
        })
    }
}

/// An integer given as a JSON number or a numeric string (TaskRouter's own examples use both).
fn integer(v: Option<&Value>, path: &str) -> Result<Option<i64>, EngineError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| at(path, "must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| at(path, format!("must be an integer, got {s:?}"))),
        Some(_) => Err(at(path, "must be an integer")),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, EngineError> {
    v.as_object()
        .ok_or_else(|| at(path, "must be a JSON object"))
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::invalid("Configuration", message)
}

fn at(path: &str, message: impl std::fmt::Display) -> EngineError {
    // Paths inside task_routing are written without the prefix, as Twilio users read them.
    invalid(format!("is invalid: {path}: {message}"))
}
