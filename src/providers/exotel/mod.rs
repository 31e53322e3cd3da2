//! Exotel adapter: the REST client behind the [`Provider`](callvisor_actors::ports::Provider)
//! port, the status-callback parser and the callback token.
//!
//! - [`client`]: [`ExotelProvider`], create / fetch / list calls (no hang-up in v1).
//! - [`webhook`]: [`parse_callback`], a status callback as an observation, and the
//!   secret token that authenticates callbacks ([`callback_base`], [`token_matches`]).
//! - [`status`]: the one mapping from Exotel's statuses to ours, used by both the
//!   callback parser and the client.

pub mod client;
mod errors;
pub(crate) mod resource;
pub mod status;
pub mod webhook;

pub use client::{ExotelConfig, ExotelProvider};
pub use status::{map_status, UnknownExotelStatus};
pub use webhook::{callback_base, parse_callback, token_matches, ExotelCallback, WebhookError};
