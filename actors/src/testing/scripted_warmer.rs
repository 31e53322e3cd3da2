//! A [`BotWarmer`] that answers as a test scripts it and counts its attempts.

use crate::ports::BotWarmer;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// A scripted bot warmer: answers `Ok` unless told otherwise.
#[derive(Default)]
pub struct ScriptedWarmer {
    answers: Mutex<VecDeque<Result<(), String>>>,
    attempts: Mutex<Vec<String>>,
}

impl ScriptedWarmer {
    /// Queues the answers of the next attempts.
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Result<(), String>>) {
        self.answers.lock().unwrap().extend(answers);
    }

    /// The URLs of every attempt so far.
    pub fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }
}

#[async_trait]
impl BotWarmer for ScriptedWarmer {
    async fn warm_up(&self, url: &str, _timeout: Duration) -> Result<(), String> {
        self.attempts.lock().unwrap().push(url.to_string());
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}
