//! A reconciliation run, as recorded in `sync_status`: when, over which window, what it
//! found and what it did.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// The only kind of sync there is: the provider's bulk call details.
pub const BULK_CALL_DETAILS: &str = "bulk_call_details";

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    InProgress,
    Success,
    Failed,
}

impl SyncStatus {
    pub const ALL: [SyncStatus; 3] = [Self::InProgress, Self::Success, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for SyncStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown sync status '{s}' (in_progress, success, failed)"))
    }
}

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncTrigger {
    Schedule,
    Manual,
}

impl SyncTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
        }
    }
}

impl FromStr for SyncTrigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "schedule" => Ok(Self::Schedule),
            "manual" => Ok(Self::Manual),
            other => Err(format!("unknown sync trigger '{other}'")),
        }
    }
}

/// What a run found and did, call by call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    /// Provider records read.
    pub fetched: u64,
    /// Local calls changed (status, duration, price, recording).
    pub updated: u64,
    /// Of those, live calls the provider said were over: their actors ended.
    pub ended: u64,
    /// Local calls that never learned their provider id (the dial's answer and every
    /// webhook were lost), matched to a provider record by number and time.
    pub adopted: u64,
    /// Calls the provider has and callvisor did not, created locally (their number is
    /// the caller id of one agent, which tells whose calls they are).
    pub created: u64,
    /// Records that matched and changed nothing.
    pub unchanged: u64,
    /// Provider records no local call matches and no agent claims; logged.
    pub unmatched: u64,
    /// Calls that ended one way here and another at the provider; statuses only move
    /// forward, so ours stays, and the difference is logged.
    pub conflicting: u64,
}

impl SyncCounts {
    /// Each count with its name, for metrics.
    pub fn named(&self) -> [(&'static str, u64); 8] {
        [
            ("fetched", self.fetched),
            ("updated", self.updated),
            ("ended", self.ended),
            ("adopted", self.adopted),
            ("created", self.created),
            ("unchanged", self.unchanged),
            ("unmatched", self.unmatched),
            ("conflicting", self.conflicting),
        ]
    }
}

/// One run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub id: Uuid,
    pub sync_type: String,
    pub trigger: SyncTrigger,
    pub status: SyncStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The provider's calls that started in `[window_start, window_end]` were read.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub counts: SyncCounts,
    pub error: Option<String>,
}
