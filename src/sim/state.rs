//! The simulator's calls and the one place they change, whatever the flavor.
//!
//! Every change to a call goes through [`SimState::advance`] or [`SimState::hang_up`],
//! under one lock: the stored call (what fetch and list show) and the callback queue
//! move together, so what a client looks up always matches what it was told, and
//! callbacks follow the order in which events really happened. What a change sends,
//! and how it is encoded and signed, is the flavor's business ([`Hooks::callbacks`]).

use super::callbacks::{self, CallbackRequest, Delivery};
use super::config::{CallPlan, SimConfig};
use super::faults::Faults;
use super::{exotel, plivo, script, twilio};
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
    /// The id the create was answered with (Twilio's and Exotel's `Sid`, Plivo's
    /// `request_uuid`).
    pub sid: String,
    /// The number dialed.
    pub to: String,
    /// The caller id.
    pub from: String,
    /// Where the call's final status callback goes, if anywhere.
    pub status_callback: Option<String>,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
}

/// One text message the simulator accepted, whatever the flavor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The id the send was answered with (Twilio's `SM…` sid, Plivo's message uuid,
    /// Exotel's `Sid`).
    pub sid: String,
    /// The recipient, as the request wrote it.
    pub to: String,
    /// The sender, as the request wrote it.
    pub from: String,
    pub body: String,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
}

impl MessageRecord {
    /// How many parts the message is sent in: 153 characters each once it needs more
    /// than one (a single part holds 160).
    pub fn segments(&self) -> usize {
        match self.body.chars().count() {
            0..=160 => 1,
            n => n.div_ceil(153),
        }
    }
}

/// Where a simulated call is. Each flavor names these its own way.
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
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled
        )
    }

    /// Not answered yet, so a cancel still stops it.
    pub fn is_before_answer(self) -> bool {
        matches!(self, Self::Queued | Self::Initiated | Self::Ringing)
    }
}

/// What the create request asked to hear about, in its flavor's terms.
#[derive(Clone, Debug)]
pub(crate) enum Hooks {
    Twilio(twilio::Hooks),
    Plivo(plivo::Hooks),
    Exotel(exotel::Hooks),
}

impl Hooks {
    /// Where the final status is reported, for the dial log.
    fn final_url(&self) -> Option<String> {
        match self {
            Self::Twilio(h) => h.final_url(),
            Self::Plivo(h) => h.final_url(),
            Self::Exotel(h) => h.final_url(),
        }
    }

    /// The callbacks a change of `call` to `to` sends, encoded and signed.
    fn callbacks(
        &self,
        config: &SimConfig,
        call: &SimCall,
        to: Phase,
        now: DateTime<Utc>,
    ) -> Vec<CallbackRequest> {
        match self {
            Self::Twilio(h) => twilio::wire::callbacks(config, h, call, to, now),
            Self::Plivo(h) => plivo::wire::callbacks(config, h, call, to, now),
            Self::Exotel(h) => exotel::wire::callbacks(config, h, call, to, now),
        }
    }
}

/// A validated create-call request.
#[derive(Clone, Debug)]
pub(crate) struct NewCall {
    pub to: String,
    pub from: String,
    pub hooks: Hooks,
    pub ring_timeout: Duration,
    /// Caller data carried with the call (Exotel's `CustomField`).
    pub custom_field: Option<String>,
}

/// One simulated call: what a provider would store about it, plus its moving parts.
#[derive(Debug)]
pub(crate) struct SimCall {
    /// Creation order; lists page by it.
    pub seq: u64,
    /// The id the create was answered with.
    pub sid: String,
    /// The id of the live call: the same as `sid`, except for Plivo, whose callbacks
    /// and call records name the call by a `CallUUID` of its own.
    pub call_uuid: String,
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
    /// The SIP code a failure of this call reports (from its plan).
    pub failure_sip: u16,
    pub custom_field: Option<String>,
    pub hooks: Hooks,
    /// Where the call's recording is served: set when an answered call ends, never for
    /// a call nobody answered.
    pub recording_url: Option<String>,
    /// How many callbacks were queued before this one (Twilio's `SequenceNumber`).
    pub callbacks_sent: i64,
    /// The callback queue, while the call is not over.
    callbacks: Option<mpsc::UnboundedSender<Delivery>>,
    /// The script driving the call, to stop it on hang-up or shutdown.
    script: Option<AbortHandle>,
    /// The task delivering this call's callbacks, to stop it on shutdown.
    sender: Option<AbortHandle>,
}

impl SimCall {
    /// Whether `id` names this call (by its create id or its live call id).
    pub fn is_named(&self, id: &str) -> bool {
        self.sid == id || self.call_uuid == id
    }
}

struct Inner {
    calls: HashMap<String, SimCall>,
    next_seq: u64,
    dials: Vec<DialRecord>,
    messages: Vec<MessageRecord>,
    rng: StdRng,
}

