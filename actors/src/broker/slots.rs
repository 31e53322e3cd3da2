//! The slot table: who holds a call slot, per client and in total. Pure bookkeeping,
//! kept apart from the actor so the rules can be tested on their own.

use crate::domain::{CallId, ClientId};
use serde::Serialize;
use std::collections::HashMap;

/// Why a slot was not granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "camelCase", tag = "scope")]
pub enum SlotDenied {
    #[error("the client already has {limit} concurrent calls, its limit")]
    Client { limit: u32 },
    #[error("the system already has {limit} concurrent calls, the global limit")]
    Global { limit: u32 },
}

/// Slots held by live calls.
#[derive(Debug)]
pub struct SlotTable {
    global_max: u32,
    holders: HashMap<CallId, ClientId>,
    per_client: HashMap<ClientId, u32>,
}

impl SlotTable {
    pub fn new(global_max: u32) -> Self {
        Self {
            global_max,
            holders: HashMap::new(),
            per_client: HashMap::new(),
        }
    }

    pub fn global_max(&self) -> u32 {
        self.global_max
    }

    /// Grants `call` a slot of `client` if both the client's and the global limit allow.
    /// Asking again for a call that already holds a slot succeeds without taking another.
    pub fn try_acquire(
        &mut self,
        client: ClientId,
        call: CallId,
        client_max: u32,
    ) -> Result<(), SlotDenied> {
        if self.holders.contains_key(&call) {
            return Ok(());
        }
        if self.in_use(client) >= client_max {
            return Err(SlotDenied::Client { limit: client_max });
        }
        if self.total() >= self.global_max {
            return Err(SlotDenied::Global {
                limit: self.global_max,
            });
        }
        self.hold(client, call);
        Ok(())
    }

    /// Whether `call` holds a slot.
    pub fn holds(&self, call: CallId) -> bool {
        self.holders.contains_key(&call)
    }

    /// Records a slot held by a call that is already live (after a restart), even if a
    /// limit was lowered meanwhile: the call exists, so its slot is in use.
    pub fn restore(&mut self, client: ClientId, call: CallId) {
        if !self.holders.contains_key(&call) {
            self.hold(client, call);
        }
    }

    /// Returns the call's slot. Releasing twice is harmless; returns whether it held one.
    pub fn release(&mut self, call: CallId) -> Option<ClientId> {
        let client = self.holders.remove(&call)?;
        if let Some(n) = self.per_client.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&client);
            }
        }
        Some(client)
    }

    pub fn in_use(&self, client: ClientId) -> u32 {
        self.per_client.get(&client).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.holders.len() as u32
    }

    /// Slots in use per client.
    pub fn per_client(&self) -> impl Iterator<Item = (ClientId, u32)> + '_ {
        self.per_client.iter().map(|(c, n)| (*c, *n))
    }

    fn hold(&mut self, client: ClientId, call: CallId) {
        self.holders.insert(call, client);
        *self.per_client.entry(client).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_client_then_global_limits_and_frees_on_release() {
        let (a, b) = (ClientId::new(), ClientId::new());
        let mut t = SlotTable::new(3);
        let calls: Vec<CallId> = (0..4).map(|_| CallId::new()).collect();
        assert!(t.try_acquire(a, calls[0], 2).is_ok());
        assert!(t.try_acquire(a, calls[1], 2).is_ok());
        assert_eq!(
            t.try_acquire(a, calls[2], 2),
            Err(SlotDenied::Client { limit: 2 })
        );
        assert!(t.try_acquire(b, calls[2], 5).is_ok());
        assert_eq!(
            t.try_acquire(b, calls[3], 5),
            Err(SlotDenied::Global { limit: 3 })
        );
        assert_eq!(t.release(calls[0]), Some(a));
        assert_eq!(t.release(calls[0]), None, "a second release frees nothing");
        assert!(t.try_acquire(b, calls[3], 5).is_ok());
        assert_eq!((t.in_use(a), t.in_use(b), t.total()), (1, 2, 3));
    }

    #[test]
    fn acquiring_twice_for_one_call_takes_one_slot() {
        let a = ClientId::new();
        let call = CallId::new();
        let mut t = SlotTable::new(10);
        t.try_acquire(a, call, 1).unwrap();
        t.try_acquire(a, call, 1).unwrap();
        assert_eq!(t.total(), 1);
    }
}
