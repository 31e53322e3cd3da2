//! One contact's way through a campaign.
//!
//! `pending` (not yet taken from the list) → `dialing` (a call of the campaign is live for
//! it) → `done` with one final outcome; or `waiting` in between: for its calling window
//! to open, for a retry's backoff, or for a paused campaign to resume (a call withdrawn
//! before it was dialed). Every change bumps `version`, and storage writes a change only
//! over the version it was made from, so two writers can never both move one contact.

use super::super::call::{CallStatus, FailureReason};
use super::super::ids::{CallId, CampaignId};
use super::super::phone::PhoneNumber;
use super::model::Campaign;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Where a contact is in the campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactState {
    Pending,
    Waiting,
    Dialing,
    Done,
}

/// Why a waiting contact waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitReason {
    /// Its calling window is closed.
    Window,
    /// A retry, in its backoff.
    Retry,
    /// Its call was withdrawn before dialing when the campaign paused.
    Paused,
}

/// A contact's final outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactOutcome {
    /// A call was answered and completed.
    Connected,
    /// Every attempt failed (the last failure reason is kept).
    Failed,
    /// On the campaign's do-not-call list: never dialed.
    DoNotCall,
    /// The campaign was cancelled while its call was waiting.
    Canceled,
}

macro_rules! names {
    ($ty:ty { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Self::$variant),)*
                    other => Err(format!("unknown {} '{other}'", stringify!($ty))),
                }
            }
        }
    };
}

names!(ContactState { Pending = "pending", Waiting = "waiting", Dialing = "dialing", Done = "done" });
names!(WaitReason { Window = "window", Retry = "retry", Paused = "paused" });
names!(ContactOutcome {
    Connected = "connected",
    Failed = "failed",
    DoNotCall = "do_not_call",
    Canceled = "canceled",
});

/// A contact as a caller supplies it (validated by the HTTP layer).
#[derive(Clone, Debug, PartialEq)]
pub struct NewContact {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub timezone: Option<Tz>,
    /// Caller-supplied JSON object, carried to each call's metadata.
    pub variables: serde_json::Value,
}

/// A contact of a campaign, as persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub campaign_id: CampaignId,
    /// Place in the list, from 0.
    pub position: u32,
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub timezone: Option<Tz>,
    pub variables: serde_json::Value,
    pub state: ContactState,
    pub wait_reason: Option<WaitReason>,
    /// When a waiting contact may be dialed.
    pub next_at: Option<DateTime<Utc>>,
    /// Calls that were dialed (reached the provider step); what the retry policy counts.
    pub attempts: u32,
    /// Calls made for the contact, dialed or withdrawn; numbers each call's attempt.
    pub calls_made: u32,
    /// The current call, or the last one.
    pub call_id: Option<CallId>,
    pub outcome: Option<ContactOutcome>,
    /// Why the last dialed call failed.
    pub failure_reason: Option<FailureReason>,
    /// Bumped by every change; storage writes a change only over the version it came from.
    pub version: u32,
    pub updated_at: DateTime<Utc>,
}

/// How a campaign's call ended, as its CallActor reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallEnded {
    pub campaign_id: CampaignId,
    pub position: u32,
    pub call_id: CallId,
    pub status: CallStatus,
    pub failure_reason: Option<FailureReason>,
    /// Whether the create-call request may have left (else the call was withdrawn first).
    pub dialed: bool,
}

