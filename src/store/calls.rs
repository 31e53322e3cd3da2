//! Calls and their event history: the actors' [`CallStore`] port, plus the listing the
//! HTTP API pages through.
//!
//! A call's row and the events that explain its change are written in one transaction,
//! so the history never disagrees with the call: either both land or neither does. The
//! actors' saves and appends share their transactions with those of other calls made at
//! the same moment (see `group_commit`).
//! Listing is newest first with the last id seen as the cursor; ids are UUIDv7, whose
//! text sorts by creation time, so a page boundary never skips or repeats a call even
//! while new calls arrive.

use super::conditions::Conditions;
use super::group_commit::Write;
use super::rows::{self, CALL_COLUMNS, EVENT_COLUMNS, FIXED_CALL_COLUMNS};
use super::{error, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::domain::{
    AgentId, Call, CallEvent, CallId, CallStatus, CampaignId, ClientId,
};
use callvisor_actors::ports::CallStore;
use sqlx::{Any, Transaction};
use std::sync::LazyLock;

/// Which calls [`SqlStore::list_calls`] returns, and how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFilter {
    /// Only this client's calls.
    pub client_id: Option<ClientId>,
    /// Only calls made for this agent.
    pub agent_id: Option<AgentId>,
    /// Only calls in this status.
    pub status: Option<CallStatus>,
    /// Only retries of this first attempt.
    pub original_call_id: Option<CallId>,
    /// Only occurrences of this series.
    pub series_id: Option<CallId>,
    /// Only calls of this campaign.
    pub campaign_id: Option<CampaignId>,
    /// The cursor: the last (oldest) id of the previous page. Only calls older than it,
    /// that is with a smaller id, are returned.
    pub after: Option<CallId>,
    /// The most calls to return; 0 returns none.
    pub limit: u32,
}

