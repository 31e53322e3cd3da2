//! The ConcurrencyBroker on paused time: 500 queued calls of three clients with limits
//! 2, 5 and 10 under a global limit of 12, each holding its slot for a random talk time.

use callvisor_actors::broker::{BrokerMsg, ConcurrencyBroker};
use callvisor_actors::domain::{CallId, ClientId};
use callvisor_actors::rpc::ask;
use ractor::Actor;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const GLOBAL: u32 = 12;

/// What the test sees: calls holding slots per client, and a log of (time, busy, all
/// clients still waiting) to measure utilisation.
#[derive(Default)]
struct Ledger {
    holding: HashMap<ClientId, u32>,
    waiting: HashMap<ClientId, u32>,
    /// (when, slots busy, whether every client still had calls waiting)
    samples: Vec<(Instant, u32, bool)>,
    ended: u32,
}

impl Ledger {
    fn sample(&mut self) {
        let busy = self.holding.values().sum();
        let all_waiting = self.waiting.values().all(|w| *w > 0);
        self.samples.push((Instant::now(), busy, all_waiting));
    }
}

#[tokio::test(start_paused = true)]
async fn queued_calls_keep_every_limit_use_the_global_slots_and_all_finish() {
    let (broker, _) = Actor::spawn(None, ConcurrencyBroker, GLOBAL).await.unwrap();
    let clients = [
        (ClientId::new(), 2u32),
        (ClientId::new(), 5),
        (ClientId::new(), 10),
    ];
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let (client, limit) = clients[i % 3];
        let talk = Duration::from_secs(rng.random_range(10..300));
        *ledger.lock().unwrap().waiting.entry(client).or_default() += 1;
        let (broker, ledger) = (broker.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            let call = CallId::new();
            let lane = format!("campaign-{}", i % 2);
            ask(
                &broker,
                |reply| BrokerMsg::Wait {
                    client,
                    lane,
                    call,
                    client_limit: limit,
                    reply,
                },
                Duration::from_secs(24 * 3600),
            )
            .await
            .expect("every call gets a slot");
            {
                let mut l = ledger.lock().unwrap();
                *l.waiting.get_mut(&client).unwrap() -= 1;
                let held = l.holding.entry(client).or_default();
                *held += 1;
                assert!(*held <= limit, "client above its limit of {limit}");
                assert!(
                    l.holding.values().sum::<u32>() <= GLOBAL,
                    "above the global limit"
                );
                l.sample();
            }
            tokio::time::sleep(talk).await;
            {
                let mut l = ledger.lock().unwrap();
                *l.holding.get_mut(&client).unwrap() -= 1;
                l.ended += 1;
                l.sample();
            }
            broker.cast(BrokerMsg::Release { client, call }).unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let stats = ask(&broker, BrokerMsg::Stats, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (stats.global_in_use, stats.waiting),
        (0, 0),
        "every slot returned"
    );

    let l = ledger.lock().unwrap();
    assert_eq!(l.ended, 500, "every call ended");
    // Time-weighted share of busy global slots while every client still had calls waiting.
    let (mut busy_time, mut total_time) = (0.0, 0.0);
    for pair in l.samples.windows(2) {
        let ((t0, busy, all_waiting), (t1, _, _)) = (pair[0], pair[1]);
        if all_waiting {
            let dt = (t1 - t0).as_secs_f64();
            busy_time += dt * busy as f64 / GLOBAL as f64;
            total_time += dt;
        }
    }
    assert!(total_time > 0.0);
    let utilisation = busy_time / total_time;
    assert!(
        utilisation >= 0.95,
        "global slots busy {:.1} % of the time",
        utilisation * 100.0
    );
}
