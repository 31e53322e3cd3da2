//! Bookkeeping shared by the supervisors: how many restarts an entity may have in a
//! window before its supervisor gives up on it, a replaceable actor reference so that a
//! restarted actor is reached through the same handle, and a reference set late.

use ractor::{ActorCell, ActorRef, Message, SupervisionEvent};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// At most `max_restarts` restarts within `window`; one more and the supervisor gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub max_restarts: usize,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window: Duration::from_secs(60),
        }
    }
}

/// The restarts one entity has had recently.
#[derive(Debug, Default)]
pub struct RestartHistory {
    recent: VecDeque<Instant>,
}

impl RestartHistory {
    /// Records a failure now and says whether the policy allows another restart.
    pub fn allow_restart(&mut self, policy: RestartPolicy, now: Instant) -> bool {
        while let Some(&oldest) = self.recent.front() {
            if now.duration_since(oldest) > policy.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= policy.max_restarts {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// The child a supervision event reports ended (failed or stopped), and why; `None` for
/// the events that do not end a child.
pub fn ended_child(event: SupervisionEvent) -> Option<(ActorCell, String)> {
    match event {
        SupervisionEvent::ActorFailed(cell, error) => Some((cell, error.to_string())),
        SupervisionEvent::ActorTerminated(cell, _, reason) => {
            Some((cell, reason.unwrap_or_else(|| "stopped".into())))
        }
        _ => None,
    }
}

/// Counts a restart of the child `label` (in `callvisor_actor_restarts_total` and the
/// restart-storm signal) and says whether its budget allows it; `Err` says why not.
pub fn charge_restart<K: std::hash::Hash + Eq>(
    histories: &mut std::collections::HashMap<K, RestartHistory>,
    child: K,
    label: &'static str,
    policy: RestartPolicy,
    signals: &crate::monitors::Signals,
    reason: &str,
) -> Result<(), String> {
    metrics::counter!("callvisor_actor_restarts_total", "actor" => label).increment(1);
    signals.restarted();
    if histories
        .entry(child)
        .or_default()
        .allow_restart(policy, Instant::now())
    {
        Ok(())
    } else {
        Err(format!("{label} keeps failing ({reason}); giving up"))
    }
}

/// An actor reference that its supervisor replaces when it restarts the actor, so
/// everyone holding the handle reaches the new instance.
pub struct Replaceable<M: Message>(Arc<RwLock<ActorRef<M>>>);

impl<M: Message> Clone for Replaceable<M> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<M: Message> Replaceable<M> {
    pub fn new(actor: ActorRef<M>) -> Self {
        Self(Arc::new(RwLock::new(actor)))
    }

    /// The current instance.
    pub fn get(&self) -> ActorRef<M> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Points the handle at a restarted instance.
    pub fn replace(&self, actor: ActorRef<M>) {
        match self.0.write() {
            Ok(mut guard) => *guard = actor,
            Err(poisoned) => *poisoned.into_inner() = actor,
        }
    }
}

/// An actor reference that exists only once a later part of the tree has started: the
/// CallActors report to the CampaignSupervisor, which starts after the calls it needs.
/// Until it is set, [`LateRef::get`] is `None`.
pub struct LateRef<M: Message>(Arc<RwLock<Option<ActorRef<M>>>>);

impl<M: Message> Clone for LateRef<M> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<M: Message> Default for LateRef<M> {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }
}

impl<M: Message> LateRef<M> {
    pub fn get(&self) -> Option<ActorRef<M>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, actor: ActorRef<M>) {
        match self.0.write() {
            Ok(mut guard) => *guard = Some(actor),
            Err(poisoned) => *poisoned.into_inner() = Some(actor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_max_restarts_in_window_and_forgets_old_ones() {
        let policy = RestartPolicy {
            max_restarts: 2,
            window: Duration::from_secs(10),
        };
        let mut h = RestartHistory::default();
        let t0 = Instant::now();
        assert!(h.allow_restart(policy, t0));
        assert!(h.allow_restart(policy, t0 + Duration::from_secs(1)));
        assert!(!h.allow_restart(policy, t0 + Duration::from_secs(2)));
        assert!(h.allow_restart(policy, t0 + Duration::from_secs(12)));
    }
}
