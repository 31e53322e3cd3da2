//! PagerDuty Events v2: a `trigger` event per trigger notice and a `resolve` event per
//! resolve, both keyed by the alert key as `dedup_key`, so PagerDuty folds repeats into
//! one incident and closes it on the resolve.

use callvisor_actors::monitors::{Action, Level, Notice};
use serde_json::{json, Value};

/// PagerDuty's summaries are at most 1024 characters.
const MAX_SUMMARY: usize = 1024;

fn severity(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
        Level::Critical => "critical",
    }
}

pub fn body(routing_key: &str, notice: &Notice) -> Value {
    match notice.action {
        Action::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": notice.key,
        }),
        Action::Trigger => json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": notice.key,
            "payload": {
                "summary": notice.title.chars().take(MAX_SUMMARY).collect::<String>(),
                "source": "callvisor",
                "severity": severity(notice.level),
                "timestamp": notice.at.to_rfc3339(),
                "component": callvisor_actors::monitors::alert::rule_label(&notice.key),
                "group": "callvisor",
                "custom_details": {
                    "detail": notice.detail,
                    "occurrences": notice.occurrences,
                    "firstRaisedAt": notice.first_raised_at,
                },
            },
        }),
    }
}
