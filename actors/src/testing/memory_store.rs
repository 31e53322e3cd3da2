//! A [`CallStore`] in memory, with a switch to make the next save panic (to test that
//! supervisors rebuild actors from what was persisted).

use crate::domain::{Call, CallEvent, CallId};
use crate::ports::{CallStore, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Calls and events in memory.
#[derive(Default)]
pub struct MemoryStore {
    calls: Mutex<HashMap<CallId, Call>>,
    events: Mutex<Vec<CallEvent>>,
    /// Saves left to panic on (a crash inside an actor's handler).
    panics_left: AtomicUsize,
}

impl MemoryStore {
    /// Makes the next `n` calls to `save_call` panic before writing anything.
    pub fn panic_on_next_saves(&self, n: usize) {
        self.panics_left.store(n, Ordering::SeqCst);
    }

    /// A copy of the stored call.
    pub fn call(&self, id: CallId) -> Option<Call> {
        self.calls.lock().unwrap().get(&id).cloned()
    }

    /// All stored calls.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().values().cloned().collect()
    }

    /// The history of one call, oldest first.
    pub fn events(&self, id: CallId) -> Vec<CallEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.call_id == id)
            .cloned()
            .collect()
    }

    /// Stores a call directly, as if a previous process had left it there.
    pub fn put(&self, call: Call) {
        self.calls.lock().unwrap().insert(call.id, call);
    }
}

#[async_trait]
impl CallStore for MemoryStore {
    async fn save_call(&self, call: &Call, events: &[CallEvent]) -> Result<(), StoreError> {
        let armed = self
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("injected crash while saving call {}", call.id);
        }
        self.calls.lock().unwrap().insert(call.id, call.clone());
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn append_events(&self, events: &[CallEvent]) -> Result<(), StoreError> {
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn load_call(&self, id: CallId) -> Result<Option<Call>, StoreError> {
        Ok(self.call(id))
    }

    async fn find_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        Ok(self
            .calls
            .lock()
            .unwrap()
            .values()
            .find(|c| {
                c.provider == provider && c.provider_call_id.as_deref() == Some(provider_call_id)
            })
            .cloned())
    }

    async fn live_calls(&self) -> Result<Vec<Call>, StoreError> {
        Ok(self
            .calls
            .lock()
            .unwrap()
            .values()
            .filter(|c| c.is_live())
            .cloned()
            .collect())
    }
}
