//! What the campaign actors need from storage.
//!
//! Every move of a campaign is one [`CampaignStep`], written in one transaction: the
//! campaign row (cursor, counters, status), the contacts it moves, and the call it
//! makes, if any. A contact is written only over the version it was read at, so a step
//! either lands whole or, when any contact moved meanwhile, not at all. This is what
//! makes dialing exactly-once: the call row and the contact's move to `dialing` commit
//! together before the call's actor exists, so after a crash at any instant the contact
//! either has its call (which the CallSupervisor recovers) or is still where it was.

use super::store::StoreError;
use crate::domain::campaign::{Campaign, Contact, EtaInputs};
use crate::domain::{Call, CallEvent, CampaignId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A contact written over the version it was read at.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactChange {
    /// The version the change was made from.
    pub from_version: u32,
    pub contact: Contact,
}

impl ContactChange {
    /// Applies `change` to `contact` and records the version it started from.
    pub fn of(contact: &mut Contact, change: impl FnOnce(&mut Contact)) -> Self {
        let from_version = contact.version;
        change(contact);
        Self {
            from_version,
            contact: contact.clone(),
        }
    }
}

/// One transaction's worth of campaign progress.
#[derive(Clone, Debug)]
pub struct CampaignStep<'a> {
    /// The campaign row as it is after the step.
    pub campaign: &'a Campaign,
    pub contacts: &'a [ContactChange],
    /// A call made for one of the contacts, with its first events.
    pub call: Option<(&'a Call, &'a [CallEvent])>,
}

/// Persistence of campaigns and their contacts.
#[async_trait]
pub trait CampaignStore: Send + Sync + 'static {
    /// Inserts a new campaign with its first contacts.
    async fn insert_campaign(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError>;

    async fn load_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError>;

    /// Campaigns that need the tree: running, paused or scheduled.
    async fn active_campaigns(&self) -> Result<Vec<Campaign>, StoreError>;

    /// Writes the campaign row alone (status changes).
    async fn save_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;

    /// Appends contacts (their positions follow the campaign's last) and writes the
    /// campaign row with its new total, in one transaction.
    async fn append_contacts(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError>;

    /// Up to `limit` contacts from position `from` on, in order.
    async fn contacts_from(
        &self,
        campaign: CampaignId,
        from: u32,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError>;

    /// The contacts that are waiting or dialing: the ones a restarted actor must track.
    async fn open_contacts(&self, campaign: CampaignId) -> Result<Vec<Contact>, StoreError>;

    /// Writes a step; `false` (and nothing written) when a contact was not at the version
    /// the step started from.
    async fn commit_step(&self, step: &CampaignStep<'_>) -> Result<bool, StoreError>;

    /// What the campaign's progress and ETA are computed from, as of `now`: contacts
    /// counted by where they stand, the dials made, the times of the latest
    /// [`RECENT_DIALS`] dials, the mean time from dial to end of its finished calls, and
    /// when its last pending retry may run.
    async fn progress_inputs(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<EtaInputs, StoreError>;
}

/// How many of a campaign's latest dials its measured dial rate is taken from.
pub const RECENT_DIALS: usize = 50;
