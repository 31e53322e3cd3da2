//! The monitors' storage ports on [`MemoryStore`]: health checks, sync runs, alerts and
//! the event log in memory, with retention over them.

use super::MemoryStore;
use crate::domain::PhoneNumber;
use crate::monitors::{
    AlertRecord, AlertStatus, HealthCheck, LogEntry, OutcomeCounts, SyncRun, SyncStatus,
    ERROR_STATUSES,
};
use crate::ports::{
    AgentOwner, AlertStore, HealthStore, RetainedKind, RetentionStore, StoreError, SyncStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The monitors' tables.
#[derive(Default)]
pub struct MonitoringTables {
    pub health_checks: Vec<HealthCheck>,
    pub sync_runs: Vec<SyncRun>,
    pub alerts: Vec<AlertRecord>,
    pub log: Vec<LogEntry>,
    /// Agents by caller id, for the sync's attribution of missed calls.
    pub agents: Vec<(PhoneNumber, AgentOwner)>,
}

impl MemoryStore {
    fn tables(&self) -> std::sync::MutexGuard<'_, MonitoringTables> {
        self.monitoring.lock().unwrap()
    }

    /// Every health check stored, oldest first.
    pub fn health_checks(&self) -> Vec<HealthCheck> {
        self.tables().health_checks.clone()
    }

    /// Every sync run stored, oldest first.
    pub fn sync_runs(&self) -> Vec<SyncRun> {
        self.tables().sync_runs.clone()
    }

    /// Every alert stored.
    pub fn alerts(&self) -> Vec<AlertRecord> {
        self.tables().alerts.clone()
    }

    /// The event log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.tables().log.clone()
    }

    /// Stores a health check as a past run would have.
    pub fn put_health_check(&self, check: HealthCheck) {
        self.tables().health_checks.push(check);
    }

    /// Stores an event-log entry as a past run would have.
    pub fn put_log(&self, entry: LogEntry) {
        self.tables().log.push(entry);
    }

    /// Gives an agent a caller id.
    pub fn put_agent_number(&self, number: PhoneNumber, owner: AgentOwner) {
        self.tables().agents.push((number, owner));
    }
}

#[async_trait]
impl HealthStore for MemoryStore {
    async fn insert_health_check(&self, check: &HealthCheck) -> Result<(), StoreError> {
        self.tables().health_checks.push(check.clone());
        Ok(())
    }
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn save_sync_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        let mut t = self.tables();
        t.sync_runs.retain(|r| r.id != run.id);
        t.sync_runs.push(run.clone());
        Ok(())
    }

    async fn last_successful_sync(&self) -> Result<Option<SyncRun>, StoreError> {
        Ok(self
            .tables()
            .sync_runs
            .iter()
            .filter(|r| r.status == SyncStatus::Success)
            .max_by_key(|r| r.started_at)
            .cloned())
    }

    async fn fail_interrupted_syncs(&self, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut n = 0;
        for run in &mut self.tables().sync_runs {
            if run.status == SyncStatus::InProgress {
                run.status = SyncStatus::Failed;
                run.finished_at = Some(at);
                run.error = Some("interrupted".into());
                n += 1;
            }
        }
        Ok(n)
    }

    async fn agent_by_caller_id(&self, number: &str) -> Result<Option<AgentOwner>, StoreError> {
        let t = self.tables();
        let mut owners = t.agents.iter().filter(|(n, _)| n.as_str() == number);
        Ok(match (owners.next(), owners.next()) {
            (Some((_, owner)), None) => Some(owner.clone()),
            _ => None,
        })
    }
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn save_alert(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        let mut t = self.tables();
        t.alerts.retain(|a| a.id != alert.id);
        t.alerts.push(alert.clone());
        Ok(())
    }

    async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        Ok(self
            .tables()
            .alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Active)
            .cloned()
            .collect())
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        self.tables().log.push(entry.clone());
        Ok(())
    }

    async fn call_outcomes_since(&self, since: DateTime<Utc>) -> Result<OutcomeCounts, StoreError> {
        let ended: Vec<_> = self
            .calls()
            .into_iter()
            .filter(|c| c.status.is_final() && c.ended_at.is_some_and(|at| at >= since))
            .collect();
        Ok(OutcomeCounts {
            ended: ended.len() as u64,
            errors: ended
                .iter()
                .filter(|c| ERROR_STATUSES.contains(&c.status))
                .count() as u64,
        })
    }
}

#[async_trait]
impl RetentionStore for MemoryStore {
    async fn delete_older_than(
        &self,
        kind: RetainedKind,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let before;
        let after;
        match kind {
            RetainedKind::HealthChecks => {
                before = t.health_checks.len();
                t.health_checks.retain(|c| c.checked_at >= cutoff);
                after = t.health_checks.len();
            }
            RetainedKind::EventLog => {
                before = t.log.len();
                t.log.retain(|e| e.at >= cutoff);
                after = t.log.len();
            }
            RetainedKind::ResolvedAlerts => {
                before = t.alerts.len();
                t.alerts.retain(|a| {
                    a.status == AlertStatus::Active || a.resolved_at.is_some_and(|at| at >= cutoff)
                });
                after = t.alerts.len();
            }
            RetainedKind::CallEvents => {
                let ended: std::collections::HashSet<_> = self
                    .calls
                    .lock()
                    .unwrap()
                    .values()
                    .filter(|c| c.ended_at.is_some_and(|at| at < cutoff))
                    .map(|c| c.id)
                    .collect();
                let mut events = self.events.lock().unwrap();
                before = events.len();
                events.retain(|e| !ended.contains(&e.call_id));
                after = events.len();
            }
        }
        Ok((before - after) as u64)
    }
}
