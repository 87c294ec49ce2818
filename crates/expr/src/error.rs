//! The one error type: what is wrong with an expression's text, and where.

/// A parse or validation error: what is wrong, and where (1-based column, counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ExprError {
    /// What is wrong, e.g. "expected a value after IN".
    pub message: String,
    /// 1-based column, in characters, where the problem was found.
    pub column: usize,
}
