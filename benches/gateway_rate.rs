//! Real-time benchmark of the ProviderGateway's create-call rate limit.
//!
//! The simulator (Twilio flavor) refuses with 429 anything above 20 requests per second.
//! The gateway, configured for 20 create-calls per second, is handed 600 calls at once;
//! the simulator's dial log gives the achieved rate over the 30 s run, and its fault
//! counters the number of 429s. A baseline in the same run sends the same calls with
//! no limiter, to show the limit, not the machine, sets the pace.
//!
//! Run: `cargo bench --bench gateway_rate` (about 40 s).

use callvisor::providers::twilio::{TwilioConfig, TwilioProvider};
use callvisor::sim::{self, faults::FaultConfig, SimConfig};
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::gateway::{
    BreakerPolicy, GatewayConfig, GatewayMsg, ProviderGateway, Rate, RateLimits, RetryPolicy,
};
use callvisor_actors::ports::DialRequest;
use callvisor_actors::rpc::ask;
use ractor::Actor;
use std::sync::Arc;
use std::time::Duration;

const CALLS: usize = 600;
const LIMIT_PER_SECOND: u32 = 20;

struct Run {
    seconds: f64,
    rate: f64,
    rate_limited: u64,
    failed: usize,
}

async fn run(limit: Option<u32>) -> Run {
    // A sink for the simulator's status callbacks.
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_url = format!("http://{}/status", sink.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { "ok" });
        axum::serve(sink, app).await
    });
    let config = SimConfig {
        answer_rate: 1.0,
        busy_rate: 0.0,
        fail_rate: 0.0,
        ring: (Duration::from_secs(1), Duration::from_secs(1)),
        talk: (Duration::from_secs(1), Duration::from_secs(1)),
        faults: FaultConfig {
            rate_limit_per_second: limit,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim::serve(config.clone(), listener).await.unwrap();
    let provider = TwilioProvider::new(TwilioConfig {
        account_sid: config.account_sid.clone(),
        auth_token: config.auth_token.clone(),
        api_base: handle.base_url(),
        request_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let gateway = GatewayConfig {
        provider: Arc::new(provider),
        limits: RateLimits {
            create_call: Rate::per_second(limit.unwrap_or(1_000_000)),
            other: Rate::per_second(100),
            sms: Rate::per_second(100),
            shared: false,
        },
        retry: RetryPolicy::default(),
        breaker: BreakerPolicy::default(),
    };
    let (gw, _) = Actor::spawn(None, ProviderGateway, gateway).await.unwrap();
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let gw = gw.clone();
            let request = DialRequest {
                to: PhoneNumber::parse(&format!("+1415555{:04}", i % 9000 + 1000)).unwrap(),
                from: PhoneNumber::parse("+14155550100").unwrap(),
                answer_url: "http://bot.example/answer".into(),
                status_callback_url: format!("{sink_url}?callId={i}"),
                ring_timeout: Duration::from_secs(60),
                gate: None,
            };
            tokio::spawn(async move {
                ask(
                    &gw,
                    |tx| GatewayMsg::CreateCall(request, tx),
                    Duration::from_secs(600),
                )
                .await
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(Ok(_)))) {
            failed += 1;
        }
    }
    let mut arrivals: Vec<_> = handle.dials().into_iter().map(|d| d.received_at).collect();
    arrivals.sort();
    let span = (*arrivals.last().unwrap() - arrivals[0])
        .num_microseconds()
        .unwrap() as f64
        / 1e6;
    let run = Run {
        seconds: span,
        rate: (arrivals.len() - 1) as f64 / span,
        rate_limited: handle.fault_counts().rate_limited,
        failed,
    };
    gw.stop(None);
    handle.shutdown().await;
    run
}

#[tokio::main]
async fn main() {
    let baseline = run(None).await;
    let limited = run(Some(LIMIT_PER_SECOND)).await;
    println!("calls per run: {CALLS}");
    println!(
        "baseline (no limiter): {:.1} create-calls/s over {:.2} s, {} failed",
        baseline.rate, baseline.seconds, baseline.failed
    );
    println!(
        "limited to {LIMIT_PER_SECOND}/s: {:.2} create-calls/s over {:.2} s, {} failed, simulator 429s: {}",
        limited.rate, limited.seconds, limited.failed, limited.rate_limited
    );
    println!(
        "achieved / configured: {:.4}; baseline / configured: {:.1}",
        limited.rate / LIMIT_PER_SECOND as f64,
        baseline.rate / LIMIT_PER_SECOND as f64
    );
}
