//! Exactly-once dialing across crashes, with the real binary: a 2,000-contact campaign
//! dialing a standalone simulator in a process of its own, the server SIGKILLed at five
//! random moments and started again each time. At the end the simulator's own log must
//! hold every contact exactly once (one attempt per contact is allowed, so any second
//! create-call would be a re-dial) and miss none. A SIGTERM in the middle of a campaign
//! is a clean exit, and the next start finishes the campaign the same way.

mod common;

use common::processes::{kill, terminate, Setup};
use common::{say, send};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CONTACTS: usize = 2000;
const CRASHES: usize = 5;

/// A standalone simulator with an outcome mix and calls under a second.
async fn start_sim(setup: &Setup) -> std::process::Child {
    setup
        .start_sim_with(&[
            ("SIM_ANSWER_RATE", "0.8".into()),
            ("SIM_BUSY_RATE", "0.1".into()),
            ("SIM_FAIL_RATE", "0.05".into()),
            ("SIM_RING_SECONDS", "0.1-0.4".into()),
            ("SIM_TALK_SECONDS", "0.1-0.5".into()),
        ])
        .await
}

fn server_env() -> [(&'static str, String); 2] {
    [
        ("TWILIO_CALLS_PER_SECOND", "100".to_string()),
        ("GLOBAL_MAX_CALLS", "50".to_string()),
    ]
}

fn phone(i: usize) -> String {
    format!("+1415666{:04}", i)
}

/// A client allowed 40 calls at once and a started campaign of `contacts` contacts, one
/// attempt each; returns a manager's token and the campaign's id.
async fn running_campaign(
    setup: &Setup,
    http: &reqwest::Client,
    contacts: usize,
) -> (String, String) {
    let base = setup.base();
    let (client, agent, manager) = setup.tenant(http).await;
    let root = common::mint(
        &callvisor::http::auth::JwtKeys::new(common::processes::SECRET.as_bytes()),
        callvisor::http::auth::Role::SuperAdmin,
        None,
        3600,
    );
    let r = send(
        http,
        &base,
        "PATCH",
        &format!("/api/v1/clients/{client}"),
        Some(&root),
        Some(json!({"maxConcurrentCalls": 40})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let contacts: Vec<Value> = (0..contacts)
        .map(|i| json!({"phoneNumber": phone(i)}))
        .collect();
    let r = send(
        http,
        &base,
        "POST",
        "/api/v1/campaigns",
        Some(&manager),
        Some(json!({
            "name": "crash test",
            "agentId": agent,
            "callerId": "+14155550100",
            "contacts": contacts,
            "retryPolicy": {"maxAttempts": 1, "backoffSeconds": 1, "retryOn": ["busy"]},
            "pacing": {"maxConcurrent": 40},
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = send(
        http,
        &base,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    (manager, id)
}

/// The campaign's progress once it has completed (bounded wait).
async fn completed_progress(
    setup: &Setup,
    http: &reqwest::Client,
    manager: &str,
    id: &str,
) -> Value {
    let mut progress = Value::Null;
    for _ in 0..1200 {
        let r = send(
            http,
            &setup.base(),
            "GET",
            &format!("/api/v1/campaigns/{id}/progress"),
            Some(manager),
            None,
        )
        .await;
        progress = r.data().clone();
        if progress["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress["status"], "completed", "{progress}");
    progress
}

/// How many times the simulator was asked to dial each number.
async fn dials_per_number(setup: &Setup, http: &reqwest::Client) -> BTreeMap<String, usize> {
    let mut per_number: BTreeMap<String, usize> = BTreeMap::new();
    for dial in setup.dials(http).await {
        *per_number
            .entry(dial["to"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    per_number
}

/// Every one of the first `contacts` numbers was dialed exactly once.
fn assert_each_dialed_once(per_number: &BTreeMap<String, usize>, contacts: usize) {
    let missing: Vec<String> = (0..contacts)
        .map(phone)
        .filter(|p| !per_number.contains_key(p))
        .collect();
    let repeated: Vec<(&String, &usize)> = per_number.iter().filter(|(_, n)| **n > 1).collect();
    assert!(missing.is_empty(), "never dialed: {missing:?}");
    assert!(repeated.is_empty(), "dialed more than once: {repeated:?}");
    assert_eq!(per_number.len(), contacts);
}

#[tokio::test]
async fn a_campaign_sigkilled_five_times_dials_every_contact_exactly_once() {
    let setup = Setup::new();
    let sim = start_sim(&setup).await;
    let server_env = server_env();
    let mut server = setup.start_server_with(&server_env).await;
    let http = reqwest::Client::new();
    let (manager, id) = running_campaign(&setup, &http, CONTACTS).await;

    let mut rng = rand::rng();
    for crash in 1..=CRASHES {
        let wait = Duration::from_millis(rng.random_range(300..3000));
        tokio::time::sleep(wait).await;
        let before = setup.dials(&http).await.len();
        kill(server);
        let started = Instant::now();
        server = setup.start_server_with(&server_env).await;
        let after_kill = setup.dials(&http).await.len();
        let mut first_dial = None;
        for _ in 0..400 {
            if setup.dials(&http).await.len() > after_kill {
                first_dial = Some(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        say(&format!(
            "crash {crash}: SIGKILL after {wait:?} with {before} dials made; \
             restarted, first new dial {:?} after process start",
            first_dial
        ));
    }

    // The campaign finishes on its own after the last restart.
    let progress = completed_progress(&setup, &http, &manager, &id).await;
    assert_eq!(progress["processedContacts"], CONTACTS);
    assert_each_dialed_once(&dials_per_number(&setup, &http).await, CONTACTS);
    assert_eq!(progress["dials"], CONTACTS, "{progress}");

    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test]
async fn sigterm_during_a_campaign_exits_cleanly_and_the_next_start_finishes_it() {
    const SMALL: usize = 300;
    let setup = Setup::new();
    let sim = start_sim(&setup).await;
    let server_env = server_env();
    let server = setup.start_server_with(&server_env).await;
    let http = reqwest::Client::new();
    let (manager, id) = running_campaign(&setup, &http, SMALL).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let status = terminate(server).await;
    assert!(status.success(), "clean exit: {status}");
    let at_exit = setup.dials(&http).await.len();
    assert!(at_exit < SMALL, "the campaign was over before the SIGTERM");

    let server = setup.start_server_with(&server_env).await;
    let progress = completed_progress(&setup, &http, &manager, &id).await;
    assert_eq!(progress["processedContacts"], SMALL);
    assert_each_dialed_once(&dials_per_number(&setup, &http).await, SMALL);
    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}
