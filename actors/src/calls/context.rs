//! What every CallActor needs to reach the rest of the system, shared by all of them.

use crate::broker::BrokerMsg;
use crate::campaigns::CampaignSupervisorMsg;
use crate::domain::campaign::CallEnded;
use crate::domain::{Call, CallId};
use crate::gateway::{DialGates, GatewayMsg};
use crate::monitors::Signals;
use crate::ports::{BotWarmer, CallStore, Clock, WarmupPolicy};
use crate::supervision::{LateRef, Replaceable};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the call lifecycle.
#[derive(Clone, Debug)]
pub struct CallSettings {
    /// A call that hears nothing for this long ends as `timeout` (after one last check
    /// with the provider, so a long conversation is not cut off).
    pub call_timeout: Duration,
    /// How long to let the phone ring.
    pub ring_timeout: Duration,
    /// Where the provider posts status callbacks; the call id is appended as `callId`.
    pub status_callback_base: String,
    /// Backstop on waiting for the provider gateway: it always answers (success, a
    /// definite error, or "outcome unknown"), but a request may queue behind a rate
    /// limit or an open circuit for a long time first.
    pub provider_reply_timeout: Duration,
    /// How the bot is warmed up before dialing.
    pub warmup: WarmupPolicy,
    /// How long to wait before dialing again when the provider surely did not take the
    /// call (rate limited, down).
    pub redial_delay: Duration,
    /// How long to wait between attempts to settle a dial whose outcome is unknown.
    pub reconcile_retry: Duration,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(600),
            ring_timeout: Duration::from_secs(60),
            status_callback_base: "http://127.0.0.1:8080/webhooks/twilio/status".into(),
            provider_reply_timeout: Duration::from_secs(6 * 3600),
            redial_delay: Duration::from_secs(30),
            warmup: WarmupPolicy::default(),
            reconcile_retry: Duration::from_secs(5),
        }
    }
}

impl CallSettings {
    /// The status-callback URL for one call.
    pub fn status_callback_url(&self, call: CallId) -> String {
        let sep = if self.status_callback_base.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}callId={call}", self.status_callback_base)
    }
}

/// Shared handles of the call subsystem.
pub struct CallContext {
    pub store: Arc<dyn CallStore>,
    pub gateway: Replaceable<GatewayMsg>,
    pub broker: Replaceable<BrokerMsg>,
    pub clock: Arc<dyn Clock>,
    /// Wakes bots before their calls are dialed.
    pub warmer: Arc<dyn BotWarmer>,
    pub settings: CallSettings,
    /// Name of the provider calls are placed with, recorded on each call.
    pub provider_name: String,
    /// Campaigns' dial gates, which campaign calls carry to the gateway.
    pub gates: DialGates,
    /// Where campaign calls report their end.
    pub campaigns: LateRef<CampaignSupervisorMsg>,
    /// Where restarts are counted for the restart-storm alert.
    pub signals: Arc<Signals>,
}

impl CallContext {
    /// Tells the call's campaign, if it has one, that the call is over. A report lost
    /// here (the CampaignSupervisor not yet started, or restarting) is made good when the
    /// campaign's actor starts: it reads the outcome of its calls from storage.
    pub fn report_end(&self, call: &Call) {
        let (Some(campaign_id), Some(position)) = (call.campaign_id, call.contact_position) else {
            return;
        };
        if let Some(campaigns) = self.campaigns.get() {
            let _ = campaigns.cast(CampaignSupervisorMsg::CallEnded(CallEnded {
                campaign_id,
                position,
                call_id: call.id,
                status: call.status,
                failure_reason: call.failure_reason,
                dialed: call.dial_started_at.is_some(),
            }));
        }
    }
}
