//! The call lifecycle: statuses, failure reasons, the call record and its event history.
//!
//! Transitions only move forward (`queued → initiated → ringing → in-progress → final`).
//! Providers deliver webhooks late, twice or out of order; [`Call::apply`] decides whether an
//! observed status moves the call and returns that decision, so that every observation is
//! kept in the history while only forward moves change the call.

use super::ids::{AgentId, CallId, CampaignId, ClientId, EventId};
use super::phone::PhoneNumber;
use super::retry::RetryPolicy;
use super::schedule::Schedule;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a call is in its life. The order of the variants is the order of the lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    #[default]
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
    Timeout,
}

impl CallStatus {
    pub const ALL: [CallStatus; 10] = [
        Self::Queued,
        Self::Initiated,
        Self::Ringing,
        Self::InProgress,
        Self::Completed,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
        Self::Timeout,
    ];

    /// A final status: the call is over and holds no slot.
    pub fn is_final(self) -> bool {
        self.rank() == 4
    }

    /// Position in the lifecycle; every final status shares the last rank.
    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Initiated => 1,
            Self::Ringing => 2,
            Self::InProgress => 3,
            _ => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Timeout => "timeout",
        }
    }

    /// The failure reason a final status implies on its own, if any.
    pub fn implied_failure(self) -> Option<FailureReason> {
        match self {
            Self::Busy => Some(FailureReason::Busy),
            Self::NoAnswer => Some(FailureReason::NoAnswer),
            Self::Timeout => Some(FailureReason::Timeout),
            _ => None,
        }
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown call status '{0}'")]
pub struct UnknownStatus(pub String);

impl FromStr for CallStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// Why a call did not end in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    NoAnswer,
    Busy,
    Voicemail,
    InvalidNumber,
    NetworkError,
    RateLimited,
    ApiUnavailable,
    Timeout,
    /// The bot's warm-up URL never answered, so the call was not dialed.
    BotUnavailable,
    /// The call's actor kept crashing and its supervisor gave up on it.
    SupervisorGaveUp,
    Canceled,
}

impl FailureReason {
    pub const ALL: [FailureReason; 11] = [
        Self::NoAnswer,
        Self::Busy,
        Self::Voicemail,
        Self::InvalidNumber,
        Self::NetworkError,
        Self::RateLimited,
        Self::ApiUnavailable,
        Self::Timeout,
        Self::BotUnavailable,
        Self::SupervisorGaveUp,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Voicemail => "voicemail",
            Self::InvalidNumber => "invalid_number",
            Self::NetworkError => "network_error",
            Self::RateLimited => "rate_limited",
            Self::ApiUnavailable => "api_unavailable",
            Self::Timeout => "timeout",
            Self::BotUnavailable => "bot_unavailable",
            Self::SupervisorGaveUp => "supervisor_gave_up",
            Self::Canceled => "canceled",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure-reason name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown failure reason '{0}'")]
pub struct UnknownReason(pub String);

impl FromStr for FailureReason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_string()))
    }
}

/// How urgently a call should be placed relative to others waiting for a slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

impl FromStr for Priority {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            "high" => Ok(Self::High),
            other => Err(UnknownStatus(other.to_string())),
        }
    }
}

