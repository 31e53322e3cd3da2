//! The ConcurrencyBroker: the one place that knows how many calls each client and the
//! whole system have live, and grants or refuses slots.

mod slots;

pub use slots::{SlotDenied, SlotTable};

use crate::domain::{CallId, ClientId};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

/// Messages to the ConcurrencyBroker.
pub enum BrokerMsg {
    /// Take a slot for a call of `client`, whose limit is `client_limit`.
    Acquire {
        client: ClientId,
        call: CallId,
        client_limit: u32,
        reply: RpcReplyPort<Result<(), SlotDenied>>,
    },
    /// Return a call's slot (idempotent).
    Release(CallId),
    /// Re-register the slots of calls found live at start-up.
    Restore(Vec<(ClientId, CallId)>),
    /// Current use.
    Stats(RpcReplyPort<SlotStats>),
}

/// Slot use, for the stats endpoints.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotStats {
    pub global_in_use: u32,
    pub global_max: u32,
    pub per_client: Vec<(ClientId, u32)>,
}

/// The ConcurrencyBroker actor; its argument is the global limit.
pub struct ConcurrencyBroker;

#[ractor::async_trait]
impl Actor for ConcurrencyBroker {
    type Msg = BrokerMsg;
    type State = SlotTable;
    type Arguments = u32;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        global_max: u32,
    ) -> Result<Self::State, ActorProcessingErr> {
        metrics::gauge!("callvisor_global_slots_max").set(global_max as f64);
        Ok(SlotTable::new(global_max))
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        table: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BrokerMsg::Acquire {
                client,
                call,
                client_limit,
                reply,
            } => {
                let granted = table.try_acquire(client, call, client_limit);
                if let Err(denied) = granted {
                    let scope = match denied {
                        SlotDenied::Client { .. } => "client",
                        SlotDenied::Global { .. } => "global",
                    };
                    metrics::counter!("callvisor_slot_denials_total", "scope" => scope)
                        .increment(1);
                }
                publish(table, client);
                let _ = reply.send(granted);
            }
            BrokerMsg::Release(call) => {
                if let Some(client) = table.release(call) {
                    publish(table, client);
                }
            }
            BrokerMsg::Restore(calls) => {
                for (client, call) in calls {
                    table.restore(client, call);
                    publish(table, client);
                }
            }
            BrokerMsg::Stats(reply) => {
                let mut per_client: Vec<_> = table.per_client().collect();
                per_client.sort();
                let _ = reply.send(SlotStats {
                    global_in_use: table.total(),
                    global_max: table.global_max(),
                    per_client,
                });
            }
        }
        Ok(())
    }
}

/// Exports slot use for one client and in total.
fn publish(table: &SlotTable, client: ClientId) {
    metrics::gauge!("callvisor_global_slots_in_use").set(table.total() as f64);
    metrics::gauge!("callvisor_client_slots_in_use", "client_id" => client.to_string())
        .set(table.in_use(client) as f64);
}
