//! Asking an actor a question with a deadline. Every request–reply in the tree goes
//! through [`ask`], so no caller can wait forever on an actor that died or is stuck.

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};
use std::time::Duration;

/// Why an actor did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("the actor did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("the actor is not running")]
    Gone,
}

/// Sends the message built by `build` and waits at most `timeout` for the reply.
pub async fn ask<M, T, F>(actor: &ActorRef<M>, build: F, timeout: Duration) -> Result<T, AskError>
where
    M: Message,
    T: Send + 'static,
    F: FnOnce(RpcReplyPort<T>) -> M,
{
    match actor.call(build, Some(timeout)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(AskError::TimedOut(timeout)),
        Ok(CallResult::SenderError) | Err(_) => Err(AskError::Gone),
    }
}
