//! Conversion between rows and domain values, in one place so that every query reads
//! and writes a table the same way.
//!
//! The Any driver knows only integers, floats, text and bytes, so the domain's richer
//! types are stored as text or integers: ids as UUID text, timestamps as milliseconds
//! since the Unix epoch (finer precision is dropped), enums as their `as_str()` names,
//! JSON as text, booleans as 0/1. Reading back is strict: a value that does not parse
//! (an unknown status, a malformed id, a bad timestamp) is a [`StoreError`] naming the
//! table, the row and the column, never a panic or a silent default.

use super::StoreError;
use callvisor_actors::domain::{
    Agent, Call, CallEvent, CallStatus, Client, FailureReason, PhoneNumber, Priority,
};
use chrono::{DateTime, Utc};
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Row;
use std::fmt::Display;
use std::str::FromStr;

/// A query on the Any driver, as [`sqlx::query`] builds it.
pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// The columns of `clients`, in the order [`client`] expects.
pub(super) const CLIENT_COLUMNS: &str =
    "id, name, max_concurrent_calls, timezone, created_at, updated_at";

/// The columns of `agents` a live agent is read from, in the order [`agent`] expects.
pub(super) const AGENT_COLUMNS: &str =
    "id, client_id, name, answer_url, warmup_url, caller_id, created_at, updated_at";

/// The columns of `calls`, in the order [`bind_call`] binds them.
pub(super) const CALL_COLUMNS: &str = "id, client_id, agent_id, to_number, from_number, \
     answer_url, status, failure_reason, provider, provider_call_id, priority, metadata, \
     created_at, updated_at, dial_started_at, answered_at, ended_at, last_heard_at, \
     duration_seconds, price, recording_url, warmup_url, warmup_attempts, warmup_millis, \
     bot_ready_at, not_before, slot_granted_at, attempt, original_call_id, retry_policy, \
     next_attempt_id, series_id, occurrence, schedule, next_occurrence_id, campaign_id, \
     contact_position";

/// The indexed columns of `calls` that say whose call it is and where it belongs: set
/// when the call is made and never changed (a retry or a next occurrence is a call of
/// its own). A save leaves them out of its update, which spares SQLite rewriting the
/// entries of the eight indexes that hold them on every status change.
pub(super) const FIXED_CALL_COLUMNS: [&str; 9] = [
    "client_id",
    "agent_id",
    "created_at",
    "attempt",
    "original_call_id",
    "series_id",
    "occurrence",
    "campaign_id",
    "contact_position",
];

/// The columns of `call_events`, in the order [`bind_event`] binds them.
pub(super) const EVENT_COLUMNS: &str = "id, call_id, source, kind, applied, sequence, detail, at";

/// A timestamp as stored: milliseconds since the Unix epoch.
pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// JSON as stored: its compact text.
pub(super) fn json_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("encoding JSON: {e}")))
}

/// Optional JSON as stored: its text, or NULL.
pub(super) fn json_text_opt(
    value: Option<&impl serde::Serialize>,
) -> Result<Option<String>, StoreError> {
    value.map(json_text).transpose()
}

/// Binds the values of a client in [`CLIENT_COLUMNS`] order.
pub(super) fn bind_client<'q>(query: AnyQuery<'q>, c: &'q Client) -> AnyQuery<'q> {
    query
        .bind(c.id.to_string())
        .bind(c.name.as_str())
        .bind(i64::from(c.max_concurrent_calls))
        .bind(c.timezone.as_str())
        .bind(millis(c.created_at))
        .bind(millis(c.updated_at))
}

/// Binds the values of an agent in [`AGENT_COLUMNS`] order.
pub(super) fn bind_agent<'q>(query: AnyQuery<'q>, a: &'q Agent) -> AnyQuery<'q> {
    query
        .bind(a.id.to_string())
        .bind(a.client_id.to_string())
        .bind(a.name.as_str())
        .bind(a.answer_url.as_str())
        .bind(a.warmup_url.as_deref())
        .bind(a.caller_id.as_ref().map(PhoneNumber::as_str))
        .bind(millis(a.created_at))
        .bind(millis(a.updated_at))
}

