//! What an alert is: its level, its key, what is sent about it, and how it is kept.
//!
//! An alert is known by its key: `rule` or `rule:subject` (`error_rate`,
//! `campaign_failed:0190…`). Raising a key that is already active is the same alert
//! again, not a new one; resolving the key ends it. Only the rule part ever becomes a
//! metric label, and only when it is one of [`RULES`], so a subject (a campaign id)
//! never multiplies the label set.

use crate::domain::ClientId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// How bad it is, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Self::Info, Self::Warning, Self::Error, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown alert level '{s}' (info, warning, error, critical)"))
    }
}

/// The rules alerts come from; anything else is labelled `other` in metrics.
pub const RULES: [&str; 9] = [
    "error_rate",
    "circuit_open",
    "provider_health",
    "queue_backlog",
    "queue_wait",
    "webhook_lag",
    "memory",
    "restart_storm",
    "campaign_failed",
];

/// The bounded metric label of a key: its rule if known, else `other`.
pub fn rule_label(key: &str) -> &'static str {
    let rule = key.split(':').next().unwrap_or(key);
    RULES.into_iter().find(|r| *r == rule).unwrap_or("other")
}

/// A condition someone wants people told about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `rule` or `rule:subject`; raising the same key again is the same alert.
    pub key: String,
    pub level: Level,
    pub title: String,
    /// Figures behind the alert (rates, counts, ids), sent along as they are.
    pub detail: Value,
    /// The client the alert concerns, if it concerns one (a campaign's); its staff may
    /// see it. System-wide alerts have none.
    pub client_id: Option<ClientId>,
}

impl Alert {
    /// A system-wide alert.
    pub fn new(
        key: impl Into<String>,
        level: Level,
        title: impl Into<String>,
        detail: Value,
    ) -> Self {
        Self {
            key: key.into(),
            level,
            title: title.into(),
            detail,
            client_id: None,
        }
    }
}

/// Whether a notice starts (or repeats, or escalates) an alert or ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Resolve => "resolve",
        }
    }
}

/// One message about an alert, as every channel receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub alert_id: Uuid,
    pub key: String,
    pub level: Level,
    pub action: Action,
    pub title: String,
    pub detail: Value,
    /// How many times the condition was raised since the alert began.
    pub occurrences: u64,
    /// When the alert began.
    pub first_raised_at: DateTime<Utc>,
    /// When this notice was made.
    pub at: DateTime<Utc>,
}

/// Where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Active,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "resolved" => Ok(Self::Resolved),
            other => Err(format!("unknown alert status '{other}' (active, resolved)")),
        }
    }
}

/// An alert as kept: from its first raise to its resolve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRecord {
    pub id: Uuid,
    pub key: String,
    /// The bounded rule name of the key.
    pub rule: String,
    /// The highest level raised so far.
    pub level: Level,
    pub title: String,
    pub detail: Value,
    pub client_id: Option<ClientId>,
    pub status: AlertStatus,
    pub occurrences: u64,
    pub first_raised_at: DateTime<Utc>,
    pub last_raised_at: DateTime<Utc>,
    /// When channels were last told (none while below the minimum level).
    pub last_notified_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl AlertRecord {
    /// The notice channels get about this alert now.
    pub fn notice(&self, action: Action, at: DateTime<Utc>) -> Notice {
        Notice {
            alert_id: self.id,
            key: self.key.clone(),
            level: self.level,
            action,
            title: self.title.clone(),
            detail: self.detail.clone(),
            occurrences: self.occurrences,
            first_raised_at: self.first_raised_at,
            at,
        }
    }
}

/// One entry of the event log: what the system told people, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub level: Level,
    /// What happened, in a word: `alert.trigger`, `alert.resolve`, `sync.unmatched_call`.
    pub kind: String,
    /// The alert key or other subject.
    pub subject: String,
    pub message: String,
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_rules_become_labels() {
        assert_eq!(rule_label("error_rate"), "error_rate");
        assert_eq!(rule_label("campaign_failed:0190aaaa"), "campaign_failed");
        assert_eq!(rule_label("+14155550100"), "other");
    }

    #[test]
    fn levels_are_ordered_and_round_trip() {
        assert!(Level::Info < Level::Warning && Level::Error < Level::Critical);
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        assert!("fatal".parse::<Level>().is_err());
    }
}
