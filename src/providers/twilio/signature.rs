//! Twilio's request signature (`X-Twilio-Signature`).
//!
//! Twilio signs every webhook it sends so the receiver can tell it from a forgery: the
//! signature is `base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 …))`
//! over the full URL Twilio called (query included) and every POST parameter, sorted by
//! name. The simulator signs its callbacks with [`sign`] and the webhook endpoint checks
//! them with [`verify`], so both sides share this one implementation.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The HMAC over the signed string, ready to be finalized or compared.
fn mac_over(auth_token: &str, full_url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC takes keys of any length (long keys are hashed first), so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes())
        .expect("HMAC-SHA1 accepts keys of any length");
    mac.update(full_url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name, then by value, so repeated names (StatusCallbackEvent) sign identically
    // whatever order they were sent in.
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The `X-Twilio-Signature` value for a request to `full_url` (exactly as called, query
/// included) carrying the form parameters `params` (empty for a GET).
pub fn sign(auth_token: &str, full_url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(
        mac_over(auth_token, full_url, params)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `header_value` is the signature Twilio would send for this request. The
/// comparison takes the same time wherever the first difference is.
pub fn verify(
    auth_token: &str,
    full_url: &str,
    params: &[(String, String)],
    header_value: &str,
) -> bool {
    let Ok(claimed) = BASE64.decode(header_value.trim()) else {
        return false;
    };
    mac_over(auth_token, full_url, params)
        .verify_slice(&claimed)
        .is_ok()
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

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Vec<(String, String)> {
        // Deliberately out of order: signing sorts them.
        pairs(&[
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
        ])
    }

    // Expected values computed independently (Python hmac/hashlib/base64).
    #[test]
    fn matches_known_vectors() {
        assert_eq!(
            sign("12345", URL, &params()),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            sign("tok", "http://h/x", &[]),
            "fNrBRsLul5MtXxkYaZZKSXEu5WY="
        );
    }

    #[test]
    fn repeated_names_sort_by_value() {
        let url = "http://127.0.0.1:8080/webhooks/twilio?call_id=42";
        let a = pairs(&[
            ("To", "+14155550101"),
            ("StatusCallbackEvent", "ringing"),
            ("CallStatus", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ]);
        let mut b = a.clone();
        b.reverse();
        assert_eq!(sign("sim-token", url, &a), "ULCcMHs7fwjR249r0mwqsxSJpcE=");
        assert_eq!(sign("sim-token", url, &a), sign("sim-token", url, &b));
    }

    #[test]
    fn verifies_its_own_signature() {
        let sig = sign("12345", URL, &params());
        assert!(verify("12345", URL, &params(), &sig));
    }

    #[test]
    fn any_change_fails_verification() {
        let sig = sign("12345", URL, &params());
        let mut changed_value = params();
        changed_value[2].1 = "1235".into();
        assert!(!verify("12345", URL, &changed_value, &sig));

        let mut extra = params();
        extra.push(("Extra".into(), String::new()));
        assert!(!verify("12345", URL, &extra, &sig));

        assert!(!verify(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params(),
            &sig
        ));
        assert!(!verify("12346", URL, &params(), &sig));
        assert!(!verify("12345", URL, &params(), "not base64!"));
        assert!(!verify("12345", URL, &params(), ""));
    }

    #[test]
    fn name_value_boundaries_matter_only_as_twilio_defines() {
        // Twilio concatenates name and value with no separator; a moved boundary inside
        // one pair signs the same, which is the documented scheme, while values moving
        // between names do not.
        let a = pairs(&[("Ab", "c")]);
        let b = pairs(&[("A", "bc")]);
        assert_eq!(sign("t", "u", &a), sign("t", "u", &b));
        let c = pairs(&[("A", "1"), ("B", "2")]);
        let d = pairs(&[("A", "2"), ("B", "1")]);
        assert_ne!(sign("t", "u", &c), sign("t", "u", &d));
    }
}
