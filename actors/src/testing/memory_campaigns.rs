//! A [`CampaignStore`] in memory, over the same [`MemoryStore`] as the calls, so that a
//! step's call and contact moves land together as they do in a database transaction.

use super::memory_store::MemoryStore;
use crate::domain::campaign::{
    Campaign, CampaignStatus, Contact, ContactState, EtaInputs, OutcomeCounts, WaitReason,
};
use crate::domain::CampaignId;
use crate::ports::{CampaignStep, CampaignStore, StoreError, RECENT_DIALS};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;

impl MemoryStore {
    /// A copy of every contact of a campaign, in list order.
    pub fn contacts(&self, campaign: CampaignId) -> Vec<Contact> {
        let contacts = self.contacts.lock().unwrap();
        contacts
            .range((campaign, 0)..=(campaign, u32::MAX))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// A copy of the stored campaign.
    pub fn campaign(&self, id: CampaignId) -> Option<Campaign> {
        self.campaigns.lock().unwrap().get(&id).cloned()
    }
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn insert_campaign(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError> {
        self.campaigns
            .lock()
            .unwrap()
            .insert(campaign.id, campaign.clone());
        let mut stored = self.contacts.lock().unwrap();
        stored.extend(
            contacts
                .iter()
                .map(|c| ((c.campaign_id, c.position), c.clone())),
        );
        Ok(())
    }

    async fn load_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        Ok(self.campaign(id))
    }

    async fn active_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let campaigns = self.campaigns.lock().unwrap();
        Ok(campaigns
            .values()
            .filter(|c| c.status.has_actor() || c.status == CampaignStatus::Scheduled)
            .cloned()
            .collect())
    }

    async fn save_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.campaigns
            .lock()
            .unwrap()
            .insert(campaign.id, campaign.clone());
        Ok(())
    }

    async fn append_contacts(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError> {
        let refused = self
            .appends_to_refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            return Err(StoreError("injected: storage did not answer".into()));
        }
        self.insert_campaign(campaign, contacts).await
    }

    async fn contacts_from(
        &self,
        campaign: CampaignId,
        from: u32,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        let contacts = self.contacts.lock().unwrap();
        Ok(contacts
            .range((campaign, from)..=(campaign, u32::MAX))
            .take(limit as usize)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn open_contacts(&self, campaign: CampaignId) -> Result<Vec<Contact>, StoreError> {
        Ok(self
            .contacts(campaign)
            .into_iter()
            .filter(|c| matches!(c.state, ContactState::Waiting | ContactState::Dialing))
            .collect())
    }

    async fn commit_step(&self, step: &CampaignStep<'_>) -> Result<bool, StoreError> {
        self.maybe_crash_campaign(step.campaign);
        let mut calls = self.calls.lock().unwrap();
        let mut events = self.events.lock().unwrap();
        let mut campaigns = self.campaigns.lock().unwrap();
        let mut contacts = self.contacts.lock().unwrap();
        let fits = step.contacts.iter().all(|change| {
            let key = (change.contact.campaign_id, change.contact.position);
            contacts.get(&key).map(|c| c.version) == Some(change.from_version)
        });
        if !fits {
            return Ok(false);
        }
        for change in step.contacts {
            let c = &change.contact;
            contacts.insert((c.campaign_id, c.position), c.clone());
        }
        if let Some((call, call_events)) = step.call {
            calls.insert(call.id, call.clone());
            events.extend_from_slice(call_events);
        }
        campaigns.insert(step.campaign.id, step.campaign.clone());
        Ok(true)
    }

    async fn progress_inputs(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<EtaInputs, StoreError> {
        let contacts = self.contacts(campaign.id);
        let mut counts = OutcomeCounts::default();
        for c in &contacts {
            counts.add(c.state, c.calls_made > 0, c.outcome, 1);
        }
        let mut zones = Vec::new();
        for c in &contacts {
            let zone = c.timezone.unwrap_or(campaign.timezone);
            if matches!(c.state, ContactState::Pending | ContactState::Waiting)
                && !zones.contains(&zone)
            {
                zones.push(zone);
            }
        }
        let last_retry_at = contacts
            .iter()
            .filter(|c| c.wait_reason == Some(WaitReason::Retry))
            .filter_map(|c| c.next_at)
            .max();
        let mut calls: Vec<_> = self
            .calls()
            .into_iter()
            .filter(|c| c.campaign_id == Some(campaign.id))
            .collect();
        calls.sort_by_key(|c| (c.created_at, c.id));
        let durations: Vec<f64> = calls
            .iter()
            .filter_map(|c| Some((c.ended_at? - c.dial_started_at?).num_milliseconds()))
            .map(|ms| ms as f64 / 1000.0)
            .collect();
        let recent = calls.len().saturating_sub(RECENT_DIALS);
        Ok(EtaInputs {
            now,
            counts,
            dials: campaign.dials,
            contacts_dialed: contacts.iter().filter(|c| c.calls_made > 0).count() as u32,
            recent_dials: calls[recent..].iter().map(|c| c.created_at).collect(),
            mean_call_seconds: (!durations.is_empty())
                .then(|| durations.iter().sum::<f64>() / durations.len() as f64),
            last_retry_at,
            zones,
        })
    }
}
