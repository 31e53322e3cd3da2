//! Field checks shared by the handlers, each naming the field it refuses.

use super::error::ApiError;
use callvisor_actors::domain::tenant::MAX_CONCURRENT_CALLS_RANGE;
use callvisor_actors::domain::PhoneNumber;

/// A non-empty name of at most 200 characters, trimmed.
pub fn name_field(field: &str, raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            field,
            "must be 1 to 200 characters",
        ));
    }
    Ok(name.to_string())
}

/// A client's concurrent-call limit.
pub fn client_limit(limit: u32) -> Result<u32, ApiError> {
    if MAX_CONCURRENT_CALLS_RANGE.contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid_field(
            "maxConcurrentCalls",
            format!(
                "must be between {} and {}",
                MAX_CONCURRENT_CALLS_RANGE.start(),
                MAX_CONCURRENT_CALLS_RANGE.end()
            ),
        ))
    }
}

/// An IANA time zone name.
pub fn timezone_field(field: &str, raw: &str) -> Result<String, ApiError> {
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| ApiError::invalid_field(field, format!("'{raw}' is not an IANA time zone")))
}

/// An absolute http(s) URL.
pub fn url_field(field: &str, raw: &str) -> Result<String, ApiError> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(raw.to_string())
        }
        _ => Err(ApiError::invalid_field(
            field,
            "must be an absolute http or https URL",
        )),
    }
}

/// An E.164 phone number.
pub fn phone_field(field: &str, raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw).map_err(|e| ApiError::invalid_phone(field, e))
}
