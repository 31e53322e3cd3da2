//! The event-log channel: every notice becomes an entry of the `event_log` table, so
//! what people were told stays on record next to what happened.

use super::alert::{LogEntry, Notice};
use super::context::MonitorStore;
use crate::ports::{AlertChannel, DeliveryError};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Writes notices to the event log through the store.
pub struct LogChannel(pub Arc<dyn MonitorStore>);

#[async_trait]
impl AlertChannel for LogChannel {
    fn name(&self) -> &'static str {
        "event_log"
    }

    async fn deliver(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let entry = LogEntry {
            id: Uuid::now_v7(),
            at: notice.at,
            level: notice.level,
            kind: format!("alert.{}", notice.action.as_str()),
            subject: notice.key.clone(),
            message: notice.title.clone(),
            detail: json!({
                "alertId": notice.alert_id,
                "occurrences": notice.occurrences,
                "firstRaisedAt": notice.first_raised_at,
                "detail": notice.detail,
            }),
        };
        self.0.append_log(&entry).await.map_err(|e| DeliveryError {
            message: e.to_string(),
            retryable: true,
        })
    }
}
