//! What every operation of the API has in common, written into the generated document
//! once instead of into each handler's annotation:
//!
//! - responses come in the envelope: a success's documented body is the `data` of
//!   `{success: true, data}`, and every error is an `ErrorEnvelope`;
//! - an operation under `/api/` needs a bearer token, so it can answer 401 and, below its
//!   role, 403; one with parameters or a body can answer 400; and any can answer 404
//!   for a record it names (in its path or body: an agent, a client) that the token's
//!   client cannot see — documented where a handler did not say so itself;
//! - `/health…` and the provider webhooks need no token (webhooks are checked by their
//!   signature): their `security` is empty;
//! - ids in paths, `…Id` query parameters and page cursors are UUIDs;
//! - operation ids are unique across the document (`{tag}_{handler}`), as OpenAPI
//!   requires and client generators rely on;
//! - what a create answers links to the operations on what it created (the new id feeds
//!   their `{id}`), so clients and stateful API testers can follow the API's own flow.

use serde_json::{json, Map, Value};
use std::collections::HashSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Creates, the field of their `data` holding the new id, and the path below which the
/// operations on the new record are.
const CREATES: [(&str, &str, &str); 4] = [
    ("/api/v1/clients", "id", "/api/v1/clients/{id}"),
    ("/api/v1/agents", "id", "/api/v1/agents/{id}"),
    ("/api/v1/campaigns", "id", "/api/v1/campaigns/{id}"),
    ("/api/v1/calls/outbound", "callId", "/api/v1/calls/{id}"),
];

/// Applies the conventions to a generated document.
pub fn apply(doc: &mut Value) {
    doc["components"]["schemas"]["ErrorEnvelope"] = error_envelope();
    let mut taken = HashSet::new();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                unique_operation_id(path, method, op, &mut taken);
                if path.starts_with("/api/") {
                    standard_errors(op);
                } else {
                    op.insert("security".into(), json!([]));
                }
                uuid_ids(op);
                if !path.starts_with("/webhooks/") {
                    envelopes(path, op);
                }
            }
        }
    }
    links(doc);
}

/// Links from each create's success to the operations on the record it made.
fn links(doc: &mut Value) {
    for (create, field, below) in CREATES {
        let mut links = Map::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            if !path.starts_with(below) {
                continue;
            }
            for method in METHODS {
                let Some(id) = item[method]["operationId"].as_str() else {
                    continue;
                };
                links.insert(
                    id.to_string(),
                    json!({"operationId": id,
                        "parameters": {"id": format!("$response.body#/data/{field}")}}),
                );
            }
        }
        // `get_mut`, not indexing: a create that is not in the document adds nothing.
        let responses = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(create))
            .and_then(|p| p.get_mut("post"))
            .and_then(|op| op.get_mut("responses"))
            .and_then(Value::as_object_mut);
        for (code, response) in responses.into_iter().flatten() {
            if code.starts_with('2') {
                response["links"] = Value::Object(links.clone());
            }
        }
    }
}

fn error_envelope() -> Value {
    json!({
        "type": "object",
        "description": "Every error: a code from the API's list, a message for people, and details (such as the field at fault) where there are any.",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [false]},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": [
                        "VALIDATION_ERROR", "INVALID_PHONE_NUMBER", "UNAUTHORIZED", "FORBIDDEN",
                        "NOT_FOUND", "AGENT_NOT_FOUND", "CAMPAIGN_NOT_FOUND", "INVALID_STATE",
                        "PAYLOAD_TOO_LARGE", "CONCURRENT_LIMIT_REACHED", "API_UNAVAILABLE",
                        "PROVIDER_ERROR", "INTERNAL_ERROR"]},
                    "message": {"type": "string"},
                    "details": {}
                }
            }
        }
    })
}

/// `{tag}_{handler}`; where two handlers share a name, the later one is named by the
/// words of its path instead (`monitoring_sync_history`), then also by its method.
fn unique_operation_id(
    path: &str,
    method: &str,
    op: &mut Map<String, Value>,
    taken: &mut HashSet<String>,
) {
    let handler = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("operation");
    let tag = op
        .get("tags")
        .and_then(|t| t.get(0))
        .and_then(Value::as_str)
        .unwrap_or("api");
    let words: Vec<&str> = path
        .split('/')
        .filter(|w| !w.is_empty() && !w.starts_with('{') && *w != "api" && *w != "v1")
        .collect();
    let by_path = words.join("_").replace(".json", "");
    let id = [
        format!("{tag}_{handler}"),
        by_path.clone(),
        format!("{by_path}_{method}"),
    ]
    .into_iter()
    .find(|id| !taken.contains(id))
    .unwrap_or_else(|| format!("{method}_{}", path.replace(['/', '{', '}'], "_")));
    taken.insert(id.clone());
    op.insert("operationId".into(), Value::String(id));
}

/// The errors any authenticated operation can answer, where not documented already.
fn standard_errors(op: &mut Map<String, Value>) {
    let has_input = op.contains_key("requestBody")
        || op
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    let mut add = |code: &str, description: &str| {
        responses
            .entry(code)
            .or_insert_with(|| json!({ "description": description }));
    };
    add("401", "UNAUTHORIZED: no valid bearer token");
    add(
        "403",
        "FORBIDDEN: the token's role is below what this needs",
    );
    if has_input {
        add(
            "400",
            "VALIDATION_ERROR: a parameter or the body is invalid (details.field names it)",
        );
    }
    add(
        "404",
        "NOT_FOUND (or AGENT_NOT_FOUND, CAMPAIGN_NOT_FOUND): a record the request names is not visible to the token's client",
    );
}

/// Path ids, `…Id` query parameters and page cursors are UUIDs.
fn uuid_ids(op: &mut Map<String, Value>) {
    let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in parameters {
        let name = p["name"].as_str().unwrap_or_default();
        let is_id = match p["in"].as_str() {
            Some("path") => name == "id",
            Some("query") => name.ends_with("Id") || name == "cursor",
            _ => false,
        };
        if is_id && p["schema"]["type"] == "string" {
            p["schema"]["format"] = json!("uuid");
        }
    }
}

/// Success bodies as the `data` of the success envelope; errors as `ErrorEnvelope`.
/// `/health/detailed` answers 503 in the success envelope (its body says why).
fn envelopes(path: &str, op: &mut Map<String, Value>) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (code, response) in responses.iter_mut() {
        let success = code.starts_with('2') || path.starts_with("/health");
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let content = response
            .entry("content")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(content) = content else {
            continue;
        };
        if content.keys().any(|k| k != "application/json") {
            continue; // a stream or a file, not an envelope
        }
        let schema = if success {
            let data = content
                .get("application/json")
                .and_then(|c| c.get("schema"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            json!({
                "type": "object",
                "required": ["success", "data"],
                "properties": {"success": {"type": "boolean", "enum": [true]}, "data": data}
            })
        } else {
            json!({ "$ref": "#/components/schemas/ErrorEnvelope" })
        };
        content.insert("application/json".into(), json!({ "schema": schema }));
    }
}