impl Contact {
    /// A new pending contact at `position`.
    pub fn new(
        campaign_id: CampaignId,
        position: u32,
        input: NewContact,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            campaign_id,
            position,
            phone: input.phone,
            name: input.name,
            timezone: input.timezone,
            variables: input.variables,
            state: ContactState::Pending,
            wait_reason: None,
            next_at: None,
            attempts: 0,
            calls_made: 0,
            call_id: None,
            outcome: None,
            failure_reason: None,
            version: 0,
            updated_at: now,
        }
    }

    /// The contact now has a call of its own: `call`, its next numbered attempt.
    pub fn begin_call(&mut self, call: CallId, now: DateTime<Utc>) {
        self.state = ContactState::Dialing;
        self.wait_reason = None;
        self.next_at = None;
        self.calls_made += 1;
        self.call_id = Some(call);
        self.touch(now);
    }

    /// The contact waits until `until`.
    pub fn wait(&mut self, reason: WaitReason, until: DateTime<Utc>, now: DateTime<Utc>) {
        self.state = ContactState::Waiting;
        self.wait_reason = Some(reason);
        self.next_at = Some(until);
        self.touch(now);
    }

    /// The contact is done with `outcome`.
    pub fn finish(&mut self, outcome: ContactOutcome, now: DateTime<Utc>) {
        self.state = ContactState::Done;
        self.wait_reason = None;
        self.next_at = None;
        self.outcome = Some(outcome);
        self.touch(now);
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.updated_at = now;
    }

    /// Whether `ended` reports on this contact's current call.
    pub fn is_current_call(&self, ended: &CallEnded) -> bool {
        self.state == ContactState::Dialing && self.call_id == Some(ended.call_id)
    }

    /// Moves the contact on from its call's end: connected; retried after the policy's
    /// backoff; failed for good; or, for a call withdrawn before it was dialed, back to
    /// waiting (the attempt was not spent) unless the campaign is over.
    pub fn settle(&mut self, ended: &CallEnded, campaign: &Campaign, now: DateTime<Utc>) {
        let over = campaign.status.is_final();
        if !ended.dialed {
            if over {
                self.finish(ContactOutcome::Canceled, now);
            } else {
                self.wait(WaitReason::Paused, now, now);
            }
            return;
        }
        self.attempts += 1;
        if ended.status == CallStatus::Completed {
            self.failure_reason = None;
            self.finish(ContactOutcome::Connected, now);
            return;
        }
        let reason = ended
            .failure_reason
            .or_else(|| ended.status.implied_failure());
        self.failure_reason = reason;
        let policy = &campaign.retry_policy;
        if !over && policy.retries(self.attempts, reason) {
            let backoff = chrono::Duration::from_std(policy.delay_after(self.attempts))
                .unwrap_or_else(|_| chrono::Duration::days(7));
            self.wait(WaitReason::Retry, now + backoff, now);
        } else {
            self.finish(ContactOutcome::Failed, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{CampaignStatus, NewCampaign, Pacing};
    use super::*;
    use crate::domain::{AgentId, ClientId, RetryPolicy};

    fn campaign() -> Campaign {
        Campaign::new(
            NewCampaign {
                client_id: ClientId::new(),
                agent_id: AgentId::new(),
                name: "renewals".into(),
                caller_id: PhoneNumber::from_trusted("+14155550000".into()),
                timezone: chrono_tz::America::New_York,
                retry_policy: RetryPolicy {
                    max_attempts: 3,
                    backoff_seconds: 600,
                    backoff_multiplier: 1.0,
                    retry_on: RetryPolicy::DEFAULT_RETRY_ON.to_vec(),
                },
                pacing: Pacing::default(),
                window: None,
                do_not_call: Default::default(),
                start_at: None,
                answer_url: "http://bot/answer".into(),
                warmup_url: None,
            },
            Utc::now(),
        )
    }

    fn dialing(campaign: &Campaign) -> (Contact, CallId) {
        let input = NewContact {
            phone: PhoneNumber::from_trusted("+14155550101".into()),
            name: None,
            timezone: None,
            variables: serde_json::json!({}),
        };
        let mut c = Contact::new(campaign.id, 0, input, Utc::now());
        let call = CallId::new();
        c.begin_call(call, Utc::now());
        (c, call)
    }

    fn ended(c: &Contact, call: CallId, status: CallStatus, dialed: bool) -> CallEnded {
        CallEnded {
            campaign_id: c.campaign_id,
            position: c.position,
            call_id: call,
            status,
            failure_reason: None,
            dialed,
        }
    }

    #[test]
    fn busy_is_retried_after_the_backoff_until_the_last_attempt() {
        let campaign = campaign();
        let (mut c, call) = dialing(&campaign);
        let now = Utc::now();
        for attempt in 1..=2 {
            c.settle(&ended(&c, call, CallStatus::Busy, true), &campaign, now);
            assert_eq!(c.state, ContactState::Waiting, "attempt {attempt}");
            assert_eq!(c.wait_reason, Some(WaitReason::Retry));
            assert_eq!(c.next_at, Some(now + chrono::Duration::seconds(600)));
            c.begin_call(call, now);
        }
        c.settle(&ended(&c, call, CallStatus::Busy, true), &campaign, now);
        assert_eq!(c.state, ContactState::Done);
        assert_eq!(c.outcome, Some(ContactOutcome::Failed));
        assert_eq!(c.failure_reason, Some(FailureReason::Busy));
        assert_eq!((c.attempts, c.calls_made), (3, 3));
    }

    #[test]
    fn an_invalid_number_is_never_retried_and_a_completed_call_connects() {
        let campaign = campaign();
        let (mut c, call) = dialing(&campaign);
        let mut end = ended(&c, call, CallStatus::Failed, true);
        end.failure_reason = Some(FailureReason::InvalidNumber);
        c.settle(&end, &campaign, Utc::now());
        assert_eq!(c.outcome, Some(ContactOutcome::Failed));
        let (mut c, call) = dialing(&campaign);
        c.settle(
            &ended(&c, call, CallStatus::Completed, true),
            &campaign,
            Utc::now(),
        );
        assert_eq!(c.outcome, Some(ContactOutcome::Connected));
    }

    #[test]
    fn a_withdrawn_call_spends_no_attempt_and_waits_unless_the_campaign_is_over() {
        let mut campaign = campaign();
        let (mut c, call) = dialing(&campaign);
        c.settle(
            &ended(&c, call, CallStatus::Canceled, false),
            &campaign,
            Utc::now(),
        );
        assert_eq!(c.wait_reason, Some(WaitReason::Paused));
        assert_eq!((c.attempts, c.calls_made), (0, 1));
        campaign.status = CampaignStatus::Cancelled;
        c.begin_call(call, Utc::now());
        c.settle(
            &ended(&c, call, CallStatus::Canceled, false),
            &campaign,
            Utc::now(),
        );
        assert_eq!(c.outcome, Some(ContactOutcome::Canceled));
    }

    #[test]
    fn names_round_trip() {
        for s in [
            ContactState::Pending,
            ContactState::Waiting,
            ContactState::Dialing,
            ContactState::Done,
        ] {
            assert_eq!(s.as_str().parse::<ContactState>().unwrap(), s);
        }
        for o in [
            ContactOutcome::Connected,
            ContactOutcome::Failed,
            ContactOutcome::DoNotCall,
            ContactOutcome::Canceled,
        ] {
            assert_eq!(o.as_str().parse::<ContactOutcome>().unwrap(), o);
        }
        assert!("later".parse::<WaitReason>().is_err());
    }
}
