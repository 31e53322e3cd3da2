//! The generic webhook's body: the notice as JSON, with a one-line message for
//! receivers that only show text.

use callvisor_actors::monitors::{Action, Notice};
use serde_json::{json, Value};

pub fn body(notice: &Notice) -> Value {
    let message = match notice.action {
        Action::Trigger => format!(
            "[{}] {}",
            notice.level.as_str().to_uppercase(),
            notice.title
        ),
        Action::Resolve => format!("[RESOLVED] {}", notice.title),
    };
    json!({
        "source": "callvisor",
        "event": format!("alert.{}", notice.action.as_str()),
        "alertId": notice.alert_id,
        "key": notice.key,
        "level": notice.level,
        "title": notice.title,
        "message": message,
        "detail": notice.detail,
        "occurrences": notice.occurrences,
        "firstRaisedAt": notice.first_raised_at,
        "timestamp": notice.at,
    })
}
