//! A [`Provider`] that answers as a test scripts it and remembers every request.

use crate::domain::{CallStatus, Observation};
use crate::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Called with every accepted create-call request and its provider id, so a test can
/// play the provider's webhooks.
pub type DialHook = Box<dyn Fn(&DialRequest, &str) + Send + Sync>;

/// A scripted provider.
#[derive(Default)]
pub struct ScriptedProvider {
    on_dial: Mutex<Option<DialHook>>,
    /// Answers for the next create-call requests; when empty, calls are accepted.
    create_answers: Mutex<VecDeque<Result<DialAccepted, ProviderError>>>,
    /// How long a create-call request takes.
    create_latency: Mutex<Duration>,
    dials: Mutex<Vec<DialRequest>>,
    /// When each create-call request reached the provider (tokio time).
    dial_times: Mutex<Vec<tokio::time::Instant>>,
    hang_ups: Mutex<Vec<(String, HangUp)>>,
    /// What fetch and list report, by provider id.
    records: Mutex<HashMap<String, ProviderCallRecord>>,
    counter: Mutex<u64>,
    /// When each request reached the provider (tokio time), any kind.
    arrivals: Mutex<Vec<tokio::time::Instant>>,
    /// Until then every request answers 503.
    outage_until: Mutex<Option<tokio::time::Instant>>,
    /// Every text message received.
    messages: Mutex<Vec<SmsRequest>>,
    /// When each text message reached the provider (tokio time).
    sms_arrivals: Mutex<Vec<tokio::time::Instant>>,
    /// Recording URLs by provider call id.
    recordings: Mutex<HashMap<String, String>>,
}

impl ScriptedProvider {
    /// Calls `hook` after every accepted create-call.
    pub fn on_dial(&self, hook: DialHook) {
        *self.on_dial.lock().unwrap() = Some(hook);
    }

    /// Queues the answer to a future create-call request.
    pub fn answer_next_create(&self, answer: Result<DialAccepted, ProviderError>) {
        self.create_answers.lock().unwrap().push_back(answer);
    }

    /// Answers every request with 503 until `until`.
    pub fn outage_until(&self, until: tokio::time::Instant) {
        *self.outage_until.lock().unwrap() = Some(until);
    }

    /// When each create-call request reached the provider, in order.
    pub fn dial_times(&self) -> Vec<tokio::time::Instant> {
        self.dial_times.lock().unwrap().clone()
    }

    /// When each request reached the provider.
    pub fn arrivals(&self) -> Vec<tokio::time::Instant> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Records an arrival; fails it if the provider is in an outage.
    fn arrive(&self) -> Result<(), ProviderError> {
        let now = tokio::time::Instant::now();
        self.arrivals.lock().unwrap().push(now);
        match *self.outage_until.lock().unwrap() {
            Some(until) if now < until => Err(ProviderError::Unavailable { status: 503 }),
            _ => Ok(()),
        }
    }

    pub fn set_create_latency(&self, latency: Duration) {
        *self.create_latency.lock().unwrap() = latency;
    }

    /// Every create-call request received.
    pub fn dials(&self) -> Vec<DialRequest> {
        self.dials.lock().unwrap().clone()
    }

    pub fn hang_ups(&self) -> Vec<(String, HangUp)> {
        self.hang_ups.lock().unwrap().clone()
    }

    /// Every text message received, oldest first.
    pub fn messages(&self) -> Vec<SmsRequest> {
        self.messages.lock().unwrap().clone()
    }

    /// When each text message reached the provider.
    pub fn sms_arrivals(&self) -> Vec<tokio::time::Instant> {
        self.sms_arrivals.lock().unwrap().clone()
    }

    /// Gives a call a recording.
    pub fn set_recording(&self, provider_call_id: &str, url: &str) {
        self.recordings
            .lock()
            .unwrap()
            .insert(provider_call_id.to_string(), url.to_string());
    }

    /// Replaces the provider's whole record of a call (list and fetch show it).
    pub fn put_record(&self, record: ProviderCallRecord) {
        self.records
            .lock()
            .unwrap()
            .insert(record.provider_call_id.clone(), record);
    }

    /// Sets what the provider's records say about a call.
    pub fn set_record(&self, provider_call_id: &str, to: &str, status: CallStatus) {
        let record = ProviderCallRecord {
            provider_call_id: provider_call_id.to_string(),
            to: to.to_string(),
            from: String::new(),
            observation: Observation {
                status,
                provider_call_id: Some(provider_call_id.to_string()),
                provider_status: Some(status.as_str().to_string()),
                ..Default::default()
            },
            started_at: None,
            ended_at: None,
        };
        self.records
            .lock()
            .unwrap()
            .insert(provider_call_id.to_string(), record);
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn create_call(&self, request: &DialRequest) -> Result<DialAccepted, ProviderError> {
        let latency = *self.create_latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.arrive()?;
        self.dials.lock().unwrap().push(request.clone());
        let now = tokio::time::Instant::now();
        self.dial_times.lock().unwrap().push(now);
        let scripted = self.create_answers.lock().unwrap().pop_front();
        let answer = scripted.unwrap_or_else(|| {
            let mut n = self.counter.lock().unwrap();
            *n += 1;
            Ok(DialAccepted {
                provider_call_id: format!("CA{:032x}", *n),
                status: CallStatus::Queued,
            })
        });
        if let Ok(accepted) = &answer {
            self.set_record(
                &accepted.provider_call_id,
                request.to.as_str(),
                CallStatus::Queued,
            );
            if let Some(hook) = self.on_dial.lock().unwrap().as_ref() {
                hook(request, &accepted.provider_call_id);
            }
        }
        answer
    }

    async fn fetch_call(&self, id: &str) -> Result<ProviderCallRecord, ProviderError> {
        self.arrive()?;
        self.records
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| ProviderError::Rejected {
                status: 404,
                code: None,
                message: format!("no call {id}"),
            })
    }

    async fn hang_up(&self, id: &str, how: HangUp) -> Result<(), ProviderError> {
        self.arrive()?;
        self.hang_ups.lock().unwrap().push((id.to_string(), how));
        Ok(())
    }

    async fn list_calls(
        &self,
        query: &CallListQuery,
    ) -> Result<Vec<ProviderCallRecord>, ProviderError> {
        self.arrive()?;
        Ok(self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| query.to.as_deref().is_none_or(|to| r.to == to))
            .cloned()
            .collect())
    }

    async fn send_sms(&self, sms: &SmsRequest) -> Result<SmsAccepted, ProviderError> {
        self.arrive()?;
        let mut messages = self.messages.lock().unwrap();
        self.sms_arrivals
            .lock()
            .unwrap()
            .push(tokio::time::Instant::now());
        messages.push(sms.clone());
        Ok(SmsAccepted {
            provider_message_id: format!("SM{:032x}", messages.len()),
            status: "queued".into(),
        })
    }

    async fn recording_url(&self, id: &str) -> Result<Option<String>, ProviderError> {
        self.arrive()?;
        Ok(self.recordings.lock().unwrap().get(id).cloned())
    }
}
