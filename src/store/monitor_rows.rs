//! Conversion between rows and the monitors' values (health checks, sync runs, alerts,
//! event-log entries), with the same conventions and strictness as `rows`.

use super::rows::{decode, json_text, millis, AnyQuery, Reader};
use super::StoreError;
use callvisor_actors::monitors::{AlertRecord, HealthCheck, LogEntry, SyncCounts, SyncRun};
use sqlx::any::AnyRow;

/// The columns of `health_checks`, in the order [`bind_health_check`] binds them.
pub(super) const HEALTH_COLUMNS: &str = "id, checked_at, source, status, incoming_affected, \
     outgoing_affected, latency_ms, error, raw";

/// The columns of `sync_status`, in the order [`bind_sync_run`] binds them.
pub(super) const SYNC_COLUMNS: &str = "id, sync_type, trigger_kind, status, started_at, \
     finished_at, window_start, window_end, fetched, updated, ended, adopted, created, \
     unchanged, unmatched, conflicting, error";

/// The columns of `alerts`, in the order [`bind_alert`] binds them.
pub(super) const ALERT_COLUMNS: &str = "id, alert_key, rule, level, title, detail, client_id, \
     status, occurrences, first_raised_at, last_raised_at, last_notified_at, resolved_at";

/// The columns of `event_log`, in the order [`bind_log_entry`] binds them.
pub(super) const LOG_COLUMNS: &str = "id, at, level, kind, subject, message, detail";

/// `$1, $2, …` for every column of `columns`.
pub(super) fn placeholders_for(columns: &str) -> String {
    super::calls::placeholders(columns.split(',').count())
}

/// An optional flag as stored: 0, 1 or NULL.
fn flag(value: Option<bool>) -> Option<i32> {
    value.map(i32::from)
}

/// A count as stored (BIGINT); counts never come near `i64::MAX`.
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn bind_health_check<'q>(
    query: AnyQuery<'q>,
    c: &'q HealthCheck,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(c.id.to_string())
        .bind(millis(c.checked_at))
        .bind(c.source.as_str())
        .bind(c.status.as_str())
        .bind(flag(c.incoming_affected))
        .bind(flag(c.outgoing_affected))
        .bind(c.latency_ms)
        .bind(c.error.as_deref())
        .bind(json_text(&c.raw)?))
}

pub(super) fn bind_sync_run<'q>(query: AnyQuery<'q>, r: &'q SyncRun) -> AnyQuery<'q> {
    let c = &r.counts;
    query
        .bind(r.id.to_string())
        .bind(r.sync_type.as_str())
        .bind(r.trigger.as_str())
        .bind(r.status.as_str())
        .bind(millis(r.started_at))
        .bind(r.finished_at.map(millis))
        .bind(millis(r.window_start))
        .bind(millis(r.window_end))
        .bind(big(c.fetched))
        .bind(big(c.updated))
        .bind(big(c.ended))
        .bind(big(c.adopted))
        .bind(big(c.created))
        .bind(big(c.unchanged))
        .bind(big(c.unmatched))
        .bind(big(c.conflicting))
        .bind(r.error.as_deref())
}

pub(super) fn bind_alert<'q>(
    query: AnyQuery<'q>,
    a: &'q AlertRecord,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(a.id.to_string())
        .bind(a.key.as_str())
        .bind(a.rule.as_str())
        .bind(a.level.as_str())
        .bind(a.title.as_str())
        .bind(json_text(&a.detail)?)
        .bind(a.client_id.map(|c| c.to_string()))
        .bind(a.status.as_str())
        .bind(big(a.occurrences))
        .bind(millis(a.first_raised_at))
        .bind(millis(a.last_raised_at))
        .bind(a.last_notified_at.map(millis))
        .bind(a.resolved_at.map(millis)))
}

pub(super) fn bind_log_entry<'q>(
    query: AnyQuery<'q>,
    e: &'q LogEntry,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(e.id.to_string())
        .bind(millis(e.at))
        .bind(e.level.as_str())
        .bind(e.kind.as_str())
        .bind(e.subject.as_str())
        .bind(e.message.as_str())
        .bind(json_text(&e.detail)?))
}

impl Reader<'_> {
    fn flag(&self, column: &str) -> Result<Option<bool>, String> {
        match self.get::<Option<i64>>(column)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(other) => Err(format!("column {column}: {other} is not 0 or 1")),
        }
    }

    fn big(&self, column: &str) -> Result<u64, String> {
        let n: i64 = self.get(column)?;
        u64::try_from(n).map_err(|_| format!("column {column}: {n} is negative"))
    }
}

pub(super) fn health_check(row: &AnyRow) -> Result<HealthCheck, StoreError> {
    decode("health_checks", row, |r| {
        Ok(HealthCheck {
            id: r.parse("id")?,
            checked_at: r.time("checked_at")?,
            source: r.parse("source")?,
            status: r.parse("status")?,
            incoming_affected: r.flag("incoming_affected")?,
            outgoing_affected: r.flag("outgoing_affected")?,
            latency_ms: r.get("latency_ms")?,
            error: r.get("error")?,
            raw: r.json("raw")?,
        })
    })
}

pub(super) fn sync_run(row: &AnyRow) -> Result<SyncRun, StoreError> {
    decode("sync_status", row, |r| {
        Ok(SyncRun {
            id: r.parse("id")?,
            sync_type: r.get("sync_type")?,
            trigger: r.parse("trigger_kind")?,
            status: r.parse("status")?,
            started_at: r.time("started_at")?,
            finished_at: r.time_opt("finished_at")?,
            window_start: r.time("window_start")?,
            window_end: r.time("window_end")?,
            counts: SyncCounts {
                fetched: r.big("fetched")?,
                updated: r.big("updated")?,
                ended: r.big("ended")?,
                adopted: r.big("adopted")?,
                created: r.big("created")?,
                unchanged: r.big("unchanged")?,
                unmatched: r.big("unmatched")?,
                conflicting: r.big("conflicting")?,
            },
            error: r.get("error")?,
        })
    })
}

pub(super) fn alert(row: &AnyRow) -> Result<AlertRecord, StoreError> {
    decode("alerts", row, |r| {
        Ok(AlertRecord {
            id: r.parse("id")?,
            key: r.get("alert_key")?,
            rule: r.get("rule")?,
            level: r.parse("level")?,
            title: r.get("title")?,
            detail: r.json("detail")?,
            client_id: r.parse_opt("client_id")?,
            status: r.parse("status")?,
            occurrences: r.big("occurrences")?,
            first_raised_at: r.time("first_raised_at")?,
            last_raised_at: r.time("last_raised_at")?,
            last_notified_at: r.time_opt("last_notified_at")?,
            resolved_at: r.time_opt("resolved_at")?,
        })
    })
}

pub(super) fn log_entry(row: &AnyRow) -> Result<LogEntry, StoreError> {
    decode("event_log", row, |r| {
        Ok(LogEntry {
            id: r.parse("id")?,
            at: r.time("at")?,
            level: r.parse("level")?,
            kind: r.get("kind")?,
            subject: r.get("subject")?,
            message: r.get("message")?,
            detail: r.json("detail")?,
        })
    })
}
