//! Membership changes of one group, sent together. While a call changing
//! a group's members is in flight, the changes of that group that arrive
//! wait, and the first of them then makes one call for all of them: one
//! change of many values. A directory rewrites a group entry on every
//! modify (slapd spends ~1.5 ms on a group of 10,000 members), so 10,000
//! adds one at a time are 10,000 rewrites in a row; batched, a few hundred.
//!
//! Each operation stays its own: ordered in its account's queue, recorded
//! and audited one by one (its `call` row says how many shared the call).
//! A shared call that fails is no one's outcome: every operation in it then
//! makes its own call, so an error is only recorded against the operation
//! it belongs to. Changes only ride together on the same connector version
//! (a version being switched never carries another's work).

use crate::runtime::Connector;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// Members one call carries at most.
pub const MAX_MEMBERS: usize = 500;

/// One group's changes of one kind: (group class, group uid, member
/// attribute, add or remove).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub class: String,
    pub group: String,
    pub attribute: String,
    pub add: bool,
}

/// What a waiting change is told.
pub enum Turn {
    /// Made in a shared call, which carried `members` changes and took
    /// `took`.
    Done { members: usize, took: Duration },
    /// Make the next call (carrying whoever waits by then).
    Lead,
    /// Make a call of your own (the shared call failed, or its maker went
    /// away before answering).
    Alone,
}

pub struct Waiter {
    pub member: String,
    reply: oneshot::Sender<Turn>,
}

impl Waiter {
    pub fn tell(self, turn: Turn) {
        let _ = self.reply.send(turn);
    }
}

/// A group with a call in flight: the version making it and who waits.
struct Busy<V> {
    version: V,
    waiting: VecDeque<Waiter>,
}

/// How a change joins its group.
pub enum Joined<'a, V: Clone + PartialEq> {
    /// No call in flight: make it.
    Lead(Leadership<'a, V>),
    /// Wait for the call in flight to end.
    Wait(oneshot::Receiver<Turn>),
    /// A call from another version is in flight: make a call of your own.
    Alone,
}

/// The groups with a call in flight, by the version (`V`, a loaded
/// connector) making it.
pub struct Batches<V = Connector> {
    busy: Mutex<HashMap<Key, Busy<V>>>,
}

impl<V> Default for Batches<V> {
    fn default() -> Self {
        Batches {
            busy: Mutex::default(),
        }
    }
}

impl<V: Clone + PartialEq> Batches<V> {
    fn busy(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Busy<V>>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins `member`'s change to the group's: it leads a call, or waits.
    pub fn join<'a>(&'a self, key: &Key, version: &V, member: &str) -> Joined<'a, V> {
        let mut busy = self.busy();
        match busy.get_mut(key) {
            None => {
                busy.insert(
                    key.clone(),
                    Busy {
                        version: version.clone(),
                        waiting: VecDeque::new(),
                    },
                );
                Joined::Lead(Leadership {
                    batches: self,
                    key: key.clone(),
                })
            }
            Some(group) if group.version == *version => {
                let (reply, answer) = oneshot::channel();
                group.waiting.push_back(Waiter {
                    member: member.to_owned(),
                    reply,
                });
                Joined::Wait(answer)
            }
            Some(_) => Joined::Alone,
        }
    }

    /// Takes the leadership handed to a waiter by [`Turn::Lead`].
    pub fn lead<'a>(&'a self, key: &Key) -> Leadership<'a, V> {
        Leadership {
            batches: self,
            key: key.clone(),
        }
    }
}

/// The right to make the group's next call; handed on when dropped.
pub struct Leadership<'a, V: Clone + PartialEq> {
    batches: &'a Batches<V>,
    key: Key,
}

impl<V: Clone + PartialEq> Leadership<'_, V> {
    /// The changes waiting now (at most [`MAX_MEMBERS`] less one, the
    /// leader's own), to carry in this call.
    pub fn take(&self) -> Vec<Waiter> {
        let mut busy = self.batches.busy();
        let Some(group) = busy.get_mut(&self.key) else {
            return Vec::new();
        };
        let n = group.waiting.len().min(MAX_MEMBERS - 1);
        group.waiting.drain(..n).collect()
    }
}

impl<V: Clone + PartialEq> Drop for Leadership<'_, V> {
    /// The first change that waits makes the next call; with none, the
    /// group has no call in flight.
    fn drop(&mut self) {
        let mut busy = self.batches.busy();
        let Some(group) = busy.get_mut(&self.key) else {
            return;
        };
        // A waiter gone (its attempt dropped) cannot lead: the next.
        while let Some(next) = group.waiting.pop_front() {
            if next.reply.send(Turn::Lead).is_ok() {
                return;
            }
        }
        busy.remove(&self.key);
    }
}

#[cfg(test)]
mod tests;
