//! Delivering notices to one channel without ever holding up whoever raised them.
//!
//! Each channel has a courier: a task with a bounded queue of its own. Handing it a
//! notice never waits (a full queue drops the notice and counts it), each attempt is
//! bounded by a timeout, and a failed attempt is retried with exponential backoff. A
//! channel that hangs or refuses therefore delays only its own later notices, never
//! another channel, the AlertManager, or the actors that raised the alert; notices to
//! one channel stay in order, so a resolve never overtakes its trigger.

use super::alert::Notice;
use crate::ports::AlertChannel;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How hard a courier tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts per notice, the first included.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one…
    pub first_backoff: Duration,
    /// …up to this.
    pub max_backoff: Duration,
    /// Longest wait for one attempt.
    pub timeout: Duration,
    /// Notices waiting for a channel beyond this are dropped.
    pub queue: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            queue: 256,
        }
    }
}

/// The sending end of one channel's queue.
pub struct Courier {
    name: &'static str,
    queue: mpsc::Sender<Notice>,
}

impl Courier {
    /// Starts the channel's delivery task.
    pub fn spawn(channel: Arc<dyn AlertChannel>, policy: DeliveryPolicy) -> Self {
        let (queue, notices) = mpsc::channel(policy.queue.max(1));
        let name = channel.name();
        tokio::spawn(deliver_all(channel, policy, notices));
        Self { name, queue }
    }

    /// Queues a notice; never waits.
    pub fn send(&self, notice: Notice) {
        if let Err(e) = self.queue.try_send(notice) {
            tracing::warn!(channel = self.name, error = %e, "alert notice dropped");
            count(self.name, "dropped");
        }
    }
}

async fn deliver_all(
    channel: Arc<dyn AlertChannel>,
    policy: DeliveryPolicy,
    mut notices: mpsc::Receiver<Notice>,
) {
    let name = channel.name();
    while let Some(notice) = notices.recv().await {
        let mut backoff = policy.first_backoff;
        for attempt in 1..=policy.attempts.max(1) {
            let outcome = tokio::time::timeout(policy.timeout, channel.deliver(&notice)).await;
            let (error, retryable) = match outcome {
                Ok(Ok(())) => {
                    count(name, "delivered");
                    break;
                }
                Ok(Err(e)) => (e.message, e.retryable),
                Err(_) => (format!("no answer within {:?}", policy.timeout), true),
            };
            if !retryable || attempt == policy.attempts.max(1) {
                tracing::error!(channel = name, key = %notice.key, attempt, %error, "alert notice not delivered");
                count(name, "failed");
                break;
            }
            tracing::warn!(channel = name, key = %notice.key, attempt, %error, ?backoff, "alert delivery failed; retrying");
            count(name, "retried");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }
}

fn count(channel: &'static str, outcome: &'static str) {
    metrics::counter!("callvisor_alert_deliveries_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}
