//! Bot warm-up over HTTP: a `GET` of the agent's warm-up URL, answered with any 2xx
//! within the timeout. The CallActor decides how often to try and what a failure means.

use async_trait::async_trait;
use callvisor_actors::ports::BotWarmer;
use std::time::Duration;

/// Warms bots up with plain HTTP requests.
#[derive(Clone, Debug, Default)]
pub struct HttpWarmer {
    http: reqwest::Client,
}

#[async_trait]
impl BotWarmer for HttpWarmer {
    async fn warm_up(&self, url: &str, timeout: Duration) -> Result<(), String> {
        let response = self
            .http
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("warm-up request failed: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "warm-up answered HTTP {}",
                response.status().as_u16()
            ))
        }
    }
}
