//! Domain types shared by the actors and the adapters: ids, phone numbers, tenants and
//! the call lifecycle. Pure data and pure rules; no I/O.

pub mod call;
pub mod campaign;
pub mod ids;
pub mod phone;
pub mod retry;
pub mod schedule;
pub mod tenant;

pub use call::{
    Call, CallEvent, CallRequest, CallStatus, EventSource, FailureReason, Lane, Observation,
    Priority,
};
pub use ids::{AgentId, CallId, CampaignId, ClientId, EventId};
pub use phone::{PhoneError, PhoneNumber};
pub use retry::RetryPolicy;
pub use schedule::{local_to_utc, BusinessHours, Frequency, Recurrence, Schedule, ScheduleError};
pub use tenant::{Agent, Client};
