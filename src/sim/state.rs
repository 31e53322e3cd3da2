//! The simulator's calls and the one place they change.
//!
//! Every change to a call goes through [`SimState::advance`] or [`SimState::hang_up`],
//! under one lock: the stored call (what fetch and list show) and the callback queue
//! move together, so what a client looks up always matches what it was told, and
//! sequence numbers follow the order in which events really happened.

use super::callbacks::{self, CallbackTarget, Delivery};
use super::config::{CallPlan, SimConfig};
use super::script;
use super::wire::{rfc2822, CallJson};
use callvisor_actors::ports::{Clock, TokioClock};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// One create-call request the simulator accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialRecord {
    /// The sid given to the call.
    pub sid: String,
    /// The number dialed (`To`).
    pub to: String,
    /// The caller id (`From`).
    pub from: String,
    /// Where the call's status callbacks go, if anywhere.
    pub status_callback: Option<String>,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
}

/// Where a simulated call is, in Twilio's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl Phase {
    /// The name in status callbacks (`CallStatus`).
    pub fn callback_name(self) -> &'static str {
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
        }
    }

    /// The name in the REST resource, whose status enum has no `initiated`.
    pub fn resource_name(self) -> &'static str {
        match self {
            Self::Initiated => "queued",
            other => other.callback_name(),
        }
    }

    /// Parses a REST status name (for the list's `Status` filter).
    pub fn from_resource_name(name: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Ringing,
            Self::InProgress,
            Self::Completed,
            Self::Busy,
            Self::NoAnswer,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|p| p.callback_name() == name)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled
        )
    }

    /// Not answered yet, so a cancel still stops it.
    fn is_before_answer(self) -> bool {
        matches!(self, Self::Queued | Self::Initiated | Self::Ringing)
    }
}

/// Which intermediate events the caller asked to hear about (`StatusCallbackEvent`);
/// the final event is always sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    pub initiated: bool,
    pub ringing: bool,
    pub answered: bool,
}

impl Subscriptions {
    /// Reads `StatusCallbackEvent` values; each may also hold several names separated by
    /// spaces or commas. Unknown names are ignored.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut subs = Self::default();
        for name in values
            .into_iter()
            .flat_map(|v| v.split([' ', ',']))
            .map(str::trim)
        {
            match name {
                "initiated" => subs.initiated = true,
                "ringing" => subs.ringing = true,
                "answered" => subs.answered = true,
                _ => {}
            }
        }
        subs
    }

    fn wants(self, p: Phase) -> bool {
        match p {
            Phase::Initiated => self.initiated,
            Phase::Ringing => self.ringing,
            Phase::InProgress => self.answered,
            Phase::Queued => false,
            _ => true,
        }
    }
}

/// A validated create-call request.
#[derive(Clone, Debug)]
pub(crate) struct NewCall {
    pub to: String,
    pub from: String,
    pub callback: Option<CallbackTarget>,
    pub subscriptions: Subscriptions,
    pub ring_timeout: Duration,
}

/// One simulated call: what Twilio would store about it, plus its moving parts.
#[derive(Debug)]
pub(crate) struct SimCall {
    /// Creation order; the list is newest first and page tokens point into it.
    pub seq: u64,
    pub sid: String,
    pub to: String,
    pub from: String,
    pub phase: Phase,
    pub date_created: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// Talk time in whole seconds, rounded up; set when an answered call ends.
    pub duration: Option<i64>,
    pub price: Option<String>,
    /// The SIP code a failure of this call reports (from its plan).
    failure_sip: u16,
    subscriptions: Subscriptions,
    /// The next callback's `SequenceNumber`.
    next_sequence: i64,
    /// The callback queue, while the call has a callback and is not over.
    callbacks: Option<mpsc::UnboundedSender<Delivery>>,
    /// The script driving the call, to stop it on hang-up or shutdown.
    script: Option<AbortHandle>,
    /// The task delivering this call's callbacks, to stop it on shutdown.
    sender: Option<AbortHandle>,
}

/// Twilio's price per started minute, in ten-thousandths of a dollar.
const PRICE_PER_MINUTE: i64 = 130;

/// The SIP final response a final status reports.
fn sip_code(call: &SimCall, to: Phase) -> u16 {
    match to {
        Phase::Completed => 200,
        Phase::Busy => 486,
        Phase::NoAnswer => 480,
        Phase::Canceled => 487,
        Phase::Failed => call.failure_sip,
        _ => 100,
    }
}