/// One outbound call as persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub client_id: ClientId,
    pub agent_id: AgentId,
    /// The number dialed.
    pub to: PhoneNumber,
    /// The caller id presented.
    pub from: PhoneNumber,
    /// Where the provider fetches the bot's call flow when the callee answers.
    pub answer_url: String,
    pub status: CallStatus,
    pub failure_reason: Option<FailureReason>,
    /// Which provider carries the call (`twilio`, `plivo`, `exotel`, `sim`).
    pub provider: String,
    /// The provider's id for the call, once the create-call request has answered.
    pub provider_call_id: Option<String>,
    pub priority: Priority,
    /// Caller-supplied JSON carried along untouched.
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set, and persisted, just before the create-call request leaves: a call with this
    /// set and no provider id may or may not exist at the provider.
    pub dial_started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Last time anything was heard about the call; the call timeout counts from here.
    pub last_heard_at: DateTime<Utc>,
    /// Talk time in seconds, as reported by the provider.
    pub duration_seconds: Option<i64>,
    /// The provider's price for the call, as the provider wrote it.
    pub price: Option<String>,
    pub recording_url: Option<String>,
    /// The bot's warm-up URL, called before dialing (none: dial at once).
    pub warmup_url: Option<String>,
    /// Warm-up attempts made so far.
    pub warmup_attempts: u32,
    /// Time spent warming the bot up, all attempts together, in milliseconds.
    pub warmup_millis: Option<i64>,
    /// When the bot answered its warm-up; the call is dialed only after this.
    pub bot_ready_at: Option<DateTime<Utc>>,
    /// The call is not dialed before this time (a scheduled call, a retry's backoff).
    pub not_before: Option<DateTime<Utc>>,
    /// When the ConcurrencyBroker granted the call its slot; until then the call waits
    /// in line and neither dials nor times out.
    pub slot_granted_at: Option<DateTime<Utc>>,
    /// 1 for a first attempt; retries count on from there.
    pub attempt: u32,
    /// The first attempt's id, on retries.
    pub original_call_id: Option<CallId>,
    pub retry_policy: Option<RetryPolicy>,
    /// The first occurrence's id, on every occurrence of a scheduled call.
    pub series_id: Option<CallId>,
    /// Which occurrence of its series this call is, from 1.
    pub occurrence: Option<u32>,
    pub schedule: Option<Schedule>,
    /// The retry made after this call failed, once made.
    pub next_attempt_id: Option<CallId>,
    /// The series' next occurrence, made when this one came due.
    pub next_occurrence_id: Option<CallId>,
    /// The campaign that made the call, and the contact's place in its list.
    pub campaign_id: Option<CampaignId>,
    pub contact_position: Option<u32>,
}

/// What a caller asks for when placing a call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
    pub client_id: ClientId,
    pub agent_id: AgentId,
    pub to: PhoneNumber,
    pub from: PhoneNumber,
    pub answer_url: String,
    pub priority: Priority,
    pub metadata: serde_json::Value,
    /// The agent's warm-up URL, if it has one.
    pub warmup_url: Option<String>,
    pub retry_policy: Option<RetryPolicy>,
    /// Run later, per this schedule, instead of now.
    pub schedule: Option<Schedule>,
}

/// The line a waiting call queues in for its slot, within its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Calls of one campaign.
    Campaign(CampaignId),
    /// Calls placed over the API (bulk).
    Api,
    /// Occurrences of scheduled calls.
    Scheduled,
    /// Retries of failed calls.
    Retries,
}

impl Lane {
    /// The lane's name in the broker's line and in call histories.
    pub fn key(self) -> String {
        match self {
            Self::Campaign(id) => format!("campaign:{id}"),
            Self::Api => "api".into(),
            Self::Scheduled => "scheduled".into(),
            Self::Retries => "retries".into(),
        }
    }
}

impl Call {
    /// A new call, queued and not yet dialed.
    pub fn queued(request: CallRequest, provider: &str, now: DateTime<Utc>) -> Self {
        let id = CallId::new();
        let scheduled = request.schedule.as_ref().map(|s| (s.first_run(), id, 1));
        Self {
            id,
            client_id: request.client_id,
            agent_id: request.agent_id,
            to: request.to,
            from: request.from,
            answer_url: request.answer_url,
            status: CallStatus::Queued,
            failure_reason: None,
            provider: provider.to_string(),
            provider_call_id: None,
            priority: request.priority,
            metadata: request.metadata,
            created_at: now,
            updated_at: now,
            dial_started_at: None,
            answered_at: None,
            ended_at: None,
            last_heard_at: now,
            duration_seconds: None,
            price: None,
            recording_url: None,
            warmup_url: request.warmup_url,
            warmup_attempts: 0,
            warmup_millis: None,
            bot_ready_at: None,
            not_before: scheduled.map(|(at, _, _)| at),
            slot_granted_at: None,
            attempt: 1,
            original_call_id: None,
            retry_policy: request.retry_policy,
            series_id: scheduled.map(|(_, series, _)| series),
            occurrence: scheduled.map(|(_, _, n)| n),
            schedule: request.schedule,
            next_attempt_id: None,
            next_occurrence_id: None,
            campaign_id: None,
            contact_position: None,
        }
    }

