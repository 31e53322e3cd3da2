//! `GET /api/v1/campaigns/{id}/events`: a campaign's live stream, as Server-Sent Events.
//!
//! It opens with the campaign's `progress` (the `/progress` view), then relays what its
//! actor publishes — `callStarted`, `callEnded` and `counters` (status, cursor, totals)
//! after each change — as it happens. A reader
//! too slow to keep up is told how many events it missed (`lagged`) and goes on. When the
//! campaign's actor stops (completed, cancelled) the stream sends a last `progress` and
//! ends; a campaign without an actor (draft, scheduled, over) gets its progress and the
//! end at once.

use super::reports::progress_of;
use super::visible_campaign;
use crate::http::auth::Principal;
use crate::http::error::ApiError;
use crate::http::routes::calls::TREE_TIMEOUT;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use callvisor_actors::campaigns::{CampaignEvent, CampaignSupervisorMsg};
use callvisor_actors::domain::campaign::Campaign;
use callvisor_actors::ports::CampaignStore;
use callvisor_actors::rpc::ask;
use futures_util::stream::{self, Stream};
use futures_util::StreamExt;
use std::convert::Infallible;
use tokio::sync::broadcast::{self, error::RecvError};

/// Where the stream is.
enum Feed {
    /// Relaying the actor's events.
    Live(AppState, Campaign, broadcast::Receiver<CampaignEvent>),
    /// The actor is gone: one last progress, then the end.
    Closing(AppState, Campaign),
    Done,
}

fn event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/events", tag = "campaigns",
    responses((status = 200, body = String, content_type = "text/event-stream",
            description = "progress first and last, callStarted, callEnded and counters between"),
        (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    // Subscribe first, so nothing between the first progress and the feed is missed.
    let feed = ask(
        &state.tree.campaigns.get(),
        |tx| CampaignSupervisorMsg::Subscribe(campaign.id, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?;
    let first = event("progress", &progress_of(&state, &campaign).await?);
    let rest = match feed {
        Some(rx) => Feed::Live(state, campaign, rx),
        None => Feed::Done,
    };
    let live = stream::unfold(rest, |feed| async move {
        match feed {
            Feed::Live(state, campaign, mut rx) => match rx.recv().await {
                Ok(e) => Some((event(e.name(), &e), Feed::Live(state, campaign, rx))),
                Err(RecvError::Lagged(missed)) => Some((
                    event("lagged", &serde_json::json!({ "missed": missed })),
                    Feed::Live(state, campaign, rx),
                )),
                Err(RecvError::Closed) => {
                    let last = Feed::Closing(state, campaign);
                    Some((Event::default().comment("campaign actor stopped"), last))
                }
            },
            Feed::Closing(state, campaign) => {
                let current = state.store.load_campaign(campaign.id).await.ok().flatten();
                let campaign = current.unwrap_or(campaign);
                let progress = progress_of(&state, &campaign).await.ok()?;
                Some((event("progress", &progress), Feed::Done))
            }
            Feed::Done => None,
        }
    });
    let stream = stream::once(async move { first }).chain(live);
    Ok(Sse::new(stream.map(Ok)).keep_alive(KeepAlive::default()))
}
