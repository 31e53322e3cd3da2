//! Settings of the monitors: provider health checks, reconciliation, alerts and their
//! channels, retention. Durations are written as `90s`, `15m`, `7d`.

use callvisor_actors::monitors::{
    AlertSettings, DedupPolicy, DeliveryPolicy, HealthSettings, Level, MonitorSettings,
    RetentionSettings, SyncSettings, Thresholds,
};
use clap::Args;
use std::time::Duration;

fn duration(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw)
        .map_err(|e| format!("'{raw}' is not a duration (90s, 15m, 7d): {e}"))
}

fn level(raw: &str) -> Result<Level, String> {
    raw.parse()
}

fn share(raw: &str) -> Result<f64, String> {
    raw.parse::<f64>()
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("'{raw}' is not a share between 0 and 1"))
}

/// Settings of the monitors.
#[derive(Args, Debug, Clone)]
pub struct MonitoringArgs {
    /// Time between two provider health checks.
    #[arg(long, env = "CALLVISOR_HEALTH_INTERVAL", default_value = "1m", value_parser = duration, global = true)]
    pub health_interval: Duration,
    /// Whether the provider is checked on a timer (manual checks and heartbeats still work).
    #[arg(long, env = "CALLVISOR_HEALTH_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub health_enabled: bool,
    /// A provider slower than this to answer a check is WARNING.
    #[arg(long, env = "CALLVISOR_HEALTH_SLOW", default_value = "5s", value_parser = duration, global = true)]
    pub health_slow: Duration,
    /// A provider that has not answered a check in this long is ERROR.
    #[arg(long, env = "CALLVISOR_HEALTH_TIMEOUT", default_value = "30s", value_parser = duration, global = true)]
    pub health_timeout: Duration,
    /// Time between two reconciliations with the provider's call records.
    #[arg(long, env = "CALLVISOR_SYNC_INTERVAL", default_value = "15m", value_parser = duration, global = true)]
    pub sync_interval: Duration,
    /// Whether reconciliation runs on a timer (a manual trigger still works).
    #[arg(long, env = "CALLVISOR_SYNC_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub sync_enabled: bool,
    /// How far back the first reconciliation ever looks.
    #[arg(long, env = "CALLVISOR_SYNC_LOOKBACK", default_value = "24h", value_parser = duration, global = true)]
    pub sync_lookback: Duration,
    /// Whether reconciliation asks for the recordings of answered calls.
    #[arg(long, env = "CALLVISOR_SYNC_RECORDINGS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub sync_recordings: bool,
    /// Alerts below this level are kept but not sent: info, warning, error, critical.
    #[arg(long, env = "ALERT_MIN_LEVEL", default_value = "warning", value_parser = level, global = true)]
    pub alert_min_level: Level,
    /// Quiet time after a notice about an alert key.
    #[arg(long, env = "ALERT_COOLDOWN", default_value = "5m", value_parser = duration, global = true)]
    pub alert_cooldown: Duration,
    /// Time between two evaluations of the alert rules.
    #[arg(long, env = "ALERT_EVALUATION_INTERVAL", default_value = "30s", value_parser = duration, global = true)]
    pub alert_evaluation_interval: Duration,
    /// Generic webhook: every notice is POSTed there as JSON.
    #[arg(long, env = "ALERT_WEBHOOK_URL", global = true)]
    pub alert_webhook_url: Option<String>,
    /// Slack incoming webhook.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true, global = true)]
    pub slack_webhook_url: Option<String>,
    /// PagerDuty Events v2 routing key.
    #[arg(
        long,
        env = "PAGERDUTY_ROUTING_KEY",
        hide_env_values = true,
        global = true
    )]
    pub pagerduty_routing_key: Option<String>,
    /// PagerDuty Events v2 endpoint.
    #[arg(
        long,
        env = "PAGERDUTY_EVENTS_URL",
        default_value = "https://events.pagerduty.com/v2/enqueue",
        global = true
    )]
    pub pagerduty_events_url: String,
    /// Attempts per notice and channel.
    #[arg(
        long,
        env = "ALERT_DELIVERY_ATTEMPTS",
        default_value_t = 5,
        global = true
    )]
    pub alert_delivery_attempts: u32,
    /// Longest wait for one delivery attempt.
    #[arg(long, env = "ALERT_DELIVERY_TIMEOUT", default_value = "10s", value_parser = duration, global = true)]
    pub alert_delivery_timeout: Duration,
    /// Sliding window of the error-rate rule.
    #[arg(long, env = "ALERT_ERROR_RATE_WINDOW", default_value = "5m", value_parser = duration, global = true)]
    pub alert_error_rate_window: Duration,
    /// Ended calls the window needs before the error rate counts.
    #[arg(
        long,
        env = "ALERT_ERROR_RATE_MIN_CALLS",
        default_value_t = 20,
        global = true
    )]
    pub alert_error_rate_min_calls: u64,
    /// Error rate above which a warning is raised.
    #[arg(long, env = "ALERT_ERROR_RATE_WARNING", default_value = "0.10", value_parser = share, global = true)]
    pub alert_error_rate_warning: f64,
    /// Error rate above which the alert is critical.
    #[arg(long, env = "ALERT_ERROR_RATE_CRITICAL", default_value = "0.20", value_parser = share, global = true)]
    pub alert_error_rate_critical: f64,
    /// Calls waiting for a slot beyond which the backlog alert is raised.
    #[arg(
        long,
        env = "ALERT_QUEUE_BACKLOG",
        default_value_t = 500,
        global = true
    )]
    pub alert_queue_backlog: usize,
    /// Longest acceptable wait for a slot.
    #[arg(long, env = "ALERT_QUEUE_WAIT", default_value = "2m", value_parser = duration, global = true)]
    pub alert_queue_wait: Duration,
    /// Largest acceptable webhook lag.
    #[arg(long, env = "ALERT_WEBHOOK_LAG", default_value = "30s", value_parser = duration, global = true)]
    pub alert_webhook_lag: Duration,
    /// Resident memory above which a warning is raised, in MiB.
    #[arg(
        long,
        env = "ALERT_MEMORY_WARNING_MB",
        default_value_t = 1024,
        global = true
    )]
    pub alert_memory_warning_mb: u64,
    /// Resident memory above which the alert is critical, in MiB.
    #[arg(
        long,
        env = "ALERT_MEMORY_CRITICAL_MB",
        default_value_t = 2048,
        global = true
    )]
    pub alert_memory_critical_mb: u64,
    /// Supervisor restarts within five minutes that make a restart storm.
    #[arg(long, env = "ALERT_RESTART_STORM", default_value_t = 10, global = true)]
    pub alert_restart_storm: usize,
    /// Time between two retention clean-ups.
    #[arg(long, env = "RETENTION_INTERVAL", default_value = "1h", value_parser = duration, global = true)]
    pub retention_interval: Duration,
    /// Age after which health checks are deleted.
    #[arg(long, env = "HEALTH_CHECK_RETENTION", default_value = "7d", value_parser = duration, global = true)]
    pub health_check_retention: Duration,
    /// Age after which event-log entries are deleted.
    #[arg(long, env = "EVENT_LOG_RETENTION", default_value = "30d", value_parser = duration, global = true)]
    pub event_log_retention: Duration,
    /// Age after which resolved alerts are deleted.
    #[arg(long, env = "ALERT_RETENTION", default_value = "90d", value_parser = duration, global = true)]
    pub alert_retention: Duration,
    /// Age, counted from a call's end, after which its event history is deleted (the
    /// call's record stays).
    #[arg(long, env = "CALL_EVENT_RETENTION", default_value = "90d", value_parser = duration, global = true)]
    pub call_event_retention: Duration,
}

