//! Black-box tests of the HTTP API against an in-process server with the embedded
//! simulator: one call end to end, bad input, authentication, tenant isolation,
//! webhook authentication, metrics and the OpenAPI document.

mod common;

use callvisor::http::auth::Role;
use callvisor::providers::twilio::signature;
use common::{mint, postgres_url, skip_postgres, spawn_app, Db, TestServer};
use serde_json::json;
use std::time::Duration;

async fn place(app: &TestServer, token: &str, agent: &str, to: &str) -> common::Reply {
    app.send(
        "POST",
        "/api/v1/calls/outbound",
        Some(token),
        Some(json!({"phoneNumber": to, "agentId": agent, "metadata": {"ticket": 42}})),
    )
    .await
}

async fn one_call_end_to_end(app: &TestServer) {
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = place(app, &manager, &agent, "+14155552671").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.data()["status"], "queued");
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();

    let call = app
        .wait_final(&manager, &call_id, Duration::from_secs(20))
        .await;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["metadata"]["ticket"], 42);
    assert!(call["durationSeconds"].as_i64().is_some(), "{call}");
    assert!(call["providerCallId"].as_str().unwrap().starts_with("CA"));
    assert!(call["answeredAt"].is_string() && call["endedAt"].is_string());
    let webhooks: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "webhook")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for status in ["initiated", "ringing", "in-progress", "completed"] {
        assert!(
            webhooks.contains(&status),
            "history lacks the {status} webhook: {webhooks:?}"
        );
    }

    let listed = app
        .send(
            "GET",
            "/api/v1/calls?status=completed",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(listed.data()["calls"][0]["id"], call_id.as_str());
}

