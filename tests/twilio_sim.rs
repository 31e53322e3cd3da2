//! The real Twilio adapter against the provider simulator, over real sockets: what one
//! says the other must understand, callbacks included.

mod common;

use callvisor::providers::twilio::{parse_status_callback, verify, TwilioConfig, TwilioProvider};
use callvisor::sim::{self, SimConfig, SimHandle};
use callvisor_actors::domain::{CallStatus, FailureReason, PhoneNumber};
use callvisor_actors::ports::{CallListQuery, HangUp, Provider, ProviderError};
use chrono::{Duration as ChronoDuration, Utc};
use common::receiver::{Received, Receiver};
use common::sim_harness::{around_now, dial, start_sim};
use std::time::Duration;

/// What the tests read of a Twilio callback.
trait TwilioCallback {
    fn get(&self, name: &str) -> Option<&str>;
    fn status(&self) -> &str;
    fn signature(&self) -> Option<&str>;
}

impl TwilioCallback for Received {
    fn get(&self, name: &str) -> Option<&str> {
        self.field(name)
    }
    fn status(&self) -> &str {
        self.field("CallStatus").unwrap_or("")
    }
    fn signature(&self) -> Option<&str> {
        self.header("X-Twilio-Signature")
    }
}

/// Callbacks until (and including) a final one.
async fn until_final(hooks: &mut Receiver) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        let r = hooks.next().await;
        let done = matches!(
            r.status(),
            "completed" | "busy" | "failed" | "no-answer" | "canceled"
        );
        all.push(r);
        if done {
            return all;
        }
    }
}

fn fast(answer: f64, busy: f64, fail: f64) -> SimConfig {
    SimConfig {
        answer_rate: answer,
        busy_rate: busy,
        fail_rate: fail,
        ring: (Duration::from_millis(100), Duration::from_millis(150)),
        talk: (Duration::from_millis(150), Duration::from_millis(250)),
        callback_delay: Duration::from_millis(10),
        seed: Some(42),
        ..SimConfig::default()
    }
}

