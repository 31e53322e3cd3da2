//! Campaigns: a contact list dialed for one client and agent under one retry policy,
//! pacing and calling window. Pure data and rules; the CampaignActor applies them.
//!
//! - `model`: the campaign record, its status and the operator controls.
//! - `contact`: one contact's progress through the campaign, and how a call's end moves it.
//! - `progress`: counts, percentages and the ETA the read side reports.

mod contact;
mod model;
mod progress;

pub use contact::{CallEnded, Contact, ContactOutcome, ContactState, NewContact, WaitReason};
pub use model::{
    Campaign, CampaignStatus, Control, ControlError, NewCampaign, Pacing, Transition,
    MAX_CALLS_PER_MINUTE, MAX_CAMPAIGN_CONCURRENCY,
};
pub use progress::{Eta, EtaInputs, OutcomeCounts, Progress};
