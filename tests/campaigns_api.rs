//! Campaigns over HTTP, black box: a real server with the embedded simulator, driven
//! through the API as an operator would. Creating (and the bad input it refuses),
//! contacts as JSON and as CSV with per-row errors, the operator controls and their
//! state machine, a campaign dialed to completion with its progress, statistics,
//! failure analysis and live events, and tenant isolation on every endpoint.

mod common;

use callvisor::http::auth::Role;
use common::{postgres_url, skip_postgres, spawn_app, Db, Reply, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Flags for a server whose simulator answers every call at once and briefly, without
/// Twilio's one create-call per second.
const FAST: &[&str] = &[
    "--twilio-calls-per-second",
    "200",
    "--sim-ring-seconds",
    "0.05-0.1",
    "--sim-talk-seconds",
    "0.05-0.1",
];

/// A server, one agent, and a manager's token for the agent's client.
async fn manager_of_a_client(db: Db, flags: &[&str]) -> (TestServer, String, String) {
    let app = spawn_app(db, flags).await;
    let (client, agent) = app.tenant(20).await;
    let token = app.token(Role::Manager, Some(client));
    (app, agent, token)
}

fn numbers(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("+1415555{:04}", i)).collect()
}

/// A valid creation body for `agent` with these contacts; `extra` overrides fields.
fn campaign_body(agent: &str, phones: &[String], extra: Value) -> Value {
    let mut body = json!({
        "name": "renewals",
        "agentId": agent,
        "callerId": "+14155550000",
        "timezone": "America/New_York",
        "contacts": phones.iter().map(|p| json!({"phoneNumber": p})).collect::<Vec<_>>(),
        "retryPolicy": {"maxAttempts": 1, "backoffSeconds": 1, "retryOn": ["busy", "no_answer"]},
        "pacing": {"maxConcurrent": 5},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create(app: &TestServer, token: &str, body: Value) -> Reply {
    app.send("POST", "/api/v1/campaigns", Some(token), Some(body))
        .await
}

async fn get(app: &TestServer, token: &str, path: &str) -> Reply {
    app.send("GET", path, Some(token), None).await
}

async fn control(app: &TestServer, token: &str, id: &str, what: &str) -> Reply {
    app.send(
        "POST",
        &format!("/api/v1/campaigns/{id}/{what}"),
        Some(token),
        None,
    )
    .await
}

/// Posts a CSV body to the campaign's contacts.
async fn upload_csv(app: &TestServer, token: &str, id: &str, csv: String) -> Reply {
    let r = app
        .http
        .post(format!("{}/api/v1/campaigns/{id}/contacts", app.base))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    Reply { status, body }
}

/// Polls the campaign until its status is `status` (bounded).
async fn wait_status(app: &TestServer, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..600 {
        let r = get(app, token, &format!("/api/v1/campaigns/{id}")).await;
        if r.data()["status"] == status {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("campaign {id} never became {status}");
}

async fn campaign_count(app: &TestServer, token: &str) -> usize {
    let r = get(app, token, "/api/v1/campaigns").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.data()["campaigns"].as_array().unwrap().len()
}

#[tokio::test]
async fn bad_campaigns_are_refused_naming_the_field_and_nothing_is_created() {
    let (app, agent, token) = manager_of_a_client(Db::Sqlite, &[]).await;
    let phones = numbers(2);
    let cases = [
        (
            json!({"retryPolicy": {"maxAttempts": 3, "backoffSeconds": 60, "retryOn": ["busy", "hung_up_angrily"]}}),
            "retryPolicy.retryOn",
        ),
        (
            json!({"retryPolicy": {"maxAttempts": 3, "backoffSeconds": 60, "retryOn": ["invalid_number"]}}),
            "retryPolicy.retryOn",
        ),
        (
            json!({"window": {"start": "25:00", "end": "18:00", "daysOfWeek": [1, 2]}}),
            "window.start",
        ),
        (
            json!({"window": {"start": "18:00", "end": "09:00", "daysOfWeek": [1]}}),
            "window",
        ),
        (
            json!({"window": {"start": "09:00", "end": "18:00", "daysOfWeek": [8]}}),
            "window.daysOfWeek",
        ),
        (json!({"timezone": "Mars/Olympus_Mons"}), "timezone"),
        (
            json!({"pacing": {"maxConcurrent": 0}}),
            "pacing.maxConcurrent",
        ),
        (json!({"startAt": "next tuesday"}), "startAt"),
        (json!({"callerId": "555"}), "callerId"),
        (
            json!({"contacts": [{"phoneNumber": "+14155550101", "timezone": "Nowhere/Land"}]}),
            "contacts[0].timezone",
        ),
    ];
    for (extra, field) in cases {
        let r = create(&app, &token, campaign_body(&agent, &phones, extra.clone())).await;
        assert_eq!(r.status, 400, "{extra}: {}", r.body);
        assert!(
            ["VALIDATION_ERROR", "INVALID_PHONE_NUMBER"].contains(&r.code()),
            "{extra}: {}",
            r.body
        );
        let named = r.body["error"]["details"]["field"].as_str().unwrap_or("");
        assert!(
            named.starts_with(field),
            "{extra}: expected the field {field}, got {}",
            r.body
        );
    }
    // Unknown fields are refused, not ignored.
    let r = create(
        &app,
        &token,
        campaign_body(&agent, &phones, json!({"speed": "fast"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    // An agent that does not exist.
    let r = create(
        &app,
        &token,
        campaign_body("00000000-0000-0000-0000-000000000000", &phones, json!({})),
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "AGENT_NOT_FOUND"), "{}", r.body);
    assert_eq!(campaign_count(&app, &token).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_csv_upload_keeps_the_good_rows_and_reports_each_bad_one_by_line() {
    let (app, agent, token) = manager_of_a_client(Db::Sqlite, &[]).await;
    let r = create(&app, &token, campaign_body(&agent, &numbers(1), json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["status"], "draft");
    let id = r.data()["id"].as_str().unwrap().to_string();

    let csv = "phoneNumber,name,timezone,plan\n\
               +14155550201,Ada,Europe/London,gold\n\
               not-a-number,Bob,Europe/London,silver\n\
               +14155550203,Cy,Atlantis/Lost_City,gold\n\
               +14155550204,Dee,Asia/Kolkata\n\
               +14155550205,Eve,,bronze\n"
        .to_string();
    let r = upload_csv(&app, &token, &id, csv).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.data();
    assert_eq!(
        (&data["imported"], &data["rejected"]),
        (&json!(2), &json!(3))
    );
    assert_eq!(data["totalContacts"], 3);
    let lines: Vec<u64> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5], "{}", r.body);
    let errors = data["errors"].as_array().unwrap();
    assert_eq!(errors[0]["code"], "INVALID_PHONE_NUMBER");
    assert_eq!(
        errors[0]["field"], "phoneNumber",
        "a row's field is its column"
    );
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("line 3: phoneNumber"));
    assert_eq!(errors[1]["field"], "timezone");
    assert!(errors[2]["message"].as_str().unwrap().contains("fields"));

    // The good rows are there, with their variables.
    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}/contacts")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let contacts = r.data()["contacts"].as_array().unwrap().clone();
    let phones: Vec<&str> = contacts
        .iter()
        .map(|c| c["phoneNumber"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["+14155550000", "+14155550201", "+14155550205"]);
    assert_eq!(contacts[1]["variables"]["plan"], "gold");
    assert_eq!(contacts[1]["timezone"], "Europe/London");

    // JSON contacts: the bad one is named by its index, the good one appended.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(&token),
            Some(json!({"contacts": [{"phoneNumber": "+14155550301"}, {"phoneNumber": "+0"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.data()["imported"], &r.data()["rejected"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(r.data()["errors"][0]["index"], 1);
    assert_eq!(r.data()["totalContacts"], 4);

    // A file with no usable header, or nothing valid, changes nothing.
    let r = upload_csv(&app, &token, &id, "name,plan\nAda,gold\n".into()).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    let r = upload_csv(&app, &token, &id, "phoneNumber\n12\n".into()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(r.data()["totalContacts"], 4);
    app.stop().await;
}

#[tokio::test]
async fn the_controls_follow_the_campaign_state_machine_and_repeat_harmlessly() {
    let (app, agent, token) = manager_of_a_client(Db::Sqlite, FAST).await;
    // Paced slowly so that it is still running while it is steered.
    let body = campaign_body(
        &agent,
        &numbers(50),
        json!({"pacing": {"maxConcurrent": 1, "callsPerMinute": 6}}),
    );
    let r = create(&app, &token, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();

    let r = control(&app, &token, &id, "resume").await;
    assert_eq!((r.status, r.code()), (409, "INVALID_STATE"), "{}", r.body);
    let r = control(&app, &token, &id, "pause").await;
    assert_eq!((r.status, r.code()), (409, "INVALID_STATE"), "{}", r.body);

    let r = control(&app, &token, &id, "start").await;
    assert_eq!(
        (r.status, &r.data()["status"]),
        (200, &json!("running")),
        "{}",
        r.body
    );
    for _ in 0..2 {
        let r = control(&app, &token, &id, "pause").await;
        assert_eq!(
            (r.status, &r.data()["status"]),
            (200, &json!("paused")),
            "{}",
            r.body
        );
        assert_eq!(r.data()["pausedBy"], "test");
        assert!(r.data()["pausedAt"].is_string());
    }
    let paused_dials = app.dials().len();
    for _ in 0..2 {
        let r = control(&app, &token, &id, "resume").await;
        assert_eq!(
            (r.status, &r.data()["status"]),
            (200, &json!("running")),
            "{}",
            r.body
        );
        assert!(r.data()["resumedAt"].is_string());
    }
    for _ in 0..2 {
        let r = control(&app, &token, &id, "cancel").await;
        assert_eq!(
            (r.status, &r.data()["status"]),
            (200, &json!("cancelled")),
            "{}",
            r.body
        );
    }
    for what in ["start", "pause", "resume"] {
        let r = control(&app, &token, &id, what).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "INVALID_STATE"),
            "{what}: {}",
            r.body
        );
    }
    // A cancelled campaign takes no contacts; a 10-per-minute pace dialed at most a few.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(&token),
            Some(json!({"contacts": [{"phoneNumber": "+14155550999"}]})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "INVALID_STATE"), "{}", r.body);
    assert!(paused_dials < 5, "{paused_dials} dials");

    // Given a start time, a campaign is scheduled; a viewer cannot steer it.
    let r = create(
        &app,
        &token,
        campaign_body(
            &agent,
            &numbers(1),
            json!({"startAt": "2099-01-01T09:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["status"], "scheduled");
    let scheduled = r.data()["id"].as_str().unwrap().to_string();
    let client = r.data()["clientId"].as_str().unwrap().parse().unwrap();
    let viewer = app.token(Role::Viewer, Some(client));
    let r = control(&app, &viewer, &scheduled, "start").await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{}", r.body);
    let r = get(&app, &viewer, &format!("/api/v1/campaigns/{scheduled}")).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The list filters by status.
    let r = get(&app, &token, "/api/v1/campaigns?status=scheduled").await;
    let ids: Vec<&str> = r.data()["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [scheduled.as_str()]);
    let r = get(&app, &token, "/api/v1/campaigns?status=sleeping").await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "{}",
        r.body
    );
    assert_eq!(r.body["error"]["details"]["field"], "status", "{}", r.body);
    app.stop().await;
}

/// Runs a campaign of 30 contacts (one on the do-not-call list) to completion against a
/// simulator answering 70 %, and checks every read of it against the calls it made.
async fn a_campaign_runs_to_completion(db: Db) {
    let flags: Vec<&str> = FAST
        .iter()
        .copied()
        .chain(["--sim-answer-rate", "0.7", "--sim-busy-rate", "0.3"])
        .collect();
    let (app, agent, token) = manager_of_a_client(db, &flags).await;
    let phones = numbers(30);
    let body = campaign_body(
        &agent,
        &phones,
        json!({
            "doNotCall": [phones[7]],
            "retryPolicy": {"maxAttempts": 2, "backoffSeconds": 1, "retryOn": ["busy"]},
        }),
    );
    let r = create(&app, &token, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();

    let r = control(&app, &token, &id, "start").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The live stream of the running campaign.
    let mut stream = app
        .http
        .get(format!("{}/api/v1/campaigns/{id}/events", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    let mut seen = String::new();
    for _ in 0..200 {
        match tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
        if seen.contains("event: callEnded") && seen.contains("event: counters") {
            break;
        }
    }
    assert!(seen.starts_with("event: progress"), "{seen}");
    assert!(
        seen.contains("\"percentComplete\""),
        "the first event is the full progress: {seen}"
    );
    assert!(seen.contains("event: counters"), "{seen}");
    assert!(seen.contains("event: callEnded"), "{seen}");
    drop(stream);

    let done = wait_status(&app, &token, &id, "completed").await;
    assert_eq!(done["processedContacts"], 30);
    assert_eq!(done["currentIndex"], 30);

    // The simulator was never asked for the do-not-call number; every other contact was
    // dialed once, or twice when busy the first time.
    let dials = app.dials();
    let dialed: BTreeSet<&str> = dials.iter().map(|d| d.to.as_str()).collect();
    assert!(!dialed.contains(phones[7].as_str()));
    assert_eq!(dialed.len(), 29);
    for phone in &phones {
        let n = dials.iter().filter(|d| &d.to == phone).count();
        assert!(n <= 2, "{phone} dialed {n} times");
    }

    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}/progress")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.data();
    let counts = &p["counts"];
    assert_eq!(p["remainingContacts"], 0);
    assert_eq!(p["percentComplete"], 100.0);
    assert_eq!(counts["doNotCall"], 1);
    assert_eq!(counts["pending"], 0);
    assert_eq!(counts["retrying"], 0);
    assert_eq!(
        counts["connected"].as_u64().unwrap() + counts["failed"].as_u64().unwrap(),
        29,
        "{}",
        r.body
    );
    assert_eq!(p["dials"].as_u64().unwrap() as usize, dials.len());

    // The calls the campaign made are listed under it, one per dial.
    let r = get(
        &app,
        &token,
        &format!("/api/v1/calls?campaignId={id}&limit=200"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = r.data()["calls"].as_array().unwrap();
    assert_eq!(calls.len(), dials.len());
    let completed = calls.iter().filter(|c| c["status"] == "completed").count();
    assert_eq!(completed as u64, counts["connected"].as_u64().unwrap());

    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}/stats")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}/failures")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let groups = r.data()["byReason"].as_array().cloned().unwrap_or_default();
    let failed: u64 = groups.iter().map(|g| g["contacts"].as_u64().unwrap()).sum();
    assert_eq!(failed, counts["failed"].as_u64().unwrap(), "{}", r.body);
    for group in &groups {
        assert!(group["recommendation"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }

    // The do-not-call contact is done, with its reason, and was never attempted.
    let r = get(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/contacts?limit=200"),
    )
    .await;
    let skipped = r.data()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phoneNumber"] == phones[7].as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (&skipped["outcome"], &skipped["attempts"]),
        (&json!("do_not_call"), &json!(0)),
        "{skipped}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_runs_to_completion_on_sqlite() {
    a_campaign_runs_to_completion(Db::Sqlite).await;
}

#[tokio::test]
async fn a_campaign_runs_to_completion_on_postgres() {
    let Some(base) = postgres_url() else {
        return skip_postgres("a_campaign_runs_to_completion_on_postgres");
    };
    let url = common::fresh_postgres_database(&base).await;
    a_campaign_runs_to_completion(Db::Postgres(url)).await;
}

#[tokio::test]
async fn a_manager_of_another_client_gets_404_on_every_campaign_endpoint() {
    let (app, agent, token) = manager_of_a_client(Db::Sqlite, &[]).await;
    let r = create(&app, &token, campaign_body(&agent, &numbers(3), json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let (other_client, _) = app.tenant(5).await;
    let stranger = app.token(Role::Manager, Some(other_client));

    for what in [
        "",
        "/progress",
        "/stats",
        "/failures",
        "/events",
        "/contacts",
    ] {
        let r = get(&app, &stranger, &format!("/api/v1/campaigns/{id}{what}")).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "CAMPAIGN_NOT_FOUND"),
            "GET {what}: {}",
            r.body
        );
    }
    for what in ["start", "pause", "resume", "cancel"] {
        let r = control(&app, &stranger, &id, what).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "CAMPAIGN_NOT_FOUND"),
            "{what}: {}",
            r.body
        );
    }
    let r = app
        .send(
            "POST",
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(&stranger),
            Some(json!({"contacts": [{"phoneNumber": "+14155550999"}]})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "CAMPAIGN_NOT_FOUND"),
        "{}",
        r.body
    );
    let r = upload_csv(&app, &stranger, &id, "phoneNumber\n+14155550998\n".into()).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "CAMPAIGN_NOT_FOUND"),
        "{}",
        r.body
    );
    assert_eq!(campaign_count(&app, &stranger).await, 0);
    // Nor can the stranger's analytics or call list reach into it.
    let r = get(&app, &stranger, &format!("/api/v1/calls?campaignId={id}")).await;
    assert_eq!(
        r.data()["calls"].as_array().map(Vec::len),
        Some(0),
        "{}",
        r.body
    );

    // The owner's campaign is untouched: still a draft of 3 contacts.
    let r = get(&app, &token, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(
        (&r.data()["status"], &r.data()["totalContacts"]),
        (&json!("draft"), &json!(3))
    );
    // A super_admin sees both clients' campaigns, and can narrow by client.
    let root = app.token(Role::SuperAdmin, None);
    let r = get(
        &app,
        &root,
        &format!("/api/v1/campaigns?clientId={other_client}"),
    )
    .await;
    assert_eq!(r.data()["campaigns"].as_array().unwrap().len(), 0);
    assert_eq!(campaign_count(&app, &root).await, 1);
    app.stop().await;
}
