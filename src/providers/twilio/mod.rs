//! Twilio adapter.
