//! What every monitor needs, shared by all four: storage, the alert channels, handles to
//! the actors they watch, the shared signals, and their settings.

use super::dedup::DedupPolicy;
use super::delivery::DeliveryPolicy;
use super::rules::Thresholds;
use super::signals::Signals;
use crate::broker::BrokerMsg;
use crate::calls::CallSupervisorMsg;
use crate::gateway::GatewayMsg;
use crate::ports::{
    AlertChannel, AlertStore, CallStore, Clock, HealthStore, NoProbe, ProcessProbe, RetentionStore,
    SyncStore,
};
use crate::supervision::Replaceable;
use std::sync::Arc;
use std::time::Duration;

/// Everything the monitors store, in one object (the server's SQL store is all of it).
pub trait MonitorStore: CallStore + HealthStore + SyncStore + AlertStore + RetentionStore {}

impl<T> MonitorStore for T where T: CallStore + HealthStore + SyncStore + AlertStore + RetentionStore
{}

/// How the ProviderHealthMonitor checks the provider.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthSettings {
    /// Time between two checks; `None` turns scheduled checks off (manual checks and
    /// Exotel's heartbeats are still taken).
    pub interval: Option<Duration>,
    /// A provider slower than this to answer is a WARNING.
    pub slow: Duration,
    /// A provider that has not answered in this long is an ERROR.
    pub timeout: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            interval: Some(Duration::from_secs(60)),
            slow: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// How the SyncActor reconciles with the provider.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncSettings {
    /// Time between two scheduled runs; `None` leaves only manual runs.
    pub interval: Option<Duration>,
    /// How far back the first run ever looks.
    pub lookback: Duration,
    /// How far before the previous run's end the next one starts again, for calls the
    /// provider listed late.
    pub overlap: Duration,
    /// Ask the provider for the recording of answered calls whose records carry none.
    pub fetch_recordings: bool,
    /// Longest wait for the provider's answer to one request of a run.
    pub request_timeout: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            interval: Some(Duration::from_secs(15 * 60)),
            lookback: Duration::from_secs(24 * 3600),
            overlap: Duration::from_secs(120),
            fetch_recordings: true,
            request_timeout: Duration::from_secs(300),
        }
    }
}

/// How the AlertManager decides and delivers.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSettings {
    pub dedup: DedupPolicy,
    pub delivery: DeliveryPolicy,
    pub thresholds: Thresholds,
    /// Time between two looks at the system; `None` turns the rules off (raises from
    /// other actors still go through).
    pub evaluation_interval: Option<Duration>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            dedup: DedupPolicy::default(),
            delivery: DeliveryPolicy::default(),
            thresholds: Thresholds::default(),
            evaluation_interval: Some(Duration::from_secs(30)),
        }
    }
}

/// How long records are kept; `None` keeps them forever.
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionSettings {
    /// Time between two clean-ups; `None` turns retention off.
    pub interval: Option<Duration>,
    pub health_checks: Option<Duration>,
    pub event_log: Option<Duration>,
    pub resolved_alerts: Option<Duration>,
    /// Age, counted from a call's end, after which its event history goes.
    pub call_events: Option<Duration>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            interval: Some(Duration::from_secs(3600)),
            health_checks: Some(Duration::from_secs(7 * DAY)),
            event_log: Some(Duration::from_secs(30 * DAY)),
            resolved_alerts: Some(Duration::from_secs(90 * DAY)),
            call_events: Some(Duration::from_secs(90 * DAY)),
        }
    }
}

/// Settings of all the monitors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorSettings {
    pub health: HealthSettings,
    pub sync: SyncSettings,
    pub alerts: AlertSettings,
    pub retention: RetentionSettings,
}

impl MonitorSettings {
    /// Defaults with every timer off: nothing is checked, synced, evaluated or cleaned
    /// up unless asked for (for tests that watch one thing at a time).
    pub fn manual() -> Self {
        let mut s = Self::default();
        s.health.interval = None;
        s.sync.interval = None;
        s.alerts.evaluation_interval = None;
        s.retention.interval = None;
        s
    }
}

/// What the tree's owner gives the monitors.
#[derive(Clone)]
pub struct MonitorsConfig {
    pub store: Arc<dyn MonitorStore>,
    /// Where alerts go besides the event log.
    pub channels: Vec<Arc<dyn AlertChannel>>,
    pub probe: Arc<dyn ProcessProbe>,
    pub settings: MonitorSettings,
}

impl MonitorsConfig {
    /// Default settings, no channels but the event log, no process probe.
    pub fn new(store: Arc<dyn MonitorStore>) -> Self {
        Self {
            store,
            channels: Vec::new(),
            probe: Arc::new(NoProbe),
            settings: MonitorSettings::default(),
        }
    }
}

/// The shared context of the monitors.
pub struct MonitorContext {
    pub store: Arc<dyn MonitorStore>,
    pub channels: Vec<Arc<dyn AlertChannel>>,
    pub probe: Arc<dyn ProcessProbe>,
    pub settings: MonitorSettings,
    pub gateway: Replaceable<GatewayMsg>,
    pub broker: Replaceable<BrokerMsg>,
    pub calls: Replaceable<CallSupervisorMsg>,
    pub signals: Arc<Signals>,
    pub clock: Arc<dyn Clock>,
    /// Name of the provider calls are placed with, as recorded on each call.
    pub provider_name: String,
}
