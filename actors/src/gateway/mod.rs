//! The ProviderGateway: the only actor that talks to the telephony provider.
//!
//! Each request runs in its own task so a slow provider never blocks the gateway's
//! mailbox; the reply goes straight back to the asker. Every request is timed and
//! counted by operation and outcome.

use crate::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

type Reply<T> = RpcReplyPort<Result<T, ProviderError>>;

/// Requests to the provider.
pub enum GatewayMsg {
    CreateCall(DialRequest, Reply<DialAccepted>),
    FetchCall(String, Reply<ProviderCallRecord>),
    HangUp(String, HangUp, Reply<()>),
    ListCalls(CallListQuery, Reply<Vec<ProviderCallRecord>>),
}

/// The ProviderGateway actor; its argument is the provider adapter.
pub struct ProviderGateway;

/// The gateway's state: the adapter it speaks through.
pub struct GatewayState {
    provider: Arc<dyn Provider>,
}

#[ractor::async_trait]
impl Actor for ProviderGateway {
    type Msg = GatewayMsg;
    type State = GatewayState;
    type Arguments = Arc<dyn Provider>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        provider: Arc<dyn Provider>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(GatewayState { provider })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let p = Arc::clone(&state.provider);
        let name = p.name();
        match message {
            GatewayMsg::CreateCall(req, reply) => run(name, "create_call", reply, async move {
                p.create_call(&req).await
            }),
            GatewayMsg::FetchCall(id, reply) => {
                run(
                    name,
                    "fetch_call",
                    reply,
                    async move { p.fetch_call(&id).await },
                )
            }
            GatewayMsg::HangUp(id, how, reply) => {
                run(
                    name,
                    "hang_up",
                    reply,
                    async move { p.hang_up(&id, how).await },
                )
            }
            GatewayMsg::ListCalls(q, reply) => {
                run(
                    name,
                    "list_calls",
                    reply,
                    async move { p.list_calls(&q).await },
                )
            }
        }
        Ok(())
    }
}

/// Runs one provider request in its own task, records its metrics and replies.
fn run<T, F>(name: &'static str, operation: &'static str, reply: Reply<T>, request: F)
where
    T: Send + 'static,
    F: Future<Output = Result<T, ProviderError>> + Send + 'static,
{
    tokio::spawn(async move {
        let started = Instant::now();
        let result = request.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => error_label(e),
        };
        metrics::histogram!(
            "callvisor_provider_request_duration_seconds",
            "provider" => name, "operation" => operation
        )
        .record(started.elapsed().as_secs_f64());
        metrics::counter!(
            "callvisor_provider_requests_total",
            "provider" => name, "operation" => operation, "outcome" => outcome
        )
        .increment(1);
        let _ = reply.send(result);
    });
}

/// A bounded label for a provider error.
fn error_label(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::RateLimited { .. } => "rate_limited",
        ProviderError::Unavailable { .. } => "unavailable",
        ProviderError::Connect(_) => "connect_error",
        ProviderError::Ambiguous => "ambiguous",
        ProviderError::Rejected { .. } => "rejected",
        ProviderError::Unsupported(_) => "unsupported",
        ProviderError::Protocol(_) => "protocol_error",
    }
}
