//! What a campaign tells its live subscribers (the `/events` stream): its counters after
//! every change (status included), each call it starts and how each ends. The counters
//! are what the actor knows without reading storage; the stream's full `progress` view
//! (percentages, outcomes, ETA) is computed by the HTTP layer at its start and end.

use crate::domain::campaign::{Campaign, CampaignStatus, ContactOutcome, ContactState};
use crate::domain::{CallId, CallStatus, FailureReason};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One event of a campaign's stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CampaignEvent {
    /// Counters after a change.
    #[serde(rename_all = "camelCase")]
    Counters {
        status: CampaignStatus,
        current_index: u32,
        total_contacts: u32,
        processed_contacts: u32,
        dials: u32,
        at: DateTime<Utc>,
    },
    /// A call was made for a contact.
    #[serde(rename_all = "camelCase")]
    CallStarted {
        position: u32,
        call_id: CallId,
        attempt: u32,
        at: DateTime<Utc>,
    },
    /// A contact's call ended, and where that leaves the contact.
    #[serde(rename_all = "camelCase")]
    CallEnded {
        position: u32,
        call_id: CallId,
        status: CallStatus,
        failure_reason: Option<FailureReason>,
        contact_state: ContactState,
        outcome: Option<ContactOutcome>,
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
}

impl CampaignEvent {
    pub fn counters(campaign: &Campaign, at: DateTime<Utc>) -> Self {
        Self::Counters {
            status: campaign.status,
            current_index: campaign.current_index,
            total_contacts: campaign.total_contacts,
            processed_contacts: campaign.processed_contacts,
            dials: campaign.dials,
            at,
        }
    }

    /// The event's name in the stream.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Counters { .. } => "counters",
            Self::CallStarted { .. } => "callStarted",
            Self::CallEnded { .. } => "callEnded",
        }
    }
}
