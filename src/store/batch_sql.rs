//! Multi-row statements for the group-commit writer: the calls of a batch in a few
//! upserts and their events in a few inserts, instead of one statement per row.
//!
//! Every statement is a round trip to the database (for SQLite, to the connection's
//! worker thread), and on a busy node those round trips are much of what a write
//! costs. Statements stay small all the same: binding a statement's parameters costs
//! SQLite time quadratic in their number (it finds each `$n` by walking the list of
//! names), so a statement binds at most a few hundred values. Statements come in
//! power-of-two sizes, so a handful of texts serve every batch and stay in the
//! connection's statement cache.

use super::calls::{upsert_rows, value_rows};
use super::rows::{self, CALL_COLUMNS, EVENT_COLUMNS, FIXED_CALL_COLUMNS};
use super::{error, StoreError};
use callvisor_actors::domain::{Call, CallEvent};
use sqlx::{Any, Transaction};
use std::sync::LazyLock;

/// Most calls in one upsert (37 values each).
const MAX_CALL_ROWS: usize = 4;

/// Most events in one insert (8 values each).
const MAX_EVENT_ROWS: usize = 32;

/// Upserts of 2^k calls, by k.
static UPSERT_CALLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..=MAX_CALL_ROWS.ilog2())
        .map(|k| upsert_rows("calls", CALL_COLUMNS, &FIXED_CALL_COLUMNS, 1 << k))
        .collect()
});

/// Inserts of 2^k events, by k.
static INSERT_EVENTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let columns = EVENT_COLUMNS.split(',').count();
    (0..=MAX_EVENT_ROWS.ilog2())
        .map(|k| {
            format!(
                "INSERT INTO call_events ({EVENT_COLUMNS}) VALUES {}",
                value_rows(columns, 1 << k)
            )
        })
        .collect()
});

/// Cuts `n` rows into statements of power-of-two sizes up to `max_rows`, largest
/// first; yields (k, rows) for a statement of 2^k rows.
fn chunks(n: usize, max_rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut left = n;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let k = left.min(max_rows).ilog2() as usize;
        left -= 1 << k;
        Some((k, 1 << k))
    })
}

/// The ids of what a statement wrote, for its error.
fn ids(ids: impl Iterator<Item = impl std::fmt::Display>) -> String {
    ids.map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}

/// Upserts `calls` inside `tx`; no two may share an id.
pub(super) async fn upsert_calls(
    tx: &mut Transaction<'_, Any>,
    calls: &[&Call],
) -> Result<(), StoreError> {
    let mut rest = calls;
    for (k, n) in chunks(calls.len(), MAX_CALL_ROWS) {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut query = sqlx::query(&UPSERT_CALLS[k]);
        for call in chunk {
            query = rows::bind_call(query, call)?;
        }
        query.execute(&mut **tx).await.map_err(|e| {
            error(
                format!("saving calls {}", ids(chunk.iter().map(|e| e.id))),
                e,
            )
        })?;
    }
    Ok(())
}

/// Inserts `events` inside `tx`.
pub(super) async fn insert_events(
    tx: &mut Transaction<'_, Any>,
    events: &[&CallEvent],
) -> Result<(), StoreError> {
    let mut rest = events;
    for (k, n) in chunks(events.len(), MAX_EVENT_ROWS) {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut query = sqlx::query(&INSERT_EVENTS[k]);
        for event in chunk {
            query = rows::bind_event(query, event)?;
        }
        query.execute(&mut **tx).await.map_err(|e| {
            error(
                format!("inserting call events {}", ids(chunk.iter().map(|e| e.id))),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_power_of_two_statements_that_add_up() {
        let sizes = |n, max| chunks(n, max).map(|(_, rows)| rows).collect::<Vec<_>>();
        assert_eq!(sizes(0, 32), Vec::<usize>::new());
        assert_eq!(sizes(1, 32), [1]);
        assert_eq!(sizes(7, 32), [4, 2, 1]);
        assert_eq!(sizes(32, 32), [32]);
        assert_eq!(sizes(75, 32), [32, 32, 8, 2, 1]);
        assert_eq!(sizes(11, 4), [4, 4, 2, 1]);
        assert!(chunks(1000, 32).all(|(k, rows)| rows == 1 << k));
    }

    #[test]
    fn a_statement_of_n_rows_binds_every_column_of_each() {
        let events = EVENT_COLUMNS.split(',').count();
        assert_eq!(INSERT_EVENTS.len(), 6);
        let four = format!("${}, ${})", 4 * events - 1, 4 * events);
        assert!(INSERT_EVENTS[2].ends_with(&four), "{}", INSERT_EVENTS[2]);
        let calls = CALL_COLUMNS.split(',').count();
        assert_eq!(UPSERT_CALLS.len(), 3);
        let last = UPSERT_CALLS[2].as_str();
        assert!(last.contains(&format!("${})", 4 * calls)), "{last}");
        assert!(!last.contains(&format!("${}", 4 * calls + 1)), "{last}");
    }
}
