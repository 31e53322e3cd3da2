//! Clients (tenants) and agents (the voice bots that answer their calls).

use super::ids::{AgentId, ClientId};
use super::phone::PhoneNumber;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Default per-client concurrent-call limit.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 10;
/// Allowed range for a client's concurrent-call limit.
pub const MAX_CONCURRENT_CALLS_RANGE: std::ops::RangeInclusive<u32> = 1..=10_000;

/// A tenant. Every call, agent and campaign belongs to exactly one client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// How many of this client's calls may be live at once.
    pub max_concurrent_calls: u32,
    /// IANA time zone used where a request names none.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A voice bot: where the provider fetches the call flow once the callee answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub client_id: ClientId,
    pub name: String,
    pub answer_url: String,
    /// Called before dialing so the bot is ready when the callee picks up.
    pub warmup_url: Option<String>,
    /// Caller id presented for this bot's calls when a request names none.
    pub caller_id: Option<PhoneNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
