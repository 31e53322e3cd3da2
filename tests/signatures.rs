//! Webhook authentication against vectors computed independently, by Twilio's and
//! Plivo's official SDKs (`fixtures/signatures/make_fixtures.py`), then at the HTTP level
//! against an in-process server: a good signature is accepted; a changed byte, a wrong
//! URL, a wrong nonce or a missing header answers 403 and leaves the call untouched.

mod common;

use callvisor::http::auth::Role;
use callvisor::providers::{plivo, twilio};
use common::{spawn_app, Db, TestServer};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Vectors {
    twilio: Suite,
    plivo: Suite,
}

#[derive(Deserialize)]
struct Suite {
    auth_token: String,
    cases: Vec<Case>,
}

#[derive(Clone, Deserialize)]
struct Case {
    name: String,
    url: String,
    #[serde(default)]
    nonce: String,
    params: Vec<(String, String)>,
    signature: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("fixtures/signatures/vectors.json")).expect("vectors")
}

/// The params with one byte changed: the last character of the first value, or a new
/// parameter when there is none.
fn one_byte_changed(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut changed = params.to_vec();
    match changed.first_mut() {
        Some((_, v)) => {
            let last = v.pop().unwrap_or('x');
            v.push(if last == '0' { '1' } else { '0' });
        }
        None => changed.push(("X".into(), "1".into())),
    }
    changed
}

fn wrong_url(url: &str) -> String {
    url.replacen("/status", "/statuz", 1)
}

#[test]
fn twilio_verify_agrees_with_the_official_sdk() {
    let suite = vectors().twilio;
    assert!(suite.cases.len() >= 4);
    for c in &suite.cases {
        let token = &suite.auth_token;
        assert!(
            twilio::verify(token, &c.url, &c.params, &c.signature),
            "{}",
            c.name
        );
        assert_eq!(
            twilio::sign(token, &c.url, &c.params),
            c.signature,
            "{}",
            c.name
        );
        assert!(
            !twilio::verify(token, &c.url, &one_byte_changed(&c.params), &c.signature),
            "{}",
            c.name
        );
        assert!(
            !twilio::verify(token, &wrong_url(&c.url), &c.params, &c.signature),
            "{}",
            c.name
        );
        assert!(!twilio::verify(
            "another-token",
            &c.url,
            &c.params,
            &c.signature
        ));
    }
}

#[test]
fn plivo_verify_agrees_with_the_official_sdk() {
    let suite = vectors().plivo;
    assert!(suite.cases.iter().any(|c| c.signature.contains(',')));
    assert!(suite.cases.iter().any(|c| c.params.is_empty()));
    for c in &suite.cases {
        let token = &suite.auth_token;
        let ok = |url: &str, params: &[(String, String)], nonce: &str| {
            plivo::verify(token, url, params, nonce, &c.signature)
        };
        assert!(ok(&c.url, &c.params, &c.nonce), "{}", c.name);
        if !c.signature.contains(',') {
            assert_eq!(
                plivo::sign(token, &c.url, &c.params, &c.nonce),
                c.signature,
                "{}",
                c.name
            );
        }
        assert!(
            !ok(&c.url, &one_byte_changed(&c.params), &c.nonce),
            "{}",
            c.name
        );
        assert!(!ok(&wrong_url(&c.url), &c.params, &c.nonce), "{}", c.name);
        assert!(
            !ok(&c.url, &c.params, &format!("{}1", c.nonce)),
            "{}",
            c.name
        );
    }
}

/// The scheme and authority of a URL: the public URL a server must have for the URL to
/// be one of its own.
fn origin(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}

