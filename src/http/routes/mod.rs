//! One file per resource; each handler validates, then reads storage or messages the tree.

pub mod agents;
pub mod alerts;
pub mod analytics;
pub mod bodies;
pub mod calls;
pub mod campaigns;
pub mod clients;
pub mod health;
pub mod live_calls;
pub mod monitoring_health;
pub mod monitoring_sync;
pub mod openapi;
pub mod outbound;
mod range;
pub mod sms;
pub mod stats;
pub mod webhooks;
