//! The CampaignSupervisor: creates campaigns, hands controls, appended contacts and call
//! ends to each campaign's actor, starts scheduled campaigns at their time, and restarts
//! actors that fail.
//!
//! At start-up it gives every running or paused campaign its actor back, which goes on
//! from its persisted cursor; there is no scan for orphans, because a campaign that
//! should be running always has an actor or is being restarted by this supervisor. An
//! actor that keeps failing (beyond the restart policy) has its campaign marked `failed`
//! with the last error: its undialed calls are withdrawn, its live calls finish, and
//! their outcomes are still recorded here.

use super::campaign_actor::{CampaignActor, CampaignActorArgs, CampaignMsg};
use super::context::CampaignContext;
use super::events::CampaignEvent;
use super::CampaignError;
use crate::calls::CallSupervisorMsg;
use crate::domain::campaign::{
    CallEnded, Campaign, CampaignStatus, Contact, ContactState, Control, NewCampaign, NewContact,
    Transition,
};
use crate::domain::CampaignId;
use crate::monitors::{Alert, Level};
use crate::ports::{CampaignStep, ContactChange};
use crate::rpc::{ask, AskError};
use crate::supervision::{charge_restart, RestartHistory, RestartPolicy};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

type Reply<T> = RpcReplyPort<Result<T, CampaignError>>;

/// Messages to the CampaignSupervisor.
pub enum CampaignSupervisorMsg {
    /// Create a campaign with its first contacts (persisted before the reply).
    Create(Box<NewCampaign>, Vec<NewContact>, Reply<Campaign>),
    /// Append contacts to a campaign's list.
    Append(CampaignId, Vec<NewContact>, Reply<Campaign>),
    Control {
        campaign: CampaignId,
        control: Control,
        by: Option<String>,
        reply: Reply<Campaign>,
    },
    /// A campaign's call ended (sent by its CallActor).
    CallEnded(CallEnded),
    /// A live feed of a campaign's events; `None` when it has no actor (not running).
    Subscribe(
        CampaignId,
        RpcReplyPort<Option<broadcast::Receiver<CampaignEvent>>>,
    ),
    /// Scheduled campaigns may have come due.
    Wake,
    /// A request whose campaign's actor stopped before taking it (the campaign just
    /// ended), handled again (`hops` times so far) once the supervisor has seen it stop.
    Again {
        campaign: CampaignId,
        request: ActorRequest,
        hops: u8,
        reply: Reply<Campaign>,
    },
}

/// A request the campaign's actor answers while it runs, and the supervisor otherwise.
#[derive(Clone)]
pub enum ActorRequest {
    Control {
        control: Control,
        by: Option<String>,
    },
    Append(Vec<NewContact>),
}

impl ActorRequest {
    fn into_message(self, reply: Reply<Campaign>) -> CampaignMsg {
        match self {
            ActorRequest::Control { control, by } => CampaignMsg::Control { control, by, reply },
            ActorRequest::Append(contacts) => CampaignMsg::Append(contacts, reply),
        }
    }
}

/// Arguments of the CampaignSupervisor.
pub struct CampaignSupervisorArgs {
    pub ctx: Arc<CampaignContext>,
    pub restart_policy: RestartPolicy,
}

/// The CampaignSupervisor.
pub struct CampaignSupervisor;

/// The CampaignSupervisor's state.
pub struct CampaignSupervisorState {
    ctx: Arc<CampaignContext>,
    policy: RestartPolicy,
    actors: HashMap<CampaignId, ActorRef<CampaignMsg>>,
    by_actor: HashMap<ActorId, CampaignId>,
    restarts: HashMap<CampaignId, RestartHistory>,
    /// Scheduled campaigns by start time.
    timetable: BTreeSet<(DateTime<Utc>, CampaignId)>,
    wake_at: Option<DateTime<Utc>>,
}

/// How long a message to a CampaignActor may take to be answered (a pause waits for the
/// create-calls on the wire, bounded by the provider request timeout).
const ACTOR_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a request is handled again when its campaign's actor stopped first.
const MAX_AGAIN_HOPS: u8 = 5;
/// How long such a request waits for the supervisor to see the actor stop.
const AGAIN_DELAY: Duration = Duration::from_millis(50);
const MAX_SLEEP: Duration = Duration::from_secs(3600);

