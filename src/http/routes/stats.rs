//! `GET /api/v1/stats` (viewer or above): the system at a glance — calls made over a
//! range (default the last 24 hours) by status with success rate and mean talk time,
//! the slot line, slot use, and the database pool. A principal of a client sees its own
//! calls; a super_admin every call, or one client's with `clientId`.

use super::calls::TREE_TIMEOUT;
use super::range;
use crate::http::auth::Principal;
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use crate::store::{DayRange, Scope};
use axum::extract::State;
use callvisor_actors::broker::BrokerMsg;
use callvisor_actors::calls::CallSupervisorMsg;
use callvisor_actors::domain::ClientId;
use callvisor_actors::rpc::ask;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatsQuery {
    client_id: Option<ClientId>,
    /// Local days, read in `timezone` (default UTC); default today and yesterday.
    start_date: Option<String>,
    end_date: Option<String>,
    timezone: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "monitoring",
    params(("clientId" = Option<String>, Query, description = "super_admin only: one client"),
        ("startDate" = Option<String>, Query, description = "YYYY-MM-DD, default yesterday"),
        ("endDate" = Option<String>, Query, description = "YYYY-MM-DD, default today"),
        ("timezone" = Option<String>, Query, description = "IANA name, default UTC")),
    responses((status = 200, description = "calls, queue, slots, database pool"), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult {
    let scope = match principal.listing_scope(q.client_id)? {
        Some(client) => Scope::Client(client),
        None => Scope::All,
    };
    let tz = q
        .timezone
        .as_deref()
        .map(range::timezone)
        .transpose()?
        .unwrap_or(chrono_tz::UTC);
    let now = state.clock.now();
    let default_start =
        (now.with_timezone(&tz).date_naive() - chrono::Duration::days(1)).to_string();
    let days: DayRange = range::days(
        Some(q.start_date.as_deref().unwrap_or(&default_start)),
        q.end_date.as_deref(),
        tz,
        now,
    )?;
    let report = state.store.call_analytics(scope, days).await?;
    let slots = ask(&state.tree.broker.get(), BrokerMsg::Stats, TREE_TIMEOUT)
        .await
        .map_err(ApiError::internal)?;
    let live = ask(
        &state.tree.calls.get(),
        CallSupervisorMsg::LiveCount,
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?;
    let (connections, idle) = state.store.pool_stats();
    let in_use = match scope {
        Scope::Client(c) => slots
            .per_client
            .iter()
            .find(|(id, _)| *id == c)
            .map_or(0, |(_, n)| *n),
        _ => slots.global_in_use,
    };
    Ok(ok(json!({
        "from": report.from,
        "until": report.until,
        "timezone": report.timezone,
        "calls": {
            "outbound": report.totals,
            // callvisor places calls; it does not take calls in.
            "inbound": { "total": 0 },
        },
        "activeCalls": if scope == Scope::All { live as u32 } else { in_use },
        "queue": {
            "waiting": slots.waiting,
            "longestWaitSeconds": slots.longest_wait_seconds,
        },
        "slots": {
            "inUse": in_use,
            "globalInUse": slots.global_in_use,
            "globalMax": slots.global_max,
            "utilization": slots.global_in_use as f64 / slots.global_max.max(1) as f64,
        },
        "database": {
            "backend": state.store.backend().as_str(),
            "connections": connections,
            "idle": idle,
        },
    })))
}
