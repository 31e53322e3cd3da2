//! Telephony provider adapters, one module per provider, over shared REST plumbing
//! ([`rest`]) and field readers ([`fields`]).
pub mod exotel;
pub mod fields;
pub mod plivo;
pub(crate) mod rest;
pub mod twilio;

pub use rest::SetupError;
