//! The simulator's router, built here and only here: the endpoints every flavor shares
//! (`GET /health`, and `GET /sim/dials` for tests that run the simulator as a separate
//! process) and the flavor's own API, with the flavor's answer to an unknown path or
//! method. A layer wrapped around what [`router`] returns sees every request.

use super::config::Flavor;
use super::state::{DialRecord, SimState};
use super::{exotel, plivo, twilio};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// The whole HTTP surface of a simulator over its shared state.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    let common = Router::new()
        .route("/health", get(health))
        .route("/sim/dials", get(dials));
    let flavored = match state.config.flavor {
        Flavor::Twilio => twilio::routes(common),
        Flavor::Plivo => plivo::routes(common),
        Flavor::Exotel => exotel::routes(common),
    };
    flavored.with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn dials(State(state): State<Arc<SimState>>) -> Json<Vec<DialRecord>> {
    Json(state.dials())
}
