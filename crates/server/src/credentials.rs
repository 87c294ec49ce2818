//! Who may call the API: the account (SID + auth token) and its API keys (SID + secret).

use std::collections::BTreeMap;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use switchboard_sid::{Account, ApiKey, Sid};

use crate::signature::constant_time_eq;

pub use switchboard_center::records::ApiKeyRecord;

/// The account's credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `AC…`.
    pub account_sid: Sid<Account>,
    /// The auth token; also the key that signs webhooks.
    pub auth_token: String,
    /// API keys by SID.
    pub api_keys: BTreeMap<Sid<ApiKey>, ApiKeyRecord>,
}

/// Hex SHA-256.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Credentials {
    /// Whether an `Authorization` header value authenticates this account.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        if let Ok(sid) = user.parse::<Sid<Account>>() {
            return sid == self.account_sid
                && constant_time_eq(password.as_bytes(), self.auth_token.as_bytes());
        }
        if let Ok(sid) = user.parse::<Sid<ApiKey>>() {
            return self.api_keys.get(&sid).is_some_and(|k| {
                constant_time_eq(sha256_hex(&password).as_bytes(), k.secret_sha256.as_bytes())
            });
        }
        false
    }
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn accepts_the_account_and_api_keys_only() {
        let account = Sid::<Account>::from_u128(1);
        let key = Sid::<ApiKey>::from_u128(2);
        let mut creds = Credentials {
            account_sid: account,
            auth_token: "token".into(),
            api_keys: BTreeMap::new(),
        };
        creds.api_keys.insert(
            key,
            ApiKeyRecord {
                sid: key,
                friendly_name: "k".into(),
                secret_sha256: sha256_hex("secret"),
                date_created: switchboard_routing::Timestamp(0),
                date_updated: switchboard_routing::Timestamp(0),
            },
        );
        assert!(creds.check(Some(&basic(&account.to_string(), "token"))));
        assert!(creds.check(Some(&basic(&key.to_string(), "secret"))));
        for bad in [
            basic(&account.to_string(), "tokem"),
            basic(&key.to_string(), "token"),
            basic(&Sid::<Account>::from_u128(9).to_string(), "token"),
            basic("someone", "token"),
            "Bearer abc".into(),
            "Basic !!!".into(),
        ] {
            assert!(!creds.check(Some(&bad)), "{bad}");
        }
        assert!(!creds.check(None));
    }

    #[test]
    fn an_upper_case_account_sid_is_not_the_account() {
        let account = Sid::<Account>::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let creds = Credentials {
            account_sid: account,
            auth_token: "token".into(),
            api_keys: BTreeMap::new(),
        };
        let lower = account.to_string();
        let upper = format!("AC{}", lower[2..].to_ascii_uppercase());
        assert!(creds.check(Some(&basic(&lower, "token"))));
        assert!(!creds.check(Some(&basic(&upper, "token"))));
    }
}
