//! Retention: the RetentionActor's [`RetentionStore`] port. Each kind of record is
//! deleted by its own timestamp, strictly older than the cutoff; an alert still active
//! is never deleted, however old (a resolved one has status `resolved`). A call's events
//! go by the call's end, found through the index on `calls.ended_at`, so a live call
//! never loses its history and the webhook path carries no extra index; they are
//! deleted a batch per statement, so a first clean-up of months of history never holds
//! SQLite's one write lock for long and webhooks keep being written between batches.

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
            RetainedKind::CallEvents => return self.delete_ended_call_events(cutoff).await,
        };
        let result = sqlx::query(sql)
            .bind(millis(cutoff))
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("deleting old {}", kind.as_str()), e))?;
        Ok(result.rows_affected())
    }
}

/// Events deleted per statement.
const CALL_EVENTS_PER_DELETE: i64 = 5_000;

impl SqlStore {
    /// Deletes the events of calls that ended before `cutoff`, a batch at a time.
    async fn delete_ended_call_events(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let result = sqlx::query(
                "DELETE FROM call_events WHERE id IN (SELECT e.id FROM call_events e \
                 JOIN calls c ON c.id = e.call_id WHERE c.ended_at < $1 LIMIT $2)",
            )
            .bind(millis(cutoff))
            .bind(CALL_EVENTS_PER_DELETE)
            .execute(&self.pool)
            .await
            .map_err(|e| error("deleting the events of long-ended calls", e))?;
            deleted += result.rows_affected();
            if result.rows_affected() < CALL_EVENTS_PER_DELETE as u64 {
                return Ok(deleted);
            }
        }
    }
}
