//! Request extractors that answer bad input in the API's envelope instead of axum's
//! plain-text rejections: JSON bodies (unknown fields, wrong types, too large) and
//! query strings.

use super::error::ApiError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Largest JSON body accepted, in bytes.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body, rejected in the envelope.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

pub(crate) fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::payload_too_large(JSON_BODY_LIMIT);
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::validation("expected a JSON body with Content-Type: application/json")
        }
        JsonRejection::JsonDataError(e) => {
            let error = ApiError::validation(e.body_text());
            naming_field_at_fault::<serde_json::Error>(error, &e)
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::validation(e.body_text()),
        other => ApiError::validation(other.body_text()),
    }
}

/// Names, in the error's details, the field a body or query string could not be read at
/// (`retryPolicy.retryOn[1]`, `status`), when the error lies below the top level. `E` is
/// the format's error type that axum's extractor wraps with the field's path.
fn naming_field_at_fault<E: std::error::Error + 'static>(
    error: ApiError,
    rejection: &(dyn std::error::Error + 'static),
) -> ApiError {
    let mut source = std::error::Error::source(rejection);
    while let Some(cause) = source {
        if let Some(located) = cause.downcast_ref::<serde_path_to_error::Error<E>>() {
            let path = located.path().to_string();
            if path == "." {
                return error;
            }
            return error.with_details(serde_json::json!({ "field": path }));
        }
        source = cause.source();
    }
    error
}

/// A query string, rejected in the envelope.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let error = ApiError::validation(e.body_text());
                // axum reads query strings with serde_urlencoded, whose error is serde's own.
                Err(naming_field_at_fault::<serde::de::value::Error>(error, &e))
            }
            Err(other) => Err(ApiError::validation(other.body_text())),
        }
    }
}

/// Parses an id from a path segment, naming the parameter when it is malformed.
pub fn parse_id<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid_field(name, "is not a valid id"))
}
