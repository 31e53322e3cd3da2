//! What every CampaignActor needs to reach the rest of the system, shared by all of them.

use crate::calls::CallSupervisorMsg;
use crate::gateway::DialGates;
use crate::monitors::{MonitorHandles, Signals};
use crate::ports::{CallStore, CampaignStore, Clock};
use crate::supervision::Replaceable;
use std::sync::Arc;

/// Settings of the campaign actors.
#[derive(Clone, Debug)]
pub struct CampaignSettings {
    /// Contacts read from storage at a time, ahead of the cursor; also the most contacts
    /// one transaction moves past the cursor (do-not-call skips, closed windows).
    pub read_ahead: u32,
    /// Events buffered per campaign for live subscribers; a slower subscriber misses
    /// the oldest and is told how many.
    pub event_buffer: usize,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self {
            read_ahead: 500,
            event_buffer: 1024,
        }
    }
}

/// Shared handles of the campaign subsystem.
pub struct CampaignContext {
    pub store: Arc<dyn CampaignStore>,
    /// Where a contact's calls are read when an actor restarts.
    pub calls_store: Arc<dyn CallStore>,
    pub calls: Replaceable<CallSupervisorMsg>,
    pub clock: Arc<dyn Clock>,
    pub gates: DialGates,
    pub settings: CampaignSettings,
    /// Name of the provider calls are placed with, recorded on each call.
    pub provider_name: String,
    /// Where a campaign that fails for good is reported.
    pub alerts: MonitorHandles,
    /// Where restarts are counted for the restart-storm alert.
    pub signals: Arc<Signals>,
}
