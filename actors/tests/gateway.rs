//! The ProviderGateway on paused tokio time against a scripted provider: rate limits as
//! a queue, the circuit breaker through an outage, retries with Retry-After, and no
//! blind re-send of a create-call whose outcome is unknown.

use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::gateway::{
    BreakerPolicy, CircuitState, GatewayConfig, GatewayMsg, GatewayStats, ProviderGateway, Rate,
    RateLimits, RetryPolicy,
};
use callvisor_actors::ports::{DialAccepted, DialRequest, ProviderError};
use callvisor_actors::rpc::ask;
use callvisor_actors::testing::ScriptedProvider;
use ractor::{Actor, ActorRef};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const FOREVER: Duration = Duration::from_secs(24 * 3600);

async fn gateway(provider: Arc<ScriptedProvider>, create_call: Rate) -> ActorRef<GatewayMsg> {
    let config = GatewayConfig {
        provider,
        limits: RateLimits {
            create_call,
            other: Rate::per_second(100),
            sms: Rate::per_second(1),
            shared: false,
        },
        retry: RetryPolicy::default(),
        breaker: BreakerPolicy::default(),
    };
    Actor::spawn(None, ProviderGateway, config).await.unwrap().0
}

fn dial(n: usize) -> DialRequest {
    DialRequest {
        to: PhoneNumber::parse(&format!("+1415555{:04}", 1000 + n)).unwrap(),
        from: PhoneNumber::parse("+14155550100").unwrap(),
        answer_url: "http://bot.test/answer".into(),
        status_callback_url: format!("http://cv.test/webhooks/twilio/status?callId={n}"),
        ring_timeout: Duration::from_secs(60),
        gate: None,
    }
}

