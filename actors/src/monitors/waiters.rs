//! Who waits for a piece of work that runs at most once at a time (a health probe, a
//! sync run): a request while it runs joins it instead of starting another.

use ractor::RpcReplyPort;

/// The callers waiting for the work under way; empty while none runs.
pub struct Waiters<T>(Option<Vec<RpcReplyPort<T>>>);

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Clone + Send + 'static> Waiters<T> {
    /// Adds `reply` to the work under way and returns `false`, or, when none runs,
    /// records it as the first waiter and returns `true`: the caller starts the work.
    pub fn join(&mut self, reply: Option<RpcReplyPort<T>>) -> bool {
        match &mut self.0 {
            Some(waiting) => {
                waiting.extend(reply);
                false
            }
            None => {
                self.0 = Some(reply.into_iter().collect());
                true
            }
        }
    }

    /// The work is done: every waiter gets `value`.
    pub fn finish(&mut self, value: &T) {
        for reply in self.0.take().unwrap_or_default() {
            let _ = reply.send(value.clone());
        }
    }
}
