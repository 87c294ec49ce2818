//! What a reference means in each [`Context`], and which references a context refuses.

use std::collections::BTreeSet;

use crate::ast::{ChannelField, ClockField, Path, Ref, Seg, WorkerField};
use crate::error::ExprError;
use crate::lexer::{err, RefSyntax, Token};
use crate::parser::Resolver;

/// Where an expression is used, which decides how its references resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A workflow filter's `expression`, or the REST `EvaluateTaskAttributes` parameter: bare
    /// keys of the task's attributes, plus `taskrouter.*`.
    Filter,
    /// A task queue's `target_workers`, or the REST `TargetWorkersExpression` parameter: bare keys
    /// of the worker's attributes, plus the worker fields `sid`, `friendly_name`, `activity_sid`,
    /// `activity_name`.
    TargetWorkers,
    /// A workflow target's `expression`: every key starts with `task.` or `worker.` (or is
    /// `taskrouter.*`).
    Target,
    /// A workflow target's `skip_if`: `workers.available`, `workers.unavailable`,
    /// `workers.<ActivitySid>`, and `taskrouter.*`.
    SkipIf,
}

/// Resolves references for one context and records what the expression reads.
pub(crate) struct ContextResolver {
    pub context: Context,
    pub uses_clock: bool,
    pub worker_roots: BTreeSet<String>,
    pub task_roots: BTreeSet<String>,
    pub activity_sids: BTreeSet<String>,
}

impl ContextResolver {
    pub fn new(context: Context) -> Self {
        ContextResolver {
            context,
            uses_clock: false,
            worker_roots: BTreeSet::new(),
            task_roots: BTreeSet::new(),
            activity_sids: BTreeSet::new(),
        }
    }
}

fn path(first: &str, rest: &[Seg]) -> Path {
    Path {
        first: first.into(),
        rest: rest.into(),
    }
}

/// The segments after the root, when the first one is a name: `(name, after it)`.
fn split_key(rest: &[Seg]) -> Option<(&str, &[Seg])> {
    match rest.split_first() {
        Some((Seg::Key(key), after)) => Some((key, after)),
        _ => None,
    }
}

fn clock(rest: &[Seg], token: &Token) -> Result<Ref, ExprError> {
    let field = match rest {
        [Seg::Key(name)] => match &**name {
            "currentTime" => Some(ClockField::CurrentTime),
            "currentHour" => Some(ClockField::CurrentHour),
            "currentMin" => Some(ClockField::CurrentMin),
            "dayOfWeek" => Some(ClockField::DayOfWeek),
            _ => None,
        },
        _ => None,
    };
    field.map(Ref::Clock).ok_or_else(|| {
        err(
            format!(
                "unknown '{}': taskrouter.* is one of taskrouter.currentTime, \
                 taskrouter.currentHour, taskrouter.currentMin, taskrouter.dayOfWeek",
                token.text
            ),
            token.col,
        )
    })
}

/// A name as quoted in a message: at most 40 characters.
fn short(name: &str) -> String {
    match name.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_owned(),
    }
}

fn is_activity_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("WA") && s.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

impl ContextResolver {
    fn worker_ref(&mut self, first: &str, rest: &[Seg]) -> Ref {
        self.worker_roots.insert(first.to_owned());
        match WorkerField::from_name(first) {
            Some(field) => Ref::WorkerField(field, path(first, rest)),
            None => Ref::WorkerAttr(path(first, rest)),
        }
    }

    fn target(&mut self, reference: RefSyntax, token: &Token) -> Result<Ref, ExprError> {
        let RefSyntax { root, rest } = reference;
        match root.as_str() {
            "taskrouter" => {
                self.uses_clock = true;
                clock(&rest, token)
            }
            "task" => {
                let (first, after) = split_key(&rest)
                    .ok_or_else(|| err("expected task.<attribute> after 'task'", token.col))?;
                self.task_roots.insert(first.to_owned());
                if first == "sid" {
                    Ok(Ref::TaskSid(path(first, after)))
                } else {
                    Ok(Ref::TaskAttr(path(first, after)))
                }
            }
            "worker" => {
                let (first, after) = split_key(&rest)
                    .ok_or_else(|| err("expected worker.<attribute> after 'worker'", token.col))?;
                if first == "channel" {
                    return channel(after, token);
                }
                Ok(self.worker_ref(first, after))
            }
            _ => Err(err(
                format!(
                    "unknown key '{}': keys in a target expression must start with \
                     'task.' or 'worker.'",
                    short(&root)
                ),
                token.col,
            )),
        }
    }

    fn skip_if(&mut self, reference: RefSyntax, token: &Token) -> Result<Ref, ExprError> {
        match (reference.root.as_str(), reference.rest.as_slice()) {
            ("taskrouter", rest) => {
                self.uses_clock = true;
                clock(rest, token)
            }
            ("workers", [Seg::Key(name)]) if &**name == "available" => Ok(Ref::Available),
            ("workers", [Seg::Key(name)]) if &**name == "unavailable" => Ok(Ref::Unavailable),
            ("workers", [Seg::Key(name)]) if is_activity_sid(name) => {
                self.activity_sids.insert(name.to_string());
                Ok(Ref::InActivity(name.clone()))
            }
            _ => Err(err(
                format!(
                    "unknown key '{}': skip_if can read only workers.available, \
                     workers.unavailable, workers.<ActivitySid> and taskrouter.*",
                    token.text
                ),
                token.col,
            )),
        }
    }
}

fn channel(after: &[Seg], token: &Token) -> Result<Ref, ExprError> {
    let field = match after {
        [Seg::Key(name), Seg::Key(field)] => match &**field {
            "configured_capacity" => Some((name, ChannelField::ConfiguredCapacity)),
            "assigned_tasks" => Some((name, ChannelField::AssignedTasks)),
            "available_capacity_percentage" => {
                Some((name, ChannelField::AvailableCapacityPercentage))
            }
            _ => None,
        },
        _ => None,
    };
    field
        .map(|(name, field)| Ref::Channel(name.clone(), field))
        .ok_or_else(|| {
            err(
                format!(
                    "unknown '{}': expected worker.channel.<name>.configured_capacity, \
                 .assigned_tasks or .available_capacity_percentage",
                    token.text
                ),
                token.col,
            )
        })
}

impl Resolver for ContextResolver {
    fn resolve(&mut self, reference: RefSyntax, token: &Token) -> Result<Ref, ExprError> {
        match self.context {
            Context::Filter => {
                if reference.root == "taskrouter" {
                    self.uses_clock = true;
                    return clock(&reference.rest, token);
                }
                self.task_roots.insert(reference.root.clone());
                Ok(Ref::TaskAttr(path(&reference.root, &reference.rest)))
            }
            Context::TargetWorkers => {
                if reference.root == "taskrouter" {
                    return Err(err(
                        format!(
                            "'{}' cannot be used in target_workers: queue membership must not \
                             depend on the time; use time of day in workflow filters or target \
                             expressions instead",
                            token.text
                        ),
                        token.col,
                    ));
                }
                Ok(self.worker_ref(&reference.root, &reference.rest))
            }
            Context::Target => self.target(reference, token),
            Context::SkipIf => self.skip_if(reference, token),
        }
    }
}
