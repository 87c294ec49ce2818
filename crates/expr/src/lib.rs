//! TaskRouter's expression language.
//!
//! An expression is parsed once, for one [`Context`], into an [`Expression`]; evaluating it is
//! then cheap and cannot fail: a comparison the rules do not define is `false`, never an error.
//! The same crate parses the two non-boolean mini-languages that sit beside expressions in a
//! workflow: `order_by` ([`OrderBy`]) and the `known_worker_sid` / `known_worker_friendly_name`
//! references ([`TaskReference`]).
//!
//! This crate knows nothing of workers, queues or time sources: the caller describes what an
//! expression may look at through a [`Scope`]. It does no I/O and reads no clock.
//!
//! A tour: `lexer` turns text into tokens (a whole reference such as `a.b[2]` is one token);
//! `parser` builds the tree, flattening AND/OR chains and limiting nesting to [`MAX_DEPTH`];
//! `resolve` gives each reference its meaning in the [`Context`] (or refuses it); `ast` holds the
//! tree; `eval` evaluates it over borrowed values (`val`) without allocating; `clock` computes
//! `taskrouter.*`; `guard` finds the equality tests a filter can be indexed by
//! ([`Expression::equality_guard`]); `order_by` holds [`OrderBy`] and [`TaskReference`];
//! `scope` is what the caller shows an expression and `error` the one error type. The rules
//! themselves are described in `docs/expressions.md`.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

mod ast;
mod clock;
mod error;
mod eval;
mod guard;
mod lexer;
mod order_by;
mod parser;
mod resolve;
mod scope;
mod val;

#[cfg(test)]
mod tests;

pub use error::ExprError;
pub use guard::{AttributePath, EqualityGuard};
pub use lexer::MAX_SOURCE_BYTES;
pub use parser::MAX_DEPTH;
pub use resolve::Context;
pub use scope::{ChannelFacts, Clock, QueueCounts, Scope, TaskScope, WorkerFacts};

/// A parsed, validated expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    context: Context,
    root: ast::Node,
    uses_clock: bool,
    worker_roots: BTreeSet<String>,
    task_roots: BTreeSet<String>,
    activity_sids: BTreeSet<String>,
}

impl Expression {
    /// Parses `source` for use in `context`.
    pub fn parse(source: &str, context: Context) -> Result<Expression, ExprError> {
        let tokens = lexer::lex(source)?;
        let mut resolver = resolve::ContextResolver::new(context);
        let root = parser::parse(tokens, &mut resolver)?;
        Ok(Expression {
            source: source.to_owned(),
            context,
            root,
            uses_clock: resolver.uses_clock,
            worker_roots: resolver.worker_roots,
            task_roots: resolver.task_roots,
            activity_sids: resolver.activity_sids,
        })
    }

    /// The text the expression was parsed from, unchanged.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The context it was parsed for.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Evaluates the expression. References to anything the scope does not provide are NULL.
    pub fn evaluate(&self, scope: &Scope<'_>) -> bool {
        eval::eval(&self.root, scope)
    }

    /// Whether the expression reads `taskrouter.*`, so that its value can change with time alone.
    pub fn uses_clock(&self) -> bool {
        self.uses_clock
    }

    /// The first segment of every attribute path the expression reads, after the context's
    /// prefix: for `TargetWorkers`, `skills HAS 'x' AND activity_name == 'A'` gives
    /// `{"activity_name", "skills"}`; for `Target`, `task.lang IN worker.langs` gives
    /// `{"lang"}` from [`Expression::task_roots`] and `{"langs"}` from this method.
    /// Used to re-evaluate queue membership only when a key it reads has changed.
    pub fn worker_roots(&self) -> &BTreeSet<String> {
        &self.worker_roots
    }

    /// The first segment of every task attribute path the expression reads (`Filter` and
    /// `Target` contexts; empty otherwise).
    pub fn task_roots(&self) -> &BTreeSet<String> {
        &self.task_roots
    }

    /// A necessary condition on one task attribute's string value, for indexing filters by it
    /// (see [`EqualityGuard`]). `Filter` context only; `None` for other contexts and for
    /// expressions without one.
    pub fn equality_guard(&self) -> Option<EqualityGuard> {
        match self.context {
            Context::Filter => guard::guard(&self.root),
            _ => None,
        }
    }

    /// The activity SIDs named by `workers.WA…` in a `SkipIf` expression (empty otherwise), so
    /// that a workflow naming an activity that does not exist can be refused.
    pub fn activity_sids(&self) -> &BTreeSet<String> {
        &self.activity_sids
    }
}

/// A parsed `order_by`: `worker.level DESC, worker.tenure ASC`.
#[derive(Debug, Clone)]
pub struct OrderBy {
    source: String,
    clauses: Vec<order_by::Clause>,
}

impl OrderBy {
    /// Parses an `order_by` clause list.
    pub fn parse(source: &str) -> Result<OrderBy, ExprError> {
        let clauses = order_by::parse_order_by(source)?;
        Ok(OrderBy {
            source: source.to_owned(),
            clauses,
        })
    }
    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Orders two workers by the clauses alone (`Less` = `a` goes first). Equal when every clause
    /// ties; the caller breaks ties (longest idle first).
    pub fn compare(&self, a: &dyn WorkerFacts, b: &dyn WorkerFacts) -> Ordering {
        order_by::compare(&self.clauses, a, b)
    }
}

/// The value of `known_worker_sid` / `known_worker_friendly_name`: a reference to a task
/// attribute, such as `task.worker_sid`.
#[derive(Debug, Clone)]
pub struct TaskReference {
    source: String,
    path: ast::Path,
}

impl TaskReference {
    /// Parses `task.<path>`.
    pub fn parse(source: &str) -> Result<TaskReference, ExprError> {
        let path = order_by::parse_task_reference(source)?;
        Ok(TaskReference {
            source: source.to_owned(),
            path,
        })
    }
    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// The string the reference points at in these task attributes; `None` when it is missing,
    /// null or not a string.
    pub fn resolve<'a>(&self, task_attributes: &'a Value) -> Option<&'a str> {
        order_by::resolve(&self.path, task_attributes)
    }
}
