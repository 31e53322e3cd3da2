//! Group commit: the call writes of concurrent actors share transactions.
//!
//! Every CallActor persists each change before it acknowledges it. One transaction per
//! change would cap a node at the database's commit rate (on SQLite one WAL sync per
//! commit, with every writer queueing for the one write lock), and webhooks for
//! thousands of live calls arrive faster than that. So call saves and event appends go
//! to one writer task instead. It takes every write that queued while its previous
//! commit was under way (up to [`MAX_BATCH`]) and makes them in one transaction, in a
//! few multi-row statements (see `batch_sql`): each call as its last write left it,
//! every event in order. Each caller is answered only once that transaction has
//! committed, so an acknowledged change is as durable as before. Under light load a
//! batch holds a single write, so nothing waits for company. A batch that fails is
//! rolled back and its writes are made again one transaction each, so a write that
//! cannot be made fails alone, with its own error.
//!
//! The writer speaks `sqlx::Any`, so SQLite and PostgreSQL share it.

use super::batch_sql::{insert_events, upsert_calls};
use super::{error, StoreError};
use callvisor_actors::domain::{Call, CallEvent};
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, Any, AnyPool};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// Most writes in one transaction: enough to amortise a commit, few enough that one
/// transaction never holds SQLite's write lock for long.
const MAX_BATCH: usize = 256;

/// One write the writer makes.
pub(super) enum Write {
    /// Upsert a call with the events that explain its change.
    Call {
        call: Box<Call>,
        events: Vec<CallEvent>,
    },
    /// Append events to calls' histories.
    Events(Vec<CallEvent>),
}

/// A write and whoever waits for it.
struct Pending {
    write: Write,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle to the writer task; cloning shares the task.
#[derive(Clone, Debug)]
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Pending>,
}

impl GroupCommit {
    /// Starts the writer on `pool`. It stops once every handle is dropped.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (queue, incoming) = mpsc::unbounded_channel();
        tokio::spawn(writer(pool, incoming));
        Self { queue }
    }

    /// Makes `write` and returns once it is committed (or has failed).
    pub(super) async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { write, done })
            .map_err(|_| StoreError("the database writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| StoreError("the database writer stopped before committing".into()))?
    }
}

/// The writer task: one transaction per batch of queued writes, on a connection it
/// keeps while writes keep coming (and gives back to the pool when none wait, so the
/// pool can close; a broken one is given up and another taken for the next batch).
async fn writer(pool: AnyPool, mut incoming: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut conn = None;
    loop {
        if incoming.is_empty() {
            conn = None;
        }
        if incoming.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        let outcome = commit(&pool, &mut conn, batch.iter().map(|p| &p.write)).await;
        if outcome.is_ok() || batch.len() == 1 {
            for pending in batch.drain(..) {
                let _ = pending.done.send(outcome.clone());
            }
            continue;
        }
        // Some write of the batch failed and took the others down with it: make each
        // again on its own, so only the failing one is refused.
        for pending in batch.drain(..) {
            let outcome = commit(&pool, &mut conn, std::iter::once(&pending.write)).await;
            let _ = pending.done.send(outcome);
        }
    }
}

/// Applies `writes` in one transaction and commits it: every call once, as its last
/// write left it, then every event in order. On failure the connection is let go.
async fn commit<'w>(
    pool: &AnyPool,
    conn: &mut Option<PoolConnection<Any>>,
    writes: impl Iterator<Item = &'w Write>,
) -> Result<(), StoreError> {
    let (mut calls, mut events) = (Vec::new(), Vec::new());
    for write in writes {
        match write {
            Write::Call { call, events: e } => {
                calls.push(call.as_ref());
                events.extend(e);
            }
            Write::Events(e) => events.extend(e),
        }
    }
    let calls = last_of_each(calls);
    let outcome = async {
        let connection = match conn {
            Some(c) => c,
            None => conn.insert(
                pool.acquire()
                    .await
                    .map_err(|e| error("taking a connection for the writer", e))?,
            ),
        };
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| error("starting a transaction", e))?;
        upsert_calls(&mut tx, &calls).await?;
        insert_events(&mut tx, &events).await?;
        // Dropping `tx` on an earlier error rolls the whole batch back.
        tx.commit().await.map_err(|e| {
            error(
                format!(
                    "committing {} calls and {} events",
                    calls.len(),
                    events.len()
                ),
                e,
            )
        })
    }
    .await;
    if outcome.is_err() {
        *conn = None;
    }
    outcome
}

/// The last of the writes of each call (each replaces the whole row), in order.
fn last_of_each(calls: Vec<&Call>) -> Vec<&Call> {
    let mut seen = HashSet::new();
    let mut last: Vec<&Call> = calls
        .into_iter()
        .rev()
        .filter(|c| seen.insert(c.id))
        .collect();
    last.reverse();
    last
}
