//! Campaigns: the CampaignSupervisor and one CampaignActor per running campaign.
//!
//! - `campaign_supervisor`: creates campaigns, routes controls and call ends to their
//!   actors, starts scheduled campaigns on time, restarts failed actors (bounded).
//! - `campaign_actor`: one campaign's controls, call ends and recovery.
//! - `dialing`: how the actor picks and makes its next calls (pacing, windows, retries).
//! - `events`: the live feed a campaign publishes.
//! - `metrics`: per-campaign metrics.

mod campaign_actor;
mod campaign_supervisor;
mod context;
mod dialing;
mod events;
mod metrics;

pub use campaign_actor::{CampaignActor, CampaignMsg};
pub use campaign_supervisor::{
    ActorRequest, CampaignSupervisor, CampaignSupervisorArgs, CampaignSupervisorMsg,
};
pub use context::{CampaignContext, CampaignSettings};
pub use events::CampaignEvent;

use crate::domain::campaign::{Campaign, CampaignStatus, Contact, ControlError, NewContact};
use crate::ports::{CampaignStore, StoreError};
use chrono::{DateTime, Utc};

/// Why a campaign request was not carried out.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CampaignError {
    #[error("no such campaign")]
    NotFound,
    /// The campaign's status does not allow the control.
    #[error("{0}")]
    Refused(ControlError),
    /// The campaign is over; its list cannot change.
    #[error("the campaign is {0}")]
    Closed(CampaignStatus),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for CampaignError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Appends contacts after the campaign's last one and persists them with its new total.
pub(crate) async fn append_contacts(
    store: &dyn CampaignStore,
    campaign: &mut Campaign,
    contacts: Vec<NewContact>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let first = campaign.total_contacts;
    let rows: Vec<Contact> = contacts
        .into_iter()
        .zip(first..)
        .map(|(input, position)| Contact::new(campaign.id, position, input, now))
        .collect();
    let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    campaign.total_contacts = first.saturating_add(count);
    campaign.updated_at = now;
    store.append_contacts(campaign, &rows).await
}
