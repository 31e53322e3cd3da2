//! How a CampaignActor chooses and makes its next calls.
//!
//! While the campaign runs and is under its concurrency, the next call goes, no sooner
//! than its pacing allows, to the contact whose wait is over first (a retry, an opened
//! window, a call withdrawn by a pause), else to the contact at the cursor. A contact on
//! the do-not-call list is marked so and passed; one whose window (in its own zone, else
//! the campaign's) is closed is set to wait for the next opening and passed, so one
//! time zone's night never holds back the others. Those moves are written together with
//! the next call, in one step, up to [`CampaignSettings::read_ahead`] at a time.
//!
//! [`CampaignSettings::read_ahead`]: super::context::CampaignSettings::read_ahead

use super::campaign_actor::{CampaignMsg, CampaignState};
use super::events::CampaignEvent;
use crate::calls::CallSupervisorMsg;
use crate::domain::campaign::{CampaignStatus, Contact, ContactOutcome, WaitReason};
use crate::domain::{Call, CallEvent, CallRequest, EventSource, Priority};
use crate::ports::ContactChange;
use chrono::{DateTime, Utc};
use ractor::ActorProcessingErr;
use serde_json::json;
use std::time::Duration;

/// Longest sleep between two looks at the timetable (wall-clock time and the runtime's
/// timers drift apart over long waits).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// The contact a free place goes to.
enum Next {
    /// A waiting contact whose time has come.
    Due(u32),
    /// The contact at the cursor.
    Cursor(Contact),
}

impl CampaignState {
    /// Makes every call the campaign may make now, then sets a tick for the next one.
    pub(super) async fn pump(&mut self) -> Result<(), ActorProcessingErr> {
        let mut passed: Vec<ContactChange> = Vec::new();
        while self.campaign.status == CampaignStatus::Running
            && self.dialing < self.campaign.pacing.max_concurrent as usize
        {
            let now = self.ctx.clock.now();
            if let Some(at) = self.next_call_at.filter(|at| *at > now) {
                self.arm_tick(at);
                break;
            }
            let Some(next) = self.next(now).await? else {
                break;
            };
            let contact = match next {
                Next::Due(position) => self.take_due(position),
                Next::Cursor(contact) => {
                    self.campaign.current_index = contact.position + 1;
                    contact
                }
            };
            let Some(contact) = self.pass_or_keep(contact, now, &mut passed) else {
                if passed.len() >= self.ctx.settings.read_ahead as usize {
                    self.commit_passed(&mut passed, now).await?;
                }
                continue;
            };
            self.call(contact, std::mem::take(&mut passed), now).await?;
        }
        let now = self.ctx.clock.now();
        self.commit_passed(&mut passed, now).await?;
        // A contact due later needs a tick; one due now but held back by concurrency is
        // served when a call ends, and one held back by pacing has its tick set above.
        if let Some(&(at, _)) = self.due.first() {
            if self.campaign.status == CampaignStatus::Running && at > now {
                self.arm_tick(at);
            }
        }
        self.complete_if_done(now).await
    }

    /// The next contact to consider, if any may go now.
    async fn next(&mut self, now: DateTime<Utc>) -> Result<Option<Next>, ActorProcessingErr> {
        if let Some(&(at, position)) = self.due.first() {
            if at <= now {
                return Ok(Some(Next::Due(position)));
            }
        }
        if self.campaign.current_index >= self.campaign.total_contacts {
            return Ok(None);
        }
        if self.ahead.is_empty() {
            let page = self
                .ctx
                .store
                .contacts_from(
                    self.campaign.id,
                    self.campaign.current_index,
                    self.ctx.settings.read_ahead,
                )
                .await?;
            self.ahead.extend(page);
        }
        // Skip anything the page holds behind the cursor (a page read before a restart).
        while self
            .ahead
            .front()
            .is_some_and(|c| c.position < self.campaign.current_index)
        {
            self.ahead.pop_front();
        }
        Ok(self.ahead.pop_front().map(Next::Cursor))
    }

    fn take_due(&mut self, position: u32) -> Contact {
        self.due.pop_first();
        self.open
            .remove(&position)
            .expect("every due contact is tracked")
    }

