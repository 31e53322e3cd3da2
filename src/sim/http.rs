//! Request checks every flavor makes the same way: HTTP Basic credentials, phone
//! numbers and web URLs. Each flavor answers a failed check in its own error shape.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use url::Url;

/// Whether the request carries HTTP Basic credentials `user:password`.
pub(crate) fn has_credentials(headers: &HeaderMap, user: &str, password: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| BASE64.decode(encoded.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(u, p)| u == user && p == password)
}

/// A phone number (digits with an optional `+`, 2 to 15 of them, as E.164 allows), or
/// a SIP or client endpoint.
pub(crate) fn is_endpoint(raw: &str) -> bool {
    if raw.starts_with("sip:") || raw.starts_with("client:") {
        return raw.len() > raw.find(':').map_or(0, |i| i + 1);
    }
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An absolute http(s) URL with a host.
pub(crate) fn web_url(raw: &str) -> Option<Url> {
    Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_numbers_or_sip_or_client() {
        for ok in [
            "+14155550101",
            "14155550101",
            "sip:bob@example.com",
            "client:alice",
        ] {
            assert!(is_endpoint(ok), "{ok}");
        }
        for bad in ["+1", "+1415555010112345", "+1 415 555", "sip:", "bob"] {
            assert!(!is_endpoint(bad), "{bad}");
        }
    }

    #[test]
    fn credentials_must_match_exactly() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", BASE64.encode("user:pass"));
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert!(has_credentials(&headers, "user", "pass"));
        assert!(!has_credentials(&headers, "user", "other"));
        assert!(!has_credentials(&HeaderMap::new(), "user", "pass"));
        assert!(web_url("ftp://x/y").is_none() && web_url("https://x/y").is_some());
    }
}
