//! The values evaluation compares, borrowed from the scope and the expression.

use serde_json::Value;

use crate::ast::Lit;

/// Whether a string's numeric value is already known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NumHint {
    Unknown,
    Known(Option<f64>),
}

/// A value being compared.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'a str, NumHint),
    Array(&'a [Value]),
    LitArray(&'a [Lit]),
    Object,
}

impl<'a> Val<'a> {
    pub fn str(s: &'a str) -> Val<'a> {
        Val::Str(s, NumHint::Unknown)
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    pub(crate) fn is_container(&self) -> bool {
        matches!(self, Val::Array(_) | Val::LitArray(_) | Val::Object)
    }

    /// The number a number or numeric string stands for.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            Val::Num(n) => Some(n),
            Val::Str(_, NumHint::Known(n)) => n,
            Val::Str(s, NumHint::Unknown) => crate::ast::parse_number(s),
            _ => None,
        }
    }
}

pub(crate) fn json(value: &Value) -> Val<'_> {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Val::Null, Val::Num),
        Value::String(s) => Val::str(s),
        Value::Array(items) => Val::Array(items),
        Value::Object(_) => Val::Object,
    }
}

pub(crate) fn lit(value: &Lit) -> Val<'_> {
    match value {
        Lit::Null => Val::Null,
        Lit::Bool(b) => Val::Bool(*b),
        Lit::Num(n) => Val::Num(*n),
        Lit::Str { value, number } => Val::Str(value, NumHint::Known(*number)),
    }
}
