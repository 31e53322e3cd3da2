//! The API's error envelope: `{"success": false, "error": {"code", "message", "details"}}`.
//!
//! Every handler returns [`ApiError`] for anything that is not a success, so every
//! failure a client sees has the same shape and one of the documented codes. Internal
//! failures are logged with their cause and answered with an opaque 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// A validation error about one named field.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::validation(format!("{field}: {problem}")).with_details(json!({ "field": field }))
    }

    pub fn invalid_phone(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PHONE_NUMBER",
            format!("{field} {problem}"),
        )
        .with_details(json!({ "field": field }))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    pub fn agent_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "AGENT_NOT_FOUND", "agent not found")
    }

    pub fn campaign_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "CAMPAIGN_NOT_FOUND",
            "campaign not found",
        )
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "INVALID_STATE", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {limit} bytes"),
        )
    }

    pub fn concurrent_limit(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CONCURRENT_LIMIT_REACHED",
            message,
        )
    }

    /// 502: the provider refused or botched a request that was ours to make.
    pub fn provider(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "PROVIDER_ERROR", message)
    }

    /// A provider request that failed: 503 `API_UNAVAILABLE` when the provider is
    /// failing or rate-limiting us (try again later), 502 `PROVIDER_ERROR` otherwise (it
    /// refused, answered nonsense, or may have acted without saying so).
    pub fn from_provider(e: &callvisor_actors::ports::ProviderError) -> Self {
        use callvisor_actors::ports::ProviderError as E;
        match e {
            E::Unavailable { .. } | E::Connect(_) | E::RateLimited { .. } => {
                Self::unavailable(format!("the provider is not answering: {e}"))
            }
            E::Ambiguous => Self::provider(format!(
                "{e}: the request may have taken effect and is not sent again"
            )),
            E::Rejected { .. } | E::Unsupported(_) | E::Protocol(_) | E::Withheld => {
                Self::provider(e.to_string())
            }
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "API_UNAVAILABLE", message)
    }

    /// An internal failure: the cause is logged, the client sees an opaque message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error answering a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        (
            self.status,
            Json(json!({ "success": false, "error": error })),
        )
            .into_response()
    }
}

impl From<callvisor_actors::ports::StoreError> for ApiError {
    fn from(e: callvisor_actors::ports::StoreError) -> Self {
        Self::internal(e)
    }
}

/// A success envelope: `{"success": true, "data": …}`.
pub fn ok<T: serde::Serialize>(data: T) -> Response {
    Json(json!({ "success": true, "data": data })).into_response()
}

/// A success envelope with `201 Created`.
pub fn created<T: serde::Serialize>(data: T) -> Response {
    with_status(StatusCode::CREATED, data)
}

/// A success envelope with `202 Accepted`: taken on, not yet done.
pub fn accepted<T: serde::Serialize>(data: T) -> Response {
    with_status(StatusCode::ACCEPTED, data)
}

fn with_status<T: serde::Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(json!({ "success": true, "data": data }))).into_response()
}

/// Handler result.
pub type ApiResult = Result<Response, ApiError>;