    /// The line the call waits in for a slot.
    pub fn lane(&self) -> Lane {
        if let Some(campaign) = self.campaign_id {
            Lane::Campaign(campaign)
        } else if self.attempt > 1 {
            Lane::Retries
        } else if self.schedule.is_some() {
            Lane::Scheduled
        } else {
            Lane::Api
        }
    }

    /// Whether the call waits for its time to come (`not_before` is after `now`).
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.slot_granted_at.is_none() && self.not_before.is_some_and(|at| at > now)
    }

    /// The next attempt of a call that just ended, if its retry policy asks for one.
    pub fn next_attempt(&self, now: DateTime<Utc>) -> Option<Call> {
        let policy = self.retry_policy.as_ref()?;
        if self.is_live()
            || self.next_attempt_id.is_some()
            || !policy.retries(self.attempt, self.failure_reason)
        {
            return None;
        }
        let delay = chrono::Duration::from_std(policy.delay_after(self.attempt)).ok()?;
        let mut next = self.follow_up(now, now + delay);
        next.attempt = self.attempt + 1;
        next.original_call_id = Some(self.original_call_id.unwrap_or(self.id));
        next.retry_policy = Some(policy.clone());
        Some(next)
    }

    /// The next occurrence of a scheduled call that is now due, if the series goes on.
    pub fn next_occurrence(&self, now: DateTime<Utc>) -> Option<Call> {
        let schedule = self.schedule.as_ref()?;
        if self.next_occurrence_id.is_some() {
            return None;
        }
        let (number, at) = schedule.next_after(self.occurrence?, now)?;
        let mut next = self.follow_up(now, at);
        next.series_id = self.series_id;
        next.occurrence = Some(number);
        next.schedule = Some(schedule.clone());
        next.retry_policy = self.retry_policy.clone();
        Some(next)
    }

    /// A new queued call to the same person for the same bot, not before `not_before`.
    fn follow_up(&self, now: DateTime<Utc>, not_before: DateTime<Utc>) -> Call {
        let request = CallRequest {
            client_id: self.client_id,
            agent_id: self.agent_id,
            to: self.to.clone(),
            from: self.from.clone(),
            answer_url: self.answer_url.clone(),
            priority: self.priority,
            metadata: self.metadata.clone(),
            warmup_url: self.warmup_url.clone(),
            retry_policy: None,
            schedule: None,
        };
        let mut next = Call::queued(request, &self.provider, now);
        next.not_before = Some(not_before);
        next
    }

    /// Whether the bot must still be warmed up before the call is dialed.
    pub fn needs_warmup(&self) -> bool {
        self.warmup_url.is_some() && self.bot_ready_at.is_none()
    }

    /// Whether the call still needs an actor (it is not final).
    pub fn is_live(&self) -> bool {
        !self.status.is_final()
    }

    /// Applies an observed status. Returns `true` when the call moved forward (and counts
    /// as hearing from it); a duplicate, stale or backwards observation returns `false`
    /// and changes nothing.
    pub fn apply(&mut self, observed: &Observation, at: DateTime<Utc>) -> bool {
        if self.status.is_final() || observed.status.rank() <= self.status.rank() {
            return false;
        }
        self.status = observed.status;
        self.updated_at = at;
        self.last_heard_at = at;
        if observed.status == CallStatus::InProgress && self.answered_at.is_none() {
            self.answered_at = Some(at);
        }
        if observed.status.is_final() {
            self.ended_at = Some(at);
            self.failure_reason = observed
                .failure_reason
                .or_else(|| observed.status.implied_failure());
        }
        self.absorb_details(observed);
        true
    }

    /// Takes duration, price and recording from an observation even when its status
    /// changes nothing (a late duplicate `completed` may carry the price).
    pub fn absorb_details(&mut self, observed: &Observation) -> bool {
        let mut changed = false;
        if let Some(d) = observed.duration_seconds {
            changed |= self.duration_seconds.replace(d) != Some(d);
        }
        if let Some(p) = &observed.price {
            changed |= self.price.replace(p.clone()).as_ref() != Some(p);
        }
        if let Some(r) = &observed.recording_url {
            changed |= self.recording_url.replace(r.clone()).as_ref() != Some(r);
        }
        if let Some(id) = &observed.provider_call_id {
            let replaces_ours =
                self.provider_call_id.is_some() && self.provider_call_id == observed.supersedes;
            if self.provider_call_id.is_none() || replaces_ours {
                self.provider_call_id = Some(id.clone());
                changed = true;
            }
        }
        changed
    }

    /// Whether an observation reports on another provider call than this one: it names
    /// a provider id that is neither ours nor declared to supersede ours.
    pub fn is_other_provider_call(&self, observed: &Observation) -> bool {
        match (&self.provider_call_id, &observed.provider_call_id) {
            (Some(ours), Some(theirs)) => {
                ours != theirs && observed.supersedes.as_ref() != Some(ours)
            }
            _ => false,
        }
    }

    /// Ends the call with a status of our own making (timeout, cancel, failure to dial).
    pub fn finish(&mut self, status: CallStatus, reason: Option<FailureReason>, at: DateTime<Utc>) {
        debug_assert!(status.is_final());
        self.status = status;
        self.failure_reason = reason.or_else(|| status.implied_failure());
        self.ended_at = Some(at);
        self.updated_at = at;
        self.last_heard_at = at;
    }
}