/// `-0.0130` per started minute of an answered call.
fn price_for(seconds: i64) -> String {
    let minutes = ((seconds + 59) / 60).max(1);
    let cost = minutes * PRICE_PER_MINUTE;
    format!("-{}.{:04}", cost / 10_000, cost % 10_000)
}

struct Inner {
    calls: HashMap<String, SimCall>,
    next_seq: u64,
    dials: Vec<DialRecord>,
    rng: StdRng,
}

/// Everything the simulator's routes and tasks share.
pub(crate) struct SimState {
    pub config: SimConfig,
    /// Wall-clock time that follows tokio's clock, so paused-time tests see timestamps
    /// consistent with the script's timers.
    clock: TokioClock,
    /// The client callbacks are posted with.
    http: reqwest::Client,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState")
            .field("account_sid", &self.config.account_sid)
            .finish_non_exhaustive()
    }
}

impl SimState {
    pub fn new(config: SimConfig, http: reqwest::Client) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            config,
            clock: TokioClock::starting_at(Utc::now()),
            http,
            inner: Mutex::new(Inner {
                calls: HashMap::new(),
                next_seq: 1,
                dials: Vec::new(),
                rng,
            }),
        }
    }

    /// The state, even if a panic elsewhere poisoned the lock: every change under it is
    /// a plain field update, so it is never left half-made.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn dials(&self) -> Vec<DialRecord> {
        self.lock().dials.clone()
    }

    /// Stores a new call, starts its script and returns it as created (`queued`).
    pub fn create_call(self: &Arc<Self>, new: NewCall) -> CallJson {
        let now = self.now();
        let sid = format!("CA{}", uuid::Uuid::now_v7().simple());
        let mut inner = self.lock();
        let plan: CallPlan = self.config.draw_plan(&mut inner.rng);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.dials.push(DialRecord {
            sid: sid.clone(),
            to: new.to.clone(),
            from: new.from.clone(),
            status_callback: new.callback.as_ref().map(|c| c.url.to_string()),
            received_at: now,
        });
        let (callbacks, sender) = match new.callback {
            Some(target) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let task = callbacks::spawn_sender(
                    self.http.clone(),
                    self.config.auth_token.clone(),
                    target,
                    rx,
                );
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let script = script::spawn(Arc::clone(self), sid.clone(), plan, new.ring_timeout);
        let call = SimCall {
            seq,
            sid: sid.clone(),
            to: new.to,
            from: new.from,
            phase: Phase::Queued,
            date_created: now,
            date_updated: now,
            start_time: None,
            answered_at: None,
            end_time: None,
            duration: None,
            price: None,
            failure_sip: plan.failure_sip,
            subscriptions: new.subscriptions,
            next_sequence: 0,
            callbacks,
            script: Some(script),
            sender,
        };
        let json = CallJson::of(&call, &self.config.account_sid);
        inner.calls.insert(sid, call);
        json
    }

    /// Moves a call forward as its script dictates. Returns `false` when the call is
    /// gone or already over (hung up meanwhile), which tells the script to stop.
    pub fn advance(&self, sid: &str, to: Phase) -> bool {
        let now = self.now();
        let mut inner = self.lock();
        match inner.calls.get_mut(sid) {
            Some(call) if !call.phase.is_final() => {
                self.apply(call, to, now);
                true
            }
            _ => false,
        }
    }

    /// A hang-up request, with Twilio's semantics: `canceled` ends a call not yet
    /// answered and leaves an answered one alone; `completed` ends either (a call not
    /// yet answered ends as canceled). A call already over is left as it is. Returns the
    /// call as it now stands, or `None` if there is no such call.
    pub fn hang_up(&self, sid: &str, requested: Phase) -> Option<CallJson> {
        let now = self.now();
        let mut inner = self.lock();
        let call = inner.calls.get_mut(sid)?;
        let ends_as = match (call.phase, requested) {
            (p, _) if p.is_before_answer() => Some(Phase::Canceled),
            (Phase::InProgress, Phase::Completed) => Some(Phase::Completed),
            _ => None,
        };
        if let Some(final_status) = ends_as {
            if let Some(script) = call.script.take() {
                script.abort();
            }
            self.apply(call, final_status, now);
        }
        Some(CallJson::of(call, &self.config.account_sid))
    }

    /// Records the change on the call and queues its callback.
    fn apply(&self, call: &mut SimCall, to: Phase, now: DateTime<Utc>) {
        call.phase = to;
        call.date_updated = now;
        match to {
            Phase::Initiated => call.start_time = Some(now),
            Phase::InProgress => call.answered_at = Some(now),
            _ => {}
        }
        if to.is_final() {
            call.end_time = Some(now);
            if let Some(answered) = call.answered_at {
                let ms = (now - answered).num_milliseconds().max(0);
                let seconds = (ms + 999) / 1000;
                call.duration = Some(seconds);
                call.price = Some(price_for(seconds));
            }
            call.script = None;
        }
        if call.subscriptions.wants(to) {
            self.queue_callback(call, to, now);
        }
        if to.is_final() {
            // Closing the queue lets the sender finish the last deliveries and exit.
            call.callbacks = None;
        }
    }

    fn queue_callback(&self, call: &mut SimCall, to: Phase, now: DateTime<Utc>) {
        let Some(queue) = &call.callbacks else {
            return;
        };
        let mut params: Vec<(String, String)> = [
            ("CallSid", call.sid.clone()),
            ("AccountSid", self.config.account_sid.clone()),
            ("From", call.from.clone()),
            ("To", call.to.clone()),
            ("Caller", call.from.clone()),
            ("Called", call.to.clone()),
            ("CallStatus", to.callback_name().to_string()),
            ("Direction", "outbound-api".to_string()),
            ("ApiVersion", "2010-04-01".to_string()),
            ("Timestamp", rfc2822(now)),
            ("SequenceNumber", call.next_sequence.to_string()),
            ("CallbackSource", "call-progress-events".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if to.is_final() {
            params.push((
                "CallDuration".into(),
                call.duration.unwrap_or(0).to_string(),
            ));
            params.push(("SipResponseCode".into(), sip_code(call, to).to_string()));
        }
        call.next_sequence += 1;
        let due = tokio::time::Instant::now() + self.config.callback_delay;
        // The sender only stops at shutdown, when nothing is listening any more.
        let _ = queue.send(Delivery { params, due });
    }

    /// The call, as the REST API shows it.
    pub fn call_json(&self, sid: &str) -> Option<CallJson> {
        let inner = self.lock();
        inner
            .calls
            .get(sid)
            .map(|c| CallJson::of(c, &self.config.account_sid))
    }

    /// Calls newest first, with those `keep` accepts, as `(seq, resource)`.
    pub fn calls_newest_first(&self, keep: impl Fn(&SimCall) -> bool) -> Vec<(u64, CallJson)> {
        let inner = self.lock();
        let mut calls: Vec<&SimCall> = inner.calls.values().filter(|c| keep(c)).collect();
        calls.sort_by_key(|c| std::cmp::Reverse(c.seq));
        calls
            .into_iter()
            .map(|c| (c.seq, CallJson::of(c, &self.config.account_sid)))
            .collect()
    }

    /// Stops every script and callback sender.
    pub fn stop_all(&self) {
        let mut inner = self.lock();
        for call in inner.calls.values_mut() {
            if let Some(script) = call.script.take() {
                script.abort();
            }
            if let Some(sender) = call.sender.take() {
                sender.abort();
            }
            call.callbacks = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_each_started_minute() {
        assert_eq!(price_for(0), "-0.0130");
        assert_eq!(price_for(1), "-0.0130");
        assert_eq!(price_for(60), "-0.0130");
        assert_eq!(price_for(61), "-0.0260");
        assert_eq!(price_for(60 * 100), "-1.3000");
    }

    #[test]
    fn subscriptions_read_repeated_and_joined_values() {
        let s = Subscriptions::from_values(["initiated", "ringing answered", "completed"]);
        assert_eq!(
            s,
            Subscriptions {
                initiated: true,
                ringing: true,
                answered: true
            }
        );
        let only_final = Subscriptions::from_values(["completed", "bogus"]);
        assert!(!only_final.wants(Phase::Ringing));
        assert!(only_final.wants(Phase::Busy));
        assert!(only_final.wants(Phase::Completed));
        assert!(!only_final.wants(Phase::Queued));
    }

    #[test]
    fn resource_status_names_stay_in_twilios_enum() {
        assert_eq!(Phase::Initiated.resource_name(), "queued");
        assert_eq!(Phase::InProgress.resource_name(), "in-progress");
        assert_eq!(
            Phase::from_resource_name("no-answer"),
            Some(Phase::NoAnswer)
        );
        assert_eq!(Phase::from_resource_name("initiated"), None);
    }
}
