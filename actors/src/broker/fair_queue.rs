//! The waiting line for call slots: round-robin across clients, and across lanes (one
//! per campaign, one for scheduled calls, …) within a client, so that no client and no
//! campaign starves another however many calls each has queued.

use crate::domain::ClientId;
use std::collections::{HashMap, VecDeque};

/// A client's waiting calls, by lane.
#[derive(Debug)]
struct ClientLine<W> {
    /// Lanes with waiters, in turn order.
    turn: VecDeque<String>,
    lanes: HashMap<String, VecDeque<W>>,
}

impl<W> Default for ClientLine<W> {
    fn default() -> Self {
        Self {
            turn: VecDeque::new(),
            lanes: HashMap::new(),
        }
    }
}

/// Waiters, served round-robin by client, then by lane.
#[derive(Debug)]
pub struct FairQueue<W> {
    /// Clients with waiters, in turn order.
    turn: VecDeque<ClientId>,
    clients: HashMap<ClientId, ClientLine<W>>,
    len: usize,
}

impl<W> Default for FairQueue<W> {
    fn default() -> Self {
        Self {
            turn: VecDeque::new(),
            clients: HashMap::new(),
            len: 0,
        }
    }
}

impl<W> FairQueue<W> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every waiter, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &W> {
        self.clients
            .values()
            .flat_map(|line| line.lanes.values().flatten())
    }

    /// Waiters of one client.
    pub fn waiting_for(&self, client: ClientId) -> usize {
        self.clients
            .get(&client)
            .map_or(0, |c| c.lanes.values().map(VecDeque::len).sum())
    }

    /// Puts a waiter at the back of its lane.
    pub fn push(&mut self, client: ClientId, lane: &str, waiter: W) {
        let line = self.clients.entry(client).or_insert_with(|| {
            self.turn.push_back(client);
            ClientLine::default()
        });
        let queue = line.lanes.entry(lane.to_string()).or_insert_with(|| {
            line.turn.push_back(lane.to_string());
            VecDeque::new()
        });
        queue.push_back(waiter);
        self.len += 1;
    }

    /// Removes every waiter of `client` for which `leaves` holds; returns how many left.
    pub fn remove_where(&mut self, client: ClientId, leaves: impl Fn(&W) -> bool) -> usize {
        let Some(line) = self.clients.get_mut(&client) else {
            return 0;
        };
        let mut removed = 0;
        for queue in line.lanes.values_mut() {
            let before = queue.len();
            queue.retain(|w| !leaves(w));
            removed += before - queue.len();
        }
        line.lanes.retain(|_, queue| !queue.is_empty());
        let lanes = &line.lanes;
        line.turn.retain(|lane| lanes.contains_key(lane));
        if line.turn.is_empty() {
            self.clients.remove(&client);
            self.turn.retain(|c| *c != client);
        }
        self.len -= removed;
        removed
    }

    /// Takes the next waiter whose client `may_go`, in round-robin order; the client
    /// and lane served go to the back of their turn.
    pub fn pop_next(&mut self, mut may_go: impl FnMut(ClientId) -> bool) -> Option<(ClientId, W)> {
        for _ in 0..self.turn.len() {
            let client = self.turn.pop_front()?;
            if !may_go(client) {
                self.turn.push_back(client);
                continue;
            }
            let line = self.clients.get_mut(&client)?;
            let lane = line.turn.pop_front()?;
            let queue = line.lanes.get_mut(&lane)?;
            let waiter = queue.pop_front()?;
            if queue.is_empty() {
                line.lanes.remove(&lane);
            } else {
                line.turn.push_back(lane);
            }
            if line.turn.is_empty() {
                self.clients.remove(&client);
            } else {
                self.turn.push_back(client);
            }
            self.len -= 1;
            return Some((client, waiter));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_clients_in_turn_and_lanes_in_turn_within_a_client() {
        let (a, b) = (ClientId::new(), ClientId::new());
        let mut q = FairQueue::default();
        for i in 0..3 {
            q.push(a, "campaign-1", format!("a1-{i}"));
        }
        q.push(a, "campaign-2", "a2-0".to_string());
        q.push(b, "scheduled", "b-0".to_string());
        let order: Vec<String> =
            std::iter::from_fn(|| q.pop_next(|_| true).map(|(_, w)| w)).collect();
        assert_eq!(order, ["a1-0", "b-0", "a2-0", "a1-1", "a1-2"]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_removed_waiter_is_never_served_and_the_others_keep_their_turn() {
        let (a, b) = (ClientId::new(), ClientId::new());
        let mut q = FairQueue::default();
        q.push(a, "x", 1);
        q.push(a, "x", 2);
        q.push(b, "y", 3);
        assert_eq!(q.remove_where(a, |w| *w == 1), 1);
        assert_eq!(q.remove_where(b, |w| *w == 3), 1);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_next(|_| true), Some((a, 2)));
        assert!(q.is_empty());
        assert_eq!(q.pop_next(|_| true), None);
    }

    #[test]
    fn skips_clients_that_may_not_go_without_losing_their_place() {
        let (a, b) = (ClientId::new(), ClientId::new());
        let mut q = FairQueue::default();
        q.push(a, "x", 1);
        q.push(b, "x", 2);
        assert_eq!(q.pop_next(|c| c == b), Some((b, 2)));
        assert_eq!(q.pop_next(|c| c == b), None);
        assert_eq!(q.waiting_for(a), 1);
        assert_eq!(q.pop_next(|_| true), Some((a, 1)));
    }
}
