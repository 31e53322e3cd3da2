//! Campaign storage against real databases, each test on SQLite and on PostgreSQL: the
//! step transaction that makes dialing exactly-once (a step over a stale contact writes
//! nothing — no call, no cursor move), contacts appended in order with the campaign's
//! total, the campaigns a restart must resume, and the progress inputs counted from the
//! rows.

#[macro_use]
mod common;

use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, Contact, ContactOutcome, ContactState, NewCampaign, NewContact,
    Pacing,
};
use callvisor_actors::domain::{Agent, Call, CallRequest, Priority, RetryPolicy};
use callvisor_actors::ports::{CallStore, CampaignStep, CampaignStore, ContactChange};
use chrono::Duration;
use common::db::{now, phone, tenant, TestDb};
use serde_json::json;

on_both_backends!(
    a_step_lands_whole_or_not_at_all,
    contacts_are_appended_in_order_and_counted,
    running_paused_and_scheduled_campaigns_are_the_ones_to_resume,
    progress_inputs_count_the_contacts_where_they_stand,
);

fn new_campaign(agent: &Agent) -> Campaign {
    Campaign::new(
        NewCampaign {
            client_id: agent.client_id,
            agent_id: agent.id,
            name: "renewals".into(),
            caller_id: phone("+14155550000"),
            timezone: chrono_tz::America::New_York,
            retry_policy: RetryPolicy {
                max_attempts: 2,
                backoff_seconds: 60,
                backoff_multiplier: 1.0,
                retry_on: RetryPolicy::DEFAULT_RETRY_ON.to_vec(),
            },
            pacing: Pacing::default(),
            window: None,
            do_not_call: Default::default(),
            start_at: None,
            answer_url: "http://bot.test/answer".into(),
            warmup_url: None,
        },
        now(),
    )
}

fn contacts(campaign: &Campaign, from: u32, n: u32) -> Vec<Contact> {
    (from..from + n)
        .map(|i| {
            Contact::new(
                campaign.id,
                i,
                NewContact {
                    phone: phone(&format!("+1415555{i:04}")),
                    name: Some(format!("contact {i}")),
                    timezone: (i % 2 == 0).then_some(chrono_tz::Asia::Kolkata),
                    variables: json!({"plan": "gold", "row": i}),
                },
                now(),
            )
        })
        .collect()
}

fn call_for(campaign: &Campaign, contact: &Contact) -> Call {
    let request = CallRequest {
        client_id: campaign.client_id,
        agent_id: campaign.agent_id,
        to: contact.phone.clone(),
        from: campaign.caller_id.clone(),
        answer_url: campaign.answer_url.clone(),
        priority: Priority::Normal,
        metadata: json!({"campaignId": campaign.id, "position": contact.position}),
        warmup_url: None,
        retry_policy: None,
        schedule: None,
    };
    let mut call = Call::queued(request, "sim", now());
    call.campaign_id = Some(campaign.id);
    call.contact_position = Some(contact.position);
    call
}

/// A running campaign of `n` contacts, stored.
async fn stored(db: &TestDb, n: u32) -> (Campaign, Vec<Contact>) {
    let (_, agent) = tenant(&db.store).await;
    let mut campaign = new_campaign(&agent);
    let list = contacts(&campaign, 0, n);
    campaign.total_contacts = n;
    db.store.insert_campaign(&campaign, &list).await.unwrap();
    campaign.status = CampaignStatus::Running;
    campaign.started_at = Some(now());
    db.store.save_campaign(&campaign).await.unwrap();
    (campaign, list)
}

async fn a_step_lands_whole_or_not_at_all(db: TestDb) {
    let (mut campaign, list) = stored(&db, 3).await;

    // The actor takes contact 0 and makes its call: one transaction.
    let mut first = list[0].clone();
    let call = call_for(&campaign, &first);
    let change = ContactChange::of(&mut first, |c| c.begin_call(call.id, now()));
    campaign.current_index = 1;
    let step = CampaignStep {
        campaign: &campaign,
        contacts: std::slice::from_ref(&change),
        call: Some((&call, &[])),
    };
    assert!(db.store.commit_step(&step).await.unwrap());

    // A second step made from the contact's old version (a restarted actor that read it
    // before the first step landed) writes nothing: not its call, not its cursor.
    let mut stale = list[0].clone();
    let second_call = call_for(&campaign, &stale);
    let change = ContactChange::of(&mut stale, |c| c.begin_call(second_call.id, now()));
    let mut moved = campaign.clone();
    moved.current_index = 2;
    let step = CampaignStep {
        campaign: &moved,
        contacts: std::slice::from_ref(&change),
        call: Some((&second_call, &[])),
    };
    assert!(!db.store.commit_step(&step).await.unwrap());
    assert!(db.store.load_call(second_call.id).await.unwrap().is_none());
    let reloaded = db.store.load_campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(reloaded.current_index, 1);

    // What was written is what a restart finds: contact 0 dialing its one call.
    assert!(db.store.load_call(call.id).await.unwrap().is_some());
    let open = db.store.open_contacts(campaign.id).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].position, open[0].state, open[0].call_id),
        (0, ContactState::Dialing, Some(call.id))
    );
    assert_eq!(open[0].variables, json!({"plan": "gold", "row": 0}));
}

