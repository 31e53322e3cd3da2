//! The Monitors: a supervisor, one child of the RootSupervisor, over the actors that
//! watch the system and tell people about it.
//!
//! - [`supervisor`]: the Monitors supervisor and the [`MonitorHandles`] it hands out;
//!   any actor holding the tree handle raises and resolves alerts through them.
//! - [`alert_manager`]: the AlertManager — rules, de-duplication, recording, delivery.
//!   - [`alert`]: levels, keys, notices and records; [`dedup`]: the cooldown book;
//!     [`rules`]: the alert rules as pure functions of a [`Snapshot`];
//!     [`delivery`]: one courier per channel, bounded, retried, never blocking;
//!     [`log_channel`]: the event-log channel.
//! - [`health_monitor`]: the ProviderHealthMonitor; [`health`]: what a check found.
//! - [`sync_actor`]: the SyncActor; [`sync`]: a run as recorded; [`reconcile`]: the
//!   decisions about one provider record.
//! - [`retention`]: the RetentionActor.
//! - [`signals`]: webhook lag and supervisor restarts, shared across the tree.
//! - [`context`]: what every monitor shares, and the settings of all of them;
//!   [`waiters`]: callers joining a probe or a run under way.

pub mod alert;
pub mod alert_manager;
pub mod context;
pub mod dedup;
pub mod delivery;
pub mod health;
pub mod health_monitor;
pub mod log_channel;
pub mod reconcile;
pub mod retention;
pub mod rules;
pub mod signals;
pub mod supervisor;
pub mod sync;
pub mod sync_actor;
pub mod waiters;

pub use alert::{Action, Alert, AlertRecord, AlertStatus, Level, LogEntry, Notice};
pub use alert_manager::AlertMsg;
pub use context::{
    AlertSettings, HealthSettings, MonitorContext, MonitorSettings, MonitorStore, MonitorsConfig,
    RetentionSettings, SyncSettings,
};
pub use dedup::DedupPolicy;
pub use delivery::DeliveryPolicy;
pub use health::{CheckSource, HealthCheck, HealthStatus};
pub use health_monitor::HealthMsg;
pub use retention::RetentionMsg;
pub use rules::{OutcomeCounts, Snapshot, Thresholds, ERROR_STATUSES};
pub use signals::Signals;
pub use supervisor::{MonitorHandles, Monitors, MonitorsArgs, MonitorsMsg};
pub use sync::{SyncCounts, SyncRun, SyncStatus, SyncTrigger, BULK_CALL_DETAILS};
pub use sync_actor::SyncMsg;
