//! In-memory ports for tests of the tree on paused tokio time: a store kept in a mutex,
//! a provider that records requests and answers as scripted, and an alert channel that
//! records what it is sent.

mod memory_campaigns;
mod memory_monitoring;
mod memory_store;
mod recording_channel;
mod scripted_provider;
mod scripted_warmer;

pub use memory_store::{MemoryStore, DEFAULT_CLIENT_LIMIT};
pub use recording_channel::RecordingChannel;
pub use scripted_provider::{DialHook, ScriptedProvider};
pub use scripted_warmer::ScriptedWarmer;
