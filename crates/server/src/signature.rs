//! `X-Twilio-Signature`: HMAC-SHA1 over the full URL followed by the POST parameters sorted by name
//! (each name immediately followed by its value), keyed with the auth token, in base64.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The signature Twilio would send for a request to `url` with these form parameters.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name (byte order), repeated names by value, identical pairs once: what Twilio's own
    // validators compute.
    sorted.sort();
    sorted.dedup();
    let mut data = String::from(url);
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(m) => m,
        Err(e) => unreachable!("HMAC accepts keys of any length: {e}"),
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is valid for the request, compared in constant time. Twilio is not
/// consistent about ports when it signs, so the URL is tried as given, without its port, and
/// with the scheme's default port inserted.
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    url_variants(url).iter().any(|u| {
        constant_time_eq(
            compute(auth_token, u, params).as_bytes(),
            signature.as_bytes(),
        )
    })
}

/// Whether two byte strings are equal, taking the same time wherever they differ (for secrets).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The URL as given, without its port, and with the default port inserted.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // An IPv6 literal keeps its brackets; a port comes after the closing one.
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport[i..].contains(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    match port {
        Some(_) => out.push(format!("{scheme}://{userinfo}{host}{tail}")),
        None => out.push(format!("{scheme}://{userinfo}{host}:{default}{tail}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn documented() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn published_vectors() {
        let table = [
            (URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            (
                "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "CYn1h0gLBdNxDGkKJg6hYohgeD8=",
            ),
            (
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
            (
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
            (
                "https://MyCompany.com/myapp.php?foo=1&bar=2",
                "g9IN/x4Cft2g517EjYvEvM/W7LU=",
            ),
        ];
        for (url, want) in table {
            assert_eq!(compute("12345", url, &documented()), want, "{url}");
        }
    }

    #[test]
    fn repeated_parameters_are_sorted_and_deduplicated() {
        let params = p(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute("12345", URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn validation_accepts_either_port_form_and_nothing_else() {
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(validate("12345", URL, &documented(), sig));
        // Signed without the port, requested with the default port inserted, and the reverse.
        assert!(validate(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &documented(),
            sig
        ));
        assert!(validate(
            "12345",
            URL,
            &documented(),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(validate(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &documented(),
            sig
        ));
        assert!(!validate("12346", URL, &documented(), sig));
        assert!(!validate(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &documented(),
            sig
        ));
        let mut tampered = documented();
        tampered[2].1 = "1235".into();
        assert!(!validate("12345", URL, &tampered, sig));
        assert!(!validate("12345", URL, &documented(), ""));
    }

    #[test]
    fn enqueue_webhook_vector() {
        let params = p(&[
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", "CA11111111111111111111111111111111"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("From", "+15005550006"),
            ("To", "AP22222222222222222222222222222222"),
            ("worker_sid", "WK33333333333333333333333333333333"),
            ("from", "Jane Doe"),
            ("conversation_id", "6f1c2d3e-0000-4000-8000-000000000000"),
        ]);
        let url = "https://custom-flex-extensions-serverless-1234-dev.twil.io/features/internal-call/common/enqueue";
        assert_eq!(
            compute("12345", url, &params),
            "HCs4gUCdP3G4uXxqp5e/5MheqjU="
        );
    }
}
