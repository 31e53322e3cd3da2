//! The simulator's router, built here and only here: the endpoints every flavor shares
//! (`GET /health`; `GET /sim/dials` and `GET /sim/messages` for tests that run the
//! simulator as a separate process; `GET /sim/recordings/{file}`, the audio a recording
//! URL points at) and the flavor's own API, with the flavor's answer to an unknown path or
//! method. A layer wrapped around what [`router`] returns sees every request.

use super::config::Flavor;
use super::state::{DialRecord, MessageRecord, SimState};
use super::{exotel, plivo, twilio};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// The whole HTTP surface of a simulator over its shared state.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    let common = Router::new()
        .route("/health", get(health))
        .route("/sim/dials", get(dials))
        .route("/sim/messages", get(messages))
        .route("/sim/recordings/{file}", get(recording));
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

async fn messages(State(state): State<Arc<SimState>>) -> Json<Vec<MessageRecord>> {
    Json(state.messages())
}

/// `GET /sim/recordings/{CallSid}.mp3`.
async fn recording(
    State(state): State<Arc<SimState>>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    audio(&state, file.strip_suffix(".mp3"))
}

/// A few bytes of "audio" for a call the simulator recorded, 404 for any other call.
pub(crate) fn audio(state: &SimState, call_sid: Option<&str>) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let recorded = call_sid
        .and_then(|sid| state.call(sid, |c| c.recording_url.is_some()))
        .unwrap_or(false);
    if recorded {
        (
            [(header::CONTENT_TYPE, "audio/mpeg")],
            &b"ID3\x03\0\0\0\0\0\0"[..],
        )
            .into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}
