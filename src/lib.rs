//! # callvisor server
//!
//! The adapters and the wiring around the actor tree of `callvisor-actors`.
//!
//! ## Layout
//!
//! - [`config`]: command line and environment settings, with their defaults.
//! - [`store`]: the sqlx storage adapter (SQLite by default, PostgreSQL at scale).
//! - [`providers`]: HTTP clients and webhook parsers for each telephony provider.
//! - [`sim`]: the provider simulator, the embedded default provider.
//! - [`http`]: the axum front end; it validates requests and sends messages into the tree.
//! - [`server`]: start-up and shutdown: storage, simulator, tree, HTTP.
//! - [`alerts`]: the alert channels that leave the process (webhook, Slack, PagerDuty).
//! - [`process`]: what the process knows about itself (memory).
//! - [`secret`], [`telemetry`], [`metric_catalog`]: the token secret; logs and the
//!   Prometheus recorder; every exported metric with its help.
//! - [`warmup`]: waking voice bots over HTTP before their calls are dialed.
//!
//! Every binary linking this crate (the server, its benches and tests) allocates with
//! mimalloc: the server spends much of its time under load in small, short-lived
//! allocations (requests, JSON, query arguments), where it beats the system allocator.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod alerts;
pub mod config;
pub mod http;
pub mod metric_catalog;
pub mod process;
pub mod providers;
pub mod secret;
pub mod server;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod warmup;