/// Binds the values of a call in [`CALL_COLUMNS`] order.
pub(super) fn bind_call<'q>(query: AnyQuery<'q>, c: &'q Call) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(c.id.to_string())
        .bind(c.client_id.to_string())
        .bind(c.agent_id.to_string())
        .bind(c.to.as_str())
        .bind(c.from.as_str())
        .bind(c.answer_url.as_str())
        .bind(c.status.as_str())
        .bind(c.failure_reason.map(FailureReason::as_str))
        .bind(c.provider.as_str())
        .bind(c.provider_call_id.as_deref())
        .bind(c.priority.as_str())
        .bind(json_text(&c.metadata)?)
        .bind(millis(c.created_at))
        .bind(millis(c.updated_at))
        .bind(c.dial_started_at.map(millis))
        .bind(c.answered_at.map(millis))
        .bind(c.ended_at.map(millis))
        .bind(millis(c.last_heard_at))
        .bind(c.duration_seconds)
        .bind(c.price.as_deref())
        .bind(c.recording_url.as_deref())
        .bind(c.warmup_url.as_deref())
        .bind(i64::from(c.warmup_attempts))
        .bind(c.warmup_millis)
        .bind(c.bot_ready_at.map(millis))
        .bind(c.not_before.map(millis))
        .bind(c.slot_granted_at.map(millis))
        .bind(i64::from(c.attempt))
        .bind(c.original_call_id.map(|id| id.to_string()))
        .bind(json_text_opt(c.retry_policy.as_ref())?)
        .bind(c.next_attempt_id.map(|id| id.to_string()))
        .bind(c.series_id.map(|id| id.to_string()))
        .bind(c.occurrence.map(i64::from))
        .bind(json_text_opt(c.schedule.as_ref())?)
        .bind(c.next_occurrence_id.map(|id| id.to_string()))
        .bind(c.campaign_id.map(|id| id.to_string()))
        .bind(c.contact_position.map(i64::from)))
}

/// Binds the values of an event in [`EVENT_COLUMNS`] order.
pub(super) fn bind_event<'q>(
    query: AnyQuery<'q>,
    e: &'q CallEvent,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(e.id.to_string())
        .bind(e.call_id.to_string())
        .bind(e.source.as_str())
        .bind(e.kind.as_str())
        .bind(i32::from(e.applied))
        .bind(e.sequence)
        .bind(json_text(&e.detail)?)
        .bind(millis(e.at)))
}

/// Reads a client from a row of [`CLIENT_COLUMNS`].
pub(super) fn client(row: &AnyRow) -> Result<Client, StoreError> {
    decode("clients", row, |r| {
        let max: i64 = r.get("max_concurrent_calls")?;
        Ok(Client {
            id: r.parse("id")?,
            name: r.get("name")?,
            max_concurrent_calls: u32::try_from(max)
                .map_err(|_| format!("column max_concurrent_calls: {max} is out of range"))?,
            timezone: r.get("timezone")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
        })
    })
}

/// Reads an agent from a row of [`AGENT_COLUMNS`].
pub(super) fn agent(row: &AnyRow) -> Result<Agent, StoreError> {
    decode("agents", row, |r| {
        Ok(Agent {
            id: r.parse("id")?,
            client_id: r.parse("client_id")?,
            name: r.get("name")?,
            answer_url: r.get("answer_url")?,
            warmup_url: r.get("warmup_url")?,
            caller_id: r
                .get::<Option<String>>("caller_id")?
                .map(PhoneNumber::from_trusted),
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
        })
    })
}

/// Reads a call from a row of [`CALL_COLUMNS`].
pub(super) fn call(row: &AnyRow) -> Result<Call, StoreError> {
    decode("calls", row, |r| {
        Ok(Call {
            id: r.parse("id")?,
            client_id: r.parse("client_id")?,
            agent_id: r.parse("agent_id")?,
            to: PhoneNumber::from_trusted(r.get("to_number")?),
            from: PhoneNumber::from_trusted(r.get("from_number")?),
            answer_url: r.get("answer_url")?,
            status: r.parse::<CallStatus>("status")?,
            failure_reason: r.parse_opt::<FailureReason>("failure_reason")?,
            provider: r.get("provider")?,
            provider_call_id: r.get("provider_call_id")?,
            priority: r.parse::<Priority>("priority")?,
            metadata: r.json("metadata")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
            dial_started_at: r.time_opt("dial_started_at")?,
            answered_at: r.time_opt("answered_at")?,
            ended_at: r.time_opt("ended_at")?,
            last_heard_at: r.time("last_heard_at")?,
            duration_seconds: r.get("duration_seconds")?,
            price: r.get("price")?,
            recording_url: r.get("recording_url")?,
            warmup_url: r.get("warmup_url")?,
            warmup_attempts: r.count("warmup_attempts")?,
            warmup_millis: r.get("warmup_millis")?,
            bot_ready_at: r.time_opt("bot_ready_at")?,
            not_before: r.time_opt("not_before")?,
            slot_granted_at: r.time_opt("slot_granted_at")?,
            attempt: r.count("attempt")?,
            original_call_id: r.parse_opt("original_call_id")?,
            retry_policy: r.json_opt("retry_policy")?,
            next_attempt_id: r.parse_opt("next_attempt_id")?,
            series_id: r.parse_opt("series_id")?,
            occurrence: r.count_opt("occurrence")?,
            schedule: r.json_opt("schedule")?,
            next_occurrence_id: r.parse_opt("next_occurrence_id")?,
            campaign_id: r.parse_opt("campaign_id")?,
            contact_position: r.count_opt("contact_position")?,
        })
    })
}

