//! Calls: the CallSupervisor and one CallActor per live call.

pub mod call_actor;
pub mod call_supervisor;
pub mod context;

pub use call_actor::{CallActor, CallMsg, CancelError, ObserveOutcome, StartMode};
pub use call_supervisor::{
    CallRef, CallSupervisor, CallSupervisorArgs, CallSupervisorMsg, NewCall, PlaceError,
    WebhookOutcome,
};
pub use context::{CallContext, CallSettings};