impl CallFilter {
    /// The page size of [`CallFilter::default`].
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for CallFilter {
    /// Every call, first page of [`CallFilter::DEFAULT_LIMIT`].
    fn default() -> Self {
        Self {
            client_id: None,
            agent_id: None,
            status: None,
            original_call_id: None,
            series_id: None,
            campaign_id: None,
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// `$1, $2, …, $n`.
pub(super) fn placeholders(n: usize) -> String {
    numbered(1..=n)
}

/// `($1, …, $columns), ($columns+1, …), …`: `rows` rows of placeholders.
pub(super) fn value_rows(columns: usize, rows: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", numbered(row * columns + 1..=(row + 1) * columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn numbered(range: std::ops::RangeInclusive<usize>) -> String {
    range
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts a row of `table`, or replaces every column but `id` of the row with its id.
pub(super) fn upsert(table: &str, columns: &str) -> String {
    upsert_rows(table, columns, &[], 1)
}

/// Inserts `rows` rows of `table` at once (their ids must differ); a row whose id is
/// taken replaces every column of the existing one but `id` and `fixed`.
pub(super) fn upsert_rows(table: &str, columns: &str, fixed: &[&str], rows: usize) -> String {
    let names: Vec<&str> = columns.split(',').map(str::trim).collect();
    let updates = names
        .iter()
        .filter(|c| **c != "id" && !fixed.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({columns}) VALUES {} ON CONFLICT (id) DO UPDATE SET {updates}",
        value_rows(names.len(), rows)
    )
}

/// Inserts a call, or updates the call with the same id (all but its fixed columns).
static UPSERT_CALL: LazyLock<String> =
    LazyLock::new(|| upsert_rows("calls", CALL_COLUMNS, &FIXED_CALL_COLUMNS, 1));

/// Inserts a call unless one already holds its id, its attempt number or its occurrence.
static INSERT_CALL_ONCE: LazyLock<String> = LazyLock::new(|| {
    let count = CALL_COLUMNS.split(',').count();
    format!(
        "INSERT INTO calls ({CALL_COLUMNS}) VALUES ({}) ON CONFLICT DO NOTHING",
        placeholders(count)
    )
});

/// Inserts a new call; a call already holding its id or its place fails the insert.
static INSERT_CALL: LazyLock<String> = LazyLock::new(|| {
    let count = CALL_COLUMNS.split(',').count();
    format!(
        "INSERT INTO calls ({CALL_COLUMNS}) VALUES ({})",
        placeholders(count)
    )
});

/// Inserts one event.
static INSERT_EVENT: LazyLock<String> = LazyLock::new(|| {
    let count = EVENT_COLUMNS.split(',').count();
    format!(
        "INSERT INTO call_events ({EVENT_COLUMNS}) VALUES ({})",
        placeholders(count)
    )
});

/// Every call that is not final, oldest first. The statuses are written out as literals,
/// as in the `calls_live` partial index, so that PostgreSQL can use that index.
static LIVE_CALLS: LazyLock<String> = LazyLock::new(|| {
    let live = CallStatus::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {CALL_COLUMNS} FROM calls WHERE status IN ({live}) ORDER BY id")
});

impl SqlStore {
    /// Calls matching `filter`, newest first, at most `filter.limit` of them. Pass the
    /// last id of a page as `filter.after` to get the next page.
    pub async fn list_calls(&self, filter: &CallFilter) -> Result<Vec<Call>, StoreError> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut c = Conditions::default();
        if let Some(client) = filter.client_id {
            c.bind("client_id = {}", client.to_string());
        }
        if let Some(agent) = filter.agent_id {
            c.bind("agent_id = {}", agent.to_string());
        }
        if let Some(status) = filter.status {
            c.bind("status = {}", status.as_str().to_string());
        }
        if let Some(original) = filter.original_call_id {
            c.bind("original_call_id = {}", original.to_string());
        }
        if let Some(series) = filter.series_id {
            c.bind("series_id = {}", series.to_string());
        }
        if let Some(after) = filter.after {
            c.bind("id < {}", after.to_string());
        }
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls{} ORDER BY id DESC LIMIT {}",
            c.clause(),
            c.next()
        );
        let query = c.apply(sqlx::query(&sql));
        query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing calls", e))?
            .iter()
            .map(rows::call)
            .collect()
    }

    /// A call's history, oldest first (by time, then by id for events of the same
    /// millisecond). Empty for an unknown call.
    pub async fn call_events(&self, id: CallId) -> Result<Vec<CallEvent>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM call_events WHERE call_id = $1 ORDER BY at, id");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(format!("reading the events of call {id}"), e))?
            .iter()
            .map(rows::event)
            .collect()
    }

    /// The call `sql` selects with `values` bound in order, if any; `what` names it in errors.
    async fn find_call(
        &self,
        sql: &str,
        values: &[&str],
        what: &str,
    ) -> Result<Option<Call>, StoreError> {
        let mut query = sqlx::query(sql);
        for value in values {
            query = query.bind(*value);
        }
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(format!("reading {what}"), e))?;
        row.as_ref().map(rows::call).transpose()
    }
}

/// Inserts a new call and its first events inside `tx`.
pub(super) async fn insert_new_call(
    tx: &mut Transaction<'_, Any>,
    call: &Call,
    events: &[CallEvent],
) -> Result<(), StoreError> {
    rows::bind_call(sqlx::query(&INSERT_CALL), call)?
        .execute(&mut **tx)
        .await
        .map_err(|e| error(format!("inserting call {}", call.id), e))?;
    insert_events(tx, events).await
}

/// Inserts `events` inside `tx`.
async fn insert_events(
    tx: &mut Transaction<'_, Any>,
    events: &[CallEvent],
) -> Result<(), StoreError> {
    for event in events {
        rows::bind_event(sqlx::query(&INSERT_EVENT), event)?
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                error(
                    format!("inserting event {} of call {}", event.id, event.call_id),
                    e,
                )
            })?;
    }
    Ok(())
}

