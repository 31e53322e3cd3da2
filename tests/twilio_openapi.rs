//! Every request the Twilio adapter sends is checked against Twilio's official OpenAPI
//! description of the Calls API (`../shared/providers/twilio_api_v2010_calls.json`):
//! the path and method exist, form and query parameters are ones the operation
//! declares, required ones are present, and values have the declared type and enum.
//!
//! The checks read `tests/fixtures/twilio_calls_contract.json`: the official file
//! reduced to what they use (paths, methods, parameter names, types, formats, enums and
//! required lists, references resolved), so they run wherever the repository is. Where
//! the official file is present, the reduction is made again and must equal the
//! committed one; `CALLVISOR_UPDATE_TWILIO_CONTRACT=1` rewrites it from the official
//! file after Twilio changes its description.

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
const CONTRACT: &str = "tests/fixtures/twilio_calls_contract.json";
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

/// A schema reduced to what the checks read, references resolved.
fn slim(spec: &Value, schema: &Value) -> Value {
    let schema = resolve(spec, schema);
    let mut kept = serde_json::Map::new();
    for key in ["type", "format", "enum"] {
        if let Some(v) = schema.get(key) {
            kept.insert(key.into(), v.clone());
        }
    }
    if schema["type"] == "array" {
        kept.insert("items".into(), slim(spec, &schema["items"]));
    }
    Value::Object(kept)
}

/// The official description reduced to the contract the checks read (same shape).
fn reduce(spec: &Value) -> Value {
    let mut paths = serde_json::Map::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let mut methods = serde_json::Map::new();
        for method in ["get", "post", "delete"] {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let parameters: Vec<Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    json!({"name": p["name"], "in": p["in"],
                        "required": p["required"].as_bool().unwrap_or(false),
                        "schema": slim(spec, &p["schema"])})
                })
                .collect();
            let mut reduced = json!({ "parameters": parameters });
            let form = &op["requestBody"]["content"]["application/x-www-form-urlencoded"];
            if form.is_object() {
                let schema = resolve(spec, &form["schema"]);
                let properties: serde_json::Map<String, Value> = schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), slim(spec, p)))
                    .collect();
                reduced["requestBody"] = json!({"content": {"application/x-www-form-urlencoded":
                    {"schema": {"required": schema["required"].as_array().cloned().unwrap_or_default(),
                        "properties": properties}}}});
            }
            methods.insert(method.into(), reduced);
        }
        paths.insert(template.clone(), Value::Object(methods));
    }
    json!({ "paths": paths })
}

/// The committed contract, first checked against the official file where it is present.
fn contract() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join(CONTRACT);
    match std::fs::read_to_string(root.join(SPEC)) {
        Ok(text) => {
            let official = reduce(&serde_json::from_str(&text).unwrap());
            if std::env::var_os("CALLVISOR_UPDATE_TWILIO_CONTRACT").is_some() {
                let pretty = serde_json::to_string_pretty(&official).unwrap();
                std::fs::write(&committed, pretty + "\n").unwrap();
            }
            let current: Value =
                serde_json::from_str(&std::fs::read_to_string(&committed).unwrap()).unwrap();
            assert_eq!(
                current, official,
                "{CONTRACT} no longer matches {SPEC}; rewrite it with CALLVISOR_UPDATE_TWILIO_CONTRACT=1"
            );
            current
        }
        Err(_) => {
            common::say(&format!(
                "{SPEC} not found: checking against the committed {CONTRACT} alone"
            ));
            serde_json::from_str(&std::fs::read_to_string(&committed).unwrap()).unwrap()
        }
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
    let spec = contract();

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
