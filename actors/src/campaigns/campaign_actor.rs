//! The CampaignActor: one per running or paused campaign. It owns the campaign's cursor,
//! pacing and retry timetable, and is the only writer of its campaign and contacts.
//!
//! It keeps in memory only what it is working on: the contacts waiting or dialing, and a
//! page read ahead of the cursor. Everything it does is a step persisted before it acts
//! on it (see [`crate::ports::CampaignStep`]), so its supervisor can rebuild it from
//! storage at any moment: a restarted actor reads the contacts that are waiting or
//! dialing, settles those whose call ended while nobody listened, and goes on from the
//! cursor. Controls (pause, resume, cancel) are messages; each is persisted before it is
//! answered, and a pause closes the campaign's dial gate before it is answered, so no
//! create-call of the campaign reaches the provider after the answer.

use super::context::CampaignContext;
use super::events::CampaignEvent;
use super::CampaignError;
use crate::calls::CallSupervisorMsg;
use crate::domain::campaign::{
    CallEnded, Campaign, CampaignStatus, Contact, ContactState, Control, NewContact, Transition,
};
use crate::domain::CallId;
use crate::ports::{CampaignStep, ContactChange};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Messages to a CampaignActor.
pub enum CampaignMsg {
    Control {
        control: Control,
        /// Who asks (the principal's subject), recorded on pauses.
        by: Option<String>,
        reply: RpcReplyPort<Result<Campaign, CampaignError>>,
    },
    /// Append contacts to the list.
    Append(
        Vec<NewContact>,
        RpcReplyPort<Result<Campaign, CampaignError>>,
    ),
    /// One of the campaign's calls ended.
    CallEnded(CallEnded),
    /// Pacing or a waiting contact's time may have come.
    Tick,
    /// A live feed of the campaign's events.
    Subscribe(RpcReplyPort<broadcast::Receiver<CampaignEvent>>),
}

/// Arguments of a CampaignActor: the campaign as persisted.
pub struct CampaignActorArgs {
    pub campaign: Campaign,
    pub ctx: Arc<CampaignContext>,
}

/// The CampaignActor.
pub struct CampaignActor;

/// A CampaignActor's state.
pub struct CampaignState {
    pub(super) campaign: Campaign,
    pub(super) ctx: Arc<CampaignContext>,
    /// Contacts waiting or dialing, by position.
    pub(super) open: HashMap<u32, Contact>,
    /// Waiting contacts by the time they may be dialed.
    pub(super) due: BTreeSet<(DateTime<Utc>, u32)>,
    /// How many open contacts have a live call.
    pub(super) dialing: usize,
    /// Contacts read from the cursor on, not yet taken.
    pub(super) ahead: VecDeque<Contact>,
    /// Pacing: no new call before this.
    pub(super) next_call_at: Option<DateTime<Utc>>,
    /// When the next [`CampaignMsg::Tick`] is due, if one is set.
    pub(super) tick_at: Option<DateTime<Utc>>,
    pub(super) events: broadcast::Sender<CampaignEvent>,
    pub(super) myself: ActorRef<CampaignMsg>,
}

#[ractor::async_trait]
impl Actor for CampaignActor {
    type Msg = CampaignMsg;
    type State = CampaignState;
    type Arguments = CampaignActorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: CampaignActorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (events, _) = broadcast::channel(args.ctx.settings.event_buffer);
        let mut state = CampaignState {
            campaign: args.campaign,
            ctx: args.ctx,
            open: HashMap::new(),
            due: BTreeSet::new(),
            dialing: 0,
            ahead: VecDeque::new(),
            next_call_at: None,
            tick_at: None,
            events,
            myself,
        };
        state.recover().await?;
        Ok(state)
    }

    async fn post_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let id = state.campaign.id;
        super::metrics::started(&state.campaign);
        if state.campaign.status == CampaignStatus::Running {
            state.ctx.gates.open(id).await;
        } else {
            state.ctx.gates.close(id).await;
        }
        state.pump().await?;
        state.stop_if_done();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CampaignMsg::Control { control, by, reply } => {
                let result = state.control(control, by.as_deref()).await;
                answer_then_fail(result, reply)?;
            }
            CampaignMsg::Append(contacts, reply) => {
                let result = state.append(contacts).await;
                answer_then_fail(result, reply)?;
            }
            CampaignMsg::CallEnded(ended) => state.call_ended(ended).await?,
            CampaignMsg::Tick => {
                let now = state.ctx.clock.now();
                if state.tick_at.is_none_or(|at| at <= now) {
                    state.tick_at = None;
                }
            }
            CampaignMsg::Subscribe(reply) => {
                let _ = reply.send(state.events.subscribe());
            }
        }
        state.pump().await?;
        state.stop_if_done();
        Ok(())
    }
}

/// Answers a request the actor took, even when taking it failed (storage did not
/// answer): the caller gets the error, and the actor then fails and is restarted. A
/// request is thus answered by whoever took it; one the actor never took (it stopped
/// first) is the only kind its supervisor hands on again.
fn answer_then_fail(
    result: Result<Result<Campaign, CampaignError>, ActorProcessingErr>,
    reply: RpcReplyPort<Result<Campaign, CampaignError>>,
) -> Result<(), ActorProcessingErr> {
    match result {
        Ok(answer) => {
            let _ = reply.send(answer);
            Ok(())
        }
        Err(error) => {
            let _ = reply.send(Err(CampaignError::Internal(error.to_string())));
            Err(error)
        }
    }
}

