//! Every metric `/metrics` exports, with its help text, in one table; and the series
//! registered at zero at start-up, so that a counter of something that has not happened
//! yet (an alert fired, a circuit opened) reads 0 instead of being absent, and dashboard
//! queries over it return data from the first scrape.
//!
//! Names follow Prometheus conventions: `callvisor_` prefix, base units (`_seconds`,
//! `_bytes`), `_total` on counters; labels have bounded values only (a status, a route
//! template, a client id — never a phone number or a call id). `process_*` follow the
//! standard process-collector names.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// What kind of metric, for its description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every exported metric: name, kind, help.
pub const METRICS: &[(&str, Kind, &str)] = &[
    (
        "callvisor_active_calls",
        Kind::Gauge,
        "Calls that have an actor: dialing, ringing or talking.",
    ),
    (
        "callvisor_calls_waiting_for_their_time",
        Kind::Gauge,
        "Scheduled calls and retries waiting for their time.",
    ),
    (
        "callvisor_calls_finished_total",
        Kind::Counter,
        "Calls that reached a final status, by status.",
    ),
    (
        "callvisor_call_observations_total",
        Kind::Counter,
        "Status observations of live calls, by source and whether they moved the call.",
    ),
    (
        "callvisor_call_retries_total",
        Kind::Counter,
        "Retries made of failed calls, by failure reason.",
    ),
    (
        "callvisor_scheduled_occurrences_total",
        Kind::Counter,
        "Occurrences of repeating calls made.",
    ),
    (
        "callvisor_bulk_calls_total",
        Kind::Counter,
        "Calls of bulk requests, by whether they were accepted.",
    ),
    (
        "callvisor_bot_warmups_total",
        Kind::Counter,
        "Bot warm-ups before dialing, by outcome.",
    ),
    (
        "callvisor_provider_requests_total",
        Kind::Counter,
        "Requests to the provider, by operation and outcome.",
    ),
    (
        "callvisor_provider_request_duration_seconds",
        Kind::Histogram,
        "Time one provider request took, by operation.",
    ),
    (
        "callvisor_provider_retries_total",
        Kind::Counter,
        "Provider requests sent again after a 429, 503 or connection error.",
    ),
    (
        "callvisor_circuit_state",
        Kind::Gauge,
        "Provider circuit breaker: 0 closed, 1 half-open, 2 open.",
    ),
    (
        "callvisor_circuit_opened_total",
        Kind::Counter,
        "Times the provider circuit breaker opened.",
    ),
    (
        "callvisor_rate_limiter_waits_total",
        Kind::Counter,
        "Provider requests that waited for their rate limiter, by API class.",
    ),
    (
        "callvisor_rate_limiter_wait_seconds",
        Kind::Histogram,
        "Time provider requests waited for their rate limiter.",
    ),
    (
        "callvisor_global_slots_in_use",
        Kind::Gauge,
        "Call slots in use, system-wide.",
    ),
    (
        "callvisor_global_slots_max",
        Kind::Gauge,
        "System-wide call slot limit.",
    ),
    (
        "callvisor_client_slots_in_use",
        Kind::Gauge,
        "Call slots in use, per client.",
    ),
    (
        "callvisor_slot_queue_length",
        Kind::Gauge,
        "Calls waiting in line for a slot.",
    ),
    (
        "callvisor_slot_wait_seconds",
        Kind::Histogram,
        "Time calls waited in line for their slot.",
    ),
    (
        "callvisor_slot_denials_total",
        Kind::Counter,
        "Immediate calls refused a slot, by which limit refused.",
    ),
    (
        "callvisor_webhooks_received_total",
        Kind::Counter,
        "Provider status callbacks taken, by provider.",
    ),
    (
        "callvisor_webhooks_rejected_total",
        Kind::Counter,
        "Provider callbacks refused, by provider and reason.",
    ),
    (
        "callvisor_webhook_lag_seconds",
        Kind::Histogram,
        "Time from the provider sending a callback to callvisor receiving it.",
    ),
    (
        "callvisor_http_request_duration_seconds",
        Kind::Histogram,
        "HTTP request latency, by method, route template and status.",
    ),
    (
        "callvisor_actor_restarts_total",
        Kind::Counter,
        "Actors restarted by their supervisor, by actor.",
    ),
    (
        "callvisor_alerts_fired_total",
        Kind::Counter,
        "Alert notices sent (first, escalated or repeated after the cooldown), by rule and level.",
    ),
    (
        "callvisor_alerts_resolved_total",
        Kind::Counter,
        "Alerts resolved after being sent, by rule.",
    ),
    (
        "callvisor_alerts_active",
        Kind::Gauge,
        "Alerts active now, by level.",
    ),
    (
        "callvisor_alert_deliveries_total",
        Kind::Counter,
        "Alert delivery attempts' outcomes, by channel.",
    ),
    (
        "callvisor_provider_health_status",
        Kind::Gauge,
        "Latest provider health check: 0 OK, 1 WARNING, 2 ERROR.",
    ),
    (
        "callvisor_provider_health_checks_total",
        Kind::Counter,
        "Provider health checks, by source and status.",
    ),
    (
        "callvisor_provider_health_latency_seconds",
        Kind::Histogram,
        "Time the provider took to answer a health probe.",
    ),
    (
        "callvisor_provider_heartbeats_total",
        Kind::Counter,
        "Heartbeats the provider sent, by status.",
    ),
    (
        "callvisor_sync_runs_total",
        Kind::Counter,
        "Reconciliation runs with the provider's call records, by status.",
    ),
    (
        "callvisor_sync_records_total",
        Kind::Counter,
        "Provider call records reconciled, by what was done.",
    ),
    (
        "callvisor_sync_duration_seconds",
        Kind::Histogram,
        "Time a reconciliation run took.",
    ),
    (
        "callvisor_sync_last_success_timestamp_seconds",
        Kind::Gauge,
        "When the last successful reconciliation run ended, Unix time.",
    ),
    (
        "callvisor_retention_deleted_total",
        Kind::Counter,
        "Records deleted by retention, by table.",
    ),
    (
        "callvisor_campaigns",
        Kind::Gauge,
        "Campaigns by status, as stored (read at each scrape).",
    ),
    (
        "callvisor_campaign_actors",
        Kind::Gauge,
        "Campaigns with an actor: running, or paused with calls to track.",
    ),
    (
        "callvisor_campaign_dials_total",
        Kind::Counter,
        "Calls made by each campaign.",
    ),
    (
        "callvisor_campaign_outcomes_total",
        Kind::Counter,
        "Ends of each campaign's calls, by what became of the contact.",
    ),
    (
        "callvisor_campaign_cursor",
        Kind::Gauge,
        "Each campaign's cursor: contacts taken from its list.",
    ),
    (
        "callvisor_campaign_remaining_contacts",
        Kind::Gauge,
        "Each campaign's contacts without a final outcome.",
    ),
    (
        "callvisor_campaign_paused",
        Kind::Gauge,
        "1 while a campaign is paused, else 0.",
    ),
    (
        "callvisor_campaigns_failed_total",
        Kind::Counter,
        "Campaigns given up because their actor kept failing.",
    ),
    (
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the process.",
    ),
    (
        "process_start_time_seconds",
        Kind::Gauge,
        "When the process started, Unix time.",
    ),
];

