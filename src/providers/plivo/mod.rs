//! Plivo adapter: the REST client behind the [`Provider`](callvisor_actors::ports::Provider)
//! port, the ring/hangup callback parser and the V3 signature.
//!
//! - [`client`]: [`PlivoProvider`], create / fetch / hang up / list calls.
//! - [`webhook`]: [`parse_callback`], a ring or hangup callback's form as an observation.
//! - [`signature`]: [`sign`] and [`verify`] for `X-Plivo-Signature-V3`, shared with the
//!   simulator, which signs its callbacks the same way.
//! - [`status`]: the one mapping from Plivo's statuses and hangup causes to ours, used
//!   by both the callback parser and the client.

pub mod client;
mod errors;
pub(crate) mod resource;
pub mod signature;
pub mod status;
pub mod webhook;

pub use client::{PlivoConfig, PlivoProvider};
pub use signature::{sign, verify};
pub use status::{map_status, UnknownPlivoStatus};
pub use webhook::{parse_callback, PlivoCallback, WebhookError};
