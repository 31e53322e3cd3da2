//! De-duplication: the book of active alerts, which decides what channels are told.
//!
//! A key raised again while its alert is active adds an occurrence and stays quiet,
//! unless its level went up (an escalation is news) or the cooldown since the last
//! notice has passed (a reminder that it is still going on). Resolving a key ends its
//! alert and tells the channels, if they had been told it began. Alerts below the
//! minimum level are kept but never sent.

use super::alert::{rule_label, Action, Alert, AlertRecord, AlertStatus, Level, Notice};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// The book's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DedupPolicy {
    /// Quiet time after a notice, per key.
    pub cooldown: Duration,
    /// Alerts below this level are not sent anywhere.
    pub min_level: Level,
}

impl Default for DedupPolicy {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(300),
            min_level: Level::Warning,
        }
    }
}

struct Entry {
    record: AlertRecord,
    /// The level channels were last told of; `None` while they were told nothing.
    notified_level: Option<Level>,
}

/// What became of a raise or a resolve: the record to persist and, maybe, a notice.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub record: AlertRecord,
    pub notice: Option<Notice>,
}

/// The active alerts, by key.
pub struct AlertBook {
    policy: DedupPolicy,
    active: HashMap<String, Entry>,
}

impl AlertBook {
    pub fn new(policy: DedupPolicy) -> Self {
        Self {
            policy,
            active: HashMap::new(),
        }
    }

    /// Takes back alerts left active by an earlier run, so a restart neither repeats
    /// their notices nor forgets to resolve them.
    pub fn restore(&mut self, records: Vec<AlertRecord>) {
        for record in records
            .into_iter()
            .filter(|r| r.status == AlertStatus::Active)
        {
            let notified_level = record.last_notified_at.map(|_| record.level);
            self.active.insert(
                record.key.clone(),
                Entry {
                    record,
                    notified_level,
                },
            );
        }
    }

    /// Whether `key` is active.
    pub fn is_active(&self, key: &str) -> bool {
        self.active.contains_key(key)
    }

    /// How many alerts are active at each level.
    pub fn active_by_level(&self) -> HashMap<Level, usize> {
        let mut counts = HashMap::new();
        for entry in self.active.values() {
            *counts.entry(entry.record.level).or_default() += 1;
        }
        counts
    }

    pub fn raise(&mut self, alert: Alert, now: DateTime<Utc>) -> Outcome {
        let policy = self.policy;
        let entry = self
            .active
            .entry(alert.key.clone())
            .or_insert_with(|| Entry {
                record: AlertRecord {
                    id: Uuid::now_v7(),
                    rule: rule_label(&alert.key).to_string(),
                    key: alert.key.clone(),
                    level: alert.level,
                    title: alert.title.clone(),
                    detail: alert.detail.clone(),
                    client_id: alert.client_id,
                    status: AlertStatus::Active,
                    occurrences: 0,
                    first_raised_at: now,
                    last_raised_at: now,
                    last_notified_at: None,
                    resolved_at: None,
                },
                notified_level: None,
            });
        let record = &mut entry.record;
        record.occurrences += 1;
        record.last_raised_at = now;
        record.level = alert.level;
        record.title = alert.title;
        record.detail = alert.detail;
        let cooled_down = record
            .last_notified_at
            .is_none_or(|at| (now - at).to_std().unwrap_or_default() >= policy.cooldown);
        let escalated = entry.notified_level.is_some_and(|told| alert.level > told);
        let sendable = alert.level >= policy.min_level;
        let notice = (sendable && (cooled_down || escalated)).then(|| {
            record.last_notified_at = Some(now);
            entry.notified_level = Some(alert.level);
            record.notice(Action::Trigger, now)
        });
        Outcome {
            record: record.clone(),
            notice,
        }
    }

    /// Ends the alert of `key`, if one is active.
    pub fn resolve(&mut self, key: &str, now: DateTime<Utc>) -> Option<Outcome> {
        let Entry {
            mut record,
            notified_level,
        } = self.active.remove(key)?;
        record.status = AlertStatus::Resolved;
        record.resolved_at = Some(now);
        let notice = notified_level.map(|_| record.notice(Action::Resolve, now));
        Some(Outcome { record, notice })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn alert(level: Level) -> Alert {
        Alert::new("error_rate", level, "Call error rate", json!({}))
    }

    fn book() -> AlertBook {
        AlertBook::new(DedupPolicy::default())
    }

    #[test]
    fn one_notice_per_cooldown_then_a_reminder() {
        let mut b = book();
        assert!(b.raise(alert(Level::Warning), at(0)).notice.is_some());
        for s in [30, 60, 299] {
            assert!(b.raise(alert(Level::Warning), at(s)).notice.is_none());
        }
        let reminder = b.raise(alert(Level::Warning), at(300));
        assert_eq!(reminder.notice.unwrap().occurrences, 5);
    }

    #[test]
    fn an_escalation_is_sent_at_once_and_a_de_escalation_is_not() {
        let mut b = book();
        b.raise(alert(Level::Warning), at(0));
        let up = b.raise(alert(Level::Critical), at(10)).notice.unwrap();
        assert_eq!(up.level, Level::Critical);
        assert!(b.raise(alert(Level::Warning), at(20)).notice.is_none());
        assert!(b.raise(alert(Level::Critical), at(30)).notice.is_none());
    }

    #[test]
    fn resolve_tells_only_what_was_told_and_only_once() {
        let mut b = book();
        let first = b.raise(alert(Level::Warning), at(0)).record;
        let done = b.resolve("error_rate", at(5)).unwrap();
        assert_eq!(done.record.id, first.id);
        assert_eq!(done.record.status, AlertStatus::Resolved);
        assert_eq!(done.notice.unwrap().action, Action::Resolve);
        assert!(b.resolve("error_rate", at(6)).is_none());

        b.raise(alert(Level::Info), at(10));
        let quiet = b.resolve("error_rate", at(11)).unwrap();
        assert!(quiet.notice.is_none(), "an info alert was never sent");
    }

    #[test]
    fn a_restored_alert_is_not_announced_again_but_is_resolved() {
        let mut b = book();
        let record = b.raise(alert(Level::Warning), at(0)).record;
        let mut fresh = book();
        fresh.restore(vec![record]);
        assert!(fresh.raise(alert(Level::Warning), at(10)).notice.is_none());
        assert!(fresh
            .resolve("error_rate", at(20))
            .unwrap()
            .notice
            .is_some());
    }
}