/// Describes every metric to the recorder, so each gets its HELP and TYPE lines.
pub fn describe_all() {
    for (name, kind, help) in METRICS {
        let unit = if name.ends_with("_seconds") {
            Some(Unit::Seconds)
        } else if name.ends_with("_bytes") {
            Some(Unit::Bytes)
        } else {
            None
        };
        match (kind, unit) {
            (Kind::Counter, _) => describe_counter!(*name, *help),
            (Kind::Gauge, Some(u)) => describe_gauge!(*name, u, *help),
            (Kind::Gauge, None) => describe_gauge!(*name, *help),
            (Kind::Histogram, _) => describe_histogram!(*name, Unit::Seconds, *help),
        }
    }
}

/// Registers at zero the series of events that may not have happened yet (adding zero,
/// so a series that already counted something keeps its count).
pub fn register_zero_series(provider: &'static str) {
    use callvisor_actors::domain::CallStatus;
    use callvisor_actors::monitors::{alert::RULES, HealthStatus, Level, SyncStatus};
    metrics::counter!("callvisor_circuit_opened_total", "provider" => provider).increment(0);
    metrics::gauge!("callvisor_active_calls").increment(0.0);
    metrics::gauge!("callvisor_slot_queue_length").increment(0.0);
    metrics::gauge!("callvisor_calls_waiting_for_their_time").increment(0.0);
    for status in CallStatus::ALL.into_iter().filter(|s| s.is_final()) {
        metrics::counter!("callvisor_calls_finished_total", "status" => status.as_str())
            .increment(0);
    }
    for rule in RULES {
        metrics::counter!("callvisor_alerts_resolved_total", "rule" => rule).increment(0);
        for level in Level::ALL {
            metrics::counter!("callvisor_alerts_fired_total", "rule" => rule, "level" => level.as_str())
                .increment(0);
        }
    }
    for level in Level::ALL {
        metrics::gauge!("callvisor_alerts_active", "level" => level.as_str()).increment(0.0);
    }
    for status in HealthStatus::ALL {
        metrics::counter!("callvisor_provider_health_checks_total", "source" => "probe", "status" => status.as_str())
            .increment(0);
    }
    for status in [SyncStatus::Success, SyncStatus::Failed] {
        metrics::counter!("callvisor_sync_runs_total", "status" => status.as_str()).increment(0);
    }
    metrics::counter!("callvisor_actor_restarts_total", "actor" => "call").increment(0);
    metrics::counter!("callvisor_provider_retries_total", "provider" => provider, "operation" => "create_call")
        .increment(0);
    metrics::counter!("callvisor_webhooks_rejected_total", "provider" => provider, "reason" => "malformed")
        .increment(0);
    for scope in ["client", "global"] {
        metrics::counter!("callvisor_slot_denials_total", "scope" => scope).increment(0);
    }
    metrics::counter!("callvisor_alert_deliveries_total", "channel" => "event_log", "outcome" => "delivered")
        .increment(0);
    for kind in callvisor_actors::ports::RetainedKind::ALL {
        metrics::counter!("callvisor_retention_deleted_total", "table" => kind.as_str())
            .increment(0);
    }
    metrics::counter!("callvisor_webhooks_received_total", "provider" => provider).increment(0);
    metrics::counter!("callvisor_campaigns_failed_total").increment(0);
    metrics::gauge!("callvisor_campaign_actors").increment(0.0);
}

/// Sets the campaigns-by-status gauge from storage's counts (every status, zeros too).
pub fn campaigns_by_status(counts: &[(callvisor_actors::domain::campaign::CampaignStatus, u32)]) {
    use callvisor_actors::domain::campaign::CampaignStatus;
    for status in CampaignStatus::ALL {
        let n = counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("callvisor_campaigns", "status" => status.as_str()).set(f64::from(n));
    }
}

/// Samples what the process knows about itself into the `process_*` gauges.
pub fn sample_process(started_at_unix: f64) {
    if let Some(bytes) = crate::process::resident_memory_bytes() {
        metrics::gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
    metrics::gauge!("process_start_time_seconds").set(started_at_unix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        for (name, kind, help) in METRICS {
            assert!(
                name.starts_with("callvisor_") || name.starts_with("process_"),
                "{name}"
            );
            assert_eq!(*kind == Kind::Counter, name.ends_with("_total"), "{name}");
            if *kind == Kind::Histogram {
                assert!(name.ends_with("_seconds"), "{name}");
            }
            assert!(!help.is_empty());
        }
    }
}
