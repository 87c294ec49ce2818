//! Records the center keeps beside the routing engines: TwiML applications and API keys.

use serde::{Deserialize, Serialize};
use switchboard_routing::Timestamp;
use switchboard_sid::{ApiKey, Application, Sid};

/// A TwiML application (`AP…`). Its serde form is the log's, unchanged since release 0.1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationRecord {
    /// `AP…`.
    pub sid: Sid<Application>,
    /// Its name.
    pub friendly_name: String,
    /// Requested when a call reaches it.
    pub voice_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_method: String,
    /// Requested when `voice_url` fails.
    pub voice_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_fallback_method: String,
    /// Call status callback.
    pub status_callback: Option<String>,
    /// `GET` or `POST`.
    pub status_callback_method: String,
    /// Created at (ms).
    pub date_created: i64,
    /// Last changed at (ms).
    pub date_updated: i64,
}

/// An API key. Only a hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// `SK…`.
    pub sid: Sid<ApiKey>,
    /// Its name.
    pub friendly_name: String,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// Created at.
    pub date_created: Timestamp,
    /// Last changed at.
    pub date_updated: Timestamp,
}