async fn contacts_are_appended_in_order_and_counted(db: TestDb) {
    // Lists longer than one insert statement holds on either backend (8 rows on SQLite,
    // 500 on PostgreSQL), ending in a part-filled one.
    let (mut campaign, _) = stored(&db, 1_003).await;
    let more = contacts(&campaign, 1_003, 13);
    campaign.total_contacts = 1_016;
    db.store.append_contacts(&campaign, &more).await.unwrap();
    let reloaded = db.store.load_campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(reloaded.total_contacts, 1_016);
    let all = db.store.contacts_from(campaign.id, 0, 2_000).await.unwrap();
    let positions: Vec<u32> = all.iter().map(|c| c.position).collect();
    assert_eq!(positions, (0..1_016).collect::<Vec<_>>());
    for contact in &all {
        let i = contact.position;
        assert_eq!(contact.phone.as_str(), format!("+1415555{i:04}"));
        assert_eq!(
            contact.name.as_deref(),
            Some(format!("contact {i}").as_str())
        );
        assert_eq!(contact.state, ContactState::Pending);
        let zone = (i % 2 == 0).then_some(chrono_tz::Asia::Kolkata);
        assert_eq!(contact.timezone, zone);
        assert_eq!(contact.variables, json!({"plan": "gold", "row": i}));
    }
    let page = db.store.contacts_from(campaign.id, 1_002, 3).await.unwrap();
    let positions: Vec<u32> = page.iter().map(|c| c.position).collect();
    assert_eq!(positions, [1_002, 1_003, 1_004]);
}

async fn running_paused_and_scheduled_campaigns_are_the_ones_to_resume(db: TestDb) {
    let (_, agent) = tenant(&db.store).await;
    let mut ids = Vec::new();
    for status in [
        CampaignStatus::Draft,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        CampaignStatus::Paused,
        CampaignStatus::Completed,
        CampaignStatus::Cancelled,
        CampaignStatus::Failed,
    ] {
        let mut campaign = new_campaign(&agent);
        db.store.insert_campaign(&campaign, &[]).await.unwrap();
        campaign.status = status;
        db.store.save_campaign(&campaign).await.unwrap();
        ids.push((status, campaign.id));
    }
    let mut active: Vec<CampaignStatus> = db
        .store
        .active_campaigns()
        .await
        .unwrap()
        .iter()
        .map(|c| c.status)
        .collect();
    active.sort_by_key(|s| s.as_str());
    assert_eq!(
        active,
        [
            CampaignStatus::Paused,
            CampaignStatus::Running,
            CampaignStatus::Scheduled
        ]
    );
}

async fn progress_inputs_count_the_contacts_where_they_stand(db: TestDb) {
    let (mut campaign, list) = stored(&db, 4).await;
    let mut changes = Vec::new();
    let mut calls = Vec::new();
    for (i, contact) in list.iter().take(3).enumerate() {
        let mut contact = contact.clone();
        let call = call_for(&campaign, &contact);
        let from_version = contact.version;
        contact.begin_call(call.id, now());
        match i {
            0 => contact.finish(ContactOutcome::Connected, now()),
            1 => contact.finish(ContactOutcome::DoNotCall, now()),
            _ => {}
        }
        changes.push(ContactChange {
            from_version,
            contact,
        });
        calls.push(call);
    }
    campaign.current_index = 3;
    for (change, call) in changes.iter().zip(&calls) {
        let step = CampaignStep {
            campaign: &campaign,
            contacts: std::slice::from_ref(change),
            call: Some((call, &[])),
        };
        assert!(db.store.commit_step(&step).await.unwrap());
    }
    let inputs = db
        .store
        .progress_inputs(&campaign, now() + Duration::seconds(1))
        .await
        .unwrap();
    let counts = inputs.counts;
    assert_eq!(
        (
            counts.connected,
            counts.do_not_call,
            counts.in_progress,
            counts.pending
        ),
        (1, 1, 1, 1),
        "{counts:?}"
    );
}