/// Posts a vector verbatim to a server whose public URL and token match it. Nothing is
/// dialed, so no callback ever leaves for the vector's host.
async fn post_vector(app: &TestServer, case: &Case, headers: &[(&str, String)]) -> u16 {
    let path = &case.url[origin(&case.url).len()..];
    let mut req = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&case.params).unwrap());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_sdks_signatures_pass_the_webhook_endpoints() {
    let v = vectors();
    for (flavor, suite) in [("twilio", &v.twilio), ("plivo", &v.plivo)] {
        for case in &suite.cases {
            let public_url = origin(&case.url);
            let app = spawn_app(
                Db::Sqlite,
                &[
                    "--sim-flavor",
                    flavor,
                    "--sim-auth-token",
                    &suite.auth_token,
                    "--public-url",
                    &public_url,
                ],
            )
            .await;
            let headers: Vec<(&str, String)> = match flavor {
                "twilio" => vec![("X-Twilio-Signature", case.signature.clone())],
                _ => vec![
                    ("X-Plivo-Signature-V3", case.signature.clone()),
                    ("X-Plivo-Signature-V3-Nonce", case.nonce.clone()),
                ],
            };
            // Authenticated: the call it names is unknown (404) or its id is not one of
            // ours (400), but it is not refused as forged.
            let status = post_vector(&app, case, &headers).await;
            assert!(
                matches!(status, 400 | 404),
                "{flavor} {}: {status}",
                case.name
            );
            let mut forged = case.clone();
            forged.params = one_byte_changed(&case.params);
            assert_eq!(
                post_vector(&app, &forged, &headers).await,
                403,
                "{}",
                case.name
            );
            app.stop().await;
        }
    }
}

