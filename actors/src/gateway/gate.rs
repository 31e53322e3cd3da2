//! Dial gates: what makes a campaign's pause take effect at the provider's door.
//!
//! A campaign's calls carry its gate in their create-call requests; the gateway sends
//! such a request only through an open gate, and holds the gate (a read lock) until the
//! provider has answered. Closing a gate takes the write lock, so it waits for the
//! create-calls already on the wire and lets no new one start: once a pause has closed
//! the gate, the provider receives no create-call for that campaign, even from calls
//! that were queued behind the rate limiter or in a retry's backoff. Those answer
//! [`ProviderError::Withheld`](crate::ports::ProviderError::Withheld) instead.

use crate::domain::CampaignId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// One campaign's gate.
#[derive(Clone, Default)]
pub struct DialGate(Arc<RwLock<bool>>);

/// Proof that a gate was open; it stays open while this is held.
pub type GatePass = OwnedRwLockReadGuard<bool>;

impl DialGate {
    /// Waits for any closing in progress, then lets the caller through if open.
    pub async fn pass(&self) -> Option<GatePass> {
        let guard = Arc::clone(&self.0).read_owned().await;
        (*guard).then_some(guard)
    }

    /// Whether the gate is open right now (a hint; [`DialGate::pass`] is the check).
    pub fn is_open(&self) -> bool {
        self.0.try_read().map(|g| *g).unwrap_or(false)
    }
}

impl fmt::Debug for DialGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DialGate").field(&self.is_open()).finish()
    }
}

impl PartialEq for DialGate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Every campaign's gate. A gate nobody opened is closed: a call of a campaign that is
/// not running is never dialed.
#[derive(Clone, Default)]
pub struct DialGates(Arc<Mutex<HashMap<CampaignId, DialGate>>>);

impl DialGates {
    /// The campaign's gate (closed if it was never opened).
    pub fn gate(&self, campaign: CampaignId) -> DialGate {
        let mut gates = self.0.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(campaign).or_default().clone()
    }

    pub async fn open(&self, campaign: CampaignId) {
        *self.gate(campaign).0.write().await = true;
    }

    /// Closes the gate once the create-calls passing through it have been answered.
    pub async fn close(&self, campaign: CampaignId) {
        *self.gate(campaign).0.write().await = false;
    }

    /// Forgets a finished campaign's gate (a later lookup gets a closed one).
    pub fn remove(&self, campaign: CampaignId) {
        let mut gates = self.0.lock().unwrap_or_else(|p| p.into_inner());
        gates.remove(&campaign);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn closing_waits_for_requests_in_flight_and_stops_new_ones() {
        let gates = DialGates::default();
        let id = CampaignId::new();
        assert!(gates.gate(id).pass().await.is_none(), "closed until opened");
        gates.open(id).await;
        let pass = gates.gate(id).pass().await.expect("open");
        let closing = tokio::spawn({
            let gates = gates.clone();
            async move { gates.close(id).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!closing.is_finished(), "a request in flight holds the gate");
        drop(pass);
        closing.await.unwrap();
        assert!(gates.gate(id).pass().await.is_none());
    }
}
