//! Why the center refused an input: a kind (which the HTTP layer turns into a status), Twilio's
//! error code as data, and a message that says what was wrong and where.

use switchboard_routing::EngineError;
use switchboard_voice::VoiceError;

/// The class of a refusal, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong (a parameter, or the state does not allow it).
    Invalid,
    /// What it names does not exist (or is not the caller's).
    NotFound,
    /// It would clash with something that exists (a taken unique name).
    Conflict,
    /// It existed and is gone for good.
    Gone,
    /// The center cannot take changes now.
    Unavailable,
    /// A fault of ours, not of the input.
    Internal,
}

/// A refused input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CenterError {
    /// The class.
    pub kind: ErrorKind,
    /// Twilio's error code (20001, 20404, 40136, ...).
    pub code: u32,
    /// What was wrong and where.
    pub message: String,
}

impl CenterError {
    /// A refusal with a specific Twilio code.
    pub fn coded(kind: ErrorKind, code: u32, message: impl Into<String>) -> CenterError {
        CenterError {
            kind,
            code,
            message: message.into(),
        }
    }

    /// 20001: a parameter is wrong; the message starts with its name.
    pub fn invalid(param: &str, message: impl std::fmt::Display) -> CenterError {
        CenterError::coded(ErrorKind::Invalid, 20001, format!("{param} {message}"))
    }

    /// 20001: a required parameter is missing.
    pub fn missing(param: &str) -> CenterError {
        CenterError::coded(
            ErrorKind::Invalid,
            20001,
            format!("Required parameter {param} missing."),
        )
    }

    /// 20404: `what` does not exist.
    pub fn not_found(what: impl std::fmt::Display) -> CenterError {
        CenterError::coded(
            ErrorKind::NotFound,
            20404,
            format!("The requested resource {what} was not found"),
        )
    }

    /// 20503: no changes are possible now.
    pub fn unavailable(message: impl Into<String>) -> CenterError {
        CenterError::coded(ErrorKind::Unavailable, 20503, message)
    }

    /// 20500: our own fault.
    pub fn internal(message: impl Into<String>) -> CenterError {
        CenterError::coded(ErrorKind::Internal, 20500, message)
    }
}

impl From<EngineError> for CenterError {
    fn from(e: EngineError) -> CenterError {
        match &e {
            EngineError::NotFound { kind, sid } => CenterError::not_found(format!("{kind} {sid}")),
            EngineError::Gone { .. } => CenterError::coded(ErrorKind::Gone, 20410, e.to_string()),
            EngineError::AlreadyExists { .. } => {
                CenterError::coded(ErrorKind::Conflict, 20409, e.to_string())
            }
            EngineError::Invalid { .. }
            | EngineError::Conflict(_)
            | EngineError::NoMatchingFilter { .. }
            | EngineError::LimitExceeded(_) => {
                CenterError::coded(ErrorKind::Invalid, 20001, e.to_string())
            }
        }
    }
}

impl From<VoiceError> for CenterError {
    fn from(e: VoiceError) -> CenterError {
        match e {
            VoiceError::NoCall(sid) => CenterError::not_found(format!("Call {sid}")),
            VoiceError::NoConference(sid) => CenterError::not_found(format!("Conference {sid}")),
            VoiceError::NotParticipant { call, conference } => {
                CenterError::not_found(format!("Participant {call} of Conference {conference}"))
            }
            VoiceError::State(message) | VoiceError::Invalid(message) => {
                CenterError::coded(ErrorKind::Invalid, 20001, message)
            }
        }
    }
}
