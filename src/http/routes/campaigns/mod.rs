//! Campaigns: create and list them, read one, append contacts, and steer them —
//! `POST /api/v1/campaigns/{id}/{start,pause,resume,cancel}` are messages to the
//! campaign's actor, answered once the change is persisted (a pause once no create-call
//! of the campaign can reach the provider any more). Reading is for viewers and up,
//! everything else for managers and up; another client's campaign answers 404.
//!
//! - `request`: the bodies of a new campaign and its contacts.
//! - `contacts`: appending contacts as JSON or as a streamed CSV upload.
//! - `reports`: progress, statistics and failure analysis.
//! - `events`: the live stream (Server-Sent Events).
//! - `view`: how campaigns and contacts are shown.

pub mod contacts;
pub mod events;
pub mod reports;
pub mod request;
pub mod view;

use super::calls::TREE_TIMEOUT;
use crate::http::auth::{Principal, Role};
use crate::http::error::{created, ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::http::paging::{page_limit, split_page};
use crate::http::AppState;
use crate::store::CampaignFilter;
use axum::extract::{Path, State};
use callvisor_actors::campaigns::{CampaignError, CampaignSupervisorMsg};
use callvisor_actors::domain::campaign::{Campaign, CampaignStatus, Control};
use callvisor_actors::domain::{CampaignId, ClientId};
use callvisor_actors::ports::CampaignStore;
use callvisor_actors::rpc::ask;
use request::CreateCampaign;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use view::CampaignView;

/// Largest page of campaigns.
const MAX_PAGE: u32 = 200;
/// A pause waits for the create-calls already on the wire, bounded by the provider's
/// request timeout.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(90);

/// The campaign with this id, if the principal may see it; else 404.
pub async fn visible_campaign(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> Result<Campaign, ApiError> {
    let id: CampaignId = parse_id("id", raw_id)?;
    match state.store.load_campaign(id).await? {
        Some(c) if principal.sees(c.client_id) => Ok(c),
        _ => Err(ApiError::campaign_not_found()),
    }
}

/// A refusal of the campaign actors, in the envelope.
pub fn campaign_error(e: CampaignError) -> ApiError {
    match e {
        CampaignError::NotFound => ApiError::campaign_not_found(),
        CampaignError::Refused(refused) => ApiError::invalid_state(refused.to_string())
            .with_details(
                serde_json::json!({"status": refused.status, "control": refused.control.as_str()}),
            ),
        CampaignError::Closed(status) => {
            ApiError::invalid_state(format!("the campaign is {status}; its list cannot change"))
                .with_details(serde_json::json!({"status": status}))
        }
        CampaignError::Internal(cause) => ApiError::internal(cause),
    }
}

/// Sends a request to the CampaignSupervisor and waits for its answer.
pub async fn ask_campaigns<T: Send + 'static>(
    state: &AppState,
    timeout: Duration,
    build: impl FnOnce(ractor::RpcReplyPort<Result<T, CampaignError>>) -> CampaignSupervisorMsg,
) -> Result<T, ApiError> {
    ask(&state.tree.campaigns.get(), build, timeout)
        .await
        .map_err(ApiError::internal)?
        .map_err(campaign_error)
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CreateCampaign,
    responses(
        (status = 201, body = CampaignView),
        (status = 400, description = "VALIDATION_ERROR or INVALID_PHONE_NUMBER, naming the field"),
        (status = 404, description = "AGENT_NOT_FOUND")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateCampaign>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let (request, contacts) = body.into_request(&state, &principal).await?;
    let campaign = ask_campaigns(&state, TREE_TIMEOUT, |tx| {
        CampaignSupervisorMsg::Create(Box::new(request), contacts, tx)
    })
    .await?;
    Ok(created(CampaignView::from(campaign)))
}

/// Filters and paging of the campaign list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignQuery {
    status: Option<CampaignStatus>,
    client_id: Option<ClientId>,
    limit: Option<u32>,
    cursor: Option<CampaignId>,
}

/// A page of campaigns.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignPage {
    campaigns: Vec<CampaignView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    params(
        ("status" = Option<String>, Query, description = "draft, scheduled, running, paused, completed, cancelled or failed"),
        ("clientId" = Option<String>, Query, description = "super_admin only; others see their own client's"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1..=200, default 50"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, body = CampaignPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CampaignQuery>,
) -> ApiResult {
    let client_id = principal.listing_scope(query.client_id)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    let filter = CampaignFilter {
        client_id,
        status: query.status,
        after: query.cursor,
        limit: limit + 1,
    };
    let campaigns = state.store.list_campaigns(&filter).await?;
    let (campaigns, next_cursor) = split_page(campaigns, limit, |c| c.id.to_string());
    Ok(ok(CampaignPage {
        campaigns: campaigns.into_iter().map(CampaignView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    Ok(ok(CampaignView::from(campaign)))
}

/// Applies an operator's control to a campaign the principal may operate.
async fn control(state: AppState, principal: Principal, id: String, control: Control) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    principal.require(Role::Manager)?;
    let by = Some(principal.subject.clone());
    let campaign = ask_campaigns(&state, CONTROL_TIMEOUT, |reply| {
        CampaignSupervisorMsg::Control {
            campaign: campaign.id,
            control,
            by,
            reply,
        }
    })
    .await?;
    Ok(ok(CampaignView::from(campaign)))
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/start", tag = "campaigns",
    responses((status = 200, body = CampaignView), (status = 409, description = "INVALID_STATE")))]
pub async fn start(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    control(state, principal, id, Control::Start).await
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/pause", tag = "campaigns",
    responses((status = 200, body = CampaignView, description = "paused: no new dial from now on; repeating is harmless"),
        (status = 409, description = "INVALID_STATE")))]
pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    control(state, principal, id, Control::Pause).await
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/resume", tag = "campaigns",
    responses((status = 200, body = CampaignView, description = "running again from its cursor"),
        (status = 409, description = "INVALID_STATE")))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    control(state, principal, id, Control::Resume).await
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/cancel", tag = "campaigns",
    responses((status = 200, body = CampaignView, description = "cancelled for good; live calls finish"),
        (status = 409, description = "INVALID_STATE")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    control(state, principal, id, Control::Cancel).await
}
