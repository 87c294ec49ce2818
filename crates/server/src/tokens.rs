//! Access tokens for agent desktops: JWTs shaped like Twilio's (`cty: twilio-fpa;v=1`, a
//! `grants` claim with `identity`, `voice` and `task_router` grants), signed with HS256 by a key
//! only this server knows.
//!
//! `jsonwebtoken` makes and checks the JWT (encoding, the HS256 signature, the header's `alg`);
//! the claims are read into typed structs, so a claim of the wrong JSON type is a malformed token,
//! and their times are checked here against the caller's clock (`jsonwebtoken` would read the
//! system clock itself).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
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

/// Why a token is refused (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON in them, or claims of the wrong type.
    #[error("the access token is malformed")]
    Malformed,
    /// Wrong signature (or not HS256).
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
    /// Signing failed (it cannot for HS256; the library's error is kept all the same).
    #[error("the access token could not be signed: {0}")]
    Signing(String),
}

/// The claims as issued.
#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    grants: Grants<'a>,
}

#[derive(Serialize)]
struct Grants<'a> {
    identity: &'a str,
    voice: serde_json::Value,
    task_router: TaskRouterGrant<'a>,
}

#[derive(Serialize)]
struct TaskRouterGrant<'a> {
    workspace_sid: String,
    worker_sid: String,
    role: &'a str,
}

/// The claims as checked: what is absent is `None`; what has the wrong type fails to decode.
#[derive(Deserialize)]
struct Presented {
    exp: Option<i64>,
    nbf: Option<i64>,
    sub: Option<String>,
    grants: Option<PresentedGrants>,
}

#[derive(Deserialize)]
struct PresentedGrants {
    identity: Option<String>,
    task_router: Option<PresentedTaskRouter>,
}

#[derive(Deserialize)]
struct PresentedTaskRouter {
    workspace_sid: Option<String>,
    worker_sid: Option<String>,
}

fn header() -> Header {
    Header {
        typ: Some("JWT".into()),
        cty: Some("twilio-fpa;v=1".into()),
        ..Header::new(Algorithm::HS256)
    }
}

