//! Reconciling one provider record with what callvisor knows: pure decisions, so that
//! the SyncActor only reads, routes and counts.
//!
//! Statuses move forward only, here as everywhere: a live call takes the provider's
//! final status (its actor applies it and ends); a call already over keeps its status
//! and takes the details it lacks (duration, price, recording). A record that would
//! change nothing is left alone, so a second run over the same window writes nothing.

use crate::domain::{Call, CallRequest, CallStatus, Observation, PhoneNumber, Priority};
use crate::ports::{AgentOwner, ProviderCallRecord};
use chrono::{DateTime, Utc};
use serde_json::json;

/// How far apart a lost dial and a provider record may have started and still be the
/// same call.
pub const ADOPTION_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// The observation a provider record amounts to, naming its provider call.
pub fn observation_of(record: &ProviderCallRecord) -> Observation {
    let mut observation = record.observation.clone();
    observation.provider_call_id = Some(record.provider_call_id.clone());
    observation
}

/// What to do about a record whose local call is known.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The call already says everything the record says.
    None,
    /// The call would move or learn something: hand the observation to its owner.
    Apply,
    /// Both ended, differently; the call keeps its own status. `details` says whether it
    /// still learns something (a duration, a price).
    Conflict { details: bool },
}

/// Whether `observation` would change `call`.
pub fn change_for(call: &Call, observation: &Observation, now: DateTime<Utc>) -> Change {
    let mut probe = call.clone();
    let moved = probe.apply(observation, now);
    let learned = probe.absorb_details(observation);
    let conflict = call.status.is_final()
        && observation.status.is_final()
        && call.status != observation.status;
    match (conflict, moved || learned) {
        (true, details) => Change::Conflict { details },
        (false, true) => Change::Apply,
        (false, false) => Change::None,
    }
}

/// Among calls whose dial went out but whose provider id never came back, the one a
/// record is: same number, dialed close to when the provider started the call.
pub fn adoptable<'a>(
    record: &ProviderCallRecord,
    lost_dials: impl IntoIterator<Item = &'a Call>,
) -> Option<&'a Call> {
    lost_dials
        .into_iter()
        .filter(|c| c.provider_call_id.is_none() && c.to.as_str() == record.to)
        .filter_map(|c| {
            let dialed = c.dial_started_at?;
            let gap = match record.started_at {
                Some(started) => (started - dialed).abs(),
                None => chrono::Duration::zero(),
            };
            (gap <= ADOPTION_SLACK).then_some((gap, c))
        })
        .min_by_key(|(gap, c)| (*gap, c.id))
        .map(|(_, c)| c)
}

/// A call the provider made that callvisor never knew of, attributed to the agent whose
/// caller id placed it, as it ended. `None` for a call not over yet (a later run takes
/// it once it is) or whose numbers are unusable.
pub fn missed_call(
    record: &ProviderCallRecord,
    owner: &AgentOwner,
    provider: &str,
    now: DateTime<Utc>,
) -> Option<Call> {
    let observation = observation_of(record);
    if !observation.status.is_final() {
        return None;
    }
    let to = PhoneNumber::parse(&record.to).ok()?;
    let from = PhoneNumber::parse(&record.from).ok()?;
    let started = record.started_at.unwrap_or(now);
    let request = CallRequest {
        client_id: owner.client_id,
        agent_id: owner.agent_id,
        to,
        from,
        answer_url: owner.answer_url.clone(),
        priority: Priority::Normal,
        metadata: json!({"createdBy": "sync"}),
        warmup_url: None,
        retry_policy: None,
        schedule: None,
    };
    let mut call = Call::queued(request, provider, started);
    call.slot_granted_at = Some(started);
    call.dial_started_at = Some(started);
    call.apply(&observation, record.ended_at.unwrap_or(now));
    if call.status == CallStatus::Completed && call.answered_at.is_none() {
        call.answered_at = Some(started);
    }
    call.updated_at = now;
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, ClientId, FailureReason};

    fn record(status: CallStatus, started: DateTime<Utc>) -> ProviderCallRecord {
        ProviderCallRecord {
            provider_call_id: "CA1".into(),
            to: "+14155550101".into(),
            from: "+14155550000".into(),
            observation: Observation {
                status,
                provider_status: Some(status.as_str().into()),
                duration_seconds: Some(33),
                price: Some("-0.0130".into()),
                ..Default::default()
            },
            started_at: Some(started),
            ended_at: Some(started + chrono::Duration::seconds(40)),
        }
    }

    fn call(now: DateTime<Utc>) -> Call {
        let request = CallRequest {
            client_id: ClientId::new(),
            agent_id: AgentId::new(),
            to: PhoneNumber::from_trusted("+14155550101".into()),
            from: PhoneNumber::from_trusted("+14155550000".into()),
            answer_url: "http://bot/answer".into(),
            priority: Priority::Normal,
            metadata: json!({}),
            warmup_url: None,
            retry_policy: None,
            schedule: None,
        };
        Call::queued(request, "sim", now)
    }

    #[test]
    fn a_second_look_at_the_same_record_changes_nothing() {
        let now = Utc::now();
        let mut c = call(now);
        let obs = observation_of(&record(CallStatus::Completed, now));
        assert_eq!(change_for(&c, &obs, now), Change::Apply);
        c.apply(&obs, now);
        assert_eq!(change_for(&c, &obs, now), Change::None);
    }

    #[test]
    fn a_call_that_ended_differently_keeps_its_status() {
        let now = Utc::now();
        let mut c = call(now);
        c.finish(CallStatus::Timeout, Some(FailureReason::Timeout), now);
        let obs = observation_of(&record(CallStatus::Completed, now));
        assert_eq!(
            change_for(&c, &obs, now),
            Change::Conflict { details: true }
        );
    }

    #[test]
    fn a_lost_dial_is_adopted_by_number_and_time_only() {
        let now = Utc::now();
        let mut near = call(now);
        near.dial_started_at = Some(now);
        let mut far = call(now);
        far.dial_started_at = Some(now - chrono::Duration::minutes(30));
        let r = record(CallStatus::Completed, now + chrono::Duration::seconds(2));
        assert_eq!(adoptable(&r, [&far, &near]).map(|c| c.id), Some(near.id));
        assert_eq!(adoptable(&r, [&far]), None);
    }

    #[test]
    fn a_missed_call_is_made_as_it_ended() {
        let now = Utc::now();
        let owner = AgentOwner {
            client_id: ClientId::new(),
            agent_id: AgentId::new(),
            answer_url: "http://bot/answer".into(),
        };
        let made = missed_call(&record(CallStatus::Busy, now), &owner, "sim", now).unwrap();
        assert_eq!(made.status, CallStatus::Busy);
        assert_eq!(made.provider_call_id.as_deref(), Some("CA1"));
        assert_eq!(made.price.as_deref(), Some("-0.0130"));
        assert_eq!(made.client_id, owner.client_id);
        assert!(missed_call(&record(CallStatus::Ringing, now), &owner, "sim", now).is_none());
    }
}