/// Reads an event from a row of [`EVENT_COLUMNS`].
pub(super) fn event(row: &AnyRow) -> Result<CallEvent, StoreError> {
    decode("call_events", row, |r| {
        let applied: i64 = r.get("applied")?;
        Ok(CallEvent {
            id: r.parse("id")?,
            call_id: r.parse("call_id")?,
            source: r.parse("source")?,
            kind: r.get("kind")?,
            applied: match applied {
                0 => false,
                1 => true,
                other => return Err(format!("column applied: {other} is not 0 or 1")),
            },
            sequence: r.get("sequence")?,
            detail: r.json("detail")?,
            at: r.time("at")?,
        })
    })
}

/// Runs a row reader and, when it fails, says which table and row it failed on.
pub(super) fn decode<T>(
    table: &str,
    row: &AnyRow,
    read: impl FnOnce(&Reader<'_>) -> Result<T, String>,
) -> Result<T, StoreError> {
    let reader = Reader(row);
    read(&reader).map_err(|cause| {
        let id = row
            .try_get::<String, _>("id")
            .unwrap_or_else(|_| "?".to_string());
        StoreError(format!("reading {table} row '{id}': {cause}"))
    })
}

/// Typed column access whose errors name the column.
pub(super) struct Reader<'r>(&'r AnyRow);

impl<'r> Reader<'r> {
    pub(super) fn get<T>(&self, column: &str) -> Result<T, String>
    where
        T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
    {
        self.0
            .try_get(column)
            .map_err(|e| format!("column {column}: {e}"))
    }

    pub(super) fn parse<T>(&self, column: &str) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text: String = self.get(column)?;
        text.parse()
            .map_err(|e| format!("column {column}: '{text}': {e}"))
    }

    pub(super) fn parse_opt<T>(&self, column: &str) -> Result<Option<T>, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get::<Option<String>>(column)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| format!("column {column}: '{text}': {e}")),
        }
    }

    pub(super) fn time(&self, column: &str) -> Result<DateTime<Utc>, String> {
        let ms: i64 = self.get(column)?;
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| format!("column {column}: {ms} ms is not a representable time"))
    }

    pub(super) fn time_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        match self.get::<Option<i64>>(column)? {
            None => Ok(None),
            Some(ms) => DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| format!("column {column}: {ms} ms is not a representable time")),
        }
    }

    pub(super) fn json(&self, column: &str) -> Result<serde_json::Value, String> {
        let text: String = self.get(column)?;
        serde_json::from_str(&text).map_err(|e| format!("column {column}: invalid JSON: {e}"))
    }

    /// Optional JSON text decoded into a domain value.
    pub(super) fn json_opt<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
    ) -> Result<Option<T>, String> {
        let text: Option<String> = self.get(column)?;
        text.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| format!("column {column}: invalid JSON: {e}"))
    }

    /// A non-negative count that fits 32 bits.
    pub(super) fn count(&self, column: &str) -> Result<u32, String> {
        let n: i64 = self.get(column)?;
        u32::try_from(n).map_err(|_| format!("column {column}: {n} is out of range"))
    }

    /// An optional non-negative count that fits 32 bits.
    pub(super) fn count_opt(&self, column: &str) -> Result<Option<u32>, String> {
        self.get::<Option<i64>>(column)?
            .map(|n| u32::try_from(n).map_err(|_| format!("column {column}: {n} is out of range")))
            .transpose()
    }
}
