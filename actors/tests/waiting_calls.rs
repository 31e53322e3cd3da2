//! Calls that wait, on paused tokio time: for a slot in the broker's fair line, for the
//! time their schedule gives, for the backoff of a retry. Hours and days of traffic run
//! in moments; restarts rebuild the tree over the same storage.

mod common;

use callvisor_actors::calls::{CallSupervisorMsg, CancelError, NewCall};
use callvisor_actors::domain::{
    BusinessHours, Call, CallId, CallStatus, ClientId, FailureReason, Frequency, Recurrence,
    RetryPolicy, Schedule,
};
use callvisor_actors::ports::TokioClock;
use callvisor_actors::rpc::ask;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Live calls per client, as storage has them: holding a slot, and waiting for one.
fn slot_use(h: &Harness) -> (HashMap<ClientId, u32>, HashMap<ClientId, u32>) {
    let (mut holding, mut waiting) = (HashMap::new(), HashMap::new());
    for call in h.store.calls().into_iter().filter(Call::is_live) {
        let tally = if call.slot_granted_at.is_some() {
            &mut holding
        } else {
            &mut waiting
        };
        *tally.entry(call.client_id).or_insert(0) += 1;
    }
    (holding, waiting)
}

#[tokio::test(start_paused = true)]
async fn five_hundred_waiting_calls_share_twelve_slots_fairly_within_every_limit() {
    const GLOBAL: u32 = 12;
    const CALLS: usize = 500;
    let h = start_with(Options {
        global_max_calls: GLOBAL,
        ..Options::default()
    })
    .await;
    let clients = [
        (ClientId::new(), 2),
        (ClientId::new(), 5),
        (ClientId::new(), 10),
    ];
    for (client, limit) in clients {
        h.store.set_client_limit(client, limit);
    }
    let limits: HashMap<ClientId, u32> = clients.into_iter().collect();
    let requests = (0..CALLS).map(|i| request(clients[i % 3].0)).collect();
    let calls = h.enqueue(requests).await;
    assert_eq!(calls.len(), CALLS);

    let mut rng = StdRng::seed_from_u64(4);
    let mut ends: BTreeMap<(Instant, CallId), ()> = BTreeMap::new();
    let (mut seen, mut seq) = (0, 0);
    // Seconds while every client had calls waiting, and the slots busy meanwhile; seconds
    // while any call waited, and busy slots against those its client's limit allowed.
    let (mut all_waiting, mut all_waiting_busy) = (0.0, 0.0);
    let (mut any_waiting, mut busy_of_usable) = (0.0, 0.0);
    for _ in 0..20_000 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut event = false;
        let dials = h.provider.dials();
        for dial in &dials[seen..] {
            let id = dialed_call(&dial.status_callback_url);
            seq += 1;
            h.webhook(id, CallStatus::InProgress, seq).await;
            let talk = Duration::from_secs(rng.random_range(30..=300));
            ends.insert((Instant::now() + talk, id), ());
            event = true;
        }
        seen = dials.len();
        while let Some((&(at, id), _)) = ends.first_key_value() {
            if at > Instant::now() {
                break;
            }
            ends.pop_first();
            seq += 1;
            h.webhook(id, CallStatus::Completed, seq).await;
            event = true;
        }
        let stats = h.slots().await;
        assert!(stats.global_in_use <= GLOBAL, "{stats:?}");
        for (client, in_use) in &stats.per_client {
            assert!(
                *in_use <= limits[client],
                "broker: {client} above its limit"
            );
        }
        let (held, waiting) = slot_use(&h);
        if event {
            assert!(
                held.values().sum::<u32>() <= GLOBAL,
                "storage: above the global limit"
            );
            for (client, n) in &held {
                assert!(*n <= limits[client], "storage: {client} holds {n}");
            }
        }
        let busy = f64::from(stats.global_in_use);
        if waiting.len() == clients.len() {
            all_waiting += 1.0;
            all_waiting_busy += busy / f64::from(GLOBAL);
        }
        if !waiting.is_empty() {
            let usable: u32 = limits
                .iter()
                .map(|(c, limit)| {
                    let wants = held.get(c).unwrap_or(&0) + waiting.get(c).unwrap_or(&0);
                    wants.min(*limit)
                })
                .sum();
            any_waiting += 1.0;
            busy_of_usable += busy / f64::from(usable.min(GLOBAL));
        }
        if seen == CALLS && ends.is_empty() {
            break;
        }
    }
    h.settle().await;
    assert_eq!(h.provider.dials().len(), CALLS, "every call dialed once");
    let stored = h.store.calls();
    assert!(stored.iter().all(|c| c.status == CallStatus::Completed));
    let utilization = all_waiting_busy / all_waiting;
    assert!(
        utilization >= 0.95,
        "global slots busy {:.1} % of the time every client had calls waiting",
        utilization * 100.0
    );
    // Later only the client limited to 2 has calls left: its limit, not the broker, then
    // leaves slots idle. Still every slot its limit allows must be busy.
    let usable = busy_of_usable / any_waiting;
    assert!(
        usable >= 0.95,
        "{:.1} % of the usable slots busy while calls waited",
        usable * 100.0
    );
    println!(
        "slots busy: {:.2} % while every client waited ({all_waiting} s), \
         {:.2} % of usable slots while any call waited ({any_waiting} s)",
        utilization * 100.0,
        usable * 100.0
    );
    let stats = h.slots().await;
    assert_eq!(
        (stats.global_in_use, stats.waiting),
        (0, 0),
        "every slot returned"
    );
    assert_eq!(h.live().await, 0);
}

