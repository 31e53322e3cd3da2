//! Every request the Twilio adapter sends is checked against Twilio's official OpenAPI
//! description of the Calls API (`../shared/providers/twilio_api_v2010_calls.json`):
//! the path and method exist, form and query parameters are ones the operation
//! declares, required ones are present, and values have the declared type and enum.

mod common;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use callvisor::providers::twilio::{TwilioConfig, TwilioProvider};
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::ports::{CallListQuery, DialRequest, HangUp, Provider};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SPEC: &str = "../shared/providers/twilio_api_v2010_calls.json";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const CALL: &str = "CAabcdefabcdefabcdefabcdefabcdefab";

/// A request as it reached the wire.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    content_type: Option<String>,
    authorized: bool,
}

async fn capture(seen: Arc<Mutex<Vec<Seen>>>, request: Request) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let pairs = |raw: &[u8]| form_urlencoded::parse(raw).into_owned().collect::<Vec<_>>();
    let entry = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: pairs(parts.uri.query().unwrap_or("").as_bytes()),
        form: pairs(&bytes),
        content_type: parts
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string()),
        authorized: parts.headers.get("authorization").is_some(),
    };
    let list = entry.path.ends_with("/Calls.json") && entry.method == "GET";
    seen.lock().unwrap().push(entry);
    let call = json!({"sid": CALL, "status": "queued", "to": "+14155552671", "from": "+14155550100",
        "duration": null, "price": null, "start_time": null, "end_time": null});
    if list {
        (
            StatusCode::OK,
            axum::Json(json!({"calls": [], "next_page_uri": null})),
        )
            .into_response()
    } else {
        (StatusCode::CREATED, axum::Json(call)).into_response()
    }
}

/// The operation of the spec matching a concrete path, with its path template.
fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    let paths = spec["paths"].as_object().unwrap();
    for (template, item) in paths {
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = path.split('/').collect();
        let matches = t.len() == p.len()
            && t.iter().zip(&p).all(|(a, b)| {
                a == b
                    || (a.starts_with('{') && a.contains('}') && {
                        // `{Sid}.json` matches `CA….json`
                        let suffix = &a[a.find('}').unwrap() + 1..];
                        b.ends_with(suffix)
                    })
            });
        if matches {
            let op = &item[method.to_lowercase()];
            assert!(op.is_object(), "{method} {template} is not in the spec");
            return op;
        }
    }
    panic!("no path of the spec matches {path}");
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Checks one value against its declared schema.
fn check_value(spec: &Value, name: &str, schema: &Value, value: &str) {
    let schema = resolve(spec, schema);
    let schema = if schema["type"] == "array" {
        resolve(spec, &schema["items"])
    } else {
        schema
    };
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(
            allowed.iter().any(|a| a == value),
            "{name}={value} is not one of {allowed:?}"
        );
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => assert!(
            value.parse::<i64>().is_ok(),
            "{name}={value} is not an integer"
        ),
        (Some("boolean"), _) => assert!(
            value == "true" || value == "false",
            "{name}={value} is not a boolean"
        ),
        (_, Some("uri")) => assert!(
            url::Url::parse(value).is_ok(),
            "{name}={value} is not a URI"
        ),
        _ => {}
    }
}

fn check_request(spec: &Value, seen: &Seen) {
    let op = operation(spec, &seen.method, &seen.path);
    let query_params: Vec<&Value> = op["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter(|p| p["in"] == "query").collect())
        .unwrap_or_default();
    for (name, value) in &seen.query {
        let declared = query_params
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "query parameter {name} is not declared for {} {}",
                    seen.method, seen.path
                )
            });
        check_value(spec, name, &declared["schema"], value);
    }
    if let Some(body) = op["requestBody"]["content"].as_object() {
        let ct = seen.content_type.as_deref().unwrap_or("");
        assert!(
            ct.starts_with("application/x-www-form-urlencoded"),
            "body must be form-encoded, was {ct}"
        );
        let schema = resolve(spec, &body["application/x-www-form-urlencoded"]["schema"]);
        for required in schema["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap();
            assert!(
                seen.form.iter().any(|(k, _)| k == required),
                "required {required} missing"
            );
        }
        for (name, value) in &seen.form {
            let declared = &schema["properties"][name.as_str()];
            assert!(
                declared.is_object(),
                "form parameter {name} is not declared"
            );
            check_value(spec, name, declared, value);
        }
    } else {
        assert!(
            seen.form.is_empty(),
            "{} {} takes no body",
            seen.method,
            seen.path
        );
    }
    assert!(
        seen.authorized,
        "every request carries HTTP Basic credentials"
    );
}

#[tokio::test]
async fn every_request_the_twilio_adapter_sends_satisfies_the_official_openapi_description() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC);
    let Ok(text) = std::fs::read_to_string(&spec_path) else {
        common::say(&format!(
            "Twilio OpenAPI conformance skipped: {} not found",
            spec_path.display()
        ));
        return;
    };
    let spec: Value = serde_json::from_str(&text).unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&seen);
    let app = Router::new().fallback(move |req: Request| capture(Arc::clone(&recorder), req));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let twilio = TwilioProvider::new(TwilioConfig {
        account_sid: SID.into(),
        auth_token: "token".into(),
        api_base: base,
        request_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let dial = DialRequest {
        to: PhoneNumber::parse("+14155552671").unwrap(),
        from: PhoneNumber::parse("+14155550100").unwrap(),
        answer_url: "https://bot.example.com/answer".into(),
        status_callback_url: "https://cv.example.com/webhooks/twilio/status?callId=0193".into(),
        ring_timeout: Duration::from_secs(45),
        gate: None,
    };
    twilio.create_call(&dial).await.unwrap();
    let _ = twilio.fetch_call(CALL).await;
    let _ = twilio.hang_up(CALL, HangUp::Cancel).await;
    let _ = twilio.hang_up(CALL, HangUp::Complete).await;
    let now = chrono::Utc::now();
    let _ = twilio
        .list_calls(&CallListQuery {
            started_after: now - chrono::Duration::hours(30),
            started_before: now,
            to: Some("+14155552671".into()),
        })
        .await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "{seen:#?}");
    for request in &seen {
        check_request(&spec, request);
    }
    let create = &seen[0].form;
    let events: Vec<&str> = create
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        events,
        ["initiated", "ringing", "answered", "completed"],
        "one parameter per event"
    );
    assert!(create.contains(&("Timeout".into(), "45".into())));
    assert!(create.contains(&("Url".into(), dial.answer_url.clone())));
    assert!(create.contains(&("StatusCallback".into(), dial.status_callback_url.clone())));
}
