//! Typed identifiers. Every id is a UUIDv7, so ids sort by creation time and work as
//! stable pagination cursors on both SQLite and PostgreSQL.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A tenant: the company whose calls these are.
    ClientId
);
typed_id!(
    /// A voice bot that answers calls.
    AgentId
);
typed_id!(
    /// One outbound call, from queued to its final status.
    CallId
);
typed_id!(
    /// One entry of a call's event history.
    EventId
);
typed_id!(
    /// A campaign: one contact list dialed under one retry policy, pacing and window.
    CampaignId
);
