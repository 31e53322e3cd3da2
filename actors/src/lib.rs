//! # callvisor actors
//!
//! The supervision tree and the domain logic of callvisor, free of HTTP and SQL: the
//! server crate plugs storage and providers in through the [`ports`].
//!
//! ## Layout
//!
//! - [`domain`]: ids, phone numbers, tenants, the call and campaign lifecycles (pure rules).
//! - [`ports`]: the traits the tree needs from the outside: storage, provider, clock.
//! - [`gateway`]: ProviderGateway, the only actor that talks to the provider.
//! - [`broker`]: ConcurrencyBroker, per-client and global call slots.
//! - [`calls`]: CallSupervisor and one CallActor per live call.
//! - [`campaigns`]: CampaignSupervisor and one CampaignActor per running campaign.
//! - [`monitors`]: provider health, reconciliation with the provider, alerts, retention.
//! - [`root`]: RootSupervisor, which starts the tree and hands out a [`root::Tree`] handle.
//! - [`supervision`]: the bounded-restart bookkeeping shared by the supervisors.
//! - `testing` (feature `testing`): in-memory ports for tests on paused time.

pub mod broker;
pub mod calls;
pub mod campaigns;
pub mod domain;
pub mod gateway;
pub mod monitors;
pub mod ports;
pub mod root;
pub mod rpc;
pub mod supervision;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