/// A status observed for a call, from a webhook, a provider lookup or our own actor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub status: CallStatus,
    pub failure_reason: Option<FailureReason>,
    pub provider_call_id: Option<String>,
    /// The status exactly as the provider named it.
    pub provider_status: Option<String>,
    /// The provider's own sequence number for the event, when it sends one.
    pub sequence: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub price: Option<String>,
    pub recording_url: Option<String>,
    /// The provider id this observation's `provider_call_id` replaces, when the provider
    /// names a call by one id at creation and by another once it is live (Plivo answers
    /// a create with a request id; its callbacks name the call by its call id and carry
    /// the request id alongside). A call known by this id takes the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
}

/// Where an entry of a call's history came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// A request to our API.
    Api,
    /// A provider webhook.
    Webhook,
    /// A lookup we made at the provider.
    Provider,
    /// The call's own actor (timeout, restart, dial result).
    Actor,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Webhook => "webhook",
            Self::Provider => "provider",
            Self::Actor => "actor",
        }
    }
}

impl FromStr for EventSource {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api" => Ok(Self::Api),
            "webhook" => Ok(Self::Webhook),
            "provider" => Ok(Self::Provider),
            "actor" => Ok(Self::Actor),
            other => Err(UnknownStatus(other.to_string())),
        }
    }
}

