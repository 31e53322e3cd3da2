//! Plivo's request signature, version 3 (`X-Plivo-Signature-V3`).
//!
//! Plivo signs every callback with `base64(HMAC-SHA256(auth_token, string + "." + nonce))`
//! and sends the nonce in `X-Plivo-Signature-V3-Nonce`. The signed string is the URL
//! Plivo called without its query (`scheme://host[:port]/path`), then `?` and the query
//! parameters sorted and written `k=v` joined by `&`, then for a POST with a body the
//! body parameters sorted and written `kv` one after the other, with a `.` between query
//! and body when there are both. The `?` is written whenever a POST has body parameters,
//! even when the query is empty: that is what Plivo's own SDK validator computes (the
//! vectors in `tests/fixtures/signatures` come from it), so we compute the same.
//!
//! The header may carry several signatures separated by commas (Plivo signs with every
//! auth token valid at the time, e.g. during a rotation); any one matching is enough.
//! Every comparison takes the same time wherever the first difference is. The simulator
//! signs with [`sign`] and the webhook endpoint checks with [`verify`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The name/value pairs, sorted by name then value, as Plivo orders them.
fn sorted(pairs: &[(String, String)]) -> Vec<&(String, String)> {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort();
    sorted
}

/// The string Plivo signs (before `.nonce`) for a request to `url` (exactly as called,
/// query included) carrying the form parameters `body` (empty for a GET).
pub fn signed_string(url: &str, body: &[(String, String)]) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let query_pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let query: Vec<String> = sorted(&query_pairs)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let query = query.join("&");
    let mut out = base.to_string();
    if !query.is_empty() || !body.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !query.is_empty() && !body.is_empty() {
        out.push('.');
    }
    for (k, v) in sorted(body) {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// The HMAC over the signed string and the nonce, ready to be finalized or compared.
fn mac_over(auth_token: &str, url: &str, body: &[(String, String)], nonce: &str) -> HmacSha256 {
    // HMAC takes keys of any length (long keys are hashed first), so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(auth_token.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(signed_string(url, body).as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    mac
}

/// The `X-Plivo-Signature-V3` value for a request to `url` with form parameters `body`
/// and the nonce sent in `X-Plivo-Signature-V3-Nonce`.
pub fn sign(auth_token: &str, url: &str, body: &[(String, String)], nonce: &str) -> String {
    BASE64.encode(
        mac_over(auth_token, url, body, nonce)
            .finalize()
            .into_bytes(),
    )
}

/// Whether any of the comma-separated signatures in `header_value` is the one Plivo
/// would send for this request. An empty token or nonce never verifies.
pub fn verify(
    auth_token: &str,
    url: &str,
    body: &[(String, String)],
    nonce: &str,
    header_value: &str,
) -> bool {
    if auth_token.is_empty() || nonce.trim().is_empty() {
        return false;
    }
    let mac = mac_over(auth_token, url, body, nonce);
    header_value
        .split(',')
        .filter_map(|candidate| BASE64.decode(candidate.trim()).ok())
        .fold(false, |matched, claimed| {
            // Every candidate is checked, so the time does not tell which one matched.
            mac.clone().verify_slice(&claimed).is_ok() | matched
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_signed_string_follows_plivos_layout() {
        let body = pairs(&[("To", "+1"), ("CallUUID", "u1"), ("B", "2"), ("B", "1")]);
        assert_eq!(
            signed_string("https://h.example:8443/p/q?z=1&a=2&a=1", &body),
            "https://h.example:8443/p/q?a=1&a=2&z=1.B1B2CallUUIDu1To+1"
        );
        assert_eq!(
            signed_string("https://h.example/p", &body),
            "https://h.example/p?B1B2CallUUIDu1To+1"
        );
        assert_eq!(
            signed_string("https://h.example/p?callId=7", &[]),
            "https://h.example/p?callId=7"
        );
        assert_eq!(
            signed_string("https://h.example/p", &[]),
            "https://h.example/p"
        );
        // Query values are compared decoded, as Plivo reads them.
        assert_eq!(
            signed_string("http://h/p?x=%2B1+2", &[]),
            "http://h/p?x=+1 2"
        );
    }

    #[test]
    fn verifies_any_of_several_signatures_and_nothing_else() {
        let url = "http://127.0.0.1:8080/webhooks/plivo/status?callId=42";
        let body = pairs(&[("CallUUID", "u1"), ("CallStatus", "ringing")]);
        let good = sign("token", url, &body, "n1");
        let other = sign("old-token", url, &body, "n1");
        assert!(verify("token", url, &body, "n1", &good));
        assert!(verify(
            "token",
            url,
            &body,
            "n1",
            &format!("{other},{good}")
        ));
        assert!(verify(
            "token",
            url,
            &body,
            "n1",
            &format!("{other}, {good}")
        ));
        assert!(!verify("token", url, &body, "n1", &other));
        assert!(!verify("token", url, &body, "n2", &good));
        assert!(!verify("token", &format!("{url}1"), &body, "n1", &good));
        assert!(!verify(
            "token",
            url,
            &pairs(&[("CallUUID", "u2")]),
            "n1",
            &good
        ));
        assert!(!verify("token", url, &body, "", &good));
        assert!(!verify("", url, &body, "n1", &sign("", url, &body, "n1")));
        assert!(!verify("token", url, &body, "n1", "not base64!"));
        assert!(!verify("token", url, &body, "n1", ""));
    }
}