fn client_with(sim: &SimHandle, account_sid: &str, auth_token: &str) -> TwilioProvider {
    TwilioProvider::new(TwilioConfig {
        account_sid: account_sid.into(),
        auth_token: auth_token.into(),
        api_base: sim.base_url(),
        request_timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn client(sim: &SimHandle) -> TwilioProvider {
    let c = sim.config();
    client_with(sim, &c.account_sid, &c.auth_token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_reports_every_step_signed_and_in_order() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let twilio = client(&sim);
    let token = sim.config().auth_token.clone();

    let accepted = twilio
        .create_call(&dial("+14155550101", hooks.hook("c1")))
        .await
        .unwrap();
    assert_eq!(accepted.status, CallStatus::Queued);
    let sid = accepted.provider_call_id;
    assert!(sid.starts_with("CA") && sid.len() == 34, "{sid}");

    let got = until_final(&mut hooks).await;
    let statuses: Vec<&str> = got.iter().map(Received::status).collect();
    assert_eq!(
        statuses,
        ["initiated", "ringing", "in-progress", "completed"]
    );
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.url, hooks.hook("c1"));
        let signature = r.signature().expect("signed");
        assert!(verify(&token, &r.url, &r.params, signature), "{r:?}");
        assert!(!verify("another-token", &r.url, &r.params, signature));
        assert_eq!(r.get("SequenceNumber"), Some(i.to_string().as_str()));
        assert_eq!(r.get("CallSid"), Some(sid.as_str()));
        assert_eq!(r.get("AccountSid"), Some(sim.config().account_sid.as_str()));
        assert_eq!(r.get("To"), Some("+14155550101"));
        assert_eq!(r.get("Direction"), Some("outbound-api"));
        assert_eq!(r.get("ApiVersion"), Some("2010-04-01"));
        assert_eq!(r.get("CallbackSource"), Some("call-progress-events"));
        let parsed = parse_status_callback(&r.params).unwrap();
        assert_eq!(parsed.observation.sequence, Some(i as i64));
        assert!(parsed.timestamp.is_some());
    }
    let last = parse_status_callback(&got[3].params).unwrap().observation;
    assert_eq!(last.status, CallStatus::Completed);
    assert_eq!(last.failure_reason, None);
    assert!(last.duration_seconds.is_some_and(|d| d >= 1));
    assert_eq!(got[3].get("SipResponseCode"), Some("200"));
    assert_eq!(got[0].get("CallDuration"), None);

    let record = twilio.fetch_call(&sid).await.unwrap();
    assert_eq!(record.provider_call_id, sid);
    assert_eq!(record.to, "+14155550101");
    assert_eq!(record.observation.status, CallStatus::Completed);
    assert_eq!(record.observation.duration_seconds, last.duration_seconds);
    assert_eq!(record.observation.price.as_deref(), Some("-0.0130"));
    let (started, ended) = (record.started_at.unwrap(), record.ended_at.unwrap());
    assert!(started <= ended);

    hooks.assert_silent(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_pages_through_every_call_in_the_range() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let hooks = Receiver::start().await;
    let twilio = client(&sim);
    let mut sids = Vec::new();
    for (i, to) in [
        "+14155550101",
        "+14155550102",
        "+14155550101",
        "+14155550103",
        "+14155550101",
    ]
    .into_iter()
    .enumerate()
    {
        let accepted = twilio
            .create_call(&dial(to, hooks.hook(&i.to_string())))
            .await
            .unwrap();
        sids.push(accepted.provider_call_id);
    }

    let paged = twilio.clone().with_page_size(2);
    let mut listed: Vec<String> = paged
        .list_calls(&around_now())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.provider_call_id)
        .collect();
    listed.sort();
    let mut expected = sids.clone();
    expected.sort();
    assert_eq!(listed, expected);

    let to_one = CallListQuery {
        to: Some("+14155550101".into()),
        ..around_now()
    };
    let records = paged.list_calls(&to_one).await.unwrap();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.to == "+14155550101"));

    // A range that ends before these calls began finds none of them, although the
    // day-granular query to the API covers today.
    let earlier = CallListQuery {
        started_after: Utc::now() - ChronoDuration::hours(2),
        started_before: Utc::now() - ChronoDuration::hours(1),
        to: None,
    };
    assert!(twilio.list_calls(&earlier).await.unwrap().is_empty());

    // The raw pages: two at a time, newest first, linked by next_page_uri.
    let raw = reqwest::Client::new();
    let account = sim.config().account_sid.clone();
    let mut next = Some(format!(
        "/2010-04-01/Accounts/{account}/Calls.json?PageSize=2"
    ));
    let mut pages = Vec::new();
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
        next = page["next_page_uri"].as_str().map(str::to_owned);
        pages.push(page);
        assert!(pages.len() <= 3, "paging does not end");
    }
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["calls"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
    let newest_first: Vec<&str> = pages
        .iter()
        .flat_map(|p| p["calls"].as_array().into_iter().flatten())
        .filter_map(|c| c["sid"].as_str())
        .collect();
    let mut reversed: Vec<&str> = sids.iter().map(String::as_str).collect();
    reversed.reverse();
    assert_eq!(newest_first, reversed);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_follows_twilio_semantics() {
    let config = SimConfig {
        ring: (Duration::from_millis(400), Duration::from_millis(400)),
        talk: (Duration::from_secs(30), Duration::from_secs(30)),
        ..fast(1.0, 0.0, 0.0)
    };
    let sim = start_sim(config).await;
    let mut hooks = Receiver::start().await;
    let twilio = client(&sim);

    // A ringing call is canceled.
    let sid = twilio
        .create_call(&dial("+14155550101", hooks.hook("ringing")))
        .await
        .unwrap()
        .provider_call_id;
    assert_eq!(hooks.next().await.status(), "initiated");
    assert_eq!(hooks.next().await.status(), "ringing");
    twilio.hang_up(&sid, HangUp::Cancel).await.unwrap();
    let canceled = hooks.next().await;
    assert_eq!(canceled.status(), "canceled");
    assert_eq!(canceled.get("SequenceNumber"), Some("2"));
    assert_eq!(canceled.get("CallDuration"), Some("0"));
    let record = twilio.fetch_call(&sid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Canceled);
    assert_eq!(
        record.observation.failure_reason,
        Some(FailureReason::Canceled)
    );
    assert_eq!(record.observation.duration_seconds, None);
    // Hanging up a call that is over changes nothing, and the script stays stopped.
    twilio.hang_up(&sid, HangUp::Complete).await.unwrap();
    hooks.assert_silent(Duration::from_millis(600)).await;

    // An answered call ignores a cancel, and completes on a hang-up.
    let sid = twilio
        .create_call(&dial("+14155550102", hooks.hook("answered")))
        .await
        .unwrap()
        .provider_call_id;
    loop {
        if hooks.next().await.status() == "in-progress" {
            break;
        }
    }
    twilio.hang_up(&sid, HangUp::Cancel).await.unwrap();
    let still = twilio.fetch_call(&sid).await.unwrap();
    assert_eq!(still.observation.status, CallStatus::InProgress);
    twilio.hang_up(&sid, HangUp::Complete).await.unwrap();
    let completed = hooks.next().await;
    assert_eq!(completed.status(), "completed");
    assert_eq!(completed.get("SequenceNumber"), Some("3"));
    let record = twilio.fetch_call(&sid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Completed);
    assert!(record.observation.duration_seconds.is_some());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_back_as_twilio_errors() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let account = sim.config().account_sid.clone();

    let wrong_token = client_with(&sim, &account, "not-the-token");
    match wrong_token
        .create_call(&dial("+14155550101", "http://127.0.0.1:9/h".into()))
        .await
    {
        Err(ProviderError::Rejected { status, code, .. }) => {
            assert_eq!((status, code.as_deref()), (401, Some("20003")));
        }
        other => panic!("expected a 401 rejection, got {other:?}"),
    }
    let wrong_account = client_with(&sim, "AC00000000000000000000000000000000", "x");
    assert!(matches!(
        wrong_account
            .fetch_call("CA00000000000000000000000000000000")
            .await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));

    let twilio = client(&sim);
    match twilio
        .fetch_call("CA00000000000000000000000000000000")
        .await
    {
        Err(ProviderError::Rejected { status, code, .. }) => {
            assert_eq!((status, code.as_deref()), (404, Some("20404")));
        }
        other => panic!("expected a 404 rejection, got {other:?}"),
    }
    let bad_number = twilio
        .create_call(&dial("12ab", "http://127.0.0.1:9/h".into()))
        .await
        .unwrap_err();
    assert!(bad_number.is_invalid_number(), "{bad_number:?}");
    assert!(sim.dials().is_empty(), "refused requests are not dials");

    // Malformed requests get Twilio's error body too, never a panic or a bare status.
    let raw = reqwest::Client::new();
    let response = raw
        .post(format!(
            "{}/2010-04-01/Accounts/{account}/Calls.json",
            sim.base_url()
        ))
        .basic_auth(&account, Some(&sim.config().auth_token))
        .body(vec![0xff, 0xfe, b'=', b'&', b'%'])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 21201);
    assert_eq!(body["status"], 400);
    let response = raw
        .delete(format!(
            "{}/2010-04-01/Accounts/{account}/Calls.json",
            sim.base_url()
        ))
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
    assert_eq!(body["code"], 20404);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_line_ends_busy() {
    let sim = start_sim(fast(0.0, 1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let twilio = client(&sim);
    let sid = twilio
        .create_call(&dial("+14155550101", hooks.hook("busy")))
        .await
        .unwrap()
        .provider_call_id;
    let got = until_final(&mut hooks).await;
    let statuses: Vec<&str> = got.iter().map(Received::status).collect();
    assert_eq!(statuses, ["initiated", "ringing", "busy"]);
    let last = &got[2];
    assert_eq!(last.get("SipResponseCode"), Some("486"));
    let observed = parse_status_callback(&last.params).unwrap().observation;
    assert_eq!(observed.failure_reason, Some(FailureReason::Busy));
    let record = twilio.fetch_call(&sid).await.unwrap();
    assert_eq!(record.observation.status, CallStatus::Busy);
    assert_eq!(record.observation.price, None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_subscribed_events_are_sent_but_always_the_final_one() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let account = sim.config().account_sid.clone();
    let hook = hooks.hook("quiet");
    let form = [
        ("To", "+14155550101"),
        ("From", "+14155550000"),
        ("Twiml", "<Response><Say>hi</Say></Response>"),
        ("StatusCallback", hook.as_str()),
        ("StatusCallbackEvent", "answered"),
    ];
    let response = reqwest::Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{account}/Calls.json",
            sim.base_url()
        ))
        .basic_auth(&account, Some(&sim.config().auth_token))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(created["status"], "queued");
    assert_eq!(created["direction"], "outbound-api");
    assert!(created["date_created"]
        .as_str()
        .is_some_and(|d| d.ends_with("+0000")));

    let got = until_final(&mut hooks).await;
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|r| (r.status(), r.get("SequenceNumber").unwrap_or("")))
        .collect();
    assert_eq!(seen, [("in-progress", "0"), ("completed", "1")]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dials_are_logged_per_number() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let twilio = client(&sim);
    // Callbacks to a closed port fail, are logged and not retried; the calls go on.
    let nowhere = "http://127.0.0.1:9/hook".to_string();
    for to in [
        "+14155550101",
        "+14155550102",
        "+14155550101",
        "+14155550101",
    ] {
        twilio
            .create_call(&dial(to, nowhere.clone()))
            .await
            .unwrap();
    }
    let dials = sim.dials();
    let count = |n: &str| dials.iter().filter(|d| d.to == n).count();
    assert_eq!((count("+14155550101"), count("+14155550102")), (3, 1));
    assert!(dials
        .iter()
        .all(|d| d.status_callback.as_deref() == Some(nowhere.as_str())));

    let raw = reqwest::Client::new();
    let logged: Vec<sim::DialRecord> = raw
        .get(format!("{}/sim/dials", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logged, dials);
    let health = raw
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_callback_carries_its_fields_in_the_signed_query() {
    let sim = start_sim(fast(0.0, 1.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let account = sim.config().account_sid.clone();
    let hook = hooks.hook("get");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{account}/Calls.json",
            sim.base_url()
        ))
        .basic_auth(&account, Some(&sim.config().auth_token))
        .form(&[
            ("To", "+14155550101"),
            ("From", "+14155550000"),
            ("Url", "https://bot.example/answer"),
            ("StatusCallback", hook.as_str()),
            ("StatusCallbackMethod", "GET"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let busy = hooks.next().await;
    assert!(busy.body.is_empty() && busy.params.is_empty());
    assert!(
        busy.url.starts_with(&format!("{hook}&CallSid=CA")),
        "{}",
        busy.url
    );
    assert!(busy.url.contains("CallStatus=busy"), "{}", busy.url);
    let signature = busy.signature().expect("signed");
    assert!(verify(&sim.config().auth_token, &busy.url, &[], signature));
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
async fn messages_are_sent_logged_and_refused_like_twilio() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let twilio = client(&sim);
    let sent = twilio
        .send_sms(&sms("+14155550101", "Your table is ready"))
        .await
        .unwrap();
    assert!(
        sent.provider_message_id.starts_with("SM") && sent.provider_message_id.len() == 34,
        "{sent:?}"
    );
    assert_eq!(sent.status, "queued");
    let log = sim.messages();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].sid, sent.provider_message_id);
    assert_eq!(
        (
            log[0].to.as_str(),
            log[0].from.as_str(),
            log[0].body.as_str()
        ),
        ("+14155550101", "+14155550000", "Your table is ready")
    );

    let bad_number = twilio.send_sms(&sms("+1", "hi")).await.unwrap_err();
    assert!(
        matches!(&bad_number, ProviderError::Rejected { status: 400, code: Some(c), .. } if c == "21211"),
        "{bad_number:?}"
    );
    assert!(bad_number.is_invalid_number());
    let too_long = twilio
        .send_sms(&sms("+14155550101", &"x".repeat(1601)))
        .await
        .unwrap_err();
    assert!(
        matches!(&too_long, ProviderError::Rejected { status: 400, code: Some(c), .. } if c == "21617"),
        "{too_long:?}"
    );
    let wrong = client_with(&sim, &sim.config().account_sid, "wrong-token");
    assert!(matches!(
        wrong.send_sms(&sms("+14155550101", "hi")).await,
        Err(ProviderError::Rejected { status: 401, .. })
    ));
    assert_eq!(sim.messages().len(), 1, "refused messages are not logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_has_a_recording_and_an_unanswered_one_none() {
    let sim = start_sim(fast(1.0, 0.0, 0.0)).await;
    let mut hooks = Receiver::start().await;
    let twilio = client(&sim);
    let sid = twilio
        .create_call(&dial("+14155550101", hooks.hook("r1")))
        .await
        .unwrap()
        .provider_call_id;
    let got = until_final(&mut hooks).await;
    let last = got.last().unwrap();
    assert_eq!(last.status(), "completed");
    let announced = last.get("RecordingUrl").expect("completed carries it");
    assert!(announced.starts_with(&sim.base_url()), "{announced}");

    let url = twilio
        .recording_url(&sid)
        .await
        .unwrap()
        .expect("answered calls are recorded");
    let hex = sid.trim_start_matches("CA");
    assert_eq!(
        url,
        format!(
            "{}/2010-04-01/Accounts/{}/Recordings/RE{hex}.mp3",
            sim.base_url(),
            sim.config().account_sid
        )
    );
    for audio in [url, format!("{announced}.mp3")] {
        let response = reqwest::get(&audio).await.unwrap();
        assert_eq!(response.status(), 200, "{audio}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "audio/mpeg"
        );
    }

    let busy_sim = start_sim(fast(0.0, 1.0, 0.0)).await;
    let busy = client(&busy_sim);
    let sid = busy
        .create_call(&dial("+14155550102", hooks.hook("r2")))
        .await
        .unwrap()
        .provider_call_id;
    let got = until_final(&mut hooks).await;
    assert_eq!(got.last().unwrap().status(), "busy");
    assert_eq!(got.last().unwrap().get("RecordingUrl"), None);
    assert_eq!(busy.recording_url(&sid).await.unwrap(), None);
    assert!(matches!(
        busy.recording_url("CA00000000000000000000000000000000")
            .await,
        Err(ProviderError::Rejected { status: 404, .. })
    ));
}