/// Business hours Monday to Friday, 09:00 to 18:00.
fn office_hours() -> BusinessHours {
    BusinessHours {
        start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        days_of_week: vec![1, 2, 3, 4, 5],
    }
}

/// 08:00 in Kolkata on `date`, inside office hours, optionally repeating.
fn kolkata_at_eight(date: NaiveDate, recurrence: Option<Recurrence>) -> Schedule {
    Schedule {
        scheduled_for: date.and_hms_opt(8, 0, 0).unwrap(),
        timezone: chrono_tz::Asia::Kolkata,
        business_hours: Some(office_hours()),
        recurrence,
    }
}

/// 09:00 in Kolkata on `date`, as UTC.
fn nine_ist(date: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Asia::Kolkata
        .from_local_datetime(&date.and_hms_opt(9, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// A tree whose paused clock starts at `start`, plus what is needed to restart it.
struct Timeline {
    origin: Instant,
    origin_wall: DateTime<Utc>,
    clock: Arc<TokioClock>,
}

impl Timeline {
    fn starting(start: DateTime<Utc>) -> Self {
        Self {
            origin: Instant::now(),
            origin_wall: start,
            clock: clock_at(start),
        }
    }

    fn options(&self, h: Option<&Harness>) -> Options {
        let mut options = Options {
            clock: self.clock.clone(),
            ..Options::default()
        };
        if let Some(h) = h {
            options.store = h.store.clone();
            options.provider = h.provider.clone();
        }
        options
    }

    /// Sleeps until the wall-clock time `at`.
    async fn until(&self, at: DateTime<Utc>) {
        let elapsed = (at - self.origin_wall).to_std().unwrap();
        tokio::time::sleep_until(self.origin + elapsed).await;
    }

    /// Wall-clock times of every dial so far.
    fn dial_times(&self, h: &Harness) -> Vec<DateTime<Utc>> {
        h.provider
            .dial_times()
            .into_iter()
            .map(|at| self.origin_wall + chrono::Duration::from_std(at - self.origin).unwrap())
            .collect()
    }
}

/// Stops a tree and starts another over the same storage, provider and clock.
async fn restart(h: Harness, timeline: &Timeline) -> Harness {
    let options = timeline.options(Some(&h));
    let client = h.client;
    h.tree.shutdown(Duration::from_secs(5)).await;
    let mut again = start_with(options).await;
    again.client = client;
    again
}

#[tokio::test(start_paused = true)]
async fn a_call_scheduled_before_opening_is_dialed_at_nine_ist_even_across_a_restart() {
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    // Monday 00:00 in Kolkata.
    let timeline = Timeline::starting(nine_ist(monday) - chrono::Duration::hours(9));
    let h = start_with(timeline.options(None)).await;
    let mut request = request(h.client);
    request.schedule = Some(kolkata_at_eight(monday, None));
    let call = h.enqueue(vec![request]).await.remove(0);
    assert_eq!(call.not_before, Some(nine_ist(monday)));

    timeline
        .until(nine_ist(monday) - chrono::Duration::minutes(30))
        .await;
    assert!(h.provider.dials().is_empty(), "nothing dialed at 08:30 IST");
    let h = restart(h, &timeline).await;
    timeline
        .until(nine_ist(monday) - chrono::Duration::seconds(1))
        .await;
    assert!(
        h.provider.dials().is_empty(),
        "nothing dialed before 09:00 IST"
    );
    timeline
        .until(nine_ist(monday) + chrono::Duration::seconds(1))
        .await;
    let dialed = timeline.dial_times(&h);
    assert_eq!(dialed.len(), 1, "dialed once");
    assert!(
        dialed[0] >= nine_ist(monday)
            && dialed[0] < nine_ist(monday) + chrono::Duration::seconds(1),
        "dialed at {} (09:00 IST is {})",
        dialed[0],
        nine_ist(monday)
    );
    assert_eq!(
        dialed_call(&h.provider.dials()[0].status_callback_url),
        call.id
    );
}

#[tokio::test(start_paused = true)]
async fn a_daily_series_of_three_dials_three_times_on_open_days_and_stops_across_a_restart() {
    let friday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let timeline = Timeline::starting(nine_ist(friday) - chrono::Duration::hours(9));
    let mut h = start_with(timeline.options(None)).await;
    let mut request = request(h.client);
    request.schedule = Some(kolkata_at_eight(
        friday,
        Some(Recurrence {
            frequency: Frequency::Daily,
            interval: 1,
            end_date: None,
            max_occurrences: Some(3),
        }),
    ));
    let first = h.enqueue(vec![request]).await.remove(0);

    // Answer each dial, let it talk a minute; restart the tree on Saturday.
    let (mut answered, mut seq) = (0, 0);
    let mut restarted = false;
    let end = nine_ist(friday) + chrono::Duration::days(14);
    while timeline.clock_now() < end {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let dials = h.provider.dials();
        for dial in &dials[answered..] {
            let id = dialed_call(&dial.status_callback_url);
            seq += 1;
            h.webhook(id, CallStatus::InProgress, seq).await;
            seq += 1;
            h.webhook(id, CallStatus::Completed, seq).await;
        }
        answered = dials.len();
        if !restarted && timeline.clock_now() > nine_ist(friday) + chrono::Duration::days(1) {
            h = restart(h, &timeline).await;
            restarted = true;
        }
    }
    let monday = friday + chrono::Days::new(3);
    let tuesday = friday + chrono::Days::new(4);
    let dialed = timeline.dial_times(&h);
    assert_eq!(
        dialed.len(),
        3,
        "three dials, then the series stops: {dialed:?}"
    );
    for (at, day) in dialed.iter().zip([friday, monday, tuesday]) {
        let opening = nine_ist(day);
        assert!(
            *at >= opening && *at < opening + chrono::Duration::seconds(1),
            "dialed at {at}, expected {opening}"
        );
    }
    let series: Vec<Call> = h
        .store
        .calls()
        .into_iter()
        .filter(|c| c.series_id == Some(first.id))
        .collect();
    let mut occurrences: Vec<u32> = series.iter().filter_map(|c| c.occurrence).collect();
    occurrences.sort();
    assert_eq!(occurrences, vec![1, 2, 3]);
    assert!(series.iter().all(|c| c.status == CallStatus::Completed));
    assert_eq!(h.live().await, 0);
}

impl Timeline {
    fn clock_now(&self) -> DateTime<Utc> {
        use callvisor_actors::ports::Clock;
        self.clock.now()
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_call_is_retried_after_its_backoff_as_numbered_attempts_across_a_restart() {
    let timeline = Timeline::starting(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let mut h = start_with(timeline.options(None)).await;
    let mut new = NewCall {
        request: request(h.client),
        client_limit: 10,
    };
    new.request.retry_policy = Some(RetryPolicy {
        max_attempts: 3,
        backoff_seconds: 60,
        backoff_multiplier: 2.0,
        retry_on: vec![FailureReason::Busy, FailureReason::NoAnswer],
    });
    let first = ask(
        &h.tree.calls.get(),
        |tx| CallSupervisorMsg::Place(new, tx),
        ASK,
    )
    .await
    .unwrap()
    .unwrap();
    h.settle().await;
    // Every attempt is busy; the tree restarts while the second waits for its backoff.
    let (mut seq, mut ended) = (0, Vec::new());
    for attempt in 1..=3 {
        let dials = h.provider.dials();
        assert_eq!(dials.len(), attempt, "attempt {attempt} dialed");
        let id = dialed_call(&dials[attempt - 1].status_callback_url);
        seq += 1;
        ended.push(timeline.clock_now());
        h.webhook(id, CallStatus::Busy, seq).await;
        h.settle().await;
        if attempt == 1 {
            h = restart(h, &timeline).await;
        }
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let dialed = timeline.dial_times(&h);
    assert_eq!(dialed.len(), 3, "three attempts, no more");
    let waits: Vec<i64> = (1..3)
        .map(|i| (dialed[i] - ended[i - 1]).num_seconds())
        .collect();
    assert_eq!(waits, vec![60, 120], "backoff of 60 s, then doubled");

    let mut attempts: Vec<Call> = h
        .store
        .calls()
        .into_iter()
        .filter(|c| c.id == first.id || c.original_call_id == Some(first.id))
        .collect();
    attempts.sort_by_key(|c| c.attempt);
    let numbers: Vec<u32> = attempts.iter().map(|c| c.attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3], "each attempt numbered once");
    for pair in attempts.windows(2) {
        assert_eq!(
            pair[0].next_attempt_id,
            Some(pair[1].id),
            "attempts are chained"
        );
    }
    for attempt in &attempts {
        assert_eq!(attempt.status, CallStatus::Busy);
        assert_eq!(attempt.failure_reason, Some(FailureReason::Busy));
    }
    assert_eq!(h.live().await, 0);
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_call_canceled_before_its_time_is_never_dialed() {
    let timeline = Timeline::starting(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
    let h = start_with(timeline.options(None)).await;
    let mut request = request(h.client);
    request.schedule = Some(kolkata_at_eight(
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        None,
    ));
    let call = h.enqueue(vec![request]).await.remove(0);
    let canceled = ask(
        &h.tree.calls.get(),
        |tx| CallSupervisorMsg::Cancel(call.id, tx),
        ASK,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(canceled.status, CallStatus::Canceled);
    let again = ask(
        &h.tree.calls.get(),
        |tx| CallSupervisorMsg::Cancel(call.id, tx),
        ASK,
    )
    .await
    .unwrap();
    assert_eq!(again, Err(CancelError::AlreadyFinal(CallStatus::Canceled)));
    tokio::time::sleep(Duration::from_secs(3 * 24 * 3600)).await;
    assert!(h.provider.dials().is_empty());
    assert_eq!(h.store.call(call.id).unwrap().status, CallStatus::Canceled);
}

#[tokio::test(start_paused = true)]
async fn a_call_waiting_for_a_slot_never_times_out_and_leaves_the_line_when_canceled() {
    let h = start_with(Options {
        global_max_calls: 1,
        ..Options::default()
    })
    .await;
    let talking = h.place(10).await.unwrap();
    h.settle().await;
    h.webhook(talking.id, CallStatus::InProgress, 1).await;
    let queued = h.enqueue(vec![request(h.client), request(h.client)]).await;
    // Forty minutes of conversation (the provider keeps reporting it), four call
    // timeouts' worth: the waiting calls are still waiting, not timed out.
    for seq in 2..10 {
        tokio::time::sleep(Duration::from_secs(300)).await;
        h.webhook(talking.id, CallStatus::InProgress, seq).await;
    }
    for waiting in &queued {
        assert_eq!(h.store.call(waiting.id).unwrap().status, CallStatus::Queued);
    }
    assert_eq!(h.slots().await.waiting, 2);

    let gone = ask(
        &h.tree.calls.get(),
        |tx| CallSupervisorMsg::Cancel(queued[0].id, tx),
        ASK,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(gone.status, CallStatus::Canceled);
    h.settle().await;
    assert_eq!(
        h.slots().await.waiting,
        1,
        "the canceled call left the line"
    );

    h.webhook(talking.id, CallStatus::Completed, 10).await;
    h.settle().await;
    let dials = h.provider.dials();
    assert_eq!(dials.len(), 2, "the slot went to the call still waiting");
    assert_eq!(dialed_call(&dials[1].status_callback_url), queued[1].id);
    let stats = h.slots().await;
    assert_eq!((stats.global_in_use, stats.waiting), (1, 0));
}
