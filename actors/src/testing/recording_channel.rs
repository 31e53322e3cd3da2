//! An [`AlertChannel`] that keeps every notice it is sent, and can be told to fail or to
//! hang, for tests of delivery.

use crate::monitors::Notice;
use crate::ports::{AlertChannel, DeliveryError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A channel that records.
pub struct RecordingChannel {
    name: &'static str,
    delivered: Mutex<Vec<Notice>>,
    /// Attempts, failed or not.
    attempts: AtomicUsize,
    /// Attempts left to fail (retryably).
    failures_left: AtomicUsize,
    /// Every attempt waits forever.
    hangs: AtomicBool,
}

impl RecordingChannel {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            delivered: Mutex::default(),
            attempts: AtomicUsize::new(0),
            failures_left: AtomicUsize::new(0),
            hangs: AtomicBool::new(false),
        }
    }

    /// A channel whose every attempt never answers.
    pub fn hanging(name: &'static str) -> Self {
        let c = Self::new(name);
        c.hangs.store(true, Ordering::SeqCst);
        c
    }

    /// Makes the next `n` attempts fail.
    pub fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// The notices delivered, in order.
    pub fn delivered(&self) -> Vec<Notice> {
        self.delivered.lock().unwrap().clone()
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl AlertChannel for RecordingChannel {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn deliver(&self, notice: &Notice) -> Result<(), DeliveryError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.hangs.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(DeliveryError {
                message: "refused (scripted)".into(),
                retryable: true,
            });
        }
        self.delivered.lock().unwrap().push(notice.clone());
        Ok(())
    }
}