    /// Passes a contact that may not be called now (on the do-not-call list, or outside
    /// its window), recording why in `passed`; returns the contact otherwise.
    fn pass_or_keep(
        &mut self,
        mut contact: Contact,
        now: DateTime<Utc>,
        passed: &mut Vec<ContactChange>,
    ) -> Option<Contact> {
        if self.campaign.do_not_call.contains(&contact.phone) {
            passed.push(ContactChange::of(&mut contact, |c| {
                c.finish(ContactOutcome::DoNotCall, now)
            }));
            self.campaign.processed_contacts += 1;
            super::metrics::contact_skipped(&self.campaign);
            return None;
        }
        if let Some(window) = &self.campaign.window {
            let zone = self.campaign.zone_of(contact.timezone);
            let opening = window.next_opening(zone, now);
            if opening > now {
                passed.push(ContactChange::of(&mut contact, |c| {
                    c.wait(WaitReason::Window, opening, now)
                }));
                self.track(contact);
                return None;
            }
        }
        Some(contact)
    }

    /// Writes the passed contacts and the cursor that went past them.
    async fn commit_passed(
        &mut self,
        passed: &mut Vec<ContactChange>,
        now: DateTime<Utc>,
    ) -> Result<(), ActorProcessingErr> {
        if passed.is_empty() {
            return Ok(());
        }
        self.campaign.updated_at = now;
        let changes = std::mem::take(passed);
        self.commit(&changes, None).await
    }

    /// Makes the contact's next call: the call row and the contact's move commit together
    /// (with the contacts passed on the way), then the CallSupervisor takes the call over.
    async fn call(
        &mut self,
        mut contact: Contact,
        mut changes: Vec<ContactChange>,
        now: DateTime<Utc>,
    ) -> Result<(), ActorProcessingErr> {
        let call = self.new_call(&contact, now);
        changes.push(ContactChange::of(&mut contact, |c| {
            c.begin_call(call.id, now)
        }));
        let attempt = contact.calls_made;
        let mut call = call;
        call.attempt = attempt;
        let created = CallEvent::new(
            call.id,
            EventSource::Actor,
            "created",
            true,
            json!({"campaignId": self.campaign.id, "position": contact.position, "attempt": attempt}),
            now,
        );
        self.campaign.dials += 1;
        self.campaign.last_activity = Some(now);
        self.campaign.updated_at = now;
        self.commit(&changes, Some((&call, std::slice::from_ref(&created))))
            .await?;
        self.next_call_at = self
            .campaign
            .pacing
            .spacing()
            .map(|s| now + chrono::Duration::from_std(s).unwrap_or_default());
        let (position, call_id) = (contact.position, call.id);
        self.track(contact);
        self.ctx
            .calls
            .get()
            .cast(CallSupervisorMsg::Adopt(Box::new(call)))?;
        super::metrics::dialed(&self.campaign);
        self.publish(CampaignEvent::CallStarted {
            position,
            call_id,
            attempt,
            at: now,
        });
        Ok(())
    }

    /// A queued call of the campaign to `contact`, carrying the contact in its metadata.
    fn new_call(&self, contact: &Contact, now: DateTime<Utc>) -> Call {
        let c = &self.campaign;
        let request = CallRequest {
            client_id: c.client_id,
            agent_id: c.agent_id,
            to: contact.phone.clone(),
            from: c.caller_id.clone(),
            answer_url: c.answer_url.clone(),
            priority: Priority::Normal,
            metadata: json!({
                "campaignId": c.id,
                "position": contact.position,
                "name": contact.name,
                "variables": contact.variables,
            }),
            warmup_url: c.warmup_url.clone(),
            retry_policy: None,
            schedule: None,
        };
        let mut call = Call::queued(request, &self.ctx.provider_name, now);
        call.campaign_id = Some(c.id);
        call.contact_position = Some(contact.position);
        call
    }

    /// Completes a running campaign whose every contact has its outcome.
    async fn complete_if_done(&mut self, now: DateTime<Utc>) -> Result<(), ActorProcessingErr> {
        let c = &self.campaign;
        let done = c.status == CampaignStatus::Running
            && c.current_index >= c.total_contacts
            && self.open.is_empty();
        if !done {
            return Ok(());
        }
        self.campaign.status = CampaignStatus::Completed;
        self.campaign.completed_at = Some(now);
        self.campaign.updated_at = now;
        self.ctx.store.save_campaign(&self.campaign).await?;
        tracing::info!(campaign = %self.campaign.id, dials = self.campaign.dials, "campaign completed");
        super::metrics::status_changed(&self.campaign);
        self.publish(CampaignEvent::counters(&self.campaign, now));
        Ok(())
    }

    /// Sets a tick for `at`, unless one is set early enough.
    fn arm_tick(&mut self, at: DateTime<Utc>) {
        if self.tick_at.is_some_and(|t| t <= at) {
            return;
        }
        let now = self.ctx.clock.now();
        let wait = (at - now).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP);
        self.tick_at = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
        self.myself.send_after(wait, || CampaignMsg::Tick);
    }
}