/// Issues a token for a worker, valid for `ttl_secs` from `now_secs`.
pub fn issue(
    key: &[u8],
    key_sid: &str,
    account_sid: &str,
    grant: &Grant,
    now_secs: i64,
    ttl_secs: i64,
) -> Result<String, TokenError> {
    let claims = Claims {
        jti: format!("{key_sid}-{now_secs}"),
        iss: key_sid,
        sub: account_sid,
        iat: now_secs,
        nbf: now_secs,
        exp: now_secs.saturating_add(ttl_secs),
        grants: Grants {
            identity: &grant.identity,
            voice: serde_json::json!({"incoming": {"allow": true}}),
            task_router: TaskRouterGrant {
                workspace_sid: grant.workspace.to_string(),
                worker_sid: grant.worker.to_string(),
                role: "worker",
            },
        },
    };
    jsonwebtoken::encode(&header(), &claims, &EncodingKey::from_secret(key))
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// Checks a token (signature, `nbf`/`exp`, and that it is for `account_sid`) and returns its grant.
pub fn verify(
    key: &[u8],
    token: &str,
    now_secs: i64,
    account_sid: &str,
) -> Result<Grant, TokenError> {
    verify_with_expiry(key, token, now_secs, account_sid).map(|(g, _)| g)
}

/// [`verify`], also giving the token's `exp` (seconds since the Unix epoch).
pub fn verify_with_expiry(
    key: &[u8],
    token: &str,
    now_secs: i64,
    account_sid: &str,
) -> Result<(Grant, i64), TokenError> {
    // The library checks the signature and `alg`; the claims are checked below, on our clock.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    let claims =
        jsonwebtoken::decode::<Presented>(token, &DecodingKey::from_secret(key), &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed,
            })?
            .claims;
    let exp = match claims.exp {
        Some(exp) if exp > now_secs => exp,
        _ => return Err(TokenError::Expired),
    };
    if claims.nbf.is_some_and(|nbf| nbf > now_secs) {
        return Err(TokenError::NotYetValid);
    }
    if claims.sub.as_deref() != Some(account_sid) {
        return Err(TokenError::OtherAccount);
    }
    let grants = claims.grants.ok_or(TokenError::NoGrant)?;
    let tr = grants.task_router.ok_or(TokenError::NoGrant)?;
    let workspace = tr
        .workspace_sid
        .and_then(|s| s.parse().ok())
        .ok_or(TokenError::NoGrant)?;
    let worker = tr
        .worker_sid
        .and_then(|s| s.parse().ok())
        .ok_or(TokenError::NoGrant)?;
    Ok((
        Grant {
            workspace,
            worker,
            identity: grants.identity.unwrap_or_default(),
        },
        exp,
    ))
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
        let t = issue(b"key", "SK1", "AC1", &grant(), 1000, 60).unwrap();
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

    fn part(v: &serde_json::Value) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn unpart(p: &str) -> serde_json::Value {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// A token with this header and these claims, signed with HMAC-SHA256 whatever it says.
    fn signed(key: &[u8], header: serde_json::Value, claims: serde_json::Value) -> String {
        use base64::Engine as _;
        use hmac::Mac as _;
        let data = format!("{}.{}", part(&header), part(&claims));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{data}.{sig}")
    }

    fn twilio_header() -> serde_json::Value {
        serde_json::json!({"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"})
    }

    fn claims_with(extra: serde_json::Value) -> serde_json::Value {
        let mut c = serde_json::json!({
            "sub": "AC1",
            "nbf": 1000,
            "exp": 1060,
            "grants": {"identity": "alice", "task_router": {
                "workspace_sid": Sid::<WorkspaceKind>::from_u128(1).to_string(),
                "worker_sid": Sid::<Worker>::from_u128(2).to_string(),
            }},
        });
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    #[test]
    fn tokens_are_shaped_like_twilio_s() {
        let t = issue(b"key", "SK1", "AC1", &grant(), 1000, 60).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3, "{t}");
        assert_eq!(unpart(parts[0]), twilio_header());
        assert_eq!(
            unpart(parts[1]),
            serde_json::json!({
                "jti": "SK1-1000",
                "iss": "SK1",
                "sub": "AC1",
                "iat": 1000,
                "nbf": 1000,
                "exp": 1060,
                "grants": {
                    "identity": "alice",
                    "voice": {"incoming": {"allow": true}},
                    "task_router": {
                        "workspace_sid": "WS00000000000000000000000000000001",
                        "worker_sid": "WK00000000000000000000000000000002",
                        "role": "worker",
                    },
                },
            })
        );
        // A token made elsewhere the same way is accepted.
        let made = signed(b"key", twilio_header(), claims_with(serde_json::json!({})));
        assert_eq!(verify(b"key", &made, 1030, "AC1"), Ok(grant()));
    }

    #[test]
    fn claims_of_the_wrong_type_and_other_algorithms_are_refused() {
        let refused = |header: serde_json::Value, claims: serde_json::Value| {
            verify(b"key", &signed(b"key", header, claims), 1030, "AC1")
        };
        // A "not before" years away, written as a string, must not be skipped (the type
        // confusion of CVE-2026-25537 in other JWT code).
        assert_eq!(
            refused(
                twilio_header(),
                claims_with(serde_json::json!({"nbf": "99999999999"}))
            ),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            refused(
                twilio_header(),
                claims_with(serde_json::json!({"exp": "never"}))
            ),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            refused(
                twilio_header(),
                claims_with(serde_json::json!({"exp": null}))
            ),
            Err(TokenError::Expired)
        );
        assert_eq!(
            refused(
                twilio_header(),
                claims_with(serde_json::json!({"grants": {}}))
            ),
            Err(TokenError::NoGrant)
        );
        // Only HS256.
        let hs512 = serde_json::json!({"alg": "HS512", "typ": "JWT"});
        assert_eq!(
            refused(hs512, claims_with(serde_json::json!({}))),
            Err(TokenError::BadSignature)
        );
        let none = serde_json::json!({"alg": "none", "typ": "JWT"});
        let unsigned = format!(
            "{}.{}.",
            part(&none),
            part(&claims_with(serde_json::json!({})))
        );
        assert!(verify(b"key", &unsigned, 1030, "AC1").is_err());
    }
}