/// Everything the simulator's routes and tasks share.
pub(crate) struct SimState {
    pub config: SimConfig,
    /// Where the simulator is reached (`http://127.0.0.1:port`), for the URLs it hands
    /// out (recordings).
    pub base_url: String,
    /// Wall-clock time that follows tokio's clock, so paused-time tests see timestamps
    /// consistent with the script's timers.
    clock: TokioClock,
    /// The client callbacks are posted with.
    http: reqwest::Client,
    /// Injected misbehaviour, shared with the HTTP layer.
    pub faults: Arc<Faults>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState")
            .field("flavor", &self.config.flavor)
            .field("account_sid", &self.config.account_sid)
            .finish_non_exhaustive()
    }
}

/// A new call id: `prefix` and 32 hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

impl SimState {
    pub fn new(config: SimConfig, base_url: String, http: reqwest::Client) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            faults: Faults::new(config.faults.clone()),
            config,
            base_url,
            clock: TokioClock::starting_at(Utc::now()),
            http,
            inner: Mutex::new(Inner {
                calls: HashMap::new(),
                next_seq: 1,
                dials: Vec::new(),
                messages: Vec::new(),
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

    /// Every text message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<MessageRecord> {
        self.lock().messages.clone()
    }

    /// Logs a validated message under `sid` and returns its record.
    pub fn send_message(&self, sid: String, to: &str, from: &str, body: &str) -> MessageRecord {
        let record = MessageRecord {
            sid,
            to: to.to_string(),
            from: from.to_string(),
            body: body.to_string(),
            received_at: self.now(),
        };
        self.lock().messages.push(record.clone());
        record
    }

    /// Stores a new call under the ids given (`sid`, and the live `call_uuid`), starts
    /// its script and returns `view` of it as created (queued).
    pub fn create_call<R>(
        self: &Arc<Self>,
        (sid, call_uuid): (String, String),
        new: NewCall,
        view: impl FnOnce(&SimCall) -> R,
    ) -> R {
        let now = self.now();
        let mut inner = self.lock();
        let plan: CallPlan = self.config.draw_plan(&mut inner.rng);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let final_url = new.hooks.final_url();
        inner.dials.push(DialRecord {
            sid: sid.clone(),
            to: new.to.clone(),
            from: new.from.clone(),
            status_callback: final_url.clone(),
            received_at: now,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = callbacks::spawn_sender(self.http.clone(), Arc::clone(&self.faults), rx);
        let script = script::spawn(Arc::clone(self), sid.clone(), plan, new.ring_timeout);
        let call = SimCall {
            seq,
            sid: sid.clone(),
            call_uuid,
            to: new.to,
            from: new.from,
            phase: Phase::Queued,
            date_created: now,
            date_updated: now,
            start_time: None,
            answered_at: None,
            end_time: None,
            duration: None,
            failure_sip: plan.failure_sip,
            custom_field: new.custom_field,
            hooks: new.hooks,
            recording_url: None,
            callbacks_sent: 0,
            callbacks: Some(tx),
            script: Some(script),
            sender: Some(sender),
        };
        let shown = view(&call);
        inner.calls.insert(sid, call);
        shown
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

    /// A hang-up request: `canceled` ends a call not yet answered and leaves an answered
    /// one alone; `completed` ends either (a call not yet answered ends as canceled). A
    /// call already over is left as it is. Returns `view` of the call as it now stands,
    /// or `None` if no call has the id.
    pub fn hang_up<R>(
        &self,
        id: &str,
        requested: Phase,
        view: impl FnOnce(&SimCall) -> R,
    ) -> Option<R> {
        let now = self.now();
        let mut inner = self.lock();
        let call = inner.calls.values_mut().find(|c| c.is_named(id))?;
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
        Some(view(call))
    }

    /// Records the change on the call and queues its callbacks.
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
                call.duration = Some((ms + 999) / 1000);
                call.recording_url =
                    Some(format!("{}/sim/recordings/{}.mp3", self.base_url, call.sid));
            }
            call.script = None;
        }
        let requests = call.hooks.callbacks(&self.config, call, to, now);
        if let Some(queue) = &call.callbacks {
            let due = tokio::time::Instant::now() + self.config.callback_delay;
            for request in requests {
                call.callbacks_sent += 1;
                // The sender only stops at shutdown, when nothing is listening any more.
                let _ = queue.send(Delivery { request, due });
            }
        }
        if to.is_final() {
            // Closing the queue lets the sender finish the last deliveries and exit.
            call.callbacks = None;
        }
    }

    /// `view` of the call `id` names, if any.
    pub fn call<R>(&self, id: &str, view: impl FnOnce(&SimCall) -> R) -> Option<R> {
        let inner = self.lock();
        inner.calls.values().find(|c| c.is_named(id)).map(view)
    }

    /// `view` of every call `keep` accepts, as `(seq, view)` oldest first.
    pub fn calls<R>(
        &self,
        keep: impl Fn(&SimCall) -> bool,
        view: impl Fn(&SimCall) -> R,
    ) -> Vec<(u64, R)> {
        let inner = self.lock();
        let mut calls: Vec<&SimCall> = inner.calls.values().filter(|c| keep(c)).collect();
        calls.sort_by_key(|c| c.seq);
        calls.into_iter().map(|c| (c.seq, view(c))).collect()
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
