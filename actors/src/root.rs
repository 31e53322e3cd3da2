//! The RootSupervisor: starts the tree (ProviderGateway, ConcurrencyBroker,
//! CallSupervisor, CampaignSupervisor, Monitors), restarts whichever of them fails, and
//! stops them in order: campaigns first (no new calls), then calls, then the services
//! they use.
//!
//! The rest of the system reaches the tree through a [`Tree`] handle whose references
//! follow restarts. A restarted CallSupervisor rebuilds its calls from storage; a
//! restarted broker has its slots rebuilt from the calls that are live.

use crate::broker::{BrokerMsg, ConcurrencyBroker};
use crate::calls::{
    CallContext, CallSettings, CallSupervisor, CallSupervisorArgs, CallSupervisorMsg,
};
use crate::campaigns::{
    CampaignContext, CampaignSettings, CampaignSupervisor, CampaignSupervisorArgs,
    CampaignSupervisorMsg,
};
use crate::domain::campaign::CampaignStatus;
use crate::gateway::{DialGates, GatewayConfig, GatewayMsg, ProviderGateway};
use crate::monitors::{
    MonitorContext, MonitorHandles, Monitors, MonitorsArgs, MonitorsConfig, MonitorsMsg, Signals,
};
use crate::ports::{BotWarmer, CallStore, CampaignStore, Clock};
use crate::supervision::{LateRef, Replaceable, RestartHistory, RestartPolicy};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Everything the tree needs from outside.
pub struct TreeConfig {
    pub store: Arc<dyn CallStore>,
    /// Campaigns and contacts; the same database as `store` (a campaign's call and its
    /// contact's move are written in one transaction).
    pub campaign_store: Arc<dyn CampaignStore>,
    /// The provider and how to treat it: rate limits, retries, circuit breaker.
    pub gateway: GatewayConfig,
    pub clock: Arc<dyn Clock>,
    /// Wakes bots before their calls are dialed.
    pub warmer: Arc<dyn BotWarmer>,
    pub calls: CallSettings,
    pub campaigns: CampaignSettings,
    /// System-wide concurrent calls.
    pub global_max_calls: u32,
    /// Restart budget of each CallActor.
    pub call_restarts: RestartPolicy,
    /// Restart budget of each CampaignActor; beyond it the campaign is `failed`.
    pub campaign_restarts: RestartPolicy,
    /// Restart budget of each of the root's children.
    pub child_restarts: RestartPolicy,
    /// Storage, alert channels and settings of the monitors.
    pub monitors: MonitorsConfig,
}

/// Handles to the running tree, for the HTTP front and the tests.
#[derive(Clone)]
pub struct Tree {
    pub root: ActorRef<RootMsg>,
    pub gateway: Replaceable<GatewayMsg>,
    pub broker: Replaceable<BrokerMsg>,
    pub calls: Replaceable<CallSupervisorMsg>,
    pub campaigns: Replaceable<CampaignSupervisorMsg>,
    /// The monitors: alerts (raise and resolve from anywhere), health, sync, retention.
    pub monitors: MonitorHandles,
    /// Signals the alert rules read (webhook lag, restarts), fed from outside the tree.
    pub signals: Arc<Signals>,
}

impl Tree {
    /// Starts the tree: gateway and broker first, then the CallSupervisor, which
    /// re-spawns every live call, then the CampaignSupervisor, which resumes every
    /// running campaign, all before this returns.
    pub async fn start(
        config: TreeConfig,
    ) -> Result<(Tree, tokio::task::JoinHandle<()>), ActorProcessingErr> {
        let (root, handle) = Actor::spawn(None, RootSupervisor, config).await?;
        let tree = ask_tree(&root).await?;
        Ok((tree, handle))
    }

    /// Stops the tree: no new work, children stopped and awaited, within `timeout`.
    pub async fn shutdown(&self, timeout: Duration) {
        let _ = self
            .root
            .stop_and_wait(Some("shutdown".into()), Some(timeout))
            .await;
    }
}

async fn ask_tree(root: &ActorRef<RootMsg>) -> Result<Tree, ActorProcessingErr> {
    crate::rpc::ask(root, RootMsg::Handles, Duration::from_secs(30))
        .await
        .map_err(Into::into)
}

/// Messages to the RootSupervisor.
pub enum RootMsg {
    /// The current handles.
    Handles(ractor::RpcReplyPort<Tree>),
}

/// Which child of the root an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Child {
    Gateway,
    Broker,
    Calls,
    Campaigns,
    Monitors,
}

/// The RootSupervisor.
pub struct RootSupervisor;

