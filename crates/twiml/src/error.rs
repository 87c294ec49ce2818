/// Why a document was refused, with Twilio's error code.
///
/// `code` is [`TwimlError::PARSE_FAILURE`] (12100) when the text is not a TwiML document at all
/// and [`TwimlError::SCHEMA_VALIDATION`] (12200) when it is one but something inside it is not
/// acceptable. `message` says what, and where (element path and attribute).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({code}): {message}", self.title())]
pub struct TwimlError {
    pub code: u32,
    pub message: String,
}

impl TwimlError {
    /// Twilio 12100 "Document parse failure": malformed XML, or not TwiML.
    pub const PARSE_FAILURE: u32 = 12100;
    /// Twilio 12200 "Schema validation warning": TwiML with something we cannot accept inside.
    pub const SCHEMA_VALIDATION: u32 = 12200;

    pub(crate) fn parse_failure(message: impl Into<String>) -> Self {
        TwimlError {
            code: Self::PARSE_FAILURE,
            message: message.into(),
        }
    }

    pub(crate) fn schema(message: impl Into<String>) -> Self {
        TwimlError {
            code: Self::SCHEMA_VALIDATION,
            message: message.into(),
        }
    }

    /// Twilio's short title for the code.
    pub fn title(&self) -> &'static str {
        match self.code {
            Self::PARSE_FAILURE => "Document parse failure",
            Self::SCHEMA_VALIDATION => "Schema validation",
            _ => "TwiML error",
        }
    }
}
