//! Twilio adapter: the REST client behind the [`Provider`](callvisor_actors::ports::Provider)
//! port, the status-callback parser and the webhook signature.
//!
//! - [`client`]: [`TwilioProvider`], create / fetch / hang up / list calls.
//! - [`webhook`]: [`parse_status_callback`], a status callback's form as an observation.
//! - [`signature`]: [`sign`] and [`verify`] for `X-Twilio-Signature`, shared with the
//!   simulator, which signs its callbacks the same way.
//! - `status`: the one mapping from Twilio's statuses and failure codes to ours, used by
//!   both the webhook parser and the client.

pub mod client;
mod errors;
mod resource;
pub mod signature;
pub mod status;
pub mod webhook;

pub use client::{TwilioConfig, TwilioProvider, TwilioSetupError};
pub use signature::{sign, verify};
pub use status::{map_status, UnknownTwilioStatus};
pub use webhook::{parse_status_callback, StatusCallback, WebhookError};
