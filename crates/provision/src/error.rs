//! The crate's error, and the list formatting its messages use.

use crate::api::HttpError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request failed: what we were doing, the HTTP status and Twilio's message.
    #[error("failed to {action}: {http}")]
    Request {
        /// What the request was for, e.g. `create workflow "Internal Call"`.
        action: String,
        /// The status and message.
        http: HttpError,
    },
    /// A resource is missing, ambiguous or cannot be set up; the message says which and lists
    /// what was found.
    #[error("{0}")]
    Invalid(String),
    /// Writing progress or a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn request(action: impl Into<String>) -> impl FnOnce(HttpError) -> Error {
        let action = action.into();
        move |http| Error::Request { action, http }
    }
}

/// `"a", "b", "c"`, or `nothing` for an empty list.
pub(crate) fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = names.into_iter().map(|n| format!("\"{n}\"")).collect();
    if list.is_empty() {
        "nothing".to_string()
    } else {
        list.join(", ")
    }
}
