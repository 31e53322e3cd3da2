//! Alerts and the event log: the AlertManager's [`AlertStore`] port (records, active
//! alerts, log entries, the call outcomes its error-rate rule reads), and the listings
//! of the API.

use super::calls::upsert;
use super::conditions::Conditions;
use super::monitor_rows::{self, placeholders_for, ALERT_COLUMNS, LOG_COLUMNS};
use super::rows::millis;
use super::{error, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::domain::ClientId;
use callvisor_actors::monitors::{
    AlertRecord, AlertStatus, Level, LogEntry, OutcomeCounts, ERROR_STATUSES,
};
use callvisor_actors::ports::AlertStore;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::LazyLock;

/// Inserts an alert or replaces every column of the alert with the same id.
static UPSERT_ALERT: LazyLock<String> = LazyLock::new(|| upsert("alerts", ALERT_COLUMNS));

/// Counts the calls that ended since a time, and those of them that are errors.
static OUTCOMES: LazyLock<String> = LazyLock::new(|| {
    let errors = ERROR_STATUSES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT COUNT(*) AS ended, \
         CAST(COALESCE(SUM(CASE WHEN status IN ({errors}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors \
         FROM calls WHERE ended_at >= $1"
    )
});

/// Which alerts [`SqlStore::list_alerts`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    /// Only alerts at or above this level.
    pub min_level: Option<Level>,
    /// Only system-wide alerts and this client's (`None`: every alert).
    pub visible_to: Option<ClientId>,
    pub limit: u32,
}

impl SqlStore {
    /// Alerts matching `filter`, most recently raised first.
    pub async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
        let mut c = Conditions::default();
        if let Some(status) = filter.status {
            c.bind("status = {}", status.as_str().into());
        }
        if let Some(min) = filter.min_level {
            let levels: Vec<String> = Level::ALL
                .into_iter()
                .filter(|l| *l >= min)
                .map(|l| format!("'{}'", l.as_str()))
                .collect();
            c.literal(format!("level IN ({})", levels.join(", ")));
        }
        if let Some(client) = filter.visible_to {
            c.bind("(client_id IS NULL OR client_id = {})", client.to_string());
        }
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts{} ORDER BY last_raised_at DESC, id DESC LIMIT {}",
            c.clause(),
            c.next()
        );
        let query = c.apply(sqlx::query(&sql));
        query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing alerts", e))?
            .iter()
            .map(monitor_rows::alert)
            .collect()
    }

    /// The newest entries of the event log, at most `limit`.
    pub async fn event_log(&self, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        let sql = format!("SELECT {LOG_COLUMNS} FROM event_log ORDER BY at DESC, id DESC LIMIT $1");
        sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("reading the event log", e))?
            .iter()
            .map(monitor_rows::log_entry)
            .collect()
    }
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn save_alert(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        monitor_rows::bind_alert(sqlx::query(&UPSERT_ALERT), alert)?
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("saving alert {}", alert.key), e))?;
        Ok(())
    }

    async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1");
        sqlx::query(&sql)
            .bind(AlertStatus::Active.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("reading active alerts", e))?
            .iter()
            .map(monitor_rows::alert)
            .collect()
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO event_log ({LOG_COLUMNS}) VALUES ({})",
            placeholders_for(LOG_COLUMNS)
        );
        monitor_rows::bind_log_entry(sqlx::query(&sql), entry)?
            .execute(&self.pool)
            .await
            .map_err(|e| error("writing the event log", e))?;
        Ok(())
    }

    async fn call_outcomes_since(&self, since: DateTime<Utc>) -> Result<OutcomeCounts, StoreError> {
        let row = sqlx::query(&OUTCOMES)
            .bind(millis(since))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| error("counting call outcomes", e))?;
        let read = |e: sqlx::Error| error("reading call outcomes", e);
        let ended: i64 = row.try_get("ended").map_err(read)?;
        let errors: i64 = row.try_get("errors").map_err(read)?;
        Ok(OutcomeCounts {
            ended: ended.max(0) as u64,
            errors: errors.max(0) as u64,
        })
    }
}
