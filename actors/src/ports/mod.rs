//! The ports: the interfaces through which the actors reach storage, the telephony
//! provider, the clock and the alert channels. Adapters implement them in the server crate.

pub mod campaigns;
pub mod clock;
pub mod monitoring;
pub mod provider;
pub mod store;
pub mod warmup;

pub use campaigns::{CampaignStep, CampaignStore, ContactChange, RECENT_DIALS};
pub use clock::{Clock, SystemClock, TokioClock};
pub use monitoring::{
    AgentOwner, AlertChannel, AlertStore, DeliveryError, HealthStore, NoProbe, ProcessProbe,
    RetainedKind, RetentionStore, SyncStore,
};
pub use provider::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
pub use store::{CallStore, StoreError};
pub use warmup::{BotWarmer, WarmupPolicy};
