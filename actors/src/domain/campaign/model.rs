//! The campaign record, its lifecycle and the operator controls.
//!
//! `draft → running ⇄ paused → completed`, or `cancelled` / `failed`; a campaign given a
//! start time waits as `scheduled` first. Controls are idempotent: pausing a paused
//! campaign changes nothing and is not an error; asking for a move the lifecycle does
//! not have (resuming a completed campaign) is.

use super::super::ids::{AgentId, CampaignId, ClientId};
use super::super::phone::PhoneNumber;
use super::super::retry::RetryPolicy;
use super::super::schedule::BusinessHours;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Where a campaign is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    /// Created, not started.
    Draft,
    /// Waits for its start time.
    Scheduled,
    Running,
    /// No new dials; live calls finish.
    Paused,
    /// Every contact has its final outcome.
    Completed,
    /// Stopped for good by an operator.
    Cancelled,
    /// Stopped for good by the system (its actor kept failing).
    Failed,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 7] = [
        Self::Draft,
        Self::Scheduled,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Cancelled,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// Over for good: nothing will be dialed again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Failed)
    }

    /// A campaign in this status has an actor (it dials, or tracks its live calls).
    pub fn has_actor(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign status name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown campaign status '{0}'")]
pub struct UnknownCampaignStatus(pub String);

impl FromStr for CampaignStatus {
    type Err = UnknownCampaignStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownCampaignStatus(s.to_string()))
    }
}

/// An operator's control of a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }
}

/// What a control does to a campaign in a given status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The campaign moves to this status.
    To(CampaignStatus),
    /// It already is where the control leads (a repeated request).
    AlreadyThere,
}

/// A control the campaign's status does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a campaign that is {}", control.as_str(), status)]
pub struct ControlError {
    pub control: Control,
    pub status: CampaignStatus,
}

impl CampaignStatus {
    /// Where `control` takes a campaign in this status.
    pub fn apply(self, control: Control) -> Result<Transition, ControlError> {
        use CampaignStatus::*;
        let to = match (control, self) {
            (Control::Start, Draft | Scheduled) => Transition::To(Running),
            (Control::Start, Running) => Transition::AlreadyThere,
            (Control::Pause, Running) => Transition::To(Paused),
            (Control::Pause, Paused) => Transition::AlreadyThere,
            (Control::Resume, Paused) => Transition::To(Running),
            (Control::Resume, Running) => Transition::AlreadyThere,
            (Control::Cancel, Draft | Scheduled | Running | Paused) => Transition::To(Cancelled),
            (Control::Cancel, Cancelled) => Transition::AlreadyThere,
            _ => {
                return Err(ControlError {
                    control,
                    status: self,
                })
            }
        };
        Ok(to)
    }
}

/// How fast a campaign dials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pacing {
    /// Most calls of this campaign live (or waiting for a slot) at once.
    pub max_concurrent: u32,
    /// Most new calls per minute; none: as fast as slots allow.
    pub calls_per_minute: Option<u32>,
}

/// Highest `pacing.maxConcurrent`.
pub const MAX_CAMPAIGN_CONCURRENCY: u32 = 10_000;
/// Highest `pacing.callsPerMinute`.
pub const MAX_CALLS_PER_MINUTE: u32 = 60_000;

impl Default for Pacing {
    fn default() -> Self {
        Self {
            max_concurrent: 10,
            calls_per_minute: None,
        }
    }
}

impl Pacing {
    /// The least time between two new calls, if the campaign is paced.
    pub fn spacing(&self) -> Option<std::time::Duration> {
        self.calls_per_minute
            .filter(|cpm| *cpm > 0)
            .map(|cpm| std::time::Duration::from_secs_f64(60.0 / f64::from(cpm)))
    }
}

/// What a caller asks for when creating a campaign (validated by the HTTP layer).
#[derive(Clone, Debug, PartialEq)]
pub struct NewCampaign {
    pub client_id: ClientId,
    pub agent_id: AgentId,
    pub name: String,
    pub caller_id: PhoneNumber,
    /// The zone of the calling window for contacts that name none.
    pub timezone: Tz,
    pub retry_policy: RetryPolicy,
    pub pacing: Pacing,
    pub window: Option<BusinessHours>,
    pub do_not_call: BTreeSet<PhoneNumber>,
    /// Start at this time instead of waiting for `start`.
    pub start_at: Option<DateTime<Utc>>,
    /// The agent's answer and warm-up URLs, as they were when the campaign was made.
    pub answer_url: String,
    pub warmup_url: Option<String>,
}

