//! One file per resource; each handler validates, then reads storage or messages the tree.

pub mod agents;
pub mod calls;
pub mod clients;
pub mod health;
pub mod live_calls;
pub mod openapi;
pub mod outbound;
pub mod sms;
pub mod webhooks;
