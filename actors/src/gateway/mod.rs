//! The ProviderGateway: the only actor that talks to the telephony provider, and what
//! keeps the account out of trouble.
//!
//! Every request passes, in order: the circuit breaker (a provider that keeps failing
//! is left alone, one probe per cool-down), the rate limiter of its API class (a queue,
//! not an error), the request itself, and the retry policy (429, 503 and connection
//! errors again with backoff, never a create-call or an SMS whose outcome is unknown —
//! the CallActor reconciles a create against the provider's records instead; an SMS
//! that may have gone out is reported as such rather than risk sending it twice).
//! Messages draw from a quota of their own, so a burst of SMS never delays a call. Each request
//! runs in its own task so a slow provider never blocks the gateway's mailbox.
//!
//! - `gate`: campaigns' dial gates, which a create-call must pass right before it leaves.
//! - `limiter`: governor quotas on tokio's clock.
//! - `breaker`: the circuit breaker.
//! - `retry`: which failures are retried and when.
//! - `pipeline`: one request through all of the above, with its metrics.

mod breaker;
mod gate;
mod limiter;
mod pipeline;
mod retry;

pub use breaker::{Admission, Breaker, BreakerPolicy, CircuitState};
pub use gate::{DialGate, DialGates, GatePass};
pub use limiter::{Limiter, LimiterStats, Rate};
pub use retry::RetryPolicy;

use crate::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
use pipeline::{ApiClass, Pipeline};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

type Reply<T> = RpcReplyPort<Result<T, ProviderError>>;

/// Requests to the provider, and questions about the gateway.
pub enum GatewayMsg {
    CreateCall(DialRequest, Reply<DialAccepted>),
    FetchCall(String, Reply<ProviderCallRecord>),
    HangUp(String, HangUp, Reply<()>),
    ListCalls(CallListQuery, Reply<Vec<ProviderCallRecord>>),
    /// Sends a text message, on the SMS quota; never retried once it may have gone out.
    SendSms(SmsRequest, Reply<SmsAccepted>),
    /// Where a call's recording is, by the provider's call id; `None` when it has none.
    RecordingUrl(String, Reply<Option<String>>),
    /// Circuit state and limiter use.
    Stats(RpcReplyPort<GatewayStats>),
}

/// Quotas of one provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Create-call requests.
    pub create_call: Rate,
    /// Every other voice request (fetch, hang up, list, recordings).
    pub other: Rate,
    /// Text messages: always a quota of their own, as providers meter messaging apart
    /// from voice.
    pub sms: Rate,
    /// Whether the two voice classes draw from one budget (Exotel: 200 per minute for
    /// all voice APIs); then `create_call` is the shared quota.
    pub shared: bool,
}

/// Everything the gateway is made from.
#[derive(Clone)]
pub struct GatewayConfig {
    pub provider: Arc<dyn Provider>,
    pub limits: RateLimits,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
}

/// What the gateway is doing, for the stats endpoints.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStats {
    pub provider: String,
    pub circuit_state: CircuitState,
    /// How many times the circuit has opened since start.
    pub circuit_opened: u64,
    pub create_call_limiter: LimiterStats,
    pub other_limiter: LimiterStats,
    pub sms_limiter: LimiterStats,
}

/// The ProviderGateway actor.
pub struct ProviderGateway;

#[ractor::async_trait]
impl Actor for ProviderGateway {
    type Msg = GatewayMsg;
    type State = Arc<Pipeline>;
    type Arguments = GatewayConfig;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        config: GatewayConfig,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(Arc::new(Pipeline::new(config)))
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        pipeline: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let p = Arc::clone(pipeline);
        match message {
            GatewayMsg::CreateCall(req, reply) => spawn(reply, async move {
                p.run(ApiClass::CreateCall, "create_call", false, || {
                    let provider = p.provider();
                    let req = req.clone();
                    async move {
                        // Held until the provider answers: see `gate`.
                        let _pass = match &req.gate {
                            Some(gate) => Some(gate.pass().await.ok_or(ProviderError::Withheld)?),
                            None => None,
                        };
                        provider.create_call(&req).await
                    }
                })
                .await
            }),
            GatewayMsg::FetchCall(id, reply) => spawn(reply, async move {
                p.run(ApiClass::Other, "fetch_call", true, || {
                    let provider = p.provider();
                    let id = id.clone();
                    async move { provider.fetch_call(&id).await }
                })
                .await
            }),
            GatewayMsg::HangUp(id, how, reply) => spawn(reply, async move {
                p.run(ApiClass::Other, "hang_up", true, || {
                    let provider = p.provider();
                    let id = id.clone();
                    async move { provider.hang_up(&id, how).await }
                })
                .await
            }),
            GatewayMsg::ListCalls(query, reply) => spawn(reply, async move {
                p.run(ApiClass::Other, "list_calls", true, || {
                    let provider = p.provider();
                    let query = query.clone();
                    async move { provider.list_calls(&query).await }
                })
                .await
            }),
            GatewayMsg::SendSms(sms, reply) => spawn(reply, async move {
                p.run(ApiClass::Sms, "send_sms", false, || {
                    let provider = p.provider();
                    let sms = sms.clone();
                    async move { provider.send_sms(&sms).await }
                })
                .await
            }),
            GatewayMsg::RecordingUrl(id, reply) => spawn(reply, async move {
                p.run(ApiClass::Other, "recording_url", true, || {
                    let provider = p.provider();
                    let id = id.clone();
                    async move { provider.recording_url(&id).await }
                })
                .await
            }),
            GatewayMsg::Stats(reply) => {
                let _ = reply.send(pipeline.stats());
            }
        }
        Ok(())
    }
}

/// Runs one request in its own task and replies with its result.
fn spawn<T, F>(reply: Reply<T>, request: F)
where
    T: Send + 'static,
    F: Future<Output = Result<T, ProviderError>> + Send + 'static,
{
    tokio::spawn(async move {
        let _ = reply.send(request.await);
    });
}
