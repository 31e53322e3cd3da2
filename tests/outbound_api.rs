//! Placing calls over HTTP beyond one-at-a-time: bulk requests with per-item errors,
//! scheduled calls, retry policies, and the bad input each of them refuses. Black box:
//! a real server on SQLite with the simulator, driven through the API.

mod common;

use callvisor::http::auth::Role;
use common::{spawn_app, Db, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// Every call of the client, through the paged list.
async fn all_calls(app: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let mut calls = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let page = app
            .send(
                "GET",
                &format!("/api/v1/calls?limit=200{query}{cursor}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        calls.extend(page.data()["calls"].as_array().unwrap().iter().cloned());
        match page.data()["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return calls,
        }
    }
    panic!("the call list never ended");
}

/// A server, one of its agents, and a manager's token for the agent's client.
async fn manager_of_a_client(flags: &[&str]) -> (TestServer, String, String) {
    let app = spawn_app(Db::Sqlite, flags).await;
    let (client, agent) = app.tenant(10).await;
    let token = app.token(Role::Manager, Some(client));
    (app, agent, token)
}

/// `POST /api/v1/calls/outbound/bulk` with `calls`.
async fn bulk(app: &TestServer, token: &str, calls: Value) -> common::Reply {
    app.send(
        "POST",
        "/api/v1/calls/outbound/bulk",
        Some(token),
        Some(json!({ "calls": calls })),
    )
    .await
}

/// `POST /api/v1/calls/outbound` with `body`.
async fn place(app: &TestServer, token: &str, body: Value) -> common::Reply {
    app.send("POST", "/api/v1/calls/outbound", Some(token), Some(body))
        .await
}

#[tokio::test]
async fn a_bulk_of_a_thousand_accepts_the_valid_and_names_each_invalid_by_index() {
    let (app, agent, token) = manager_of_a_client(&[]).await;
    let invalid: Vec<usize> = (0..10).map(|i| i * 97 + 3).collect();
    let calls: Vec<Value> = (0..1000)
        .map(|i| {
            let phone = if invalid.contains(&i) {
                format!("+0{i}") // E.164 never starts with 0
            } else {
                format!("+1415555{:04}", i)
            };
            json!({"phoneNumber": phone, "agentId": agent, "metadata": {"row": i}})
        })
        .collect();
    let r = bulk(&app, &token, json!(calls)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let data = r.data();
    assert_eq!(
        (&data["total"], &data["successful"], &data["failed"]),
        (&json!(1000), &json!(990), &json!(10))
    );
    let errors = data["errors"].as_array().unwrap();
    let indexes: Vec<usize> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(indexes, invalid);
    assert!(errors.iter().all(|e| e["code"] == "INVALID_PHONE_NUMBER"));
    let ids = data["callIds"].as_array().unwrap();
    assert_eq!(ids.len(), 990);

    // The 990 are real calls, queued for their slots (at most 10 at a time).
    let stored = all_calls(&app, &token, "").await;
    assert_eq!(stored.len(), 990);
    let live_with_slot = stored
        .iter()
        .filter(|c| !c["slotGrantedAt"].is_null() && c["endedAt"].is_null())
        .count();
    assert!(live_with_slot <= 10, "{live_with_slot} calls hold slots");

    // 1001 calls are refused whole, and nothing is created.
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"phoneNumber": "+14155550101", "agentId": agent}))
        .collect();
    let r = bulk(&app, &token, json!(too_many)).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("calls"));
    assert_eq!(all_calls(&app, &token, "").await.len(), 990);
    app.stop().await;
}