#[async_trait]
impl CallStore for SqlStore {
    /// Committed together with the saves of other calls made at the same moment.
    async fn save_call(&self, call: &Call, events: &[CallEvent]) -> Result<(), StoreError> {
        let call = Box::new(call.clone());
        let events = events.to_vec();
        self.writer.write(Write::Call { call, events }).await
    }

    async fn insert_calls(&self, calls: &[Call], events: &[CallEvent]) -> Result<(), StoreError> {
        let context = || format!("inserting {} calls", calls.len());
        let mut tx = self.pool.begin().await.map_err(|e| error(context(), e))?;
        for call in calls {
            rows::bind_call(sqlx::query(&UPSERT_CALL), call)?
                .execute(&mut *tx)
                .await
                .map_err(|e| error(format!("inserting call {}", call.id), e))?;
        }
        insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(|e| error(context(), e))
    }

    async fn save_with_follow_up(
        &self,
        call: &Call,
        events: &[CallEvent],
        follow_up: &Call,
        follow_up_events: &[CallEvent],
    ) -> Result<bool, StoreError> {
        let context = || {
            format!(
                "saving call {} with its follow-up {}",
                call.id, follow_up.id
            )
        };
        let mut tx = self.pool.begin().await.map_err(|e| error(context(), e))?;
        rows::bind_call(sqlx::query(&UPSERT_CALL), call)?
            .execute(&mut *tx)
            .await
            .map_err(|e| error(context(), e))?;
        insert_events(&mut tx, events).await?;
        let inserted = rows::bind_call(sqlx::query(&INSERT_CALL_ONCE), follow_up)?
            .execute(&mut *tx)
            .await
            .map_err(|e| error(context(), e))?
            .rows_affected()
            == 1;
        if inserted {
            insert_events(&mut tx, follow_up_events).await?;
        }
        tx.commit().await.map_err(|e| error(context(), e))?;
        Ok(inserted)
    }

    async fn client_limit(&self, client: ClientId) -> Result<Option<u32>, StoreError> {
        Ok(self
            .get_client(client)
            .await?
            .map(|c| c.max_concurrent_calls))
    }

    /// Committed together with the other call writes made at the same moment.
    async fn append_events(&self, events: &[CallEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.writer.write(Write::Events(events.to_vec())).await
    }

    async fn load_call(&self, id: CallId) -> Result<Option<Call>, StoreError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        self.find_call(&sql, &[&id.to_string()], &format!("call {id}"))
            .await
    }

    /// Should a provider ever reuse an id, the newest call with it wins.
    async fn find_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE provider = $1 AND provider_call_id = $2 \
             ORDER BY id DESC LIMIT 1"
        );
        let what = format!("the call {provider} knows as {provider_call_id}");
        self.find_call(&sql, &[provider, provider_call_id], &what)
            .await
    }

    async fn live_calls(&self) -> Result<Vec<Call>, StoreError> {
        sqlx::query(&LIVE_CALLS)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing live calls", e))?
            .iter()
            .map(rows::call)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_writes_every_column_and_updates_all_but_the_fixed_ones() {
        let sql = UPSERT_CALL.as_str();
        for fixed in FIXED_CALL_COLUMNS {
            assert!(sql.contains(fixed), "{sql}");
            assert!(!sql.contains(&format!("{fixed} = excluded")), "{sql}");
        }
        assert!(sql.contains("$37)"), "{sql}");
        assert!(!sql.contains("$38"), "{sql}");
        assert!(
            sql.contains("recording_url = excluded.recording_url"),
            "{sql}"
        );
        assert!(
            sql.contains("next_occurrence_id = excluded.next_occurrence_id"),
            "{sql}"
        );
        assert!(!sql.contains(" id = excluded.id"), "{sql}");
    }

    #[test]
    fn live_calls_are_the_statuses_that_are_not_final() {
        assert!(LIVE_CALLS.contains("('queued', 'initiated', 'ringing', 'in-progress')"));
    }
}
