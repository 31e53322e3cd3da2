//! A [`CallStore`] in memory, with a switch to make the next save panic (to test that
//! supervisors rebuild actors from what was persisted).

use crate::domain::campaign::{Campaign, Contact};
use crate::domain::{Call, CallEvent, CallId, CampaignId, ClientId};
use crate::ports::{CallStore, StoreError};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Calls and events in memory.
#[derive(Default)]
pub struct MemoryStore {
    pub(super) calls: Mutex<HashMap<CallId, Call>>,
    pub(super) events: Mutex<Vec<CallEvent>>,
    pub(super) campaigns: Mutex<HashMap<CampaignId, Campaign>>,
    /// Contacts by campaign and position.
    pub(super) contacts: Mutex<BTreeMap<(CampaignId, u32), Contact>>,
    /// Saves left to panic on (a crash inside an actor's handler).
    panics_left: AtomicUsize,
    /// Campaign steps left to panic on.
    campaign_panics_left: AtomicUsize,
    /// Appends of contacts left to refuse with an error (storage not answering).
    pub(super) appends_to_refuse: AtomicUsize,
    /// Clients' concurrent-call limits; a client not set here has the default of 10.
    limits: Mutex<HashMap<ClientId, u32>>,
    /// What the monitors store (see `memory_monitoring`).
    pub(super) monitoring: Mutex<super::memory_monitoring::MonitoringTables>,
}

/// The limit of a client [`MemoryStore::set_client_limit`] was not called for.
pub const DEFAULT_CLIENT_LIMIT: u32 = 10;

impl MemoryStore {
    /// Makes the next `n` calls to `save_call` panic before writing anything.
    pub fn panic_on_next_saves(&self, n: usize) {
        self.panics_left.store(n, Ordering::SeqCst);
    }

    /// A copy of the stored call.
    pub fn call(&self, id: CallId) -> Option<Call> {
        self.calls.lock().unwrap().get(&id).cloned()
    }

    /// All stored calls.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().values().cloned().collect()
    }

    /// The history of one call, oldest first.
    pub fn events(&self, id: CallId) -> Vec<CallEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.call_id == id)
            .cloned()
            .collect()
    }

    /// Sets a client's concurrent-call limit.
    pub fn set_client_limit(&self, client: ClientId, limit: u32) {
        self.limits.lock().unwrap().insert(client, limit);
    }

    /// Panics if a save was armed to (see [`MemoryStore::panic_on_next_saves`]).
    fn maybe_crash(&self, call: &Call) {
        let armed = self
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("injected crash while saving call {}", call.id);
        }
    }

    /// Makes the next `n` campaign steps (a CampaignActor's writes) panic before
    /// writing anything.
    pub fn panic_on_next_campaign_writes(&self, n: usize) {
        self.campaign_panics_left.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` appends of contacts fail as if storage did not answer.
    pub fn refuse_next_appends(&self, n: usize) {
        self.appends_to_refuse.store(n, Ordering::SeqCst);
    }

    /// Panics if a campaign write was armed to.
    pub(super) fn maybe_crash_campaign(&self, campaign: &Campaign) {
        let armed = self
            .campaign_panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("injected crash while writing campaign {}", campaign.id);
        }
    }

    /// Stores a call directly, as if a previous process had left it there.
    pub fn put(&self, call: Call) {
        self.calls.lock().unwrap().insert(call.id, call);
    }
}

#[async_trait]
impl CallStore for MemoryStore {
    async fn save_call(&self, call: &Call, events: &[CallEvent]) -> Result<(), StoreError> {
        self.maybe_crash(call);
        self.calls.lock().unwrap().insert(call.id, call.clone());
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn insert_calls(&self, calls: &[Call], events: &[CallEvent]) -> Result<(), StoreError> {
        let mut stored = self.calls.lock().unwrap();
        stored.extend(calls.iter().map(|c| (c.id, c.clone())));
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn save_with_follow_up(
        &self,
        call: &Call,
        events: &[CallEvent],
        follow_up: &Call,
        follow_up_events: &[CallEvent],
    ) -> Result<bool, StoreError> {
        self.maybe_crash(call);
        let mut stored = self.calls.lock().unwrap();
        let mut log = self.events.lock().unwrap();
        stored.insert(call.id, call.clone());
        log.extend_from_slice(events);
        let taken = stored.values().any(|c| {
            c.id == follow_up.id
                || (follow_up.original_call_id.is_some()
                    && c.original_call_id == follow_up.original_call_id
                    && c.attempt == follow_up.attempt)
                || (follow_up.series_id.is_some()
                    && c.series_id == follow_up.series_id
                    && c.occurrence == follow_up.occurrence)
        });
        if !taken {
            stored.insert(follow_up.id, follow_up.clone());
            log.extend_from_slice(follow_up_events);
        }
        Ok(!taken)
    }

    async fn client_limit(&self, client: ClientId) -> Result<Option<u32>, StoreError> {
        let limit = self.limits.lock().unwrap().get(&client).copied();
        Ok(Some(limit.unwrap_or(DEFAULT_CLIENT_LIMIT)))
    }

    async fn append_events(&self, events: &[CallEvent]) -> Result<(), StoreError> {
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn load_call(&self, id: CallId) -> Result<Option<Call>, StoreError> {
        Ok(self.call(id))
    }

    async fn find_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        Ok(self
            .calls
            .lock()
            .unwrap()
            .values()
            .find(|c| {
                c.provider == provider && c.provider_call_id.as_deref() == Some(provider_call_id)
            })
            .cloned())
    }

    async fn live_calls(&self) -> Result<Vec<Call>, StoreError> {
        Ok(self
            .calls
            .lock()
            .unwrap()
            .values()
            .filter(|c| c.is_live())
            .cloned()
            .collect())
    }
}
