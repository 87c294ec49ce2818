//! JSON attribute documents of tasks and workers.

use std::sync::Arc;

use serde_json::Value;

use crate::error::EngineError;

/// The most characters an attributes document may have (TaskRouter's limit; whitespace counts).
pub const MAX_ATTRIBUTES_CHARS: usize = 4096;

/// An attributes document: the text as it was given, and its parsed form. Cheap to clone: one
/// shared allocation holds both, so a clone (every event snapshot of a task or worker makes one)
/// is a single reference-count increment and the handle is one pointer wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributes {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq)]
struct Inner {
    raw: Box<str>,
    value: Value,
}

impl Attributes {
    /// Parses and checks an attributes document: a JSON object of at most
    /// [`MAX_ATTRIBUTES_CHARS`] characters. `param` names the parameter in errors.
    pub fn parse(param: &'static str, text: &str) -> Result<Attributes, EngineError> {
        // A text of at most the limit in bytes is within it in characters: no need to count.
        let chars = if text.len() <= MAX_ATTRIBUTES_CHARS {
            0
        } else {
            text.chars().count()
        };
        if chars > MAX_ATTRIBUTES_CHARS {
            return Err(EngineError::invalid(
                param,
                format!("is {chars} characters long; the limit is {MAX_ATTRIBUTES_CHARS}"),
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| EngineError::invalid(param, format!("is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(EngineError::invalid(param, "must be a JSON object"));
        }
        Ok(Attributes {
            inner: Arc::new(Inner {
                raw: Box::from(text),
                value,
            }),
        })
    }

    /// The empty document `{}`.
    pub fn empty() -> Attributes {
        Attributes {
            inner: Arc::new(Inner {
                raw: Box::from("{}"),
                value: Value::Object(serde_json::Map::new()),
            }),
        }
    }

    /// The document as it was given.
    pub fn raw(&self) -> &str {
        &self.inner.raw
    }

    /// The parsed document (always an object).
    pub fn value(&self) -> &Value {
        &self.inner.value
    }

    /// The top-level keys whose values differ between `self` and `other` (present in one only,
    /// or different).
    pub fn changed_keys(&self, other: &Attributes) -> Vec<String> {
        let empty = serde_json::Map::new();
        let a = self.value().as_object().unwrap_or(&empty);
        let b = other.value().as_object().unwrap_or(&empty);
        let mut keys: Vec<String> = a
            .iter()
            .filter(|(k, v)| b.get(k.as_str()) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        keys.extend(b.keys().filter(|k| !a.contains_key(k.as_str())).cloned());
        keys
    }
}
