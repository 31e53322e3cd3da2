//! Analytics (viewer or above): `GET /api/v1/analytics/{clients,agents,campaigns}/{id}` — totals
//! by status, success and error rates, mean talk time and a day-by-day breakdown over
//! a range of local days in a time zone (default the client's) — and `…/{id}/recent`,
//! the latest calls. Another client's client or agent answers 404.

use super::calls::CallView;
use super::range;
use crate::http::auth::Principal;
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiQuery};
use crate::http::AppState;
use crate::store::{CallFilter, Scope};
use axum::extract::{Path, State};
use callvisor_actors::domain::{AgentId, Client, ClientId};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecentQuery {
    limit: Option<u32>,
}

/// The client a principal may see, or 404.
async fn visible_client(
    state: &AppState,
    principal: &Principal,
    id: ClientId,
) -> Result<Client, ApiError> {
    match state.store.get_client(id).await? {
        Some(c) if principal.sees(c.id) => Ok(c),
        _ => Err(ApiError::not_found("client")),
    }
}

/// The scope a path names and the client it belongs to, if the principal may see it.
async fn scope_of(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    raw: &str,
) -> Result<(Scope, Client), ApiError> {
    match kind {
        "clients" => {
            let id: ClientId = parse_id("id", raw)?;
            let client = visible_client(state, principal, id).await?;
            Ok((Scope::Client(id), client))
        }
        "agents" => {
            let id: AgentId = parse_id("id", raw)?;
            let agent = state.store.get_agent(id).await?;
            let agent = agent
                .filter(|a| principal.sees(a.client_id))
                .ok_or_else(ApiError::agent_not_found)?;
            let client = visible_client(state, principal, agent.client_id).await?;
            Ok((Scope::Agent(id), client))
        }
        "campaigns" => {
            let campaign = super::campaigns::visible_campaign(state, principal, raw).await?;
            let client = visible_client(state, principal, campaign.client_id).await?;
            Ok((Scope::Campaign(campaign.id), client))
        }
        _ => Err(ApiError::not_found("route")),
    }
}

#[utoipa::path(get, path = "/api/v1/analytics/{kind}/{id}", tag = "analytics",
    params(("kind" = String, Path, description = "clients, agents or campaigns"), ("id" = String, Path),
        ("startDate" = Option<String>, Query, description = "YYYY-MM-DD, default six days before endDate"),
        ("endDate" = Option<String>, Query, description = "YYYY-MM-DD, default today"),
        ("timezone" = Option<String>, Query, description = "IANA name, default the client's")),
    responses((status = 200, description = "totals and daily breakdown"), (status = 404, description = "NOT_FOUND")))]
pub async fn report(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult {
    let (scope, client) = scope_of(&state, &principal, &kind, &id).await?;
    let tz_name = q.timezone.unwrap_or(client.timezone);
    let tz = range::timezone(&tz_name)?;
    let days = range::days(
        q.start_date.as_deref(),
        q.end_date.as_deref(),
        tz,
        state.clock.now(),
    )?;
    let report = state.store.call_analytics(scope, days).await?;
    Ok(ok(json!({
        "scope": { "kind": kind, "id": id },
        "startDate": days.start,
        "endDate": days.end,
        "report": report,
    })))
}

#[utoipa::path(get, path = "/api/v1/analytics/{kind}/{id}/recent", tag = "analytics",
    params(("kind" = String, Path, description = "clients, agents or campaigns"), ("id" = String, Path),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 20")),
    responses((status = 200, description = "the latest calls, newest first"), (status = 404, description = "NOT_FOUND")))]
pub async fn recent(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<RecentQuery>,
) -> ApiResult {
    let (scope, _) = scope_of(&state, &principal, &kind, &id).await?;
    let mut filter = CallFilter {
        limit: range::limit(q.limit, 20, 100)?,
        ..CallFilter::default()
    };
    match scope {
        Scope::Client(c) => filter.client_id = Some(c),
        Scope::Agent(a) => filter.agent_id = Some(a),
        Scope::Campaign(c) => filter.campaign_id = Some(c),
        Scope::All => {}
    }
    let calls: Vec<CallView> = state
        .store
        .list_calls(&filter)
        .await?
        .into_iter()
        .map(|c| CallView::new(c, None))
        .collect();
    Ok(ok(json!({ "calls": calls })))
}
