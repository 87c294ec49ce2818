//! Evaluation. Values are borrowed from the scope and the expression; nothing is allocated.

use serde_json::Value;

use crate::ast::{ChannelField, CmpOp, Node, Operand, Path, Ref, Seg, WorkerField};
use crate::clock;
use crate::scope::{Scope, WorkerFacts};
use crate::val::{json, lit, Val};

/// Follows `path` from the top of `doc`; anything missing is NULL.
pub(crate) fn walk<'a>(doc: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut current = doc.get(&*path.first)?;
    for seg in path.rest.iter() {
        current = match seg {
            Seg::Key(key) => current.get(&**key)?,
            Seg::Index(i) => current.get(*i)?,
        };
    }
    Some(current)
}

fn walk_val<'a>(doc: &'a Value, path: &Path) -> Val<'a> {
    walk(doc, path).map_or(Val::Null, json)
}

fn worker_field(worker: &dyn WorkerFacts, field: WorkerField) -> Option<&str> {
    match field {
        WorkerField::Sid => worker.sid(),
        WorkerField::FriendlyName => worker.friendly_name(),
        WorkerField::ActivitySid => worker.activity_sid(),
        WorkerField::ActivityName => worker.activity_name(),
    }
}

fn reference<'a>(r: &'a Ref, scope: &Scope<'a>) -> Val<'a> {
    match r {
        Ref::TaskAttr(path) => scope
            .task
            .map_or(Val::Null, |t| walk_val(t.attributes, path)),
        Ref::TaskSid(path) => match scope.task {
            None => Val::Null,
            Some(t) if t.attributes.get("sid").is_some() => walk_val(t.attributes, path),
            Some(t) if path.rest.is_empty() => t.sid.map_or(Val::Null, Val::str),
            Some(_) => Val::Null,
        },
        Ref::WorkerAttr(path) => scope
            .worker
            .map_or(Val::Null, |w| walk_val(w.attributes(), path)),
        Ref::WorkerField(field, path) => match scope.worker {
            None => Val::Null,
            Some(w) => match worker_field(w, *field) {
                Some(s) if path.rest.is_empty() => Val::str(s),
                Some(_) => Val::Null,
                None => walk_val(w.attributes(), path),
            },
        },
        Ref::Channel(name, field) => {
            let Some(facts) = scope.worker.and_then(|w| w.channel(name)) else {
                return Val::Null;
            };
            Val::Num(f64::from(match field {
                ChannelField::ConfiguredCapacity => facts.configured_capacity,
                ChannelField::AssignedTasks => facts.assigned_tasks,
                ChannelField::AvailableCapacityPercentage => facts.available_capacity_percentage,
            }))
        }
        Ref::Clock(field) => scope
            .now
            .map_or(Val::Null, |c| clock::field(*field, c.unix_millis())),
        Ref::Available => scope
            .workers
            .map_or(Val::Null, |w| Val::Num(w.available() as f64)),
        Ref::Unavailable => scope
            .workers
            .map_or(Val::Null, |w| Val::Num(w.unavailable() as f64)),
        Ref::InActivity(sid) => scope
            .workers
            .map_or(Val::Null, |w| Val::Num(w.in_activity(sid) as f64)),
    }
}

fn operand<'a>(o: &'a Operand, scope: &Scope<'a>) -> Val<'a> {
    match o {
        Operand::Lit(l) => lit(l),
        Operand::Array(items) => Val::LitArray(items),
        Operand::Ref(r) => reference(r, scope),
    }
}

/// `==` between two values, neither of them an array or object; NULL equals only NULL.
fn scalar_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x, _), Val::Str(y, _)) => x == y,
        (Val::Num(_), Val::Num(_) | Val::Str(..)) | (Val::Str(..), Val::Num(_)) => {
            match (a.number(), b.number()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Element equality for HAS / IN: containers never equal anything.
fn element_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    !a.is_container() && !b.is_container() && scalar_eq(a, b)
}

fn array_contains(array: &Val<'_>, needle: &Val<'_>) -> Option<bool> {
    match array {
        Val::Array(items) => Some(items.iter().any(|v| element_eq(&json(v), needle))),
        Val::LitArray(items) => Some(items.iter().any(|v| element_eq(&lit(v), needle))),
        _ => None,
    }
}

fn ordering(a: &Val<'_>, b: &Val<'_>) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Str(x, _), Val::Str(y, _)) => Some(x.cmp(y)),
        (Val::Num(_), Val::Num(_) | Val::Str(..)) | (Val::Str(..), Val::Num(_)) => {
            a.number()?.partial_cmp(&b.number()?)
        }
        _ => None,
    }
}

pub(crate) fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    match op {
        CmpOp::Eq if a.is_null() || b.is_null() => a.is_null() && b.is_null(),
        CmpOp::Ne if a.is_null() || b.is_null() => !(a.is_null() && b.is_null()),
        CmpOp::Eq | CmpOp::Ne | CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le | CmpOp::Contains
            if a.is_container() || b.is_container() =>
        {
            false
        }
        CmpOp::Eq => scalar_eq(a, b),
        CmpOp::Ne => !scalar_eq(a, b),
        CmpOp::Gt => ordering(a, b) == Some(Greater),
        CmpOp::Ge => matches!(ordering(a, b), Some(o) if o != Less),
        CmpOp::Lt => ordering(a, b) == Some(Less),
        CmpOp::Le => matches!(ordering(a, b), Some(o) if o != Greater),
        CmpOp::Contains => match (a, b) {
            (Val::Str(x, _), Val::Str(y, _)) => x.contains(y),
            _ => false,
        },
        CmpOp::Has => !b.is_container() && array_contains(a, b) == Some(true),
        CmpOp::In => !a.is_container() && array_contains(b, a) == Some(true),
        CmpOp::NotIn => !a.is_container() && array_contains(b, a) == Some(false),
    }
}

pub(crate) fn eval(node: &Node, scope: &Scope<'_>) -> bool {
    match node {
        Node::And(items) => items.iter().all(|n| eval(n, scope)),
        Node::Or(items) => items.iter().any(|n| eval(n, scope)),
        Node::Not(inner) => !eval(inner, scope),
        Node::Cmp { op, lhs, rhs } => compare(*op, &operand(lhs, scope), &operand(rhs, scope)),
    }
}
