//! Slack's incoming-webhook message: a `text` line for notifications and one attachment
//! coloured by level, with the alert's fields.

use callvisor_actors::monitors::{Action, Level, Notice};
use serde_json::{json, Value};

fn color(notice: &Notice) -> &'static str {
    match (notice.action, notice.level) {
        (Action::Resolve, _) => "good",
        (_, Level::Critical | Level::Error) => "danger",
        (_, Level::Warning) => "warning",
        (_, Level::Info) => "#439FE0",
    }
}

pub fn body(notice: &Notice) -> Value {
    let text = match notice.action {
        Action::Trigger => format!(
            ":rotating_light: *{}*: {}",
            notice.level.as_str().to_uppercase(),
            notice.title
        ),
        Action::Resolve => format!(":white_check_mark: *RESOLVED*: {}", notice.title),
    };
    let detail = serde_json::to_string_pretty(&notice.detail).unwrap_or_default();
    json!({
        "text": text,
        "attachments": [{
            "color": color(notice),
            "title": notice.title,
            "fallback": text,
            "fields": [
                {"title": "Level", "value": notice.level.as_str(), "short": true},
                {"title": "Key", "value": notice.key, "short": true},
                {"title": "Occurrences", "value": notice.occurrences.to_string(), "short": true},
                {"title": "Since", "value": notice.first_raised_at.to_rfc3339(), "short": true},
                {"title": "Detail", "value": format!("```{detail}```"), "short": false},
            ],
            "footer": "callvisor",
            "ts": notice.at.timestamp(),
        }],
    })
}