#[tokio::test]
async fn a_placed_call_reaches_its_final_status_with_each_webhook_in_its_history() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    one_call_end_to_end(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_placed_call_reaches_its_final_status_on_postgres() {
    let Some(base) = postgres_url() else {
        return skip_postgres("a_placed_call_reaches_its_final_status_on_postgres");
    };
    let url = common::fresh_postgres_database(&base).await;
    let app = spawn_app(Db::Postgres(url), &[]).await;
    one_call_end_to_end(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_in_the_envelope_and_changes_nothing() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));

    let r = place(&app, &manager, &agent, "555-0100").await;
    assert_eq!(
        (r.status, r.code()),
        (400, "INVALID_PHONE_NUMBER"),
        "{}",
        r.body
    );
    assert_eq!(r.body["success"], false);
    assert_eq!(r.body["error"]["details"]["field"], "phoneNumber");

    let r = place(
        &app,
        &manager,
        &uuid::Uuid::now_v7().to_string(),
        "+14155552671",
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "AGENT_NOT_FOUND"));

    let r = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent, "colour": "blue"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{}",
        r.body
    );

    let r = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent, "priority": "urgent"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_ERROR"),
        "unknown enum value"
    );

    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent, "metadata": {"blob": huge}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE"));

    let root = app.token(Role::SuperAdmin, None);
    let r = app
        .send(
            "POST",
            "/api/v1/clients",
            Some(&root),
            Some(json!({"name": "X", "maxConcurrentCalls": 0})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    let r = app
        .send(
            "POST",
            "/api/v1/clients",
            Some(&root),
            Some(json!({"name": "X", "timezone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timezone"));
    let r = app
        .send("GET", "/api/v1/calls?limit=0", Some(&manager), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    let r = app
        .send(
            "GET",
            "/api/v1/calls?status=ringingish",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    let r = app
        .send("GET", "/api/v1/calls/not-an-id", Some(&manager), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));

    let listed = app.send("GET", "/api/v1/calls", Some(&manager), None).await;
    assert_eq!(
        listed.data()["calls"],
        json!([]),
        "no bad request created a call"
    );
    app.stop().await;
}

#[tokio::test]
async fn requests_need_a_valid_unexpired_token_and_a_sufficient_role() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    let (client, agent) = app.tenant(10).await;
    let r = app.send("GET", "/api/v1/calls", None, None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    let r = app
        .send("GET", "/api/v1/calls", Some("not.a.token"), None)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    let forged = mint(
        &callvisor::http::auth::JwtKeys::new(b"another-secret-entirely!"),
        Role::Manager,
        Some(client),
        3600,
    );
    let r = app.send("GET", "/api/v1/calls", Some(&forged), None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    let expired = mint(&app.jwt, Role::Manager, Some(client), -3600);
    let r = app.send("GET", "/api/v1/calls", Some(&expired), None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    let viewer = app.token(Role::Viewer, Some(client));
    let r = place(&app, &viewer, &agent, "+14155552671").await;
    assert_eq!(
        (r.status, r.code()),
        (403, "FORBIDDEN"),
        "a viewer cannot place calls"
    );
    let manager = app.token(Role::Manager, Some(client));
    let r = app
        .send(
            "POST",
            "/api/v1/clients",
            Some(&manager),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "FORBIDDEN"),
        "only super_admin creates clients"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_principal_never_sees_or_touches_another_clients_data() {
    let app = spawn_app(Db::Sqlite, &["--sim-ring-seconds", "30"]).await;
    let (client_a, _) = app.tenant(10).await;
    let (client_b, agent_b) = app.tenant(10).await;
    let manager_b = app.token(Role::Manager, Some(client_b));
    let placed = place(&app, &manager_b, &agent_b, "+14155552671").await;
    let call_b = placed.data()["callId"].as_str().unwrap().to_string();

    let manager_a = app.token(Role::Manager, Some(client_a));
    let admin_a = app.token(Role::Admin, Some(client_a));
    let attempts = [
        (
            "GET",
            format!("/api/v1/calls/{call_b}"),
            &manager_a,
            None,
            "NOT_FOUND",
        ),
        (
            "POST",
            format!("/api/v1/calls/{call_b}/cancel"),
            &manager_a,
            None,
            "NOT_FOUND",
        ),
        (
            "GET",
            format!("/api/v1/calls?clientId={client_b}"),
            &manager_a,
            None,
            "NOT_FOUND",
        ),
        (
            "GET",
            format!("/api/v1/agents/{agent_b}"),
            &admin_a,
            None,
            "AGENT_NOT_FOUND",
        ),
        (
            "GET",
            format!("/api/v1/clients/{client_b}"),
            &admin_a,
            None,
            "NOT_FOUND",
        ),
        (
            "PATCH",
            format!("/api/v1/clients/{client_b}"),
            &admin_a,
            Some(json!({"maxConcurrentCalls": 1})),
            "NOT_FOUND",
        ),
        (
            "POST",
            "/api/v1/calls/outbound".to_string(),
            &manager_a,
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent_b})),
            "AGENT_NOT_FOUND",
        ),
    ];
    for (method, path, token, body, code) in attempts {
        let r = app.send(method, &path, Some(token), body).await;
        assert_eq!((r.status, r.code()), (404, code), "{method} {path}");
    }
    let r = app
        .send("GET", "/api/v1/calls", Some(&manager_a), None)
        .await;
    assert_eq!(r.data()["calls"], json!([]), "B's call is not in A's list");

    // Client B's own manager still sees its call, and can cancel it.
    let r = app
        .send(
            "GET",
            &format!("/api/v1/calls/{call_b}"),
            Some(&manager_b),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .send(
            "POST",
            &format!("/api/v1/calls/{call_b}/cancel"),
            Some(&manager_b),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.data()["status"].as_str()),
        (200, Some("canceled")),
        "{}",
        r.body
    );
    let r = app
        .send(
            "POST",
            &format!("/api/v1/calls/{call_b}/cancel"),
            Some(&manager_b),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "INVALID_STATE"));
    app.stop().await;
}

#[tokio::test]
async fn a_client_at_its_limit_gets_429_until_a_call_ends() {
    let app = spawn_app(Db::Sqlite, &["--sim-ring-seconds", "30"]).await;
    let (client, agent) = app.tenant(1).await;
    let manager = app.token(Role::Manager, Some(client));
    let first = place(&app, &manager, &agent, "+14155552671").await;
    assert_eq!(first.status, 201);
    let second = place(&app, &manager, &agent, "+14155552672").await;
    assert_eq!(
        (second.status, second.code()),
        (429, "CONCURRENT_LIMIT_REACHED"),
        "{}",
        second.body
    );
    let id = first.data()["callId"].as_str().unwrap();
    app.send(
        "POST",
        &format!("/api/v1/calls/{id}/cancel"),
        Some(&manager),
        None,
    )
    .await;
    let third = place(&app, &manager, &agent, "+14155552673").await;
    assert_eq!(third.status, 201, "the canceled call returned its slot");
    app.stop().await;
}

#[tokio::test]
async fn webhooks_with_a_bad_signature_or_for_unknown_calls_change_nothing_and_are_counted() {
    let app = spawn_app(Db::Sqlite, &["--sim-ring-seconds", "30"]).await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = place(&app, &manager, &agent, "+14155552671").await;
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();
    let path = format!("/webhooks/twilio/status?callId={call_id}");
    let params = vec![
        (
            "CallSid".to_string(),
            "CA0123456789abcdef0123456789abcdef".to_string(),
        ),
        ("CallStatus".to_string(), "completed".to_string()),
        ("CallDuration".to_string(), "99".to_string()),
    ];
    let form = serde_urlencoded::to_string(&params).unwrap();
    let post = |sig: Option<String>, path: String, form: String| {
        let mut req = app
            .http
            .post(format!("{}{}", app.base, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        if let Some(s) = sig {
            req = req.header("X-Twilio-Signature", s);
        }
        req.send()
    };
    // Ringing for 30 s: nothing else will happen to the call during the test.
    let before = app.wait_status(&manager, &call_id, "ringing").await;

    let unsigned = post(None, path.clone(), form.clone()).await.unwrap();
    assert_eq!(unsigned.status(), 403);
    let wrong = signature::sign("not-the-token", &format!("{}{}", app.base, path), &params);
    let forged = post(Some(wrong), path.clone(), form.clone()).await.unwrap();
    assert_eq!(forged.status(), 403);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN");

    let after = app
        .send(
            "GET",
            &format!("/api/v1/calls/{call_id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(after.data()["status"], before["status"]);
    assert_ne!(after.data()["status"], "completed");
    assert_eq!(
        after.data()["events"].as_array().unwrap().len(),
        before["events"].as_array().unwrap().len(),
        "a refused webhook leaves no trace in the history"
    );

    // Correctly signed, but about a call that does not exist.
    let unknown_path = format!("/webhooks/twilio/status?callId={}", uuid::Uuid::now_v7());
    let sig = signature::sign(
        "sim-auth-token",
        &format!("{}{}", app.base, unknown_path),
        &params,
    );
    let unknown = post(Some(sig), unknown_path, form.clone()).await.unwrap();
    assert_eq!(unknown.status(), 404);

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rejected = |reason: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("callvisor_webhooks_rejected_total")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(rejected("bad_signature") >= 2.0, "{metrics}");
    assert!(rejected("unknown_call") >= 1.0);
    app.stop().await;
}

#[tokio::test]
async fn health_metrics_and_the_openapi_document_are_served() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = place(&app, &manager, &agent, "+14155552671").await;
    let id = placed.data()["callId"].as_str().unwrap().to_string();
    app.wait_final(&manager, &id, Duration::from_secs(20)).await;

    let health = app.send("GET", "/health", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.data()["status"], "ok");
    assert_eq!(health.data()["activeCalls"], 0);
    let detailed = app.send("GET", "/health/detailed", None, None).await;
    assert_eq!(detailed.status, 200, "{}", detailed.body);
    assert_eq!(detailed.data()["status"], "healthy");
    assert_eq!(detailed.data()["database"]["status"], "up");
    assert_eq!(detailed.data()["provider"]["simulated"], true);

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"callvisor_http_request_duration_seconds_bucket{method="GET",route="/api/v1/calls/{id}""#), "{metrics}");
    assert!(metrics.contains(r#"callvisor_calls_finished_total{status="completed"}"#));
    assert!(metrics.contains("callvisor_active_calls"));
    assert!(!metrics.contains(&id), "call ids never become labels");

    let doc = app.send("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc.body["paths"]["/api/v1/calls/outbound"]["post"].is_object());
    for provider in ["twilio", "plivo", "exotel"] {
        let path = format!("/webhooks/{provider}/status");
        assert!(doc.body["paths"][&path]["post"].is_object(), "{path}");
        assert_eq!(
            doc.body["paths"][&path]["post"]["security"],
            json!([]),
            "signed, not bearer"
        );
    }
    assert_eq!(doc.body["paths"]["/health"]["get"]["security"], json!([]));
    // The document says what the wire carries: every operation id once, successes in
    // the envelope, errors as the error envelope, and the errors any token-bearing
    // request can get.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "{id} is not unique");
            if !path.starts_with("/api/") {
                continue;
            }
            let responses = &op["responses"];
            for code in ["401", "403", "404"] {
                assert_eq!(
                    responses[code]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {code}"
                );
            }
            let (code, ok) = responses
                .as_object()
                .unwrap()
                .iter()
                .find(|(code, _)| code.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path} documents no success"));
            if let Some(schema) = ok["content"]["application/json"]["schema"].as_object() {
                assert_eq!(
                    schema["required"],
                    json!(["success", "data"]),
                    "{method} {path} {code}"
                );
            }
        }
    }
    let page = &doc.body["paths"]["/api/v1/calls"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["properties"]["data"]["$ref"];
    assert_eq!(page, "#/components/schemas/CallPage");
    let links = &doc.body["paths"]["/api/v1/campaigns"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        links["campaigns_start"]["parameters"]["id"], "$response.body#/data/id",
        "a create links to the operations on what it made"
    );
    app.stop().await;
}

#[tokio::test]
async fn while_the_providers_circuit_is_open_new_calls_get_503_and_stats_say_why() {
    // A provider nobody answers: every request fails to connect.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_base = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--provider",
            "twilio",
            "--twilio-api-base",
            &dead_base,
            "--twilio-account-sid",
            "AC0123456789abcdef0123456789abcdef",
            "--twilio-auth-token",
            "token",
            "--caller-id",
            "+14155550100",
            "--provider-retry-base-seconds",
            "0.01",
            "--circuit-failure-threshold",
            "2",
        ],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let first = place(&app, &manager, &agent, "+14155552671").await;
    assert_eq!(first.status, 201, "the circuit was closed: {}", first.body);

    let mut refused = None;
    for _ in 0..100 {
        let r = place(&app, &manager, &agent, "+14155552672").await;
        if r.status == 503 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("the circuit opened after two failed attempts");
    assert_eq!(refused.code(), "API_UNAVAILABLE");
    assert_eq!(refused.body["error"]["details"]["circuitState"], "open");

    let stats = app
        .send("GET", "/api/v1/calls/outbound/stats", Some(&manager), None)
        .await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.data()["circuitState"], "open");
    assert_eq!(
        stats.data()["rateLimiter"]["createCall"]["requestsPerSecond"],
        1.0
    );
    let health = app.send("GET", "/health/detailed", None, None).await;
    assert_eq!(health.data()["status"], "degraded");
    assert_eq!(health.data()["provider"]["circuit"], "open");

    // The call accepted before the circuit opened is not lost: it waits to be dialed.
    let first_id = first.data()["callId"].as_str().unwrap();
    let call = app
        .send(
            "GET",
            &format!("/api/v1/calls/{first_id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(call.data()["status"], "queued", "{}", call.body);
    app.stop().await;
}

/// The simulator's own record of one number's dials and its fault counters.
async fn sim_dials_to(app: &TestServer, number: &str) -> usize {
    let sim = app.running.as_ref().unwrap().sim.as_ref().unwrap();
    sim.dials().iter().filter(|d| d.to == number).count()
}

#[tokio::test]
async fn a_call_placed_as_the_provider_goes_down_is_dialed_once_when_it_comes_back() {
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--sim-outages",
            "0+3",
            "--redial-delay-seconds",
            "0.5",
            "--provider-retry-base-seconds",
            "0.05",
            "--circuit-failure-threshold",
            "3",
            "--circuit-cool-down-seconds",
            "1",
        ],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = place(&app, &manager, &agent, "+14155552671").await;
    assert_eq!(placed.status, 201);
    let id = placed.data()["callId"].as_str().unwrap().to_string();
    let call = app.wait_final(&manager, &id, Duration::from_secs(30)).await;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(sim_dials_to(&app, "+14155552671").await, 1);
    let faults = app
        .running
        .as_ref()
        .unwrap()
        .sim
        .as_ref()
        .unwrap()
        .fault_counts();
    assert!(faults.unavailable >= 1, "the outage was seen: {faults:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_create_call_answered_too_late_is_adopted_not_dialed_again() {
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--sim-latency-seconds",
            "2",
            "--provider-request-timeout-seconds",
            "0.5",
            "--sim-ring-seconds",
            "3",
        ],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = place(&app, &manager, &agent, "+14155552671").await;
    let id = placed.data()["callId"].as_str().unwrap().to_string();
    let call = app.wait_final(&manager, &id, Duration::from_secs(30)).await;
    assert_eq!(call["status"], "completed", "{call}");
    let kinds: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"dial_outcome_unknown"), "{kinds:?}");
    assert!(!kinds.contains(&"dial_not_found"), "{kinds:?}");
    assert_eq!(
        sim_dials_to(&app, "+14155552671").await,
        1,
        "dialed exactly once"
    );
    app.stop().await;
}

#[tokio::test]
async fn duplicated_and_reordered_callbacks_still_end_every_call_right() {
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--sim-callback-duplication",
            "0.5",
            "--sim-callback-reordering",
            "0.5",
        ],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let mut ids = Vec::new();
    for n in 0..5 {
        let placed = place(&app, &manager, &agent, &format!("+1415555267{n}")).await;
        ids.push(placed.data()["callId"].as_str().unwrap().to_string());
    }
    let mut ignored = 0;
    for id in &ids {
        let call = app.wait_final(&manager, id, Duration::from_secs(30)).await;
        assert_eq!(call["status"], "completed", "{call}");
        assert!(call["durationSeconds"].as_i64().is_some());
        let events = call["events"].as_array().unwrap();
        ignored += events
            .iter()
            .filter(|e| e["source"] == "webhook" && e["applied"] == false)
            .count();
    }
    let faults = app
        .running
        .as_ref()
        .unwrap()
        .sim
        .as_ref()
        .unwrap()
        .fault_counts();
    assert!(
        faults.callbacks_duplicated + faults.callbacks_reordered >= 10,
        "{faults:?}"
    );
    assert!(
        ignored > 0,
        "duplicates and stale callbacks are kept in the history, not applied"
    );
    app.stop().await;
}

#[tokio::test]
async fn active_calls_show_each_client_its_own_live_calls_and_utilization() {
    let app = spawn_app(Db::Sqlite, &["--sim-ring-seconds", "30"]).await;
    let (client_a, agent_a) = app.tenant(4).await;
    let (client_b, agent_b) = app.tenant(10).await;
    let manager_a = app.token(Role::Manager, Some(client_a));
    let manager_b = app.token(Role::Manager, Some(client_b));
    let call_a = place(&app, &manager_a, &agent_a, "+14155552671")
        .await
        .data()["callId"]
        .clone();
    place(&app, &manager_b, &agent_b, "+14155552672").await;
    place(&app, &manager_b, &agent_b, "+14155552673").await;

    let viewer_a = app.token(Role::Viewer, Some(client_a));
    let r = app
        .send(
            "GET",
            "/api/v1/calls/active?includeCalls=true",
            Some(&viewer_a),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["activeCalls"], 1);
    assert_eq!(r.data()["globalInUse"], 3);
    assert_eq!(
        r.data()["clients"].as_array().unwrap().len(),
        1,
        "only its own client"
    );
    assert_eq!(r.data()["clients"][0]["inUse"], 1);
    assert_eq!(r.data()["clients"][0]["utilization"], 0.25);
    assert_eq!(r.data()["calls"][0]["id"], call_a);

    let root = app.token(Role::SuperAdmin, None);
    let all = app
        .send("GET", "/api/v1/calls/active", Some(&root), None)
        .await;
    assert_eq!(all.data()["activeCalls"], 3);
    assert!(all.data()["calls"].is_null(), "calls only when asked for");
    let only_b = app
        .send(
            "GET",
            &format!("/api/v1/calls/active?clientId={client_b}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(only_b.data()["activeCalls"], 2);

    let r = app
        .send(
            "GET",
            &format!("/api/v1/calls/active?clientId={client_b}"),
            Some(&manager_a),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "another client's view");
    let r = app
        .send(
            "GET",
            "/api/v1/calls/active?everything=1",
            Some(&manager_a),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    let r = app
        .send(
            "GET",
            "/api/v1/calls/active?includeCalls=maybe",
            Some(&manager_a),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    app.stop().await;
}

/// A bot's warm-up endpoint: `/flaky` fails its first request then answers, `/down`
/// always fails. Returns its base URL.
async fn warmup_bot() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    let flaky_hits = std::sync::Arc::new(AtomicU32::new(0));
    let app = axum::Router::new()
        .route(
            "/flaky",
            axum::routing::get(move || {
                let hits = flaky_hits.clone();
                async move {
                    if hits.fetch_add(1, Ordering::SeqCst) == 0 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        )
        .route(
            "/down",
            axum::routing::get(|| async { axum::http::StatusCode::BAD_GATEWAY }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn calls_wait_for_their_bot_to_warm_up_and_fail_cleanly_when_it_never_does() {
    let bot = warmup_bot().await;
    let app = spawn_app(Db::Sqlite, &["--bot-warmup-backoff-seconds", "0.05"]).await;
    let (client, _) = app.tenant(10).await;
    let admin = app.token(Role::Admin, Some(client));
    let manager = app.token(Role::Manager, Some(client));
    let agent = |path: &str| json!({"name": "warm bot", "answerUrl": "http://bot.example/answer", "warmupUrl": format!("{bot}{path}")});
    let flaky = app
        .send(
            "POST",
            "/api/v1/agents",
            Some(&admin),
            Some(agent("/flaky")),
        )
        .await;
    let down = app
        .send("POST", "/api/v1/agents", Some(&admin), Some(agent("/down")))
        .await;
    let flaky_id = flaky.data()["id"].as_str().unwrap().to_string();
    let down_id = down.data()["id"].as_str().unwrap().to_string();

    let placed = place(&app, &manager, &flaky_id, "+14155552671").await;
    let call = app
        .wait_final(
            &manager,
            placed.data()["callId"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["warmupAttempts"], 2);
    assert!(call["botReadyAt"].is_string());

    let placed = place(&app, &manager, &down_id, "+14155552672").await;
    let call = app
        .wait_final(
            &manager,
            placed.data()["callId"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(call["status"], "failed", "{call}");
    assert_eq!(call["failureReason"], "bot_unavailable");
    assert_eq!(call["warmupAttempts"], 3);
    assert_eq!(
        sim_dials_to(&app, "+14155552672").await,
        0,
        "a cold bot's call is never dialed"
    );
    assert_eq!(sim_dials_to(&app, "+14155552671").await, 1);
    app.stop().await;
}
