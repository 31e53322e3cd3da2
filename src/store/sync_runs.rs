//! Reconciliation runs: the SyncActor's [`SyncStore`] port (runs, the last success,
//! runs a stop interrupted, agents by caller id), and the reads of the monitoring API.

use super::calls::upsert;
use super::monitor_rows::{self, SYNC_COLUMNS};
use super::rows::millis;
use super::{error, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::monitors::{SyncCounts, SyncRun, SyncStatus};
use callvisor_actors::ports::{AgentOwner, SyncStore};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Inserts a run or replaces every column of the run with the same id.
static UPSERT_RUN: LazyLock<String> = LazyLock::new(|| upsert("sync_status", SYNC_COLUMNS));

/// What the runs of a range add up to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStats {
    pub runs: u64,
    /// Runs per status (every status is present).
    pub by_status: BTreeMap<String, u64>,
    /// The counts of every run added up.
    pub totals: SyncCounts,
    /// Mean time a finished run took.
    pub average_duration_ms: Option<f64>,
    pub last_success_at: Option<DateTime<Utc>>,
}

impl SqlStore {
    /// Runs of `sync_type`, newest first, at most `limit`.
    pub async fn sync_history(
        &self,
        sync_type: &str,
        limit: u32,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let sql = format!(
            "SELECT {SYNC_COLUMNS} FROM sync_status WHERE sync_type = $1 \
             ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(sync_type)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing sync runs", e))?
            .iter()
            .map(monitor_rows::sync_run)
            .collect()
    }

    /// The latest run of `sync_type` with `status` (any status for `None`).
    pub async fn latest_sync(
        &self,
        sync_type: &str,
        status: Option<SyncStatus>,
    ) -> Result<Option<SyncRun>, StoreError> {
        let sql = format!(
            "SELECT {SYNC_COLUMNS} FROM sync_status WHERE sync_type = $1 \
             AND ($2 = '' OR status = $2) ORDER BY started_at DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(sync_type)
            .bind(status.map_or("", SyncStatus::as_str))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error("reading the latest sync run", e))?;
        row.as_ref().map(monitor_rows::sync_run).transpose()
    }

    /// What the runs of `sync_type` started in `[from, until)` add up to.
    pub async fn sync_stats(
        &self,
        sync_type: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<SyncStats, StoreError> {
        let sql = format!(
            "SELECT {SYNC_COLUMNS} FROM sync_status WHERE sync_type = $1 \
             AND started_at >= $2 AND started_at < $3"
        );
        let runs: Vec<SyncRun> = sqlx::query(&sql)
            .bind(sync_type)
            .bind(millis(from))
            .bind(millis(until))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("summing up sync runs", e))?
            .iter()
            .map(monitor_rows::sync_run)
            .collect::<Result<_, _>>()?;
        Ok(summarize(&runs))
    }
}

/// Adds up runs.
fn summarize(runs: &[SyncRun]) -> SyncStats {
    let mut stats = SyncStats {
        runs: runs.len() as u64,
        by_status: SyncStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect(),
        ..SyncStats::default()
    };
    let mut took = Vec::new();
    for run in runs {
        *stats
            .by_status
            .entry(run.status.as_str().into())
            .or_default() += 1;
        let (t, c) = (&mut stats.totals, &run.counts);
        t.fetched += c.fetched;
        t.updated += c.updated;
        t.ended += c.ended;
        t.adopted += c.adopted;
        t.created += c.created;
        t.unchanged += c.unchanged;
        t.unmatched += c.unmatched;
        t.conflicting += c.conflicting;
        if let Some(finished) = run.finished_at {
            took.push((finished - run.started_at).num_milliseconds() as f64);
            if run.status == SyncStatus::Success {
                stats.last_success_at = stats.last_success_at.max(Some(finished));
            }
        }
    }
    if !took.is_empty() {
        stats.average_duration_ms = Some(took.iter().sum::<f64>() / took.len() as f64);
    }
    stats
}

#[async_trait]
impl SyncStore for SqlStore {
    async fn save_sync_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        monitor_rows::bind_sync_run(sqlx::query(&UPSERT_RUN), run)
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("saving sync run {}", run.id), e))?;
        Ok(())
    }

    async fn last_successful_sync(&self) -> Result<Option<SyncRun>, StoreError> {
        let latest = self
            .latest_sync(
                callvisor_actors::monitors::BULK_CALL_DETAILS,
                Some(SyncStatus::Success),
            )
            .await?;
        Ok(latest)
    }

    async fn fail_interrupted_syncs(&self, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_status SET status = $1, finished_at = $2, \
             error = 'interrupted: the process stopped during the run' WHERE status = $3",
        )
        .bind(SyncStatus::Failed.as_str())
        .bind(millis(at))
        .bind(SyncStatus::InProgress.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| error("marking interrupted sync runs", e))?;
        Ok(result.rows_affected())
    }

    async fn agent_by_caller_id(&self, number: &str) -> Result<Option<AgentOwner>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, answer_url FROM agents \
             WHERE caller_id = $1 AND deleted_at IS NULL LIMIT 2",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(format!("finding the agent calling from {number}"), e))?;
        let [row] = rows.as_slice() else {
            return Ok(None);
        };
        let text = |column: &str| {
            row.try_get::<String, _>(column)
                .map_err(|e| error(format!("reading agents.{column}"), e))
        };
        let bad = |column: &'static str| move |e: uuid::Error| error(format!("agents.{column}"), e);
        Ok(Some(AgentOwner {
            agent_id: text("id")?.parse().map_err(bad("id"))?,
            client_id: text("client_id")?.parse().map_err(bad("client_id"))?,
            answer_url: text("answer_url")?,
        }))
    }
}
