//! The alert channels that leave the process: a generic JSON webhook, a Slack incoming
//! webhook and PagerDuty Events v2. Each is one HTTP POST per notice in its service's
//! shape (`generic`, `slack`, `pagerduty`); the AlertManager's couriers call them,
//! bound each attempt and retry what [`DeliveryError::retryable`] allows.

mod generic;
mod pagerduty;
mod slack;

use async_trait::async_trait;
use callvisor_actors::monitors::Notice;
use callvisor_actors::ports::{AlertChannel, DeliveryError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Which service a channel speaks to, and how its bodies look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Our own JSON, for any receiver.
    Generic,
    /// Slack's incoming-webhook message.
    Slack,
    /// A PagerDuty Events v2 event for this routing key.
    PagerDuty { routing_key: String },
}

/// One outside channel.
pub struct HttpChannel {
    format: Format,
    url: String,
    http: reqwest::Client,
}

impl HttpChannel {
    pub fn new(format: Format, url: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { format, url, http })
    }

    fn body(&self, notice: &Notice) -> Value {
        match &self.format {
            Format::Generic => generic::body(notice),
            Format::Slack => slack::body(notice),
            Format::PagerDuty { routing_key } => pagerduty::body(routing_key, notice),
        }
    }
}

#[async_trait]
impl AlertChannel for HttpChannel {
    fn name(&self) -> &'static str {
        match self.format {
            Format::Generic => "webhook",
            Format::Slack => "slack",
            Format::PagerDuty { .. } => "pagerduty",
        }
    }

    async fn deliver(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let sent = self
            .http
            .post(&self.url)
            .json(&self.body(notice))
            .send()
            .await;
        let response = sent.map_err(|e| DeliveryError {
            message: format!("POST {}: {e}", self.name()),
            retryable: true,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(DeliveryError {
            message: format!("{} answered HTTP {status}: {}", self.name(), text.trim()),
            retryable: status.as_u16() == 429 || status.is_server_error(),
        })
    }
}

/// The channels the configuration asks for.
pub fn channels(
    args: &crate::config::monitoring::MonitoringArgs,
) -> Result<Vec<Arc<dyn AlertChannel>>, reqwest::Error> {
    let timeout = args.alert_delivery_timeout;
    let mut channels: Vec<Arc<dyn AlertChannel>> = Vec::new();
    if let Some(url) = &args.alert_webhook_url {
        channels.push(Arc::new(HttpChannel::new(
            Format::Generic,
            url.clone(),
            timeout,
        )?));
    }
    if let Some(url) = &args.slack_webhook_url {
        channels.push(Arc::new(HttpChannel::new(
            Format::Slack,
            url.clone(),
            timeout,
        )?));
    }
    if let Some(key) = &args.pagerduty_routing_key {
        let format = Format::PagerDuty {
            routing_key: key.clone(),
        };
        let url = args.pagerduty_events_url.clone();
        channels.push(Arc::new(HttpChannel::new(format, url, timeout)?));
    }
    Ok(channels)
}
