//! Retention: the RetentionActor's [`RetentionStore`] port. Each kind of record is
//! deleted by its own timestamp, strictly older than the cutoff; an alert still active
//! is never deleted, however old (a resolved one has status `resolved`). A call's events
//! go by the call's end, found through the index on `calls.ended_at`, so a live call
//! never loses its history and the webhook path carries no extra index.

use super::rows::millis;
use super::{error, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::ports::{RetainedKind, RetentionStore};
use chrono::{DateTime, Utc};

#[async_trait]
impl RetentionStore for SqlStore {
    async fn delete_older_than(
        &self,
        kind: RetainedKind,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = match kind {
            RetainedKind::HealthChecks => "DELETE FROM health_checks WHERE checked_at < $1",
            RetainedKind::EventLog => "DELETE FROM event_log WHERE at < $1",
            RetainedKind::ResolvedAlerts => {
                "DELETE FROM alerts WHERE resolved_at < $1 AND status = 'resolved'"
            }
            RetainedKind::CallEvents => {
                "DELETE FROM call_events WHERE call_id IN \
                 (SELECT id FROM calls WHERE ended_at < $1)"
            }
        };
        let result = sqlx::query(sql)
            .bind(millis(cutoff))
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("deleting old {}", kind.as_str()), e))?;
        Ok(result.rows_affected())
    }
}
