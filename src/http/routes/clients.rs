//! Tenants: `POST /api/v1/clients` (super_admin), `GET`/`PATCH /api/v1/clients/{id}`.

use crate::http::auth::{Principal, Role};
use crate::http::error::{created, ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiJson};
use crate::http::validate::{client_limit, name_field, timezone_field};
use crate::http::AppState;
use axum::extract::{Path, State};
use callvisor_actors::broker::BrokerMsg;
use callvisor_actors::domain::tenant::DEFAULT_MAX_CONCURRENT_CALLS;
use callvisor_actors::domain::{Client, ClientId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new client.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClient {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// 1..=10000, default 10.
    #[schema(minimum = 1, maximum = 10000)]
    max_concurrent_calls: Option<u32>,
    /// IANA time zone, default UTC.
    timezone: Option<String>,
}

/// Changes to a client; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateClient {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: Option<String>,
    #[schema(minimum = 1, maximum = 10000)]
    max_concurrent_calls: Option<u32>,
    timezone: Option<String>,
}

/// A client as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    #[schema(value_type = String, format = Uuid)]
    id: ClientId,
    name: String,
    max_concurrent_calls: u32,
    timezone: String,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        Self {
            id: c.id,
            name: c.name,
            max_concurrent_calls: c.max_concurrent_calls,
            timezone: c.timezone,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", request_body = CreateClient,
    responses((status = 201, description = "created; data is the client", body = ClientView)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateClient>,
) -> ApiResult {
    principal.require(Role::SuperAdmin)?;
    let now = state.clock.now();
    let client = Client {
        id: ClientId::new(),
        name: name_field("name", &body.name)?,
        max_concurrent_calls: client_limit(
            body.max_concurrent_calls
                .unwrap_or(DEFAULT_MAX_CONCURRENT_CALLS),
        )?,
        timezone: timezone_field("timezone", body.timezone.as_deref().unwrap_or("UTC"))?,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_client(&client).await?;
    Ok(created(ClientView::from(client)))
}

#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients",
    responses((status = 200, body = ClientView), (status = 404, description = "no such client")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let client = visible_client(&state, &principal, &id).await?;
    Ok(ok(ClientView::from(client)))
}

#[utoipa::path(patch, path = "/api/v1/clients/{id}", tag = "clients", request_body = UpdateClient,
    responses((status = 200, body = ClientView)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateClient>,
) -> ApiResult {
    let mut client = visible_client(&state, &principal, &id).await?;
    principal.require(Role::Admin)?;
    if let Some(name) = body.name {
        client.name = name_field("name", &name)?;
    }
    if let Some(limit) = body.max_concurrent_calls {
        client.max_concurrent_calls = client_limit(limit)?;
    }
    if let Some(tz) = body.timezone {
        client.timezone = timezone_field("timezone", &tz)?;
    }
    client.updated_at = state.clock.now();
    state.store.update_client(&client).await?;
    // Calls already waiting in line are served by the new limit from now on.
    let _ = state.tree.broker.get().cast(BrokerMsg::SetLimit {
        client: client.id,
        limit: client.max_concurrent_calls,
    });
    Ok(ok(ClientView::from(client)))
}

/// Loads a client the principal may see, or answers 404.
async fn visible_client(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> Result<Client, ApiError> {
    let id: ClientId = parse_id("id", raw_id)?;
    match state.store.get_client(id).await? {
        Some(c) if principal.sees(c.id) => Ok(c),
        _ => Err(ApiError::not_found("client")),
    }
}