/// A campaign as persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub client_id: ClientId,
    pub agent_id: AgentId,
    pub name: String,
    pub caller_id: PhoneNumber,
    pub timezone: Tz,
    pub retry_policy: RetryPolicy,
    pub pacing: Pacing,
    pub window: Option<BusinessHours>,
    pub do_not_call: BTreeSet<PhoneNumber>,
    pub answer_url: String,
    pub warmup_url: Option<String>,
    pub status: CampaignStatus,
    pub start_at: Option<DateTime<Utc>>,
    /// The cursor: contacts at positions below it have been taken from the list (dialed,
    /// skipped or set aside for their window); the rest have not been looked at.
    pub current_index: u32,
    pub total_contacts: u32,
    /// Contacts with a final outcome.
    pub processed_contacts: u32,
    /// Calls made (dials), every attempt counted.
    pub dials: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Last dial or call outcome.
    pub last_activity: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    /// Who paused it (the principal's subject).
    pub paused_by: Option<String>,
    pub resumed_at: Option<DateTime<Utc>>,
    /// Why the system stopped it, when it did.
    pub failure: Option<String>,
}

impl Campaign {
    /// A new campaign: `scheduled` when it has a start time, else `draft`.
    pub fn new(request: NewCampaign, now: DateTime<Utc>) -> Self {
        let status = if request.start_at.is_some() {
            CampaignStatus::Scheduled
        } else {
            CampaignStatus::Draft
        };
        Self {
            id: CampaignId::new(),
            client_id: request.client_id,
            agent_id: request.agent_id,
            name: request.name,
            caller_id: request.caller_id,
            timezone: request.timezone,
            retry_policy: request.retry_policy,
            pacing: request.pacing,
            window: request.window,
            do_not_call: request.do_not_call,
            answer_url: request.answer_url,
            warmup_url: request.warmup_url,
            status,
            start_at: request.start_at,
            current_index: 0,
            total_contacts: 0,
            processed_contacts: 0,
            dials: 0,
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
            last_activity: None,
            paused_at: None,
            paused_by: None,
            resumed_at: None,
            failure: None,
        }
    }

    /// Moves the campaign as `control` asks, recording when and by whom.
    pub fn control(
        &mut self,
        control: Control,
        by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Transition, ControlError> {
        let transition = self.status.apply(control)?;
        if let Transition::To(status) = transition {
            self.status = status;
            self.updated_at = now;
            match control {
                Control::Start => self.started_at = Some(self.started_at.unwrap_or(now)),
                Control::Pause => {
                    self.paused_at = Some(now);
                    self.paused_by = by.map(str::to_string);
                }
                Control::Resume => self.resumed_at = Some(now),
                Control::Cancel => self.completed_at = Some(now),
            }
        }
        Ok(transition)
    }

    /// The zone a contact's calling window is kept in.
    pub fn zone_of(&self, contact_zone: Option<Tz>) -> Tz {
        contact_zone.unwrap_or(self.timezone)
    }

    /// Contacts whose outcome is not final yet.
    pub fn remaining_contacts(&self) -> u32 {
        self.total_contacts.saturating_sub(self.processed_contacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    #[test]
    fn controls_follow_the_lifecycle_and_repeat_harmlessly() {
        assert_eq!(Draft.apply(Control::Start), Ok(Transition::To(Running)));
        assert_eq!(Scheduled.apply(Control::Start), Ok(Transition::To(Running)));
        assert_eq!(Running.apply(Control::Pause), Ok(Transition::To(Paused)));
        assert_eq!(Paused.apply(Control::Pause), Ok(Transition::AlreadyThere));
        assert_eq!(Paused.apply(Control::Resume), Ok(Transition::To(Running)));
        assert_eq!(Running.apply(Control::Resume), Ok(Transition::AlreadyThere));
        assert_eq!(Paused.apply(Control::Cancel), Ok(Transition::To(Cancelled)));
        assert_eq!(
            Cancelled.apply(Control::Cancel),
            Ok(Transition::AlreadyThere)
        );
    }

    #[test]
    fn moves_the_lifecycle_lacks_are_refused() {
        for (status, control) in [
            (Completed, Control::Resume),
            (Completed, Control::Cancel),
            (Draft, Control::Pause),
            (Draft, Control::Resume),
            (Paused, Control::Start),
            (Cancelled, Control::Start),
            (Failed, Control::Resume),
        ] {
            let refused = status.apply(control).unwrap_err();
            assert_eq!((refused.status, refused.control), (status, control));
        }
    }

    #[test]
    fn pacing_spaces_calls_evenly() {
        let paced = Pacing {
            max_concurrent: 5,
            calls_per_minute: Some(120),
        };
        assert_eq!(paced.spacing(), Some(std::time::Duration::from_millis(500)));
        assert_eq!(Pacing::default().spacing(), None);
    }
}
