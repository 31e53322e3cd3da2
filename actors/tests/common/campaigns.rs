//! The campaign side of the paused-time harness: a provider that plays each dialed
//! call's webhooks (ringing, then answered and completed, or busy, unanswered, failed),
//! keeping a log of every dial as a provider's records would, and helpers to create and
//! steer campaigns.

use super::{dialed_call, Harness, ASK};
use callvisor_actors::calls::{CallRef, CallSupervisorMsg};
use callvisor_actors::campaigns::{CampaignError, CampaignSupervisorMsg};
use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, Control, NewCampaign, NewContact, Pacing,
};
use callvisor_actors::domain::{
    AgentId, BusinessHours, CallId, CallStatus, ClientId, FailureReason, Observation, PhoneNumber,
    RetryPolicy,
};
use callvisor_actors::ports::Clock;
use callvisor_actors::rpc::ask;
use callvisor_actors::supervision::Replaceable;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one dialed call goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Script {
    /// The final status (`completed` means answered first).
    pub status: CallStatus,
    pub failure_reason: Option<FailureReason>,
    pub ring: Duration,
    pub talk: Duration,
}

/// Chooses the script of the `nth` (from 1) dial to a number.
pub type Scripter = Arc<dyn Fn(&str, u32) -> Script + Send + Sync>;

/// One create-call the provider received.
#[derive(Clone, Debug)]
pub struct Dial {
    pub to: String,
    pub call_id: CallId,
    pub at: DateTime<Utc>,
    /// Which dial to this number it was, from 1.
    pub nth: u32,
    pub script: Script,
}

