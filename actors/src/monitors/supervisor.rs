//! The Monitors supervisor: starts the AlertManager first (the others raise alerts
//! through it), then the ProviderHealthMonitor, the SyncActor and the RetentionActor;
//! restarts whichever fails, within a budget, through handles that follow restarts.

use super::alert::Alert;
use super::alert_manager::{AlertManager, AlertMsg};
use super::context::MonitorContext;
use super::health_monitor::{HealthMonitorArgs, HealthMsg, ProviderHealthMonitor};
use super::retention::{RetentionActor, RetentionMsg};
use super::sync_actor::{SyncActor, SyncMsg};
use crate::supervision::{Replaceable, RestartHistory, RestartPolicy};
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Handles to the monitors; each follows its actor across restarts.
#[derive(Clone)]
pub struct MonitorHandles {
    pub alerts: Replaceable<AlertMsg>,
    pub health: Replaceable<HealthMsg>,
    pub sync: Replaceable<SyncMsg>,
    pub retention: Replaceable<RetentionMsg>,
}

impl MonitorHandles {
    /// Raises an alert; returns at once. For any actor holding the tree handle (a
    /// campaign that failed raises `campaign_failed:<id>`).
    pub fn raise(&self, alert: Alert) {
        if self.alerts.get().cast(AlertMsg::Raise(alert)).is_err() {
            tracing::warn!("the AlertManager is not running; alert dropped");
        }
    }

    /// Resolves the alert of `key`, if it is active; returns at once.
    pub fn resolve(&self, key: impl Into<String>) {
        if self
            .alerts
            .get()
            .cast(AlertMsg::Resolve(key.into()))
            .is_err()
        {
            tracing::warn!("the AlertManager is not running; resolve dropped");
        }
    }

    /// Points these handles at the actors of `other` (a restarted supervisor's).
    pub fn follow(&self, other: &MonitorHandles) {
        self.alerts.replace(other.alerts.get());
        self.health.replace(other.health.get());
        self.sync.replace(other.sync.get());
        self.retention.replace(other.retention.get());
    }
}

/// Messages to the Monitors supervisor.
pub enum MonitorsMsg {
    /// The handles to its actors.
    Handles(RpcReplyPort<MonitorHandles>),
}

/// Arguments of the Monitors supervisor.
pub struct MonitorsArgs {
    pub ctx: Arc<MonitorContext>,
    /// Restart budget of each monitor.
    pub restarts: RestartPolicy,
}

/// Which monitor an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Alerts,
    Health,
    Sync,
    Retention,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Alerts => "alert_manager",
            Kind::Health => "provider_health_monitor",
            Kind::Sync => "sync_actor",
            Kind::Retention => "retention_actor",
        }
    }
}

/// The Monitors supervisor.
pub struct Monitors;

/// Its state.
pub struct MonitorsState {
    ctx: Arc<MonitorContext>,
    policy: RestartPolicy,
    handles: MonitorHandles,
    children: HashMap<ActorId, Kind>,
    restarts: HashMap<Kind, RestartHistory>,
}

#[ractor::async_trait]
impl Actor for Monitors {
    type Msg = MonitorsMsg;
    type State = MonitorsState;
    type Arguments = MonitorsArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: MonitorsArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let cell = myself.get_cell();
        let ctx = args.ctx;
        let mut children = HashMap::new();
        let (alerts, _) =
            Actor::spawn_linked(None, AlertManager, Arc::clone(&ctx), cell.clone()).await?;
        children.insert(alerts.get_id(), Kind::Alerts);
        let alerts = Replaceable::new(alerts);
        let health_args = HealthMonitorArgs {
            ctx: Arc::clone(&ctx),
            alerts: alerts.clone(),
        };
        let (health, _) =
            Actor::spawn_linked(None, ProviderHealthMonitor, health_args, cell.clone()).await?;
        children.insert(health.get_id(), Kind::Health);
        let (sync, _) =
            Actor::spawn_linked(None, SyncActor, Arc::clone(&ctx), cell.clone()).await?;
        children.insert(sync.get_id(), Kind::Sync);
        let (retention, _) =
            Actor::spawn_linked(None, RetentionActor, Arc::clone(&ctx), cell).await?;
        children.insert(retention.get_id(), Kind::Retention);
        Ok(MonitorsState {
            ctx,
            policy: args.restarts,
            handles: MonitorHandles {
                alerts,
                health: Replaceable::new(health),
                sync: Replaceable::new(sync),
                retention: Replaceable::new(retention),
            },
            children,
            restarts: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            MonitorsMsg::Handles(reply) => {
                let _ = reply.send(state.handles.clone());
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
        let Some(kind) = state.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        tracing::error!(monitor = kind.label(), %reason, "monitor ended; restarting it");
        let signals = &state.ctx.signals;
        crate::supervision::charge_restart(
            &mut state.restarts,
            kind,
            kind.label(),
            state.policy,
            signals,
            &reason,
        )?;
        state.respawn(kind, myself.get_cell()).await
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.children.clear();
        myself
            .stop_children_and_wait(None, Some(Duration::from_secs(10)))
            .await;
        Ok(())
    }
}

impl MonitorsState {
    async fn respawn(&mut self, kind: Kind, cell: ActorCell) -> Result<(), ActorProcessingErr> {
        let ctx = Arc::clone(&self.ctx);
        let h = &self.handles;
        let id = match kind {
            Kind::Alerts => {
                let (a, _) = Actor::spawn_linked(None, AlertManager, ctx, cell).await?;
                h.alerts.replace(a.clone());
                a.get_id()
            }
            Kind::Health => {
                let args = HealthMonitorArgs {
                    ctx,
                    alerts: h.alerts.clone(),
                };
                let (a, _) = Actor::spawn_linked(None, ProviderHealthMonitor, args, cell).await?;
                h.health.replace(a.clone());
                a.get_id()
            }
            Kind::Sync => {
                let (a, _) = Actor::spawn_linked(None, SyncActor, ctx, cell).await?;
                h.sync.replace(a.clone());
                a.get_id()
            }
            Kind::Retention => {
                let (a, _) = Actor::spawn_linked(None, RetentionActor, ctx, cell).await?;
                h.retention.replace(a.clone());
                a.get_id()
            }
        };
        self.children.insert(id, kind);
        Ok(())
    }
}
