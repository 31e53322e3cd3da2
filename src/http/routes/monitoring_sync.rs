//! Reconciliation over the API: `GET /api/monitoring/sync/{status,history,stats}`
//! (manager or above) and `POST /api/monitoring/sync/trigger` (admin or above), which
//! asks the SyncActor for a run (or joins the one under way) and answers with it once
//! done, or with `202` and the run in progress if it takes longer than a request should.

use super::range;
use crate::http::auth::{Principal, Role};
use crate::http::error::{accepted, ok, ApiError, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use axum::extract::State;
use callvisor_actors::monitors::{SyncMsg, SyncStatus, BULK_CALL_DETAILS};
use callvisor_actors::rpc::{ask, AskError};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long a trigger waits for its run before answering 202.
const TRIGGER_WAIT: Duration = Duration::from_secs(120);

/// The sync type of a request; the only one is `bulk_call_details`.
fn sync_type(raw: Option<&str>) -> Result<&'static str, ApiError> {
    match raw {
        None | Some(BULK_CALL_DETAILS) => Ok(BULK_CALL_DETAILS),
        Some(other) => Err(ApiError::invalid_field(
            "type",
            format!("'{other}' is not a sync type (bulk_call_details)"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusQuery {
    r#type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
    r#type: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatsQuery {
    r#type: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

#[utoipa::path(get, path = "/api/monitoring/sync/status", tag = "monitoring",
    params(("type" = Option<String>, Query, description = "bulk_call_details (the default)")),
    responses((status = 200, description = "the latest run and the latest successful one")))]
pub async fn status(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let kind = sync_type(q.r#type.as_deref())?;
    let last = state.store.latest_sync(kind, None).await?;
    let success = state
        .store
        .latest_sync(kind, Some(SyncStatus::Success))
        .await?;
    Ok(ok(
        json!({ "type": kind, "lastRun": last, "lastSuccess": success }),
    ))
}

#[utoipa::path(get, path = "/api/monitoring/sync/history", tag = "monitoring",
    params(("type" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1..=200, default 20")),
    responses((status = 200, description = "runs, newest first")))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let kind = sync_type(q.r#type.as_deref())?;
    let limit = range::limit(q.limit, 20, 200)?;
    let runs = state.store.sync_history(kind, limit).await?;
    Ok(ok(json!({ "type": kind, "runs": runs })))
}

#[utoipa::path(get, path = "/api/monitoring/sync/stats", tag = "monitoring",
    params(("type" = Option<String>, Query), ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query)),
    responses((status = 200, description = "runs by status and the counts added up")))]
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let kind = sync_type(q.r#type.as_deref())?;
    let (from, until) = range::instants(
        q.start_date.as_deref(),
        q.end_date.as_deref(),
        state.clock.now(),
        chrono::Duration::days(7),
    )?;
    let stats = state.store.sync_stats(kind, from, until).await?;
    Ok(ok(
        json!({ "type": kind, "from": from, "until": until, "stats": stats }),
    ))
}

#[utoipa::path(post, path = "/api/monitoring/sync/trigger", tag = "monitoring",
    responses((status = 200, description = "the finished run"), (status = 202, description = "the run, still in progress")))]
pub async fn trigger(State(state): State<AppState>, principal: Principal) -> ApiResult {
    principal.require(Role::Admin)?;
    match ask(
        &state.tree.monitors.sync.get(),
        SyncMsg::Trigger,
        TRIGGER_WAIT,
    )
    .await
    {
        Ok(run) => Ok(ok(run)),
        Err(AskError::TimedOut(_)) => {
            let running = state.store.latest_sync(BULK_CALL_DETAILS, None).await?;
            Ok(accepted(running))
        }
        Err(e) => Err(ApiError::unavailable(format!(
            "the sync actor did not answer: {e}"
        ))),
    }
}
