//! Access tokens for agent desktops: JWTs shaped like Twilio's (`cty: twilio-fpa;v=1`, a
//! `grants` claim with `identity`, `voice` and `task_router` grants), signed with HS256 by a key
//! only this server knows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The worker.
    pub worker: Sid<Worker>,
    /// The client identity.
    pub identity: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON in them.
    #[error("the access token is malformed")]
    Malformed,
    /// Wrong signature.
    #[error("the access token's signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("the access token has expired")]
    Expired,
    /// No TaskRouter worker grant.
    #[error("the access token has no TaskRouter worker grant")]
    NoGrant,
    /// Before its `nbf`.
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Issued for another account.
    #[error("the access token is for another account")]
    OtherAccount,
}

fn sign(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(e) => unreachable!("HMAC accepts keys of any length: {e}"),
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Issues a token for a worker, valid for `ttl_secs` from `now_secs`.
pub fn issue(
    key: &[u8],
    key_sid: &str,
    account_sid: &str,
    grant: &Grant,
    now_secs: i64,
    ttl_secs: i64,
) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"});
    let payload = json!({
        "jti": format!("{key_sid}-{now_secs}"),
        "iss": key_sid,
        "sub": account_sid,
        "iat": now_secs,
        "nbf": now_secs,
        "exp": now_secs + ttl_secs,
        "grants": {
            "identity": grant.identity,
            "voice": {"incoming": {"allow": true}},
            "task_router": {
                "workspace_sid": grant.workspace.to_string(),
                "worker_sid": grant.worker.to_string(),
                "role": "worker",
            },
        },
    });
    let data = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(sign(key, &data));
    format!("{data}.{signature}")
}

/// Checks a token (signature, `nbf`/`exp`, and that it is for `account_sid`) and returns its grant.
pub fn verify(
    key: &[u8],
    token: &str,
    now_secs: i64,
    account_sid: &str,
) -> Result<Grant, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let given = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let expected = sign(key, &format!("{h}.{p}"));
    if !crate::signature::constant_time_eq(&given, &expected) {
        return Err(TokenError::BadSignature);
    }
    let payload: Value = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if payload
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now_secs)
    {
        return Err(TokenError::Expired);
    }
    if payload
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now_secs)
    {
        return Err(TokenError::NotYetValid);
    }
    if payload.get("sub").and_then(Value::as_str) != Some(account_sid) {
        return Err(TokenError::OtherAccount);
    }
    let tr = payload
        .pointer("/grants/task_router")
        .ok_or(TokenError::NoGrant)?;
    let workspace = tr
        .get("workspace_sid")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or(TokenError::NoGrant)?;
    let worker = tr
        .get("worker_sid")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or(TokenError::NoGrant)?;
    let identity = payload
        .pointer("/grants/identity")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Grant {
        workspace,
        worker,
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            workspace: Sid::from_u128(1),
            worker: Sid::from_u128(2),
            identity: "alice".into(),
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let t = issue(b"key", "SK1", "AC1", &grant(), 1000, 60);
        assert_eq!(verify(b"key", &t, 1030, "AC1"), Ok(grant()));
        assert_eq!(
            verify(b"key", &t, 1030, "AC2"),
            Err(TokenError::OtherAccount)
        );
        assert_eq!(verify(b"key", &t, 999, "AC1"), Err(TokenError::NotYetValid));
        assert_eq!(
            verify(b"other", &t, 1030, "AC1"),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(b"key", &t, 1060, "AC1"), Err(TokenError::Expired));
        assert_eq!(
            verify(b"key", "a.b", 1030, "AC1"),
            Err(TokenError::Malformed)
        );
        let mut tampered = t.clone();
        tampered.insert(40, 'x');
        assert!(verify(b"key", &tampered, 1030, "AC1").is_err());
    }
}