/// A server with one call ringing for a long time; returns the manager token and the
/// call as it stands.
async fn ringing_call(flavor: &str) -> (TestServer, String, String, Value) {
    let app = spawn_app(
        Db::Sqlite,
        &["--sim-flavor", flavor, "--sim-ring-seconds", "30"],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();
    // Ringing (Twilio, Plivo) or dialed (Exotel sends nothing before the answer): for
    // 30 s nothing else happens to the call.
    let before = app
        .wait_until(&manager, &call_id, |c| match flavor {
            "exotel" => c["providerCallId"].is_string(),
            _ => c["status"] == "ringing",
        })
        .await;
    (app, manager, call_id, before)
}

/// A forged callback: what is wrong with it, its form and its headers.
type Attempt<'a> = (&'a str, Vec<(String, String)>, Vec<(&'a str, String)>);

/// Posts a form to the server at `path` with `headers`.
async fn post_form(
    app: &TestServer,
    path: &str,
    params: &[(String, String)],
    headers: &[(&str, String)],
) -> u16 {
    let mut req = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn assert_untouched(app: &TestServer, token: &str, call_id: &str, before: &Value) {
    let after = app.call(token, call_id).await;
    assert_eq!(after["status"], before["status"]);
    assert_eq!(
        after["events"].as_array().unwrap().len(),
        before["events"].as_array().unwrap().len(),
        "a refused webhook leaves no trace in the history"
    );
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn forged_plivo_callbacks_are_refused_and_a_signed_one_is_applied() {
    let (app, manager, call_id, before) = ringing_call("plivo").await;
    let token = callvisor::sim::DEFAULT_AUTH_TOKEN;
    let path = format!("/webhooks/plivo/status?callId={call_id}");
    let url = format!("{}{path}", app.base);
    let call_uuid = before["providerCallId"].as_str().unwrap().to_string();
    let params = pairs(&[
        ("CallUUID", &call_uuid),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("Duration", "99"),
    ]);
    let nonce = "31415926535897932384".to_string();
    let good = plivo::sign(token, &url, &params, &nonce);
    let headers = |sig: &str, nonce: &str| {
        vec![
            ("X-Plivo-Signature-V3", sig.to_string()),
            ("X-Plivo-Signature-V3-Nonce", nonce.to_string()),
        ]
    };
    let attempts: Vec<Attempt> = vec![
        (
            "one changed byte",
            one_byte_changed(&params),
            headers(&good, &nonce),
        ),
        (
            "wrong URL",
            params.clone(),
            headers(
                &plivo::sign(token, &wrong_url(&url), &params, &nonce),
                &nonce,
            ),
        ),
        (
            "wrong nonce",
            params.clone(),
            headers(&good, "27182818284590452353"),
        ),
        (
            "missing signature",
            params.clone(),
            vec![("X-Plivo-Signature-V3-Nonce", nonce.clone())],
        ),
        (
            "missing nonce",
            params.clone(),
            vec![("X-Plivo-Signature-V3", good.clone())],
        ),
        ("no headers", params.clone(), vec![]),
    ];
    for (what, body, hdrs) in attempts {
        assert_eq!(post_form(&app, &path, &body, &hdrs).await, 403, "{what}");
        assert_untouched(&app, &manager, &call_id, &before).await;
    }
    // Several signatures, one of them right: accepted and applied.
    let rotated = format!("{},{good}", plivo::sign("old-token", &url, &params, &nonce));
    assert_eq!(
        post_form(&app, &path, &params, &headers(&rotated, &nonce)).await,
        200
    );
    let after = app.call(&manager, &call_id).await;
    assert_eq!(after["status"], "completed");
    assert_eq!(after["durationSeconds"], 99);
    app.stop().await;
}

#[tokio::test]
async fn forged_twilio_callbacks_are_refused_and_a_signed_one_is_applied() {
    let (app, manager, call_id, before) = ringing_call("twilio").await;
    let token = callvisor::sim::DEFAULT_AUTH_TOKEN;
    let path = format!("/webhooks/twilio/status?callId={call_id}");
    let url = format!("{}{path}", app.base);
    let sid = before["providerCallId"].as_str().unwrap().to_string();
    let params = pairs(&[
        ("CallSid", &sid),
        ("CallStatus", "completed"),
        ("CallDuration", "42"),
    ]);
    let good = twilio::sign(token, &url, &params);
    let sig = |s: String| vec![("X-Twilio-Signature", s)];
    let attempts: Vec<Attempt> = vec![
        (
            "one changed byte",
            one_byte_changed(&params),
            sig(good.clone()),
        ),
        (
            "wrong URL",
            params.clone(),
            sig(twilio::sign(token, &wrong_url(&url), &params)),
        ),
        ("missing header", params.clone(), vec![]),
    ];
    for (what, body, hdrs) in attempts {
        assert_eq!(post_form(&app, &path, &body, &hdrs).await, 403, "{what}");
        assert_untouched(&app, &manager, &call_id, &before).await;
    }
    assert_eq!(post_form(&app, &path, &params, &sig(good)).await, 200);
    assert_eq!(app.call(&manager, &call_id).await["status"], "completed");
    app.stop().await;
}

#[tokio::test]
async fn exotel_callbacks_need_the_deployments_token() {
    let (app, manager, call_id, before) = ringing_call("exotel").await;
    let token = std::fs::read_to_string(app.dir.join("exotel-webhook-token")).unwrap();
    let sid = before["providerCallId"].as_str().unwrap().to_string();
    let body =
        json!({"CallSid": sid, "Status": "busy", "EventType": "terminal", "CustomField": call_id});
    let post = |query: String| {
        app.http
            .post(format!("{}/webhooks/exotel/status{query}", app.base))
            .json(&body)
            .send()
    };
    let mut wrong = token.trim().to_string();
    wrong.pop();
    wrong.push('x');
    for query in [
        format!("?callId={call_id}"),
        format!("?token={wrong}&callId={call_id}"),
        format!("?token=&callId={call_id}"),
        format!("?token={}x&callId={call_id}", token.trim()),
    ] {
        assert_eq!(post(query.clone()).await.unwrap().status(), 403, "{query}");
        assert_untouched(&app, &manager, &call_id, &before).await;
    }
    // The right token, and the call matched by the custom field alone.
    let accepted = post(format!("?token={}", token.trim())).await.unwrap();
    assert_eq!(accepted.status(), 200);
    let after = app.call(&manager, &call_id).await;
    assert_eq!(after["status"], "busy");
    assert_eq!(after["failureReason"], "busy");
    app.stop().await;
}
