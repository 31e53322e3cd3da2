//! The ports: the interfaces through which the actors reach storage, the telephony
//! provider and the clock. Adapters implement them in the server crate.

pub mod campaigns;
pub mod clock;
pub mod provider;
pub mod store;
pub mod warmup;

pub use campaigns::{CampaignStep, CampaignStore, ContactChange, RECENT_DIALS};
pub use clock::{Clock, SystemClock, TokioClock};
pub use provider::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
pub use store::{CallStore, StoreError};
pub use warmup::{BotWarmer, WarmupPolicy};