/// Sends `n` create-calls at once; returns their results.
async fn create_many(
    gw: &ActorRef<GatewayMsg>,
    n: usize,
) -> Vec<Result<DialAccepted, ProviderError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let gw = gw.clone();
            tokio::spawn(async move {
                ask(&gw, |tx| GatewayMsg::CreateCall(dial(i), tx), FOREVER)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

async fn stats(gw: &ActorRef<GatewayMsg>) -> GatewayStats {
    ask(gw, GatewayMsg::Stats, FOREVER).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn create_calls_queue_behind_the_rate_limit_and_never_exceed_it() {
    let provider: Arc<ScriptedProvider> = Arc::default();
    let gw = gateway(provider.clone(), Rate::per_minute(200)).await;
    let start = Instant::now();
    let results = create_many(&gw, 201).await;
    assert!(
        results.iter().all(Result::is_ok),
        "waiting is a queue, not an error"
    );
    let mut times: Vec<Duration> = provider.arrivals().iter().map(|t| *t - start).collect();
    times.sort();
    assert_eq!(times.len(), 201);
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(60))
            .count();
        assert!(
            in_window <= 200,
            "{in_window} requests in the 60 s after {t:?}"
        );
    }
    assert!(
        times[200] >= Duration::from_secs(60),
        "the 201st goes out after the window: {:?}",
        times[200]
    );
    let s = stats(&gw).await;
    assert_eq!(s.create_call_limiter.granted, 201);
    assert!(
        s.create_call_limiter.waited >= 199,
        "all but the first two queued"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_opens_the_circuit_lets_one_probe_per_cool_down_and_loses_nothing() {
    let provider: Arc<ScriptedProvider> = Arc::default();
    let start = Instant::now();
    provider.outage_until(start + Duration::from_secs(90));
    let gw = gateway(provider.clone(), Rate::per_second(50)).await;
    let pending = {
        let gw = gw.clone();
        tokio::spawn(async move { create_many(&gw, 10).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats(&gw).await.circuit_state, CircuitState::Open);
    assert_eq!(
        provider.arrivals().len(),
        5,
        "the circuit opened after 5 consecutive failures"
    );

    tokio::time::sleep(Duration::from_secs(88)).await;
    let during: Vec<Duration> = provider.arrivals().iter().map(|t| *t - start).collect();
    assert_eq!(
        during.len(),
        6,
        "one probe in the first cool-down: {during:?}"
    );
    assert!(during[5] >= Duration::from_secs(60));

    let results = pending.await.unwrap();
    assert!(
        results.iter().all(Result::is_ok),
        "every queued request got through: {results:?}"
    );
    assert_eq!(provider.dials().len(), 10, "each call created exactly once");
    let s = stats(&gw).await;
    assert_eq!(s.circuit_state, CircuitState::Closed);
    assert_eq!(
        s.circuit_opened, 2,
        "opened by the outage, reopened by the failed probe"
    );
    let after_outage = provider
        .arrivals()
        .iter()
        .filter(|t| **t >= start + Duration::from_secs(90))
        .count();
    assert_eq!(
        after_outage, 10,
        "one successful probe, then the nine others"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    let provider: Arc<ScriptedProvider> = Arc::default();
    provider.answer_next_create(Err(ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(3)),
    }));
    let gw = gateway(provider.clone(), Rate::per_second(100)).await;
    let results = create_many(&gw, 1).await;
    assert!(results[0].is_ok());
    let arrivals = provider.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(3),
        "{:?}",
        arrivals[1] - arrivals[0]
    );
}

#[tokio::test(start_paused = true)]
async fn a_create_call_with_an_unknown_outcome_is_never_sent_again_by_the_gateway() {
    let provider: Arc<ScriptedProvider> = Arc::default();
    provider.answer_next_create(Err(ProviderError::Ambiguous));
    let gw = gateway(provider.clone(), Rate::per_second(100)).await;
    let results = create_many(&gw, 1).await;
    assert_eq!(results[0], Err(ProviderError::Ambiguous));
    assert_eq!(provider.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn refused_requests_are_not_retried_and_do_not_trip_the_circuit() {
    let provider: Arc<ScriptedProvider> = Arc::default();
    for _ in 0..6 {
        provider.answer_next_create(Err(ProviderError::Rejected {
            status: 400,
            code: Some("21211".into()),
            message: "invalid To".into(),
        }));
    }
    let gw = gateway(provider.clone(), Rate::per_second(100)).await;
    let results = create_many(&gw, 6).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(ProviderError::Rejected { .. }))));
    assert_eq!(provider.arrivals().len(), 6);
    assert_eq!(stats(&gw).await.circuit_state, CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn sms_draw_from_their_own_quota_and_never_delay_calls() {
    use callvisor_actors::ports::SmsRequest;
    let provider: Arc<ScriptedProvider> = Arc::default();
    let gw = gateway(provider.clone(), Rate::per_second(100)).await;
    let start = Instant::now();
    let texts: Vec<_> = (0..3)
        .map(|i| {
            let gw = gw.clone();
            tokio::spawn(async move {
                let sms = SmsRequest {
                    to: PhoneNumber::parse("+14155550101").unwrap(),
                    from: PhoneNumber::parse("+14155550100").unwrap(),
                    body: format!("message {i}"),
                };
                ask(&gw, |tx| GatewayMsg::SendSms(sms, tx), FOREVER)
                    .await
                    .unwrap()
            })
        })
        .collect();
    // Let the messages take their permits first, then place calls behind them.
    tokio::task::yield_now().await;
    let calls = create_many(&gw, 3).await;
    assert!(calls.iter().all(Result::is_ok));
    let calls_done = start.elapsed();
    for t in texts {
        assert!(t.await.unwrap().is_ok());
    }
    let sms_times: Vec<Duration> = provider.sms_arrivals().iter().map(|t| *t - start).collect();
    assert_eq!(sms_times.len(), 3);
    assert_eq!(
        sms_times[2] - sms_times[0],
        Duration::from_secs(2),
        "3 SMS at 1 per second take 2 s: {sms_times:?}"
    );
    assert!(
        calls_done < Duration::from_millis(100),
        "create-calls waited for the SMS quota: {calls_done:?}"
    );
    assert_eq!(provider.messages().len(), 3);
    let s = stats(&gw).await;
    assert_eq!(s.sms_limiter.granted, 3);
    assert_eq!(s.create_call_limiter.granted, 3);
}
