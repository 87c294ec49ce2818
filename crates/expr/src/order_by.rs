//! The two non-boolean mini-languages: `order_by` clauses and `task.<path>` references.

use std::cmp::Ordering;

use serde_json::Value;

use crate::ast::{Path, Seg};
use crate::error::ExprError;
use crate::eval::walk;
use crate::lexer::{err, lex, Tok, Token};
use crate::scope::WorkerFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub path: Path,
    pub direction: Direction,
}

/// Splits `worker.a.b` / `task.a.b` into the path after the prefix.
fn prefixed_path(token: &Token, prefix: &str) -> Option<Path> {
    let Tok::Ref(reference) = &token.tok else {
        return None;
    };
    if reference.root != prefix {
        return None;
    }
    match reference.rest.split_first() {
        Some((Seg::Key(first), rest)) => Some(Path {
            first: first.clone(),
            rest: rest.into(),
        }),
        _ => None,
    }
}

pub(crate) fn parse_order_by(source: &str) -> Result<Vec<Clause>, ExprError> {
    let tokens = lex(source)?;
    let mut clauses = Vec::new();
    let mut iter = tokens.iter();
    while let Some(reference) = iter.next() {
        let path = prefixed_path(reference, "worker").ok_or_else(|| {
            let what = match reference.tok {
                Tok::Eof => "found end of input".to_owned(),
                _ => format!("found {}", reference.describe()),
            };
            err(
                format!("expected worker.<attribute> in order_by, {what}"),
                reference.col,
            )
        })?;
        let direction_token = iter.next();
        let direction = direction_token.and_then(|t| match &t.tok {
            Tok::Ref(r) if r.rest.is_empty() && r.root.eq_ignore_ascii_case("asc") => {
                Some(Direction::Asc)
            }
            Tok::Ref(r) if r.rest.is_empty() && r.root.eq_ignore_ascii_case("desc") => {
                Some(Direction::Desc)
            }
            _ => None,
        });
        let Some(direction) = direction else {
            let (found, col) =
                direction_token.map_or(("end of input".to_owned(), 1), |t| (t.describe(), t.col));
            return Err(err(
                format!(
                    "expected ASC or DESC after '{}', found {found}",
                    reference.text
                ),
                col,
            ));
        };
        clauses.push(Clause { path, direction });
        match iter.next() {
            Some(Token {
                tok: Tok::Comma, ..
            }) => {}
            Some(Token { tok: Tok::Eof, .. }) | None => break,
            Some(t) => {
                return Err(err(
                    format!(
                        "expected ',' or the end of order_by, found {}",
                        t.describe()
                    ),
                    t.col,
                ))
            }
        }
    }
    Ok(clauses)
}

/// An integer attribute value, or `None` (missing, or not an integer).
fn integer(worker: &dyn WorkerFacts, path: &Path) -> Option<i128> {
    let n = walk(worker.attributes(), path)?.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // `as` saturates, which only matters beyond ±1.7e38.
    (f.is_finite() && f.fract() == 0.0).then_some(f as i128)
}

pub(crate) fn compare(clauses: &[Clause], a: &dyn WorkerFacts, b: &dyn WorkerFacts) -> Ordering {
    for clause in clauses {
        let ordering = match (integer(a, &clause.path), integer(b, &clause.path)) {
            (Some(x), Some(y)) => match clause.direction {
                Direction::Asc => x.cmp(&y),
                Direction::Desc => y.cmp(&x),
            },
            // Missing sorts after present, whatever the direction.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

pub(crate) fn parse_task_reference(source: &str) -> Result<Path, ExprError> {
    let tokens = lex(source)?;
    let first = tokens.first();
    let path = first.and_then(|t| prefixed_path(t, "task"));
    match (path, tokens.get(1)) {
        (Some(path), Some(Token { tok: Tok::Eof, .. })) => Ok(path),
        (Some(_), Some(extra)) => Err(err(
            format!(
                "expected only task.<attribute>, found {} after it",
                extra.describe()
            ),
            extra.col,
        )),
        _ => {
            let (found, col) =
                first.map_or(("end of input".to_owned(), 1), |t| (t.describe(), t.col));
            Err(err(
                format!("expected a reference of the form task.<attribute>, found {found}"),
                col,
            ))
        }
    }
}

pub(crate) fn resolve<'a>(path: &Path, task_attributes: &'a Value) -> Option<&'a str> {
    walk(task_attributes, path)?.as_str()
}
