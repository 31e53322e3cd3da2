//! The ConcurrencyBroker: the one place that knows how many calls each client and the
//! whole system have live. Immediate requests (a single call over the API) get a slot
//! or a refusal at once; queued work (campaigns, scheduled calls) waits in a fair line
//! and is granted slots as they come back, round-robin across clients and lanes.

mod fair_queue;
mod slots;

pub use fair_queue::FairQueue;
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
    /// Wait in line for a slot; the reply comes when it is granted. A waiter that stops
    /// waiting (drops its reply port) loses its place and takes nothing. Waiting again
    /// for the same call replaces its earlier place (a restarted actor asking anew), and
    /// a call that already holds a slot is answered at once.
    Wait {
        client: ClientId,
        /// The waiter's lane within its client: a campaign, scheduled calls, ….
        lane: String,
        call: CallId,
        client_limit: u32,
        reply: RpcReplyPort<()>,
    },
    /// Return a call's slot, or give up its place in line (idempotent).
    Release { client: ClientId, call: CallId },
    /// A client's limit changed: waiters are served (or held back) by the new one.
    SetLimit { client: ClientId, limit: u32 },
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
    /// Calls waiting in line for a slot.
    pub waiting: usize,
    /// How long the call waiting longest has waited, in seconds (0 with nobody waiting).
    pub longest_wait_seconds: f64,
}

/// The ConcurrencyBroker actor; its argument is the global limit.
pub struct ConcurrencyBroker;

/// A call waiting for a slot.
pub struct Waiter {
    call: CallId,
    since: tokio::time::Instant,
    reply: RpcReplyPort<()>,
}

/// The broker's state: who holds slots, who waits, and each client's latest limit.
pub struct BrokerState {
    table: SlotTable,
    line: FairQueue<Waiter>,
    limits: std::collections::HashMap<ClientId, u32>,
}

impl BrokerState {
    /// Grants freed slots to waiters, fairly, for as long as slots and waiters last.
    fn serve_line(&mut self) {
        while self.table.total() < self.table.global_max() {
            let (table, limits) = (&self.table, &self.limits);
            let next = self.line.pop_next(|client| {
                table.in_use(client) < limits.get(&client).copied().unwrap_or(0)
            });
            let Some((client, waiter)) = next else { break };
            if waiter.reply.is_closed() {
                continue;
            }
            let limit = self.limits.get(&client).copied().unwrap_or(0);
            if self.table.try_acquire(client, waiter.call, limit).is_ok() {
                metrics::histogram!("callvisor_slot_wait_seconds")
                    .record(waiter.since.elapsed().as_secs_f64());
                if waiter.reply.send(()).is_err() {
                    self.table.release(waiter.call);
                }
                publish(&self.table, client);
            }
        }
        metrics::gauge!("callvisor_slot_queue_length").set(self.line.len() as f64);
    }
}

#[ractor::async_trait]
impl Actor for ConcurrencyBroker {
    type Msg = BrokerMsg;
    type State = BrokerState;
    type Arguments = u32;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        global_max: u32,
    ) -> Result<Self::State, ActorProcessingErr> {
        metrics::gauge!("callvisor_global_slots_max").set(global_max as f64);
        Ok(BrokerState {
            table: SlotTable::new(global_max),
            line: FairQueue::default(),
            limits: Default::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BrokerMsg::Acquire {
                client,
                call,
                client_limit,
                reply,
            } => {
                state.limits.insert(client, client_limit);
                let table = &mut state.table;
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
            BrokerMsg::Wait {
                client,
                lane,
                call,
                client_limit,
                reply,
            } => {
                state.limits.insert(client, client_limit);
                state.line.remove_where(client, |w| w.call == call);
                if state.table.holds(call) {
                    let _ = reply.send(());
                    return Ok(());
                }
                let waiter = Waiter {
                    call,
                    since: tokio::time::Instant::now(),
                    reply,
                };
                state.line.push(client, &lane, waiter);
                state.serve_line();
            }
            BrokerMsg::Release { client, call } => {
                if state.table.release(call).is_some() {
                    publish(&state.table, client);
                } else {
                    state.line.remove_where(client, |w| w.call == call);
                }
                state.serve_line();
            }
            BrokerMsg::SetLimit { client, limit } => {
                state.limits.insert(client, limit);
                state.serve_line();
            }
            BrokerMsg::Restore(calls) => {
                for (client, call) in calls {
                    state.table.restore(client, call);
                    publish(&state.table, client);
                }
            }
            BrokerMsg::Stats(reply) => {
                let table = &state.table;
                let mut per_client: Vec<_> = table.per_client().collect();
                per_client.sort();
                let _ = reply.send(SlotStats {
                    global_in_use: table.total(),
                    global_max: table.global_max(),
                    per_client,
                    waiting: state.line.len(),
                    longest_wait_seconds: state
                        .line
                        .iter()
                        .map(|w| w.since.elapsed().as_secs_f64())
                        .fold(0.0, f64::max),
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
