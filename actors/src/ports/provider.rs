//! What the ProviderGateway needs from a telephony provider, in provider-neutral terms.
//! Each adapter (Twilio, Plivo, Exotel) maps these to its own wire format.

use crate::domain::{CallStatus, Observation, PhoneNumber};
use crate::gateway::DialGate;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Everything needed to place one call.
#[derive(Clone, Debug, PartialEq)]
pub struct DialRequest {
    pub to: PhoneNumber,
    pub from: PhoneNumber,
    /// Where the provider fetches the call flow when the callee answers.
    pub answer_url: String,
    /// Where the provider reports status changes; carries our call id in its query so a
    /// late webhook can always be matched to the call, even before the provider id is known.
    pub status_callback_url: String,
    /// How long to let the phone ring before giving up.
    pub ring_timeout: Duration,
    /// The campaign's dial gate, for a campaign's call: the request leaves only while it
    /// is open.
    pub gate: Option<DialGate>,
}

/// The provider's acknowledgement of a create-call request.
#[derive(Clone, Debug, PartialEq)]
pub struct DialAccepted {
    pub provider_call_id: String,
    /// The status the provider reported for the new call (usually `queued`).
    pub status: CallStatus,
}

/// A call as the provider's records describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderCallRecord {
    pub provider_call_id: String,
    pub to: String,
    pub from: String,
    pub observation: Observation,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// How to end a live call: a call not yet answered is canceled, an answered one hung up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangUp {
    Cancel,
    Complete,
}

/// A time range and optional filter for the provider's call list.
#[derive(Clone, Debug, PartialEq)]
pub struct CallListQuery {
    pub started_after: DateTime<Utc>,
    pub started_before: DateTime<Utc>,
    pub to: Option<String>,
}

/// One text message to send.
#[derive(Clone, Debug, PartialEq)]
pub struct SmsRequest {
    pub to: PhoneNumber,
    pub from: PhoneNumber,
    /// The text, as the provider is to deliver it (the provider splits long ones).
    pub body: String,
}

/// The provider's acknowledgement of a message: accepted for delivery, not delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct SmsAccepted {
    /// The provider's id of the message (Twilio's `SM…` sid, Plivo's message uuid,
    /// Exotel's `Sid`).
    pub provider_message_id: String,
    /// The status the provider reported, in its own words (`queued`, `accepted`, …).
    pub status: String,
}

/// A provider request that did not succeed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// HTTP 429: too many requests; retry no sooner than `retry_after`.
    #[error("rate limited by the provider")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx: the provider is down or overloaded.
    #[error("provider unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// The request never reached the provider (connection refused, DNS, TLS).
    #[error("could not reach the provider: {0}")]
    Connect(String),
    /// The request was sent but no answer came: it may or may not have taken effect.
    #[error("no answer from the provider within the time limit")]
    Ambiguous,
    /// The provider refused the request (4xx other than 429).
    #[error("provider refused the request (HTTP {status}): {message}")]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The provider does not offer this operation.
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
    /// The provider answered something we could not read.
    #[error("unreadable provider response: {0}")]
    Protocol(String),
    /// Not sent: the call's campaign closed its dial gate (it was paused or cancelled).
    #[error("not sent: the campaign is not dialing")]
    Withheld,
}

impl ProviderError {
    /// Whether the error says the provider itself is failing (down, unreachable, not
    /// answering): what the circuit breaker counts. A refused or rate-limited request
    /// shows a provider that works.
    pub fn is_provider_failure(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Connect(_) | Self::Ambiguous
        )
    }

    /// Whether the provider surely did not act on the request, so it may be sent again.
    pub fn surely_not_done(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Connect(_) | Self::Withheld
        )
    }

    /// Whether the provider refused the number itself (it does not exist, is malformed).
    pub fn is_invalid_number(&self) -> bool {
        matches!(
            self,
            Self::Rejected {
                status: 400 | 404,
                ..
            }
        )
    }
}

/// A telephony provider's voice and messaging API.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name, used in records and metric labels (`twilio`, `plivo`, `exotel`).
    fn name(&self) -> &'static str;

    async fn create_call(&self, request: &DialRequest) -> Result<DialAccepted, ProviderError>;

    async fn fetch_call(&self, provider_call_id: &str)
        -> Result<ProviderCallRecord, ProviderError>;

    async fn hang_up(&self, provider_call_id: &str, how: HangUp) -> Result<(), ProviderError>;

    async fn list_calls(
        &self,
        query: &CallListQuery,
    ) -> Result<Vec<ProviderCallRecord>, ProviderError>;

    /// Sends one text message. Not idempotent: a message whose outcome is unknown may
    /// have gone out.
    async fn send_sms(&self, sms: &SmsRequest) -> Result<SmsAccepted, ProviderError>;

    /// Where the call's recording can be fetched, or `None` when it has none.
    async fn recording_url(&self, provider_call_id: &str) -> Result<Option<String>, ProviderError>;
}