impl MonitoringArgs {
    /// The monitors' settings.
    pub fn settings(&self) -> MonitorSettings {
        const MIB: u64 = 1024 * 1024;
        MonitorSettings {
            health: HealthSettings {
                interval: self.health_enabled.then_some(self.health_interval),
                slow: self.health_slow,
                timeout: self.health_timeout,
            },
            sync: SyncSettings {
                interval: self.sync_enabled.then_some(self.sync_interval),
                lookback: self.sync_lookback,
                fetch_recordings: self.sync_recordings,
                ..SyncSettings::default()
            },
            alerts: AlertSettings {
                dedup: DedupPolicy {
                    cooldown: self.alert_cooldown,
                    min_level: self.alert_min_level,
                },
                delivery: DeliveryPolicy {
                    attempts: self.alert_delivery_attempts.max(1),
                    timeout: self.alert_delivery_timeout,
                    ..DeliveryPolicy::default()
                },
                thresholds: Thresholds {
                    error_rate_window: self.alert_error_rate_window,
                    error_rate_min_calls: self.alert_error_rate_min_calls,
                    error_rate_warning: self.alert_error_rate_warning,
                    error_rate_critical: self.alert_error_rate_critical,
                    queue_backlog: self.alert_queue_backlog,
                    queue_wait: self.alert_queue_wait,
                    webhook_lag: self.alert_webhook_lag,
                    memory_warning_bytes: self.alert_memory_warning_mb * MIB,
                    memory_critical_bytes: self.alert_memory_critical_mb * MIB,
                    restart_storm: self.alert_restart_storm,
                },
                evaluation_interval: Some(self.alert_evaluation_interval),
            },
            retention: RetentionSettings {
                interval: Some(self.retention_interval),
                health_checks: Some(self.health_check_retention),
                event_log: Some(self.event_log_retention),
                resolved_alerts: Some(self.alert_retention),
                call_events: Some(self.call_event_retention),
            },
        }
    }
}
