//! Telephony provider adapters.
pub mod twilio;