#[tokio::test]
async fn bulk_items_fail_alone_with_their_own_codes_and_an_all_bad_bulk_is_refused() {
    let (app, agent, token) = manager_of_a_client(&[]).await;
    let calls = json!([
        {"phoneNumber": "+14155550101", "agentId": agent},
        {"phoneNumber": "+14155550102", "agentId": "0192f0c1-0000-7000-8000-000000000000"},
        {"phoneNumber": "+14155550103", "agentId": agent, "colour": "blue"},
        {"phoneNumber": "+14155550104", "agentId": agent, "metadata": [1, 2]},
    ]);
    let r = bulk(&app, &token, json!(calls)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let codes: Vec<(u64, &str)> = r.data()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "AGENT_NOT_FOUND"),
            (2, "VALIDATION_ERROR"),
            (3, "VALIDATION_ERROR")
        ]
    );

    let r = bulk(
        &app,
        &token,
        json!([{"phoneNumber": "12", "agentId": agent}]),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    let r = bulk(&app, &token, json!([])).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    assert_eq!(all_calls(&app, &token, "").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_scheduled_call_moves_into_business_hours_and_can_be_canceled_before_it_runs() {
    let (app, agent, token) = manager_of_a_client(&[]).await;
    // Next year's first Monday of March, 08:00 in Kolkata: one hour before opening.
    let r = place(
        &app,
        &token,
        json!({
            "phoneNumber": "+919876543210", "agentId": agent,
            "scheduledFor": "2027-03-01T08:00:00", "timezone": "Asia/Kolkata",
            "businessHours": {"start": "09:00", "end": "18:00", "daysOfWeek": [1, 2, 3, 4, 5]},
            "recurrence": {"frequency": "weekly", "maxOccurrences": 4}
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["status"], "queued");
    assert_eq!(r.data()["scheduledAt"], "2027-03-01T03:30:00Z");
    let id = r.data()["callId"].as_str().unwrap().to_string();

    let call = app.call(&token, &id).await;
    assert_eq!(call["notBefore"], "2027-03-01T03:30:00Z");
    assert_eq!(call["occurrence"], 1);
    assert_eq!(call["seriesId"], id.as_str());
    assert_eq!(call["schedule"]["timezone"], "Asia/Kolkata");
    assert_eq!(call["schedule"]["recurrence"]["frequency"], "weekly");
    assert!(call["slotGrantedAt"].is_null());
    assert!(app.dials().is_empty());
    let active = app
        .send("GET", "/api/v1/calls/active", Some(&token), None)
        .await;
    let counts = (
        &active.data()["activeCalls"],
        &active.data()["waitingCalls"],
        &active.data()["scheduledCalls"],
    );
    assert_eq!(counts, (&json!(0), &json!(0), &json!(1)), "{}", active.body);

    let r = app
        .send(
            "POST",
            &format!("/api/v1/calls/{id}/cancel"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["status"], "canceled");
    let r = app
        .send(
            "POST",
            &format!("/api/v1/calls/{id}/cancel"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "INVALID_STATE"));
    assert!(app.dials().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn bad_schedules_and_retry_policies_are_refused_with_the_field_named() {
    let (app, agent, token) = manager_of_a_client(&[]).await;
    let base = json!({"phoneNumber": "+14155550101", "agentId": agent});
    let cases = [
        (json!({"scheduledFor": "next tuesday"}), "scheduledFor"),
        (
            json!({"scheduledFor": "2020-01-01T08:00:00"}),
            "scheduledFor",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (json!({"timezone": "Asia/Kolkata"}), "timezone"),
        (
            json!({"businessHours": {"start": "09:00", "end": "18:00", "daysOfWeek": [1]}}),
            "businessHours",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "businessHours": {"start": "18:00", "end": "09:00", "daysOfWeek": [1]}}),
            "businessHours.end",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "businessHours": {"start": "9am", "end": "18:00", "daysOfWeek": [1]}}),
            "businessHours.start",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "businessHours": {"start": "09:00", "end": "18:00", "daysOfWeek": [7]}}),
            "businessHours.daysOfWeek",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "recurrence": {"frequency": "hourly"}}),
            "hourly",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "recurrence": {"frequency": "daily", "interval": 0}}),
            "recurrence.interval",
        ),
        (
            json!({"scheduledFor": "2030-01-01T08:00:00", "recurrence": {"frequency": "daily", "endDate": "2029-12-31"}}),
            "recurrence.endDate",
        ),
        (
            json!({"retryPolicy": {"maxAttempts": 1}}),
            "retryPolicy.maxAttempts",
        ),
        (
            json!({"retryPolicy": {"maxAttempts": 3, "retryOn": ["invalid_number"]}}),
            "retryPolicy.retryOn",
        ),
        (
            json!({"retryPolicy": {"maxAttempts": 3, "retryOn": ["bad_luck"]}}),
            "bad_luck",
        ),
        (
            json!({"retryPolicy": {"maxAttempts": 3, "backoffSeconds": 0}}),
            "retryPolicy.backoffSeconds",
        ),
    ];
    for (extra, named) in cases {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = place(&app, &token, body).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "VALIDATION_ERROR"),
            "{extra}: {}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(named),
            "{extra}: '{message}' does not name {named}"
        );
    }
    assert!(
        all_calls(&app, &token, "").await.is_empty(),
        "nothing created"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_busy_call_with_a_retry_policy_is_dialed_again_as_numbered_linked_attempts() {
    let (app, agent, token) = manager_of_a_client(&[
        "--sim-answer-rate",
        "0",
        "--sim-busy-rate",
        "1",
        "--twilio-calls-per-second",
        "50",
    ])
    .await;
    let r = place(&app, &token, json!({
                "phoneNumber": "+14155550101", "agentId": agent,
                "retryPolicy": {"maxAttempts": 3, "backoffSeconds": 1, "backoffMultiplier": 1, "retryOn": ["busy"]}
            })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let first = r.data()["callId"].as_str().unwrap().to_string();
    let query = format!("&originalCallId={first}");
    let mut retries = Vec::new();
    for _ in 0..200 {
        retries = all_calls(&app, &token, &query).await;
        if retries.len() == 2 && retries.iter().all(|c| c["status"] == "busy") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    retries.sort_by_key(|c| c["attempt"].as_u64());
    let attempts: Vec<u64> = retries
        .iter()
        .map(|c| c["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, vec![2, 3], "{retries:?}");
    assert!(retries
        .iter()
        .all(|c| c["status"] == "busy" && c["failureReason"] == "busy"));
    let original = app.call(&token, &first).await;
    assert_eq!(original["failureReason"], "busy");
    assert_eq!(original["nextAttemptId"], retries[0]["id"]);
    assert_eq!(retries[0]["nextAttemptId"], retries[1]["id"]);
    assert!(retries[1]["nextAttemptId"].is_null(), "no fourth attempt");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.dials().len(), 3, "three dials in all");
    app.stop().await;
}
