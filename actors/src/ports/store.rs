//! What the actors need from storage. The sqlx implementation lives in the server crate;
//! an in-memory one (feature `testing`) lets the tree run on paused time.

use crate::domain::{Call, CallEvent, CallId, ClientId};
use async_trait::async_trait;

/// A storage failure. The actors only need to know that it failed and why, in words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// Persistence of calls and their history.
#[async_trait]
pub trait CallStore: Send + Sync + 'static {
    /// Inserts or replaces the call, and appends `events`, in one transaction.
    async fn save_call(&self, call: &Call, events: &[CallEvent]) -> Result<(), StoreError>;

    /// Inserts new calls and their first events, all in one transaction.
    async fn insert_calls(&self, calls: &[Call], events: &[CallEvent]) -> Result<(), StoreError>;

    /// Saves `call` with `events` and, in the same transaction, inserts the call made to
    /// follow it (its retry, its series' next occurrence) with `follow_up_events`, unless
    /// a call already holds that place (the same attempt of the same first call, the same
    /// occurrence of the same series). Returns whether `follow_up` was inserted.
    async fn save_with_follow_up(
        &self,
        call: &Call,
        events: &[CallEvent],
        follow_up: &Call,
        follow_up_events: &[CallEvent],
    ) -> Result<bool, StoreError>;

    /// The client's current concurrent-call limit (`None`: no such client).
    async fn client_limit(&self, client: ClientId) -> Result<Option<u32>, StoreError>;

    /// Appends events without touching the call (observations that changed nothing).
    async fn append_events(&self, events: &[CallEvent]) -> Result<(), StoreError>;

    async fn load_call(&self, id: CallId) -> Result<Option<Call>, StoreError>;

    /// Finds a call by the provider's id for it.
    async fn find_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError>;

    /// Every call that is not final: the calls whose actors must exist.
    async fn live_calls(&self) -> Result<Vec<Call>, StoreError>;
}
