//! Provider health checks: the ProviderHealthMonitor's [`HealthStore`] port, and the
//! reads of the monitoring API (the latest check, history, statistics over a range).

use super::monitor_rows::{self, placeholders_for, HEALTH_COLUMNS};
use super::rows::millis;
use super::{error, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::monitors::{HealthCheck, HealthStatus};
use callvisor_actors::ports::HealthStore;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// Checks in `[from, until)`, newest first, at most `limit`.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthFilter {
    pub status: Option<HealthStatus>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// What the checks of a range add up to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthStats {
    pub total: u64,
    /// Checks per status (`OK`, `WARNING`, `ERROR`; every status is present).
    pub by_status: BTreeMap<String, u64>,
    /// Share of checks that were OK, 0..=1 (absent without checks).
    pub ok_ratio: Option<f64>,
    /// Mean probe latency over the checks that measured one.
    pub average_latency_ms: Option<f64>,
    pub incoming_affected: u64,
    pub outgoing_affected: u64,
    pub first_check_at: Option<DateTime<Utc>>,
    pub last_check_at: Option<DateTime<Utc>>,
}

impl SqlStore {
    /// The most recent check, if any.
    pub async fn latest_health_check(&self) -> Result<Option<HealthCheck>, StoreError> {
        let filter = HealthFilter {
            status: None,
            from: None,
            until: None,
            limit: 1,
        };
        Ok(self.health_checks(&filter).await?.pop())
    }

    /// Checks matching `filter`, newest first.
    pub async fn health_checks(
        &self,
        filter: &HealthFilter,
    ) -> Result<Vec<HealthCheck>, StoreError> {
        let mut conditions = vec![
            "checked_at >= $1".to_string(),
            "checked_at < $2".to_string(),
        ];
        if filter.status.is_some() {
            conditions.push("status = $4".into());
        }
        let sql = format!(
            "SELECT {HEALTH_COLUMNS} FROM health_checks WHERE {} \
             ORDER BY checked_at DESC, id DESC LIMIT $3",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(&sql)
            .bind(filter.from.map_or(i64::MIN, millis))
            .bind(filter.until.map_or(i64::MAX, millis))
            .bind(i64::from(filter.limit));
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing health checks", e))?
            .iter()
            .map(monitor_rows::health_check)
            .collect()
    }

    /// What the checks made in `[from, until)` add up to.
    pub async fn health_stats(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<HealthStats, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n, CAST(SUM(latency_ms) AS BIGINT) AS latency_sum, \
             COUNT(latency_ms) AS latency_n, \
             CAST(SUM(COALESCE(incoming_affected, 0)) AS BIGINT) AS incoming, \
             CAST(SUM(COALESCE(outgoing_affected, 0)) AS BIGINT) AS outgoing, \
             MIN(checked_at) AS first_at, MAX(checked_at) AS last_at \
             FROM health_checks WHERE checked_at >= $1 AND checked_at < $2 GROUP BY status",
        )
        .bind(millis(from))
        .bind(millis(until))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error("summing up health checks", e))?;
        let mut stats = HealthStats {
            by_status: HealthStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), 0))
                .collect(),
            ..HealthStats::default()
        };
        let (mut latency_sum, mut latency_n) = (0i64, 0i64);
        let read = |e: sqlx::Error| error("reading health statistics", e);
        for row in rows {
            let status: String = row.try_get("status").map_err(read)?;
            let n: i64 = row.try_get("n").map_err(read)?;
            let first: i64 = row.try_get("first_at").map_err(read)?;
            let last: i64 = row.try_get("last_at").map_err(read)?;
            stats.total += n as u64;
            *stats.by_status.entry(status).or_default() += n as u64;
            latency_sum += row
                .try_get::<Option<i64>, _>("latency_sum")
                .map_err(read)?
                .unwrap_or(0);
            latency_n += row.try_get::<i64, _>("latency_n").map_err(read)?;
            stats.incoming_affected += row
                .try_get::<Option<i64>, _>("incoming")
                .map_err(read)?
                .unwrap_or(0) as u64;
            stats.outgoing_affected += row
                .try_get::<Option<i64>, _>("outgoing")
                .map_err(read)?
                .unwrap_or(0) as u64;
            let (first, last) = (
                DateTime::from_timestamp_millis(first),
                DateTime::from_timestamp_millis(last),
            );
            stats.first_check_at = stats.first_check_at.min(first).or(first);
            stats.last_check_at = stats.last_check_at.max(last);
        }
        if stats.total > 0 {
            let ok = stats
                .by_status
                .get(HealthStatus::Ok.as_str())
                .copied()
                .unwrap_or(0);
            stats.ok_ratio = Some(ok as f64 / stats.total as f64);
        }
        if latency_n > 0 {
            stats.average_latency_ms = Some(latency_sum as f64 / latency_n as f64);
        }
        Ok(stats)
    }
}

#[async_trait]
impl HealthStore for SqlStore {
    async fn insert_health_check(&self, check: &HealthCheck) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO health_checks ({HEALTH_COLUMNS}) VALUES ({})",
            placeholders_for(HEALTH_COLUMNS)
        );
        monitor_rows::bind_health_check(sqlx::query(&sql), check)?
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("inserting health check {}", check.id), e))?;
        Ok(())
    }
}