/// A deterministic hash of a number and a dial count, as a fraction in [0, 1).
fn fraction(number: &str, nth: u32, salt: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in number.bytes().chain(nth.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The simulator's default mix: 80 % answered (talk 30–180 s), 10 % busy, 5 % unanswered,
/// 5 % failed; rings 5–20 s.
pub fn default_mix() -> Scripter {
    Arc::new(|number, nth| {
        let pick = fraction(number, nth, 1);
        let ring = Duration::from_secs(5 + (fraction(number, nth, 2) * 15.0) as u64);
        let talk = Duration::from_secs(30 + (fraction(number, nth, 3) * 150.0) as u64);
        let (status, failure_reason) = match pick {
            p if p < 0.80 => (CallStatus::Completed, None),
            p if p < 0.90 => (CallStatus::Busy, None),
            p if p < 0.95 => (CallStatus::NoAnswer, None),
            _ => (CallStatus::Failed, Some(FailureReason::NetworkError)),
        };
        Script {
            status,
            failure_reason,
            ring,
            talk,
        }
    })
}

/// Plays the provider's side of every dial into the current tree.
#[derive(Clone)]
pub struct Player {
    log: Arc<Mutex<Vec<Dial>>>,
    calls: Arc<Mutex<Replaceable<CallSupervisorMsg>>>,
}

impl Player {
    /// Starts answering `h`'s dials as `scripter` says.
    pub fn start(h: &Harness, clock: Arc<dyn Clock>, scripter: Scripter) -> Self {
        let player = Self {
            log: Arc::default(),
            calls: Arc::new(Mutex::new(h.tree.calls.clone())),
        };
        let me = player.clone();
        let provider = Arc::clone(&h.provider);
        h.provider.on_dial(Box::new(move |request, provider_id| {
            let to = request.to.as_str().to_string();
            let call_id = dialed_call(&request.status_callback_url);
            let mut log = me.log.lock().unwrap();
            let nth = log.iter().filter(|d| d.to == to).count() as u32 + 1;
            let script = scripter(&to, nth);
            log.push(Dial {
                to: to.clone(),
                call_id,
                at: clock.now(),
                nth,
                script,
            });
            let (me, provider, pid) = (me.clone(), Arc::clone(&provider), provider_id.to_string());
            tokio::spawn(async move { me.play(call_id, &to, &pid, script, &provider).await });
        }));
        player
    }

    /// Points the webhooks at a restarted tree.
    pub fn follow(&self, h: &Harness) {
        *self.calls.lock().unwrap() = h.tree.calls.clone();
    }

    pub fn dials(&self) -> Vec<Dial> {
        self.log.lock().unwrap().clone()
    }

    async fn play(
        &self,
        id: CallId,
        to: &str,
        pid: &str,
        script: Script,
        provider: &callvisor_actors::testing::ScriptedProvider,
    ) {
        tokio::time::sleep(script.ring).await;
        provider.set_record(pid, to, CallStatus::Ringing);
        self.send(id, pid, CallStatus::Ringing, None, 1, None).await;
        let duration = if script.status == CallStatus::Completed {
            provider.set_record(pid, to, CallStatus::InProgress);
            self.send(id, pid, CallStatus::InProgress, None, 2, None)
                .await;
            tokio::time::sleep(script.talk).await;
            Some(script.talk.as_secs() as i64)
        } else {
            None
        };
        provider.set_record(pid, to, script.status);
        self.send(id, pid, script.status, script.failure_reason, 3, duration)
            .await;
    }

    async fn send(
        &self,
        id: CallId,
        pid: &str,
        status: CallStatus,
        failure_reason: Option<FailureReason>,
        seq: i64,
        duration_seconds: Option<i64>,
    ) {
        let observation = Observation {
            status,
            failure_reason,
            provider_call_id: Some(pid.to_string()),
            provider_status: Some(status.as_str().into()),
            sequence: Some(seq),
            duration_seconds,
            ..Default::default()
        };
        let calls = self.calls.lock().unwrap().get();
        // A tree that is gone (restarting) loses the webhook, as a real one may be lost.
        let _ = ask(
            &calls,
            |reply| CallSupervisorMsg::Webhook {
                call: CallRef::Id(id),
                observation,
                detail: serde_json::json!({"seq": seq}),
                reply,
            },
            ASK,
        )
        .await;
    }
}

/// A campaign of `client`, retrying busy and unanswered calls up to 3 attempts 10 min apart.
pub fn campaign_request(client: ClientId, pacing: Pacing) -> NewCampaign {
    NewCampaign {
        client_id: client,
        agent_id: AgentId::new(),
        name: "renewals".into(),
        caller_id: PhoneNumber::from_trusted("+14155550000".into()),
        timezone: chrono_tz::UTC,
        retry_policy: RetryPolicy {
            max_attempts: 3,
            backoff_seconds: 600,
            backoff_multiplier: 1.0,
            retry_on: RetryPolicy::DEFAULT_RETRY_ON.to_vec(),
        },
        pacing,
        window: None,
        do_not_call: Default::default(),
        start_at: None,
        answer_url: "http://bot.test/answer".into(),
        warmup_url: None,
    }
}

/// `n` contacts with distinct numbers starting at `first` (`+1415` numbers).
pub fn contacts(n: u32, first: u32) -> Vec<NewContact> {
    (first..first + n)
        .map(|i| contact(&format!("+1415{i:07}"), None))
        .collect()
}

pub fn contact(number: &str, timezone: Option<Tz>) -> NewContact {
    NewContact {
        phone: PhoneNumber::from_trusted(number.into()),
        name: None,
        timezone,
        variables: serde_json::json!({}),
    }
}

/// Weekdays 09:00–18:00.
pub fn office_hours() -> BusinessHours {
    BusinessHours {
        start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        days_of_week: vec![1, 2, 3, 4, 5],
    }
}

impl Harness {
    pub async fn create_campaign(
        &self,
        request: NewCampaign,
        contacts: Vec<NewContact>,
    ) -> Campaign {
        ask(
            &self.tree.campaigns.get(),
            |tx| CampaignSupervisorMsg::Create(Box::new(request), contacts, tx),
            ASK,
        )
        .await
        .unwrap()
        .unwrap()
    }

    pub async fn control(
        &self,
        campaign: &Campaign,
        control: Control,
    ) -> Result<Campaign, CampaignError> {
        ask(
            &self.tree.campaigns.get(),
            |reply| CampaignSupervisorMsg::Control {
                campaign: campaign.id,
                control,
                by: Some("operator-1".into()),
                reply,
            },
            Duration::from_secs(120),
        )
        .await
        .unwrap()
    }

    /// The campaign as stored.
    pub fn stored(&self, campaign: &Campaign) -> Campaign {
        self.store.campaign(campaign.id).expect("stored campaign")
    }

    /// Lets paused time run in steps of `step` until the stored campaign is completed or
    /// `limit` has passed; returns whether it completed.
    pub async fn run_until_completed(
        &self,
        campaign: &Campaign,
        step: Duration,
        limit: Duration,
    ) -> bool {
        self.run_until(step, limit, |h| {
            h.stored(campaign).status == CampaignStatus::Completed
        })
        .await
    }

    /// Lets paused time run in steps of `step` until `done` holds or `limit` has passed;
    /// returns whether it held.
    pub async fn run_until(
        &self,
        step: Duration,
        limit: Duration,
        mut done: impl FnMut(&Harness) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if done(self) {
                return true;
            }
            tokio::time::sleep(step).await;
        }
        done(self)
    }
}
