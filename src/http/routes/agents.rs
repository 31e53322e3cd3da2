//! Voice bots: `POST`/`GET /api/v1/agents`, `GET`/`PATCH`/`DELETE /api/v1/agents/{id}`.

use crate::http::auth::{Principal, Role};
use crate::http::error::{created, ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::http::validate::{name_field, phone_field, url_field};
use crate::http::AppState;
use axum::extract::{Path, State};
use callvisor_actors::domain::{Agent, AgentId, ClientId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new agent.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// Where the provider fetches the call flow when the callee answers.
    answer_url: String,
    /// Called before each dial so the bot is ready.
    warmup_url: Option<String>,
    /// Caller id presented on this bot's calls (E.164).
    caller_id: Option<String>,
    /// Only for super_admin: the client the agent belongs to.
    #[schema(value_type = Option<String>, format = Uuid)]
    client_id: Option<ClientId>,
}

/// Changes to an agent; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAgent {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: Option<String>,
    answer_url: Option<String>,
    warmup_url: Option<String>,
    caller_id: Option<String>,
}

/// Listing filter.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentQuery {
    client_id: Option<ClientId>,
}

/// An agent as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    #[schema(value_type = String, format = Uuid)]
    id: AgentId,
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    name: String,
    answer_url: String,
    warmup_url: Option<String>,
    caller_id: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id,
            client_id: a.client_id,
            name: a.name,
            answer_url: a.answer_url,
            warmup_url: a.warmup_url,
            caller_id: a.caller_id.map(|p| p.to_string()),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = CreateAgent,
    responses((status = 201, description = "created; data is the agent", body = AgentView)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateAgent>,
) -> ApiResult {
    principal.require(Role::Admin)?;
    let client_id = principal.acting_client(body.client_id)?;
    if state.store.get_client(client_id).await?.is_none() {
        return Err(ApiError::not_found("client"));
    }
    let now = state.clock.now();
    let agent = Agent {
        id: AgentId::new(),
        client_id,
        name: name_field("name", &body.name)?,
        answer_url: url_field("answerUrl", &body.answer_url)?,
        warmup_url: body
            .warmup_url
            .map(|u| url_field("warmupUrl", &u))
            .transpose()?,
        caller_id: body
            .caller_id
            .map(|c| phone_field("callerId", &c))
            .transpose()?,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_agent(&agent).await?;
    Ok(created(AgentView::from(agent)))
}

#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    params(("clientId" = Option<String>, Query, description = "super_admin only: one client")),
    responses((status = 200, body = [AgentView])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AgentQuery>,
) -> ApiResult {
    let scope = principal.listing_scope(query.client_id)?;
    let agents = state.store.list_agents(scope).await?;
    Ok(ok(agents
        .into_iter()
        .map(AgentView::from)
        .collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents",
    responses((status = 200, body = AgentView), (status = 404, description = "AGENT_NOT_FOUND")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let agent = visible_agent(&state, &principal, &id).await?;
    Ok(ok(AgentView::from(agent)))
}

#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents", request_body = UpdateAgent,
    responses((status = 200, body = AgentView)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAgent>,
) -> ApiResult {
    let mut agent = visible_agent(&state, &principal, &id).await?;
    principal.require(Role::Admin)?;
    if let Some(name) = body.name {
        agent.name = name_field("name", &name)?;
    }
    if let Some(url) = body.answer_url {
        agent.answer_url = url_field("answerUrl", &url)?;
    }
    if let Some(url) = body.warmup_url {
        agent.warmup_url = Some(url_field("warmupUrl", &url)?);
    }
    if let Some(caller) = body.caller_id {
        agent.caller_id = Some(phone_field("callerId", &caller)?);
    }
    agent.updated_at = state.clock.now();
    state.store.update_agent(&agent).await?;
    Ok(ok(AgentView::from(agent)))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents",
    responses((status = 200, description = "deleted; its calls keep their history")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let agent = visible_agent(&state, &principal, &id).await?;
    principal.require(Role::Admin)?;
    state
        .store
        .delete_agent(agent.id, state.clock.now())
        .await?;
    Ok(ok(serde_json::json!({ "id": agent.id, "deleted": true })))
}

/// Loads an agent the principal may see, or answers `AGENT_NOT_FOUND`.
pub async fn visible_agent(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> Result<Agent, ApiError> {
    let id: AgentId = parse_id("agentId", raw_id)?;
    match state.store.get_agent(id).await? {
        Some(a) if principal.sees(a.client_id) => Ok(a),
        _ => Err(ApiError::agent_not_found()),
    }
}
