//! Dial targets as Twilio writes them: `client:NAME`, `app:AP…?k=v&…`, `sip:…`, or a number.

use switchboard_sid::{Application, Sid};

/// A parsed dial target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `client:NAME`: an agent's browser.
    Client(String),
    /// `app:AP…?k=v`: a TwiML application, with custom parameters.
    App {
        /// The application.
        sid: Sid<Application>,
        /// Custom parameters, in order, names case-sensitive.
        params: Vec<(String, String)>,
    },
    /// `sip:…`.
    Sip(String),
    /// Anything else: a telephone number.
    Number(String),
}

/// Why a target cannot be dialed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Empty.
    #[error("the destination is empty")]
    Empty,
    /// `app:` with a malformed application SID.
    #[error("{0:?} does not name a TwiML application: expected app:AP followed by 32 hexadecimal digits")]
    BadApplication(String),
    /// `client:` with no name.
    #[error("client: needs a name")]
    EmptyClient,
}

impl Address {
    /// Parses a target. Parameters after `?` are split on `&` and at the first `=`, and
    /// percent-decoded; a `+` stays a plus (names are not form-encoded by Flex's dialpad, and a
    /// plus in a name must survive); a raw space is kept.
    pub fn parse(target: &str) -> Result<Address, AddressError> {
        let target = target.trim();
        if target.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(rest) = target.strip_prefix("app:") {
            let (sid, query) = rest.split_once('?').unwrap_or((rest, ""));
            let sid = sid
                .parse()
                .map_err(|_| AddressError::BadApplication(target.to_owned()))?;
            let params = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect();
            return Ok(Address::App { sid, params });
        }
        if let Some(name) = target.strip_prefix("client:") {
            let name = decode(name.split('?').next().unwrap_or(""));
            if name.is_empty() {
                return Err(AddressError::EmptyClient);
            }
            return Ok(Address::Client(name));
        }
        if target.starts_with("sip:") {
            return Ok(Address::Sip(target.to_owned()));
        }
        Ok(Address::Number(target.to_owned()))
    }
}

/// Percent-decoding that leaves `+` alone and keeps invalid sequences as they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds an `app:` target with every value percent-encoded (what our dialpad sends).
pub fn app_address(sid: Sid<Application>, params: &[(&str, &str)]) -> String {
    let mut s = format!("app:{sid}");
    for (i, (k, v)) in params.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&encode(k));
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AP: &str = "AP0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_every_kind() {
        let table: &[(&str, Address)] = &[
            ("client:alice", Address::Client("alice".into())),
            (
                "sip:bob@example.com",
                Address::Sip("sip:bob@example.com".into()),
            ),
            ("+15005550006", Address::Number("+15005550006".into())),
            (
                &format!("app:{AP}?worker_sid=WK1&from=Jane Doe&conversation_id=c-1"),
                Address::App {
                    sid: AP.parse().unwrap(),
                    params: vec![
                        ("worker_sid".into(), "WK1".into()),
                        ("from".into(), "Jane Doe".into()),
                        ("conversation_id".into(), "c-1".into()),
                    ],
                },
            ),
        ];
        for (input, want) in table {
            assert_eq!(&Address::parse(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn names_with_delimiters_survive_a_round_trip() {
        let sid: Sid<Application> = AP.parse().unwrap();
        for name in [
            "Tom & Jerry",
            "a=b",
            "Zoë \"Z\" O'Neil",
            "x+y",
            "50% off?",
            "李小龙#1",
        ] {
            let addr = app_address(sid, &[("callToQueue", name), ("from", name)]);
            let Address::App { params, .. } = Address::parse(&addr).unwrap() else {
                panic!("not an app");
            };
            assert_eq!(params[0], ("callToQueue".into(), name.to_owned()), "{addr}");
            assert_eq!(params[1].1, name);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(Address::parse(" "), Err(AddressError::Empty));
        assert!(matches!(
            Address::parse("app:APnope"),
            Err(AddressError::BadApplication(_))
        ));
        assert_eq!(Address::parse("client:"), Err(AddressError::EmptyClient));
    }
}
