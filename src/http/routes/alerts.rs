//! `GET /api/v1/alerts` (manager or above): alerts, most recently raised first. A
//! super_admin sees every alert; anyone else sees the system-wide ones and those of
//! their own client (a campaign's), never another client's.

use super::range;
use crate::http::auth::{Principal, Role};
use crate::http::error::{ok, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use crate::store::AlertFilter;
use axum::extract::State;
use callvisor_actors::monitors::{AlertStatus, Level};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertQuery {
    status: Option<AlertStatus>,
    /// Only alerts at or above this level.
    level: Option<Level>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = "monitoring",
    params(("status" = Option<String>, Query, description = "active or resolved"),
        ("level" = Option<String>, Query, description = "info, warning, error or critical: that level and above"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1..=500, default 50")),
    responses((status = 200, description = "alerts, most recently raised first"), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let visible_to = match principal.role {
        Role::SuperAdmin => None,
        _ => principal.client_id,
    };
    let alerts = state
        .store
        .list_alerts(&AlertFilter {
            status: q.status,
            min_level: q.level,
            visible_to,
            limit: range::limit(q.limit, 50, 500)?,
        })
        .await?;
    Ok(ok(json!({ "alerts": alerts })))
}