/// The RootSupervisor's state.
pub struct RootState {
    config: TreeConfig,
    ctx: Arc<CallContext>,
    campaign_ctx: Arc<CampaignContext>,
    monitors: Arc<MonitorContext>,
    tree: Option<Tree>,
    children: HashMap<ractor::ActorId, Child>,
    restarts: HashMap<Child, RestartHistory>,
}

#[ractor::async_trait]
impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = TreeConfig;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        config: TreeConfig,
    ) -> Result<Self::State, ActorProcessingErr> {
        let cell = myself.get_cell();
        let (gateway, _) =
            Actor::spawn_linked(None, ProviderGateway, config.gateway.clone(), cell.clone())
                .await?;
        let (broker, _) = Actor::spawn_linked(
            None,
            ConcurrencyBroker,
            config.global_max_calls,
            cell.clone(),
        )
        .await?;
        // Gates of running campaigns open before their recovered calls can dial.
        let gates = DialGates::default();
        for campaign in config.campaign_store.active_campaigns().await? {
            if campaign.status == CampaignStatus::Running {
                gates.open(campaign.id).await;
            }
        }
        let provider_name = config.gateway.provider.name().to_string();
        let ctx = Arc::new(CallContext {
            store: Arc::clone(&config.store),
            gateway: Replaceable::new(gateway.clone()),
            broker: Replaceable::new(broker.clone()),
            clock: Arc::clone(&config.clock),
            warmer: Arc::clone(&config.warmer),
            settings: config.calls.clone(),
            provider_name: provider_name.clone(),
            gates: gates.clone(),
            campaigns: LateRef::default(),
            signals: Arc::new(Signals::default()),
        });
        let mut children = HashMap::new();
        children.insert(gateway.get_id(), Child::Gateway);
        children.insert(broker.get_id(), Child::Broker);
        let calls = spawn_calls(&config, &ctx, &mut children, cell.clone()).await?;
        let calls = Replaceable::new(calls);
        // Monitors before campaigns: a campaign that fails raises an alert.
        let monitor_ctx = Arc::new(monitor_context(&config, &ctx, calls.clone()));
        let restarts = config.child_restarts;
        let monitors = spawn_monitors(&monitor_ctx, restarts, &mut children, cell.clone()).await?;
        let campaign_ctx = Arc::new(CampaignContext {
            store: Arc::clone(&config.campaign_store),
            calls_store: Arc::clone(&config.store),
            calls,
            clock: Arc::clone(&config.clock),
            gates,
            settings: config.campaigns.clone(),
            provider_name,
            alerts: monitors.clone(),
            signals: Arc::clone(&ctx.signals),
        });
        let mut state = RootState {
            config,
            ctx,
            campaign_ctx,
            monitors: monitor_ctx,
            tree: None,
            children,
            restarts: HashMap::new(),
        };
        let campaigns = state.spawn_campaigns(cell).await?;
        state.tree = Some(Tree {
            root: myself.clone(),
            gateway: state.ctx.gateway.clone(),
            broker: state.ctx.broker.clone(),
            calls: state.campaign_ctx.calls.clone(),
            campaigns: Replaceable::new(campaigns),
            monitors,
            signals: Arc::clone(&state.ctx.signals),
        });
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMsg::Handles(reply) => {
                if let Some(tree) = &state.tree {
                    let _ = reply.send(tree.clone());
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some((cell, reason)) = crate::supervision::ended_child(event) else {
            return Ok(());
        };
        let Some(child) = state.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        tracing::error!(?child, %reason, "supervision tree child ended; restarting it");
        let policy = state.config.child_restarts;
        let signals = &state.ctx.signals;
        crate::supervision::charge_restart(
            &mut state.restarts,
            child,
            child.label(),
            policy,
            signals,
            &reason,
        )?;
        state.respawn(child, myself.get_cell()).await
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Campaigns first (no new calls), then calls (they persist their state), then
        // the services they used.
        state.children.clear();
        if let Some(tree) = &state.tree {
            let campaigns = tree.campaigns.get();
            campaigns
                .stop_children_and_wait(None, Some(Duration::from_secs(10)))
                .await;
            let _ = campaigns
                .stop_and_wait(None, Some(Duration::from_secs(10)))
                .await;
            let calls = tree.calls.get();
            calls
                .stop_children_and_wait(None, Some(Duration::from_secs(10)))
                .await;
            let _ = calls
                .stop_and_wait(None, Some(Duration::from_secs(10)))
                .await;
        }
        myself
            .stop_children_and_wait(None, Some(Duration::from_secs(10)))
            .await;
        Ok(())
    }
}

impl Child {
    fn label(self) -> &'static str {
        match self {
            Child::Gateway => "provider_gateway",
            Child::Broker => "concurrency_broker",
            Child::Calls => "call_supervisor",
            Child::Campaigns => "campaign_supervisor",
            Child::Monitors => "monitors",
        }
    }
}