/// One entry of a call's history. Every observation is kept, applied or not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    pub id: EventId,
    pub call_id: CallId,
    pub source: EventSource,
    /// What happened, in a word: a status name, `dial_requested`, `restarted`, ….
    pub kind: String,
    /// Whether the event moved the call (false for duplicates and stale webhooks).
    pub applied: bool,
    /// The provider's sequence number, when it sent one.
    pub sequence: Option<i64>,
    /// The raw payload or a short explanation.
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl CallEvent {
    pub fn new(
        call_id: CallId,
        source: EventSource,
        kind: impl Into<String>,
        applied: bool,
        detail: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: EventId::new(),
            call_id,
            source,
            kind: kind.into(),
            applied,
            sequence: None,
            detail,
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        let request = CallRequest {
            client_id: ClientId::new(),
            agent_id: AgentId::new(),
            to: PhoneNumber::from_trusted("+14155550101".into()),
            from: PhoneNumber::from_trusted("+14155550000".into()),
            answer_url: "http://bot/answer".into(),
            priority: Priority::Normal,
            metadata: serde_json::Value::Null,
            warmup_url: None,
            retry_policy: None,
            schedule: None,
        };
        Call::queued(request, "sim", Utc::now())
    }

    fn seen(status: CallStatus) -> Observation {
        Observation {
            status,
            ..Default::default()
        }
    }

    #[test]
    fn moves_forward_and_skips_steps() {
        let mut c = call();
        assert!(c.apply(&seen(CallStatus::Ringing), Utc::now()));
        assert!(c.apply(&seen(CallStatus::Completed), Utc::now()));
        assert_eq!(c.status, CallStatus::Completed);
        assert!(c.ended_at.is_some());
    }

    #[test]
    fn never_moves_backwards_or_leaves_a_final_status() {
        let mut c = call();
        assert!(c.apply(&seen(CallStatus::InProgress), Utc::now()));
        assert!(!c.apply(&seen(CallStatus::Ringing), Utc::now()));
        assert!(!c.apply(&seen(CallStatus::InProgress), Utc::now()));
        assert!(c.apply(&seen(CallStatus::Busy), Utc::now()));
        assert!(!c.apply(&seen(CallStatus::Completed), Utc::now()));
        assert_eq!(c.status, CallStatus::Busy);
        assert_eq!(c.failure_reason, Some(FailureReason::Busy));
    }

    #[test]
    fn a_superseding_id_replaces_ours_and_any_other_is_foreign() {
        let mut c = call();
        let created = Observation {
            provider_call_id: Some("request-1".into()),
            ..seen(CallStatus::Queued)
        };
        c.absorb_details(&created);
        let live = Observation {
            provider_call_id: Some("call-1".into()),
            supersedes: Some("request-1".into()),
            ..seen(CallStatus::Ringing)
        };
        assert!(!c.is_other_provider_call(&live));
        assert!(c.apply(&live, Utc::now()));
        assert_eq!(c.provider_call_id.as_deref(), Some("call-1"));
        let stranger = Observation {
            provider_call_id: Some("call-2".into()),
            supersedes: Some("request-2".into()),
            ..seen(CallStatus::Completed)
        };
        assert!(c.is_other_provider_call(&stranger));
        let same = Observation {
            provider_call_id: Some("call-1".into()),
            ..seen(CallStatus::Completed)
        };
        assert!(!c.is_other_provider_call(&same));
    }

    #[test]
    fn a_retry_is_the_next_numbered_attempt_of_the_first_call_after_its_backoff() {
        let mut first = call();
        first.retry_policy = Some(RetryPolicy {
            max_attempts: 3,
            backoff_seconds: 60,
            backoff_multiplier: 2.0,
            retry_on: vec![FailureReason::Busy],
        });
        let now = Utc::now();
        assert_eq!(first.next_attempt(now), None, "a live call is not retried");
        first.finish(CallStatus::Busy, None, now);
        let second = first.next_attempt(now).unwrap();
        assert_eq!(
            (second.attempt, second.original_call_id),
            (2, Some(first.id))
        );
        assert_eq!(second.not_before, Some(now + chrono::Duration::seconds(60)));
        assert_eq!(second.status, CallStatus::Queued);
        assert_eq!(second.lane(), Lane::Retries);
        let mut second = second;
        second.finish(CallStatus::Busy, None, now);
        let third = second.next_attempt(now).unwrap();
        assert_eq!((third.attempt, third.original_call_id), (3, Some(first.id)));
        assert_eq!(third.not_before, Some(now + chrono::Duration::seconds(120)));
        let mut third = third;
        third.finish(CallStatus::Busy, None, now);
        assert_eq!(third.next_attempt(now), None, "three attempts in all");
    }

    #[test]
    fn status_and_reason_names_round_trip() {
        for s in CallStatus::ALL {
            assert_eq!(s.as_str().parse::<CallStatus>().unwrap(), s);
        }
        for r in FailureReason::ALL {
            assert_eq!(r.as_str().parse::<FailureReason>().unwrap(), r);
        }
    }
}
