//! The real Plivo adapter against the simulator's Plivo flavor, over real sockets: what
//! one says the other must understand, signed callbacks included.

mod common;

use callvisor::providers::fields::field;
use callvisor::providers::plivo::{parse_callback, verify, PlivoConfig, PlivoProvider};
use callvisor::sim::{Flavor, SimConfig, SimHandle};
use callvisor_actors::domain::{CallStatus, FailureReason, PhoneNumber};
use callvisor_actors::ports::{CallListQuery, HangUp, Provider, ProviderError};
use chrono::{Duration as ChronoDuration, Utc};
use common::receiver::{Received, Receiver};
use common::sim_harness::{around_now, dial, start_sim};
use std::time::Duration;

fn fast(answer: f64, busy: f64) -> SimConfig {
    SimConfig {
        flavor: Flavor::Plivo,
        answer_rate: answer,
        busy_rate: busy,
        fail_rate: 0.0,
        ring: (Duration::from_millis(20), Duration::from_millis(40)),
        talk: (Duration::from_millis(20), Duration::from_millis(40)),
        callback_delay: Duration::from_millis(5),
        ..SimConfig::default()
    }
}

fn client_with(sim: &SimHandle, auth_id: &str, token: &str) -> PlivoProvider {
    PlivoProvider::new(PlivoConfig {
        auth_id: auth_id.into(),
        auth_token: token.into(),
        api_base: sim.base_url(),
        request_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn client(sim: &SimHandle) -> PlivoProvider {
    let c = sim.config();
    client_with(sim, &c.account_sid, &c.auth_token)
}

fn status(r: &Received) -> &str {
    r.field("CallStatus").unwrap_or_default()
}

/// The callback is signed as Plivo signs, over the URL it was sent to.
fn assert_signed(token: &str, r: &Received) {
    let signature = r.header("X-Plivo-Signature-V3").expect("signed");
    let nonce = r.header("X-Plivo-Signature-V3-Nonce").expect("nonce");
    assert!(verify(token, &r.url, &r.form(), nonce, signature), "{r:?}");
    assert!(!verify(
        "another-token",
        &r.url,
        &r.form(),
        nonce,
        signature
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_rings_and_hangs_up_signed_and_in_order() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let plivo = client(&sim);
    let token = sim.config().auth_token.clone();

    let accepted = plivo
        .create_call(&dial("+14155550101", hooks.hook("c1")))
        .await
        .unwrap();
    assert_eq!(accepted.status, CallStatus::Queued);
    let request_uuid = accepted.provider_call_id;
    assert_eq!(sim.dials()[0].sid, request_uuid);
    assert_eq!(
        sim.dials()[0].to,
        "14155550101",
        "Plivo takes numbers without +"
    );

    let ring = hooks.next().await;
    let hangup = hooks.next().await;
    assert_eq!((status(&ring), status(&hangup)), ("ringing", "completed"));
    for r in [&ring, &hangup] {
        assert_eq!(r.url, hooks.hook("c1"));
        assert_signed(&token, r);
        assert_eq!(r.field("RequestUUID"), Some(request_uuid.as_str()));
    }
    let rang = parse_callback(&ring.form()).unwrap();
    assert_ne!(rang.call_uuid, request_uuid);
    assert_eq!(
        rang.observation.supersedes.as_deref(),
        Some(request_uuid.as_str())
    );
    let ended = parse_callback(&hangup.form()).unwrap();
    assert_eq!(ended.call_uuid, rang.call_uuid);
    assert_eq!(ended.observation.status, CallStatus::Completed);
    assert_eq!(ended.observation.failure_reason, None);
    assert!(ended.observation.duration_seconds.is_some_and(|d| d >= 1));
    assert_eq!(
        field(&hangup.form(), "HangupCause"),
        Some("NORMAL_CLEARING")
    );

    let record = plivo.fetch_call(&rang.call_uuid).await.unwrap();
    assert_eq!(record.provider_call_id, rang.call_uuid);
    assert_eq!(record.to, "+14155550101");
    assert_eq!(record.observation.status, CallStatus::Completed);
    assert_eq!(
        record.observation.duration_seconds,
        ended.observation.duration_seconds
    );
    assert_eq!(record.observation.price.as_deref(), Some("0.00950"));
    assert!(record.started_at.unwrap() <= record.ended_at.unwrap());
    // The request id is not a call id.
    assert!(matches!(
        plivo.fetch_call(&request_uuid).await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    hooks.assert_silent(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_pages_through_every_finished_call() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let plivo = client(&sim);
    let numbers = [
        "+14155550101",
        "+14155550102",
        "+14155550101",
        "+14155550103",
        "+14155550101",
    ];
    for (i, to) in numbers.into_iter().enumerate() {
        plivo
            .create_call(&dial(to, hooks.hook(&i.to_string())))
            .await
            .unwrap();
    }
    let mut call_uuids = Vec::new();
    let mut finished = 0;
    while finished < numbers.len() {
        let r = hooks.next().await;
        if status(&r) != "ringing" {
            finished += 1;
            call_uuids.push(r.field("CallUUID").unwrap().to_string());
        }
    }
    let paged = plivo.clone().with_page_size(2);
    let mut listed: Vec<String> = paged
        .list_calls(&around_now())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.provider_call_id)
        .collect();
    listed.sort();
    call_uuids.sort();
    assert_eq!(listed, call_uuids);

    let to_one = CallListQuery {
        to: Some("+14155550101".into()),
        ..around_now()
    };
    assert_eq!(paged.list_calls(&to_one).await.unwrap().len(), 3);
    let earlier = CallListQuery {
        started_after: Utc::now() - ChronoDuration::hours(2),
        started_before: Utc::now() - ChronoDuration::hours(1),
        to: None,
    };
    assert!(plivo.list_calls(&earlier).await.unwrap().is_empty());
    // A range of 70 days is asked for in three windows and still finds every call.
    let long = CallListQuery {
        started_after: Utc::now() - ChronoDuration::days(70),
        started_before: Utc::now() + ChronoDuration::minutes(1),
        to: None,
    };
    assert_eq!(paged.list_calls(&long).await.unwrap().len(), 5);

    // The raw pages: two at a time, linked by meta.next.
    let raw = reqwest::Client::new();
    let account = sim.config().account_sid.clone();
    let mut next = Some(format!("/v1/Account/{account}/Call/?limit=2&offset=0"));
    let mut sizes = Vec::new();
    while let Some(uri) = next {
        let page: serde_json::Value = raw
            .get(format!("{}{uri}", sim.base_url()))
            .basic_auth(&account, Some(&sim.config().auth_token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["meta"]["total_count"], 5);
        next = page["meta"]["next"].as_str().map(str::to_owned);
        sizes.push(page["objects"].as_array().map_or(0, Vec::len));
        assert!(sizes.len() <= 3, "paging does not end");
    }
    assert_eq!(sizes, [2, 2, 1]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_ends_a_ringing_or_answered_call() {
    let config = SimConfig {
        ring: (Duration::from_millis(400), Duration::from_millis(400)),
        talk: (Duration::from_secs(30), Duration::from_secs(30)),
        ..fast(1.0, 0.0)
    };
    let sim = start_sim(config).await;
    let mut hooks = Receiver::start().await;
    let plivo = client(&sim);

    // A ringing call is canceled.
    plivo
        .create_call(&dial("+14155550101", hooks.hook("ringing")))
        .await
        .unwrap();
    let ring = hooks.next().await;
    let call_uuid = ring.field("CallUUID").unwrap().to_string();
    plivo.hang_up(&call_uuid, HangUp::Cancel).await.unwrap();
    let hangup = hooks.next().await;
    assert_eq!(status(&hangup), "cancel");
    let observed = parse_callback(&hangup.form()).unwrap().observation;
    assert_eq!(observed.failure_reason, Some(FailureReason::Canceled));
    let record = plivo.fetch_call(&call_uuid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Canceled);
    // A call that is over is not a live call any more.
    assert!(matches!(
        plivo.hang_up(&call_uuid, HangUp::Complete).await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    hooks.assert_silent(Duration::from_millis(600)).await;

    // An answered call is hung up and completes.
    plivo
        .create_call(&dial("+14155550102", hooks.hook("answered")))
        .await
        .unwrap();
    let call_uuid = hooks.next().await.field("CallUUID").unwrap().to_string();
    for _ in 0..100 {
        let live = plivo.fetch_call(&call_uuid).await.unwrap();
        if live.observation.status == CallStatus::InProgress {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    plivo.hang_up(&call_uuid, HangUp::Complete).await.unwrap();
    let hangup = hooks.next().await;
    assert_eq!(status(&hangup), "completed");
    let record = plivo.fetch_call(&call_uuid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Completed);
    assert!(record.observation.duration_seconds.is_some());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_back_as_plivo_errors() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let account = sim.config().account_sid.clone();
    let wrong = client_with(&sim, &account, "not-the-token");
    match wrong
        .create_call(&dial("+14155550101", "http://127.0.0.1:9/h".into()))
        .await
    {
        Err(ProviderError::Rejected {
            status: 401,
            message,
            ..
        }) => {
            assert!(message.contains("Authentication"), "{message}");
        }
        other => panic!("expected a 401 rejection, got {other:?}"),
    }
    let plivo = client(&sim);
    assert!(matches!(
        plivo.fetch_call("no-such-call").await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    assert!(matches!(
        plivo.hang_up("no-such-call", HangUp::Cancel).await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    let bad_number = plivo
        .create_call(&dial("12ab", "http://127.0.0.1:9/h".into()))
        .await
        .unwrap_err();
    assert!(bad_number.is_invalid_number(), "{bad_number:?}");
    assert!(sim.dials().is_empty(), "refused requests are not dials");

    // Malformed requests get Plivo's error body, never a panic or a bare status.
    let raw = reqwest::Client::new();
    let response = raw
        .post(format!("{}/v1/Account/{account}/Call/", sim.base_url()))
        .basic_auth(&account, Some(&sim.config().auth_token))
        .header("content-type", "application/json")
        .body(vec![0xff, b'{'])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["api_id"].is_string() && body["error"].is_string(),
        "{body}"
    );
    let response = raw
        .put(format!("{}/v1/Account/{account}/Call/", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = raw
        .get(format!("{}/nowhere", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].is_string());
    let response = raw
        .get(format!(
            "{}/v1/Account/{account}/Call/?limit=50",
            sim.base_url()
        ))
        .basic_auth(&account, Some(&sim.config().auth_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_line_ends_busy() {
    let sim = start_sim(fast(0.0, 1.0)).await;
    let mut hooks = Receiver::start().await;
    let plivo = client(&sim);
    plivo
        .create_call(&dial("+14155550101", hooks.hook("busy")))
        .await
        .unwrap();
    assert_eq!(status(&hooks.next().await), "ringing");
    let hangup = hooks.next().await;
    assert_eq!(status(&hangup), "busy");
    let ended = parse_callback(&hangup.form()).unwrap();
    assert_eq!(ended.observation.failure_reason, Some(FailureReason::Busy));
    let record = plivo.fetch_call(&ended.call_uuid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Busy);
    assert_eq!(record.observation.failure_reason, Some(FailureReason::Busy));
    sim.shutdown().await;
}

fn sms(to: &str, body: &str) -> callvisor_actors::ports::SmsRequest {
    callvisor_actors::ports::SmsRequest {
        to: PhoneNumber::from_trusted(to.into()),
        from: PhoneNumber::from_trusted("+14155550000".into()),
        body: body.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_sent_logged_and_refused_like_plivo() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let plivo = client(&sim);
    let sent = plivo
        .send_sms(&sms("+14155550101", "Your table is ready"))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id.len(), 36, "{sent:?}");
    let log = sim.messages();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].sid, sent.provider_message_id);
    assert_eq!(
        (
            log[0].to.as_str(),
            log[0].from.as_str(),
            log[0].body.as_str()
        ),
        ("14155550101", "14155550000", "Your table is ready"),
        "Plivo takes numbers without +"
    );
    let bad = plivo.send_sms(&sms("+1", "hi")).await.unwrap_err();
    assert!(
        matches!(&bad, ProviderError::Rejected { status: 400, message, .. } if message.contains("dst")),
        "{bad:?}"
    );
    let wrong = client_with(&sim, &sim.config().account_sid, "wrong-token");
    assert!(matches!(
        wrong.send_sms(&sms("+14155550101", "hi")).await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));
    assert_eq!(sim.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_has_a_recording_and_a_busy_one_none() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let plivo = client(&sim);
    plivo
        .create_call(&dial("+14155550101", hooks.hook("r1")))
        .await
        .unwrap();
    let _ring = hooks.next().await;
    let hangup = hooks.next().await;
    let call_uuid = parse_callback(&hangup.form()).unwrap().call_uuid;
    let url = plivo
        .recording_url(&call_uuid)
        .await
        .unwrap()
        .expect("answered calls are recorded");
    assert_eq!(
        url,
        format!(
            "{}/sim/recordings/{}.mp3",
            sim.base_url(),
            sim.dials()[0].sid
        )
    );
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    let busy_sim = start_sim(fast(0.0, 1.0)).await;
    let busy = client(&busy_sim);
    busy.create_call(&dial("+14155550102", hooks.hook("r2")))
        .await
        .unwrap();
    let ended = loop {
        let r = hooks.next().await;
        if status(&r) == "busy" {
            break r;
        }
    };
    let call_uuid = parse_callback(&ended.form()).unwrap().call_uuid;
    assert_eq!(busy.recording_url(&call_uuid).await.unwrap(), None);
}