async fn spawn_calls(
    config: &TreeConfig,
    ctx: &Arc<CallContext>,
    children: &mut HashMap<ractor::ActorId, Child>,
    cell: ActorCell,
) -> Result<ActorRef<CallSupervisorMsg>, ActorProcessingErr> {
    let args = CallSupervisorArgs {
        ctx: Arc::clone(ctx),
        restart_policy: config.call_restarts,
    };
    let (calls, _) = Actor::spawn_linked(None, CallSupervisor, args, cell).await?;
    children.insert(calls.get_id(), Child::Calls);
    Ok(calls)
}

/// What the monitors share, reaching the calls through `calls`.
fn monitor_context(
    config: &TreeConfig,
    ctx: &CallContext,
    calls: Replaceable<CallSupervisorMsg>,
) -> MonitorContext {
    let m = &config.monitors;
    MonitorContext {
        store: Arc::clone(&m.store),
        channels: m.channels.clone(),
        probe: Arc::clone(&m.probe),
        settings: m.settings.clone(),
        gateway: ctx.gateway.clone(),
        broker: ctx.broker.clone(),
        calls,
        signals: Arc::clone(&ctx.signals),
        clock: Arc::clone(&config.clock),
        provider_name: ctx.provider_name.clone(),
    }
}

/// Starts the Monitors supervisor and returns its handles.
async fn spawn_monitors(
    ctx: &Arc<MonitorContext>,
    restarts: RestartPolicy,
    children: &mut HashMap<ractor::ActorId, Child>,
    cell: ActorCell,
) -> Result<MonitorHandles, ActorProcessingErr> {
    let args = MonitorsArgs {
        ctx: Arc::clone(ctx),
        restarts,
    };
    let (monitors, _) = Actor::spawn_linked(None, Monitors, args, cell).await?;
    children.insert(monitors.get_id(), Child::Monitors);
    let handles = crate::rpc::ask(&monitors, MonitorsMsg::Handles, Duration::from_secs(30)).await?;
    Ok(handles)
}

impl RootState {
    /// Starts the CampaignSupervisor and points the CallActors' reports at it.
    async fn spawn_campaigns(
        &mut self,
        cell: ActorCell,
    ) -> Result<ActorRef<CampaignSupervisorMsg>, ActorProcessingErr> {
        let args = CampaignSupervisorArgs {
            ctx: Arc::clone(&self.campaign_ctx),
            restart_policy: self.config.campaign_restarts,
        };
        let (campaigns, _) = Actor::spawn_linked(None, CampaignSupervisor, args, cell).await?;
        self.children.insert(campaigns.get_id(), Child::Campaigns);
        self.ctx.campaigns.set(campaigns.clone());
        Ok(campaigns)
    }

    async fn respawn(&mut self, child: Child, cell: ActorCell) -> Result<(), ActorProcessingErr> {
        match child {
            Child::Gateway => {
                let gateway_config = self.config.gateway.clone();
                let (gateway, _) =
                    Actor::spawn_linked(None, ProviderGateway, gateway_config, cell).await?;
                self.children.insert(gateway.get_id(), Child::Gateway);
                self.ctx.gateway.replace(gateway);
            }
            Child::Broker => {
                let (broker, _) = Actor::spawn_linked(
                    None,
                    ConcurrencyBroker,
                    self.config.global_max_calls,
                    cell,
                )
                .await?;
                let live = self.config.store.live_calls().await?;
                broker.cast(BrokerMsg::Restore(
                    live.iter().map(|c| (c.client_id, c.id)).collect(),
                ))?;
                self.children.insert(broker.get_id(), Child::Broker);
                self.ctx.broker.replace(broker);
            }
            Child::Calls => {
                let calls = spawn_calls(&self.config, &self.ctx, &mut self.children, cell).await?;
                self.campaign_ctx.calls.replace(calls);
            }
            Child::Campaigns => {
                let campaigns = self.spawn_campaigns(cell).await?;
                if let Some(tree) = &self.tree {
                    tree.campaigns.replace(campaigns);
                }
            }
            Child::Monitors => {
                let restarts = self.config.child_restarts;
                let fresh =
                    spawn_monitors(&self.monitors, restarts, &mut self.children, cell).await?;
                if let Some(tree) = &self.tree {
                    tree.monitors.follow(&fresh);
                }
            }
        }
        Ok(())
    }
}