impl CampaignState {
    /// Rebuilds what the actor tracks from storage: waiting and dialing contacts, and the
    /// outcome of calls that ended while no actor listened.
    async fn recover(&mut self) -> Result<(), ActorProcessingErr> {
        let id = self.campaign.id;
        for contact in self.ctx.store.open_contacts(id).await? {
            self.track(contact);
        }
        let dialing: Vec<(u32, CallId)> = self
            .open
            .values()
            .filter(|c| c.state == ContactState::Dialing)
            .filter_map(|c| c.call_id.map(|call| (c.position, call)))
            .collect();
        for (position, call_id) in dialing {
            let Some(call) = self.ctx.calls_store.load_call(call_id).await? else {
                continue;
            };
            if call.is_live() {
                continue;
            }
            self.call_ended(CallEnded {
                campaign_id: id,
                position,
                call_id,
                status: call.status,
                failure_reason: call.failure_reason,
                dialed: call.dial_started_at.is_some(),
            })
            .await?;
        }
        Ok(())
    }

    /// Starts tracking an open contact.
    pub(super) fn track(&mut self, contact: Contact) {
        match contact.state {
            ContactState::Dialing => self.dialing += 1,
            ContactState::Waiting => {
                let at = contact.next_at.unwrap_or(contact.updated_at);
                self.due.insert((at, contact.position));
            }
            ContactState::Pending | ContactState::Done => return,
        }
        self.open.insert(contact.position, contact);
    }

    /// Applies an operator's control: persisted, then acted on, then answered.
    async fn control(
        &mut self,
        control: Control,
        by: Option<&str>,
    ) -> Result<Result<Campaign, CampaignError>, ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let transition = match self.campaign.control(control, by, now) {
            Ok(t) => t,
            Err(refused) => return Ok(Err(CampaignError::Refused(refused))),
        };
        if transition == Transition::AlreadyThere {
            return Ok(Ok(self.campaign.clone()));
        }
        self.ctx.store.save_campaign(&self.campaign).await?;
        let id = self.campaign.id;
        match self.campaign.status {
            CampaignStatus::Running => self.ctx.gates.open(id).await,
            _ => {
                // Paused or cancelled: no create-call leaves after this returns, and calls
                // still waiting for a slot or their bot give their place back.
                self.ctx.gates.close(id).await;
                self.next_call_at = None;
                let waiting: Vec<CallId> = self
                    .open
                    .values()
                    .filter(|c| c.state == ContactState::Dialing)
                    .filter_map(|c| c.call_id)
                    .collect();
                if !waiting.is_empty() {
                    self.ctx
                        .calls
                        .get()
                        .cast(CallSupervisorMsg::Withdraw(waiting))?;
                }
            }
        }
        tracing::info!(campaign = %id, control = control.as_str(), status = %self.campaign.status, "campaign control");
        self.publish(CampaignEvent::counters(&self.campaign, now));
        super::metrics::status_changed(&self.campaign);
        Ok(Ok(self.campaign.clone()))
    }

    /// Appends contacts after the last one.
    async fn append(
        &mut self,
        contacts: Vec<NewContact>,
    ) -> Result<Result<Campaign, CampaignError>, ActorProcessingErr> {
        if self.campaign.status.is_final() {
            return Ok(Err(CampaignError::Closed(self.campaign.status)));
        }
        let now = self.ctx.clock.now();
        super::append_contacts(self.ctx.store.as_ref(), &mut self.campaign, contacts, now).await?;
        self.publish(CampaignEvent::counters(&self.campaign, now));
        Ok(Ok(self.campaign.clone()))
    }

    /// Moves a contact on from its call's end, persisted with the campaign's counters.
    pub(super) async fn call_ended(&mut self, ended: CallEnded) -> Result<(), ActorProcessingErr> {
        let Some(contact) = self.open.get_mut(&ended.position) else {
            return Ok(());
        };
        if !contact.is_current_call(&ended) {
            return Ok(()); // a report already applied, or about an older call
        }
        let now = self.ctx.clock.now();
        let campaign = &self.campaign;
        let change = ContactChange::of(contact, |c| c.settle(&ended, campaign, now));
        let contact = change.contact.clone();
        self.dialing -= 1;
        self.open.remove(&contact.position);
        if contact.state == ContactState::Done {
            self.campaign.processed_contacts += 1;
        }
        self.campaign.last_activity = Some(now);
        self.campaign.updated_at = now;
        self.commit(&[change], None).await?;
        super::metrics::call_ended(&self.campaign, &contact);
        self.publish(CampaignEvent::CallEnded {
            position: contact.position,
            call_id: ended.call_id,
            status: ended.status,
            failure_reason: ended.failure_reason,
            contact_state: contact.state,
            outcome: contact.outcome,
            retry_at: contact.next_at,
            at: now,
        });
        self.publish(CampaignEvent::counters(&self.campaign, now));
        self.track(contact);
        Ok(())
    }

    /// Writes a step; a step refused because a contact moved meanwhile means this actor's
    /// picture is wrong, so it fails and is rebuilt from storage.
    pub(super) async fn commit(
        &mut self,
        contacts: &[ContactChange],
        call: Option<(&crate::domain::Call, &[crate::domain::CallEvent])>,
    ) -> Result<(), ActorProcessingErr> {
        let step = CampaignStep {
            campaign: &self.campaign,
            contacts,
            call,
        };
        if self.ctx.store.commit_step(&step).await? {
            Ok(())
        } else {
            Err(format!(
                "campaign {}: a contact changed under the actor; rebuilding",
                self.campaign.id
            )
            .into())
        }
    }

    pub(super) fn publish(&self, event: CampaignEvent) {
        let _ = self.events.send(event); // no subscriber is fine
    }

    /// Stops the actor once the campaign is over and none of its calls is live.
    fn stop_if_done(&self) {
        if self.campaign.status.is_final() && self.dialing == 0 {
            self.ctx.gates.remove(self.campaign.id);
            self.myself
                .stop(Some(format!("campaign {}", self.campaign.status)));
        }
    }
}
