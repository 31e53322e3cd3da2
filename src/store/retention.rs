//! Retention: the RetentionActor's [`RetentionStore`] port. Each kind of record is
//! deleted by its own timestamp, strictly older than the cutoff; an alert still active
//! is never deleted, however old (a resolved one has status `resolved`). A call's events
//! go by the call's end, found through the index on `calls.ended_at`, so a live call
//! never loses its history and the webhook path carries no extra index; they are
//! deleted a range of end times at a time, so a first clean-up of months of history
//! never holds SQLite's one write lock for long and webhooks are written between
//! ranges. Every clean-up looks at all calls that ended before its cutoff, so events
//! recorded late on an old call (a late webhook, a sync) go too.

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

/// About how many events one delete statement takes.
const CALL_EVENTS_PER_DELETE: i64 = 5_000;

impl SqlStore {
    /// Deletes the events of calls that ended before `cutoff`, oldest calls first, in
    /// ranges of their end time that each hold about [`CALL_EVENTS_PER_DELETE`] events.
    /// Finding a range is a read (in WAL mode it blocks no writer); only the delete of
    /// one range takes the write lock, and it starts past the ranges already deleted.
    async fn delete_ended_call_events(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let what = || "deleting the events of long-ended calls";
        let cutoff = millis(cutoff);
        let mut deleted = 0;
        // The end of the first call with events left, if any ended before the cutoff.
        let mut low: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(c.ended_at) FROM calls c JOIN call_events e ON e.call_id = c.id \
             WHERE c.ended_at < $1",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        while let Some(from) = low {
            // The end time of the range's last call: the one holding the batch's last event.
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT c.ended_at FROM calls c JOIN call_events e ON e.call_id = c.id \
                 WHERE c.ended_at >= $1 AND c.ended_at < $2 \
                 ORDER BY c.ended_at LIMIT 1 OFFSET $3",
            )
            .bind(from)
            .bind(cutoff)
            .bind(CALL_EVENTS_PER_DELETE - 1)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(what(), e))?;
            let until = last.map_or(cutoff, |at| at + 1);
            let result = sqlx::query(
                "DELETE FROM call_events WHERE call_id IN \
                 (SELECT id FROM calls WHERE ended_at >= $1 AND ended_at < $2)",
            )
            .bind(from)
            .bind(until)
            .execute(&self.pool)
            .await
            .map_err(|e| error(what(), e))?;
            deleted += result.rows_affected();
            low = last.map(|_| until);
        }
        Ok(deleted)
    }
}