#[ractor::async_trait]
impl Actor for CampaignSupervisor {
    type Msg = CampaignSupervisorMsg;
    type State = CampaignSupervisorState;
    type Arguments = CampaignSupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: CampaignSupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(CampaignSupervisorState {
            ctx: args.ctx,
            policy: args.restart_policy,
            actors: HashMap::new(),
            by_actor: HashMap::new(),
            restarts: HashMap::new(),
            timetable: BTreeSet::new(),
            wake_at: None,
        })
    }

    /// Gives every running and paused campaign its actor back; schedules the others.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let campaigns = state.ctx.store.active_campaigns().await?;
        let resumed = campaigns.iter().filter(|c| c.status.has_actor()).count();
        for campaign in campaigns {
            state.activate(&myself, campaign).await?;
        }
        if resumed > 0 {
            tracing::info!(campaigns = resumed, "resumed campaigns");
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CampaignSupervisorMsg::Create(request, contacts, reply) => {
                let result = state.create(&myself, *request, contacts).await;
                let _ = reply.send(result);
            }
            CampaignSupervisorMsg::Append(campaign, contacts, reply) => {
                let request = ActorRequest::Append(contacts);
                state.route(&myself, campaign, request, 0, reply).await
            }
            CampaignSupervisorMsg::Control {
                campaign,
                control,
                by,
                reply,
            } => {
                let request = ActorRequest::Control { control, by };
                state.route(&myself, campaign, request, 0, reply).await
            }
            CampaignSupervisorMsg::Again {
                campaign,
                request,
                hops,
                reply,
            } => state.route(&myself, campaign, request, hops, reply).await,
            CampaignSupervisorMsg::CallEnded(ended) => match state.actors.get(&ended.campaign_id) {
                Some(actor) => {
                    let _ = actor.cast(CampaignMsg::CallEnded(ended));
                }
                None => state.settle_without_actor(ended).await?,
            },
            CampaignSupervisorMsg::Subscribe(id, reply) => match state.actors.get(&id) {
                Some(actor) => {
                    let actor = actor.clone();
                    tokio::spawn(async move {
                        let feed = ask(&actor, CampaignMsg::Subscribe, ACTOR_TIMEOUT)
                            .await
                            .ok();
                        let _ = reply.send(feed);
                    });
                }
                None => {
                    let _ = reply.send(None);
                }
            },
            CampaignSupervisorMsg::Wake => state.wake(&myself).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.forget(cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some(id) = state.forget(cell.get_id()) {
                    tracing::error!(campaign = %id, %error, "campaign actor failed");
                    state.restart(&myself, id, &error.to_string()).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl CampaignSupervisorState {
    /// Hands a request to the campaign's actor, or applies it to a campaign without one.
    /// An actor can stop between the lookup and the delivery (its campaign just completed
    /// or was cancelled): the request is then handled again a moment later, without it.
    /// An actor that took a request always answers it, even when it fails doing so, so
    /// an unanswered request is one it never took and handing it on applies it once.
    async fn route(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        campaign: CampaignId,
        request: ActorRequest,
        hops: u8,
        reply: Reply<Campaign>,
    ) {
        let Some(actor) = self.actors.get(&campaign).cloned() else {
            let result = match request {
                ActorRequest::Control { control, .. } => {
                    self.control_without_actor(myself, campaign, control).await
                }
                ActorRequest::Append(contacts) => {
                    self.append_without_actor(campaign, contacts).await
                }
            };
            let _ = reply.send(result);
            return;
        };
        let supervisor = myself.clone();
        tokio::spawn(async move {
            let delivered = request.clone();
            let answer = ask(&actor, |tx| delivered.into_message(tx), ACTOR_TIMEOUT).await;
            match answer {
                Ok(result) => {
                    let _ = reply.send(result);
                }
                Err(AskError::Gone) if hops < MAX_AGAIN_HOPS => {
                    tokio::time::sleep(AGAIN_DELAY).await;
                    let _ = supervisor.cast(CampaignSupervisorMsg::Again {
                        campaign,
                        request,
                        hops: hops + 1,
                        reply,
                    });
                }
                Err(e) => {
                    let _ =
                        reply.send(Err(CampaignError::Internal(format!("campaign actor: {e}"))));
                }
            }
        });
    }

    async fn create(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        request: NewCampaign,
        inputs: Vec<NewContact>,
    ) -> Result<Campaign, CampaignError> {
        let now = self.ctx.clock.now();
        let mut campaign = Campaign::new(request, now);
        let contacts: Vec<Contact> = inputs
            .into_iter()
            .zip(0..)
            .map(|(input, position)| Contact::new(campaign.id, position, input, now))
            .collect();
        campaign.total_contacts = u32::try_from(contacts.len()).unwrap_or(u32::MAX);
        self.ctx.store.insert_campaign(&campaign, &contacts).await?;
        if campaign.status == CampaignStatus::Scheduled {
            self.schedule(myself, &campaign);
        }
        Ok(campaign)
    }

    /// Gives a running or paused campaign its actor, or a scheduled one its place in
    /// the timetable.
    async fn activate(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        campaign: Campaign,
    ) -> Result<(), ActorProcessingErr> {
        if campaign.status == CampaignStatus::Scheduled {
            self.schedule(myself, &campaign);
            return Ok(());
        }
        if campaign.status.has_actor() {
            self.spawn(myself, campaign).await?;
        }
        Ok(())
    }

    /// Gives the campaign an actor. A start that fails (its recovery could not read or
    /// write storage) counts against the restart budget like a crash, and a campaign
    /// out of budget is failed: one broken campaign never takes its supervisor down.
    async fn spawn(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        campaign: Campaign,
    ) -> Result<(), ActorProcessingErr> {
        self.start_actor(myself, campaign, None).await
    }

    async fn start_actor(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        mut campaign: Campaign,
        mut failure: Option<String>,
    ) -> Result<(), ActorProcessingErr> {
        let id = campaign.id;
        loop {
            if let Some(error) = &failure {
                let (policy, signals) = (self.policy, &self.ctx.signals);
                if charge_restart(&mut self.restarts, id, "campaign", policy, signals, error)
                    .is_err()
                {
                    return self.give_up(campaign, error).await;
                }
            }
            let args = CampaignActorArgs {
                campaign,
                ctx: Arc::clone(&self.ctx),
            };
            match Actor::spawn_linked(None, CampaignActor, args, myself.get_cell()).await {
                Ok((actor, _)) => {
                    self.by_actor.insert(actor.get_id(), id);
                    self.actors.insert(id, actor);
                    metrics::gauge!("callvisor_campaign_actors").set(self.actors.len() as f64);
                    return Ok(());
                }
                Err(error) => {
                    tracing::error!(campaign = %id, %error, "campaign actor failed to start");
                    failure = Some(error.to_string());
                }
            }
            match self.ctx.store.load_campaign(id).await? {
                Some(c) if c.status.has_actor() => campaign = c,
                _ => return Ok(()),
            }
        }
    }

    fn forget(&mut self, actor: ActorId) -> Option<CampaignId> {
        let id = self.by_actor.remove(&actor)?;
        self.actors.remove(&id);
        metrics::gauge!("callvisor_campaign_actors").set(self.actors.len() as f64);
        Some(id)
    }

    /// Starts a draft or scheduled campaign, or cancels one; any other control needs a
    /// running campaign.
    async fn control_without_actor(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        id: CampaignId,
        control: Control,
    ) -> Result<Campaign, CampaignError> {
        let mut campaign = self
            .ctx
            .store
            .load_campaign(id)
            .await?
            .ok_or(CampaignError::NotFound)?;
        let now = self.ctx.clock.now();
        let transition = campaign
            .control(control, None, now)
            .map_err(CampaignError::Refused)?;
        if transition == Transition::AlreadyThere {
            return Ok(campaign);
        }
        self.ctx.store.save_campaign(&campaign).await?;
        super::metrics::status_changed(&campaign);
        if let Some(at) = campaign.start_at {
            self.timetable.remove(&(at, id));
        }
        if campaign.status == CampaignStatus::Running {
            self.ctx.gates.open(id).await;
            self.spawn(myself, campaign.clone())
                .await
                .map_err(|e| CampaignError::Internal(e.to_string()))?;
        }
        Ok(campaign)
    }

    async fn append_without_actor(
        &mut self,
        id: CampaignId,
        contacts: Vec<NewContact>,
    ) -> Result<Campaign, CampaignError> {
        let mut campaign = self
            .ctx
            .store
            .load_campaign(id)
            .await?
            .ok_or(CampaignError::NotFound)?;
        if campaign.status.is_final() {
            return Err(CampaignError::Closed(campaign.status));
        }
        let now = self.ctx.clock.now();
        super::append_contacts(self.ctx.store.as_ref(), &mut campaign, contacts, now).await?;
        Ok(campaign)
    }

    /// Records the end of a call whose campaign has no actor (it was cancelled, or
    /// failed, while the call was live).
    async fn settle_without_actor(&mut self, ended: CallEnded) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        let Some(mut campaign) = store.load_campaign(ended.campaign_id).await? else {
            return Ok(());
        };
        let page = store
            .contacts_from(ended.campaign_id, ended.position, 1)
            .await?;
        let Some(mut contact) = page.into_iter().find(|c| c.position == ended.position) else {
            return Ok(());
        };
        if !contact.is_current_call(&ended) {
            return Ok(());
        }
        let now = self.ctx.clock.now();
        let change = ContactChange::of(&mut contact, |c| c.settle(&ended, &campaign, now));
        if contact.state == ContactState::Done {
            campaign.processed_contacts += 1;
        }
        campaign.last_activity = Some(now);
        campaign.updated_at = now;
        let step = CampaignStep {
            campaign: &campaign,
            contacts: std::slice::from_ref(&change),
            call: None,
        };
        store.commit_step(&step).await?;
        Ok(())
    }

    /// Rebuilds a failed CampaignActor from storage, or gives up on its campaign.
    async fn restart(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
        id: CampaignId,
        error: &str,
    ) -> Result<(), ActorProcessingErr> {
        let Some(campaign) = self.ctx.store.load_campaign(id).await? else {
            return Ok(());
        };
        if !campaign.status.has_actor() {
            return Ok(());
        }
        self.start_actor(myself, campaign, Some(error.to_string()))
            .await
    }

    /// Marks a campaign whose actor keeps failing `failed`, tells people, and stops its
    /// dialing; its live calls finish and are still recorded.
    async fn give_up(
        &mut self,
        mut campaign: Campaign,
        error: &str,
    ) -> Result<(), ActorProcessingErr> {
        let id = campaign.id;
        tracing::error!(campaign = %id, %error, "campaign actor keeps failing; marking the campaign failed");
        self.restarts.remove(&id);
        let now = self.ctx.clock.now();
        campaign.status = CampaignStatus::Failed;
        campaign.failure = Some(format!("its actor kept failing: {error}"));
        campaign.completed_at = Some(now);
        campaign.updated_at = now;
        self.ctx.store.save_campaign(&campaign).await?;
        super::metrics::status_changed(&campaign);
        self.ctx.alerts.raise(Alert {
            key: format!("campaign_failed:{id}"),
            level: Level::Error,
            title: format!("Campaign '{}' failed and stopped dialing", campaign.name),
            detail: json!({"campaignId": id, "error": error, "processedContacts": campaign.processed_contacts, "totalContacts": campaign.total_contacts}),
            client_id: Some(campaign.client_id),
        });
        self.ctx.gates.close(id).await;
        // Calls that ended while no actor could record them are recorded now; the
        // others are withdrawn if not yet dialed, and recorded when they end.
        let mut live = Vec::new();
        for contact in self.ctx.store.open_contacts(id).await? {
            let (ContactState::Dialing, Some(call_id)) = (contact.state, contact.call_id) else {
                continue;
            };
            match self.ctx.calls_store.load_call(call_id).await? {
                Some(call) if !call.is_live() => {
                    self.settle_without_actor(CallEnded {
                        campaign_id: id,
                        position: contact.position,
                        call_id,
                        status: call.status,
                        failure_reason: call.failure_reason,
                        dialed: call.dial_started_at.is_some(),
                    })
                    .await?
                }
                _ => live.push(call_id),
            }
        }
        self.ctx
            .calls
            .get()
            .cast(CallSupervisorMsg::Withdraw(live))?;
        Ok(())
    }

    fn schedule(&mut self, myself: &ActorRef<CampaignSupervisorMsg>, campaign: &Campaign) {
        let at = campaign.start_at.unwrap_or(campaign.created_at);
        self.timetable.insert((at, campaign.id));
        self.arm_wake(myself);
    }

    fn arm_wake(&mut self, myself: &ActorRef<CampaignSupervisorMsg>) {
        let Some(&(first, _)) = self.timetable.first() else {
            return;
        };
        if self.wake_at.is_some_and(|at| at <= first) {
            return;
        }
        let now = self.ctx.clock.now();
        let wait = (first - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP);
        self.wake_at = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
        myself.send_after(wait, || CampaignSupervisorMsg::Wake);
    }

    /// Starts every scheduled campaign whose time has come.
    async fn wake(
        &mut self,
        myself: &ActorRef<CampaignSupervisorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        if self.wake_at.is_none_or(|at| at <= now) {
            self.wake_at = None;
        }
        while let Some(&(at, id)) = self.timetable.first() {
            if at > now {
                break;
            }
            self.timetable.pop_first();
            match self.control_without_actor(myself, id, Control::Start).await {
                Ok(_) | Err(CampaignError::Refused(_) | CampaignError::NotFound) => {}
                Err(e) => return Err(e.to_string().into()),
            }
        }
        self.arm_wake(myself);
        Ok(())
    }
}
