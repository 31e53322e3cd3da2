//! The real Exotel adapter against the simulator's Exotel flavor, over real sockets:
//! what one says the other must understand, callbacks included.

mod common;

use callvisor::providers::exotel::{parse_callback, ExotelConfig, ExotelProvider};
use callvisor::providers::fields::json_pairs;
use callvisor::sim::{Flavor, SimConfig, SimHandle};
use callvisor_actors::domain::{CallStatus, FailureReason, PhoneNumber};
use callvisor_actors::ports::{CallListQuery, DialRequest, HangUp, Provider, ProviderError};
use chrono::{Duration as ChronoDuration, Utc};
use common::receiver::Receiver;
use common::sim_harness::{around_now, dial_with, start_sim};
use std::time::Duration;

fn fast(answer: f64, busy: f64) -> SimConfig {
    SimConfig {
        flavor: Flavor::Exotel,
        answer_rate: answer,
        busy_rate: busy,
        fail_rate: 0.0,
        ring: (Duration::from_millis(20), Duration::from_millis(40)),
        talk: (Duration::from_millis(20), Duration::from_millis(40)),
        callback_delay: Duration::from_millis(5),
        ..SimConfig::default()
    }
}

fn client_with(sim: &SimHandle, key: &str, token: &str) -> ExotelProvider {
    ExotelProvider::new(ExotelConfig {
        sid: sim.config().account_sid.clone(),
        api_key: key.into(),
        api_token: token.into(),
        caller_id: Some("08030752400".into()),
        api_base: sim.base_url(),
        request_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn client(sim: &SimHandle) -> ExotelProvider {
    let c = sim.config();
    client_with(sim, &c.api_key, &c.auth_token)
}

fn dial(to: &str, status_callback_url: String) -> DialRequest {
    dial_with(
        to,
        "http://my.exotel.com/acme/exoml/start_voice/1",
        status_callback_url,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_reports_answered_then_terminal() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let exotel = client(&sim);

    let call_id = "0192f0c4-1b2c-7d3e-8f40-123456789abc";
    let hook = format!("{}/hook?token=s3cret&callId={call_id}", hooks.base);
    let accepted = exotel
        .create_call(&dial("+919999900001", hook.clone()))
        .await
        .unwrap();
    assert_eq!(accepted.status, CallStatus::Queued);
    let sid = accepted.provider_call_id;
    assert!(
        sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sid}"
    );
    let dialed = &sim.dials()[0];
    assert_eq!(
        (dialed.to.as_str(), dialed.from.as_str()),
        ("+919999900001", "08030752400")
    );

    let answered = hooks.next().await;
    let terminal = hooks.next().await;
    for r in [&answered, &terminal] {
        assert_eq!(
            r.url, hook,
            "the token and our call id come back in the URL"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["CallSid"], sid.as_str());
    }
    assert_eq!(answered.json()["EventType"], "answered");
    assert_eq!(terminal.json()["EventType"], "terminal");
    assert_eq!(terminal.json()["CustomField"], call_id);
    let first = parse_callback(&json_pairs(&answered.json())).unwrap();
    assert_eq!(first.observation.status, CallStatus::InProgress);
    assert_eq!(first.custom_field, None);
    let last = parse_callback(&json_pairs(&terminal.json())).unwrap();
    assert_eq!(last.observation.status, CallStatus::Completed);
    assert_eq!(last.custom_field.as_deref(), Some(call_id));
    assert!(last.observation.duration_seconds.is_some_and(|d| d >= 1));
    assert!(last
        .updated_at
        .is_some_and(|t| (Utc::now() - t).num_seconds().abs() < 60));

    let record = exotel.fetch_call(&sid).await.unwrap();
    assert_eq!(record.provider_call_id, sid);
    assert_eq!(record.to, "+919999900001");
    assert_eq!(record.observation.status, CallStatus::Completed);
    assert_eq!(
        record.observation.duration_seconds,
        last.observation.duration_seconds
    );
    assert!(record.started_at.unwrap() <= record.ended_at.unwrap());
    hooks.assert_silent(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_list_pages_through_every_call_in_the_range() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let hooks = Receiver::start().await;
    let exotel = client(&sim);
    let mut sids = Vec::new();
    for (i, to) in [
        "+919999900001",
        "+919999900002",
        "+919999900001",
        "+919999900003",
        "+919999900001",
    ]
    .into_iter()
    .enumerate()
    {
        let accepted = exotel
            .create_call(&dial(to, hooks.hook(&i.to_string())))
            .await
            .unwrap();
        sids.push(accepted.provider_call_id);
    }
    let paged = exotel.clone().with_page_size(2);
    let listed: Vec<String> = paged
        .list_calls(&around_now())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.provider_call_id)
        .collect();
    assert_eq!(listed, sids, "oldest first, as asked");
    let to_one = CallListQuery {
        to: Some("+919999900001".into()),
        ..around_now()
    };
    assert_eq!(paged.list_calls(&to_one).await.unwrap().len(), 3);
    let earlier = CallListQuery {
        started_after: Utc::now() - ChronoDuration::hours(2),
        started_before: Utc::now() - ChronoDuration::hours(1),
        to: None,
    };
    assert!(exotel.list_calls(&earlier).await.unwrap().is_empty());

    // The raw pages: two at a time, linked by Metadata.NextPageUri.
    let raw = reqwest::Client::new();
    let account = sim.config().account_sid.clone();
    let mut next = Some(format!("/v1/Accounts/{account}/Calls.json?PageSize=2"));
    let mut sizes = Vec::new();
    while let Some(uri) = next {
        let page: serde_json::Value = raw
            .get(format!("{}{uri}", sim.base_url()))
            .basic_auth(&sim.config().api_key, Some(&sim.config().auth_token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        next = page["Metadata"]["NextPageUri"].as_str().map(str::to_owned);
        sizes.push(page["Calls"].as_array().map_or(0, Vec::len));
        assert!(sizes.len() <= 3, "paging does not end");
    }
    assert_eq!(sizes, [2, 2, 1]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_is_unsupported_and_refusals_are_exotel_errors() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let exotel = client(&sim);
    assert_eq!(
        exotel.hang_up("anything", HangUp::Cancel).await,
        Err(ProviderError::Unsupported(
            "Exotel's v1 API cannot hang up a call"
        ))
    );
    let wrong = client_with(&sim, &sim.config().api_key, "not-the-token");
    assert!(matches!(
        wrong
            .create_call(&dial("+919999900001", "http://127.0.0.1:9/h".into()))
            .await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));
    assert!(matches!(
        exotel.fetch_call("00000000000000000000000000000000").await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
    let bad = exotel
        .create_call(&dial("12ab", "http://127.0.0.1:9/h".into()))
        .await
        .unwrap_err();
    assert!(bad.is_invalid_number(), "{bad:?}");
    assert!(sim.dials().is_empty(), "refused requests are not dials");

    let raw = reqwest::Client::new();
    let account = sim.config().account_sid.clone();
    let response = raw
        .post(format!(
            "{}/v1/Accounts/{account}/Calls/connect.json",
            sim.base_url()
        ))
        .basic_auth(&sim.config().api_key, Some(&sim.config().auth_token))
        .form(&[("From", "+919999900001")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["RestException"]["Status"], 400, "{body}");
    let response = raw
        .delete(format!(
            "{}/v1/Accounts/{account}/Calls/x.json",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_multipart_unless_json_is_asked_for_and_busy_ends_busy() {
    let sim = start_sim(fast(0.0, 1.0)).await;
    let mut hooks = Receiver::start().await;
    let account = sim.config().account_sid.clone();
    let hook = hooks.hook("multipart");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/Accounts/{account}/Calls/connect.json",
            sim.base_url()
        ))
        .basic_auth(&sim.config().api_key, Some(&sim.config().auth_token))
        .form(&[
            ("From", "+919999900001"),
            ("CallerId", "08030752400"),
            ("Url", "http://my.exotel.com/acme/exoml/start_voice/1"),
            ("StatusCallback", hook.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let created: serde_json::Value = response.json().await.unwrap();
    let sid = created["Call"]["Sid"].as_str().unwrap().to_string();
    let terminal = hooks.next().await;
    let content_type = terminal.header("content-type").unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = String::from_utf8(terminal.body.clone()).unwrap();
    assert!(
        body.contains(&format!("name=\"CallSid\"\r\n\r\n{sid}\r\n")),
        "{body}"
    );
    assert!(body.contains("name=\"Status\"\r\n\r\nbusy\r\n"), "{body}");
    assert!(!body.contains("EventType"), "no events were subscribed");
    let record = client(&sim).fetch_call(&sid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Busy);
    assert_eq!(record.observation.failure_reason, Some(FailureReason::Busy));
    sim.shutdown().await;
}

fn sms(to: &str, body: &str) -> callvisor_actors::ports::SmsRequest {
    callvisor_actors::ports::SmsRequest {
        to: PhoneNumber::from_trusted(to.into()),
        from: PhoneNumber::from_trusted("+918030752400".into()),
        body: body.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_sent_logged_and_refused_like_exotel() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let exotel = client(&sim);
    let sent = exotel
        .send_sms(&sms("+919999900001", "Your table is ready"))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id.len(), 32, "{sent:?}");
    assert_eq!(sent.status, "queued");
    let log = sim.messages();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0].to.as_str(),
            log[0].from.as_str(),
            log[0].body.as_str()
        ),
        ("+919999900001", "+918030752400", "Your table is ready")
    );
    let bad = exotel.send_sms(&sms("+1", "hi")).await.unwrap_err();
    assert!(
        matches!(&bad, ProviderError::Rejected { status: 400, message, .. } if message.contains("To")),
        "{bad:?}"
    );
    let wrong = client_with(&sim, &sim.config().api_key, "wrong-token");
    assert!(matches!(
        wrong.send_sms(&sms("+919999900001", "hi")).await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));
    assert_eq!(sim.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_has_a_recording_and_a_busy_one_none() {
    let sim = start_sim(fast(1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let exotel = client(&sim);
    let hook = format!("{}/hook?token=s3cret&callId=r1", hooks.base);
    let sid = exotel
        .create_call(&dial("+919999900001", hook))
        .await
        .unwrap()
        .provider_call_id;
    let _answered = hooks.next().await;
    let terminal = hooks.next().await;
    let expected = format!("{}/sim/recordings/{sid}.mp3", sim.base_url());
    assert_eq!(terminal.json()["RecordingUrl"], expected.as_str());
    assert_eq!(
        exotel.recording_url(&sid).await.unwrap().as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(reqwest::get(&expected).await.unwrap().status(), 200);

    let busy_sim = start_sim(fast(0.0, 1.0)).await;
    let busy = client(&busy_sim);
    let hook = format!("{}/hook?token=s3cret&callId=r2", hooks.base);
    let sid = busy
        .create_call(&dial("+919999900002", hook))
        .await
        .unwrap()
        .provider_call_id;
    let _terminal = hooks.next().await;
    assert_eq!(busy.recording_url(&sid).await.unwrap(), None);
}
