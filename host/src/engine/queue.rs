//! The open operations of one target, as one FIFO per account.
//!
//! An account's operations run strictly in submission order: only the head
//! of its FIFO may run, and only when it is queued (or due for a retry) and
//! nothing of that account is in flight. Different accounts are independent.
//! The store holds the truth; this is the in-memory index the dispatcher
//! works from, rebuilt from the store at start.
//!
//! Accounts whose head waits for a retry are kept by due time, apart from
//! the FIFO of ready accounts: a retry that is due runs before any newer
//! work of the target (after a restart too, when many are due at once).

use crate::store::Status;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// An account on a target: (class, identity).
pub type AccountKey = (String, String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub status: Status,
    /// For retrying operations: when the next attempt is due (ms).
    pub due_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Queue {
    accounts: HashMap<AccountKey, VecDeque<Entry>>,
    ready: VecDeque<AccountKey>,
    /// Accounts whose head waits for a retry, by due time (entries of an
    /// account that moved on are skipped when met).
    retries: BTreeSet<(i64, AccountKey)>,
    /// Accounts in `ready` or `retries`.
    queued: HashSet<AccountKey>,
    in_flight: HashSet<AccountKey>,
    index: HashMap<String, AccountKey>,
    /// Operations that go ahead of every other account's queued work (a
    /// kill switch's disables).
    urgent: HashSet<String>,
}

/// What the dispatcher should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Run(AccountKey, String),
    /// Nothing is ready; wake at this time (ms) for a retry, if any.
    Wait(Option<i64>),
}

impl Queue {
    /// Operations not yet final.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn running(&self) -> usize {
        self.in_flight.len()
    }

    /// Adds an operation at the end of its account's FIFO.
    pub fn push(&mut self, account: AccountKey, entry: Entry) {
        self.index.insert(entry.id.clone(), account.clone());
        self.accounts
            .entry(account.clone())
            .or_default()
            .push_back(entry);
        self.consider(&account);
    }

    /// Adds an operation ahead of its account's queued work (right after
    /// the one running, if one is) and its account ahead of every other.
    pub fn push_urgent(&mut self, account: AccountKey, entry: Entry) {
        self.index.insert(entry.id.clone(), account.clone());
        self.urgent.insert(entry.id.clone());
        let fifo = self.accounts.entry(account.clone()).or_default();
        if self.in_flight.contains(&account) {
            let at = 1.min(fifo.len());
            fifo.insert(at, entry);
            return;
        }
        fifo.push_front(entry);
        self.ready.retain(|a| a != &account);
        self.queued.insert(account.clone());
        self.ready.push_front(account);
    }

    /// [`Self::claim_idle`] for an urgent operation: it starts even when
    /// other accounts' work is ready.
    pub fn claim_idle_urgent(&mut self, account: AccountKey, id: &str) -> bool {
        self.claim(account, id, None)
    }

    /// Adds an operation that starts at once, if its account has nothing
    /// open and nothing running, and no other account's operation is ready
    /// to run at `now` (a new operation never overtakes one already
    /// waiting for a slot); marks it in flight. False leaves the queue as
    /// it was.
    pub fn claim_idle(&mut self, account: AccountKey, id: &str, now: i64) -> bool {
        self.claim(account, id, Some(now))
    }

    /// Claims an idle account for `id`; with `now`, only when nothing else
    /// is ready then.
    fn claim(&mut self, account: AccountKey, id: &str, now: Option<i64>) -> bool {
        if self.accounts.contains_key(&account)
            || self.in_flight.contains(&account)
            || now.is_some_and(|now| self.has_ready(now))
        {
            return false;
        }
        self.index.insert(id.to_owned(), account.clone());
        self.accounts
            .entry(account.clone())
            .or_default()
            .push_back(Entry {
                id: id.to_owned(),
                status: Status::Running,
                due_at: None,
            });
        self.in_flight.insert(account);
        true
    }

    /// Whether some account's operation could run at `now`: what
    /// [`Self::next`] would take.
    fn has_ready(&self, now: i64) -> bool {
        let retry_due = self
            .retries
            .iter()
            .take_while(|(due, _)| *due <= now)
            .any(|(due, account)| self.waits_for_retry(account, *due));
        retry_due
            || self.ready.iter().any(|account| {
                self.accounts
                    .get(account)
                    .and_then(|q| q.front())
                    .is_some_and(|head| runnable(head, now))
            })
    }

    /// Whether `account`'s head is a retry due at `due`.
    fn waits_for_retry(&self, account: &AccountKey, due: i64) -> bool {
        !self.in_flight.contains(account)
            && self
                .accounts
                .get(account)
                .and_then(|q| q.front())
                .is_some_and(|head| head.status == Status::Retrying && head.due_at == Some(due))
    }

    /// The next operation to run, now being `now` (ms); it is marked in
    /// flight. Due retries first, earliest due first; then ready accounts in
    /// the order they became ready.
    pub fn next(&mut self, now: i64) -> Next {
        while let Some((due, account)) = self.retries.first().cloned() {
            if due > now {
                break;
            }
            self.retries.pop_first();
            if !self.waits_for_retry(&account, due) {
                continue;
            }
            self.queued.remove(&account);
            let id = self
                .head_id(&account)
                .expect("a retry has a head")
                .to_owned();
            self.in_flight.insert(account.clone());
            return Next::Run(account, id);
        }
        let mut earliest: Option<i64> = self.retries.first().map(|(due, _)| *due);
        let mut deferred = Vec::new();
        while let Some(account) = self.ready.pop_front() {
            self.queued.remove(&account);
            let Some(head) = self.accounts.get(&account).and_then(|q| q.front()) else {
                continue;
            };
            if !runnable(head, now) {
                if let (Status::Retrying, Some(due)) = (head.status, head.due_at) {
                    earliest = Some(earliest.map_or(due, |e| e.min(due)));
                    deferred.push(account);
                }
                continue;
            }
            let id = head.id.clone();
            self.in_flight.insert(account.clone());
            for a in deferred {
                self.enqueue(a);
            }
            return Next::Run(account, id);
        }
        for a in deferred {
            self.enqueue(a);
        }
        Next::Wait(earliest)
    }

    /// Records the end of an attempt: a final operation leaves its FIFO; a
    /// retry stays at the head until `due_at`.
    pub fn finish(&mut self, id: &str, status: Status, due_at: Option<i64>) {
        let Some(account) = self.index.get(id).cloned() else {
            return;
        };
        self.in_flight.remove(&account);
        if let Some(fifo) = self.accounts.get_mut(&account) {
            if status.is_final() {
                fifo.retain(|e| e.id != id);
                self.index.remove(id);
                self.urgent.remove(id);
            } else if let Some(entry) = fifo.iter_mut().find(|e| e.id == id) {
                entry.status = status;
                entry.due_at = due_at;
            }
            if fifo.is_empty() {
                self.accounts.remove(&account);
            }
        }
        self.consider(&account);
    }

    /// Changes the status of an operation that is not running (approval).
    pub fn set_status(&mut self, id: &str, status: Status) {
        let Some(account) = self.index.get(id).cloned() else {
            return;
        };
        if let Some(entry) = self
            .accounts
            .get_mut(&account)
            .and_then(|f| f.iter_mut().find(|e| e.id == id))
        {
            entry.status = status;
        }
        self.consider(&account);
    }

    /// Drops an operation that is not running (cancelled or rejected).
    pub fn remove(&mut self, id: &str) {
        if !self.is_running(id) {
            self.finish(id, Status::Cancelled, None);
        }
    }

    /// True when `id` is the running head of its account.
    pub fn is_running(&self, id: &str) -> bool {
        self.index
            .get(id)
            .is_some_and(|a| self.in_flight.contains(a) && self.head_id(a) == Some(id))
    }

    fn head_id(&self, account: &AccountKey) -> Option<&str> {
        self.accounts.get(account)?.front().map(|e| e.id.as_str())
    }

    /// Puts the account in the ready list (or, for a retry, the retry
    /// schedule) if its head may run.
    fn consider(&mut self, account: &AccountKey) {
        if self.in_flight.contains(account) || self.queued.contains(account) {
            return;
        }
        let Some(head) = self.accounts.get(account).and_then(|f| f.front()) else {
            return;
        };
        match (head.status, head.due_at) {
            (Status::Retrying, Some(due)) => {
                self.queued.insert(account.clone());
                self.retries.insert((due, account.clone()));
            }
            (Status::Queued | Status::Retrying | Status::Running, _) => {
                if self.urgent.contains(&head.id) {
                    self.queued.insert(account.clone());
                    self.ready.push_front(account.clone());
                } else {
                    self.enqueue(account.clone())
                }
            }
            _ => {}
        }
    }

    fn enqueue(&mut self, account: AccountKey) {
        if self.queued.insert(account.clone()) {
            self.ready.push_back(account);
        }
    }
}

/// Whether an account's head may run at `now` (ms): queued, recovered
/// running, or a retry that is due.
fn runnable(head: &Entry, now: i64) -> bool {
    match (head.status, head.due_at) {
        (Status::Queued | Status::Running, _) => true,
        (Status::Retrying, Some(due)) => due <= now,
        (Status::Retrying, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(identity: &str) -> AccountKey {
        ("account".into(), identity.into())
    }

    fn entry(id: &str, status: Status) -> Entry {
        Entry {
            id: id.into(),
            status,
            due_at: None,
        }
    }

    #[test]
    fn an_urgent_operation_goes_ahead_of_other_accounts_work() {
        let mut q = Queue::default();
        for i in 0..3 {
            q.push(
                key(&format!("a{i}")),
                entry(&format!("q{i}"), Status::Queued),
            );
        }
        // b runs one operation; its urgent one follows it at once, ahead of
        // a0..a2 which were queued first.
        assert!(q.claim_idle_urgent(key("b"), "b-running"));
        q.push(key("b"), entry("b-queued", Status::Queued));
        q.push_urgent(key("b"), entry("b-urgent", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("a0"), "q0".into()));
        q.finish("b-running", Status::Succeeded, None);
        assert_eq!(q.next(0), Next::Run(key("b"), "b-urgent".into()));
        q.finish("b-urgent", Status::Succeeded, None);
        assert_eq!(q.next(0), Next::Run(key("a1"), "q1".into()));
        // An idle account's urgent operation goes first of all.
        q.push_urgent(key("c"), entry("c-urgent", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("c"), "c-urgent".into()));
    }

    #[test]
    fn one_account_runs_in_order_others_in_parallel() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::Queued));
        q.push(key("ada"), entry("a2", Status::Queued));
        q.push(key("bob"), entry("b1", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
        assert_eq!(q.next(0), Next::Run(key("bob"), "b1".into()));
        assert_eq!(q.next(0), Next::Wait(None), "a2 waits for a1");
        q.finish("a1", Status::Succeeded, None);
        assert_eq!(q.next(0), Next::Run(key("ada"), "a2".into()));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn a_retry_holds_its_account_until_due() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::Queued));
        q.push(key("ada"), entry("a2", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
        q.finish("a1", Status::Retrying, Some(500));
        assert_eq!(
            q.next(100),
            Next::Wait(Some(500)),
            "a2 does not overtake a1"
        );
        assert_eq!(q.next(500), Next::Run(key("ada"), "a1".into()));
    }

    #[test]
    fn approval_and_cancellation() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::PendingApproval));
        q.push(key("ada"), entry("a2", Status::Queued));
        assert_eq!(q.next(0), Next::Wait(None), "nothing runs before approval");
        q.set_status("a1", Status::Queued);
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
        q.remove("a1");
        assert!(q.is_running("a1"), "a running operation is not removed");
        q.finish("a1", Status::Succeeded, None);
        q.remove("a2");
        assert_eq!(q.len(), 0);
        assert_eq!(q.next(0), Next::Wait(None));
    }

    #[test]
    fn only_an_idle_account_is_claimed() {
        let mut q = Queue::default();
        assert!(q.claim_idle(key("ada"), "a1", 0));
        assert!(!q.claim_idle(key("ada"), "a2", 0), "busy");
        assert_eq!(
            q.next(0),
            Next::Wait(None),
            "the claimed one is already running"
        );
        q.push(key("ada"), entry("a3", Status::Queued));
        q.finish("a1", Status::Succeeded, None);
        assert_eq!(q.next(0), Next::Run(key("ada"), "a3".into()));
        q.finish("a3", Status::Succeeded, None);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_new_operation_does_not_overtake_one_waiting_for_a_slot() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::Queued));
        assert!(!q.claim_idle(key("bob"), "b1", 0), "a1 was waiting first");
        assert_eq!(q.len(), 1, "a refused claim leaves the queue as it was");
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
        assert!(q.claim_idle(key("bob"), "b1", 0), "nothing waits now");
        // A retry that is not yet due does not hold new work back.
        q.finish("a1", Status::Retrying, Some(100));
        assert!(q.claim_idle(key("cid"), "c1", 50));
        assert!(!q.claim_idle(key("dan"), "d1", 100), "the retry is due");
    }

    #[test]
    fn a_due_retry_runs_before_newer_work() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
        q.finish("a1", Status::Retrying, Some(100));
        for i in 0..50 {
            q.push(
                key(&format!("new{i}")),
                entry(&format!("n{i}"), Status::Queued),
            );
        }
        assert_eq!(
            q.next(50),
            Next::Run(key("new0"), "n0".into()),
            "not due yet"
        );
        assert!(!q.claim_idle(key("late"), "l1", 100), "a due retry waits");
        assert_eq!(
            q.next(100),
            Next::Run(key("ada"), "a1".into()),
            "due: first"
        );
        // After a restart many retries are due at once: earliest first,
        // all before the queued ones.
        let mut q = Queue::default();
        q.push(key("x"), entry("x1", Status::Queued));
        for (id, due) in [("r3", 30), ("r1", 10), ("r2", 20)] {
            q.push(
                key(id),
                Entry {
                    id: id.into(),
                    status: Status::Retrying,
                    due_at: Some(due),
                },
            );
        }
        let order: Vec<String> = (0..4)
            .map(|_| match q.next(1000) {
                Next::Run(_, id) => id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, ["r1", "r2", "r3", "x1"]);
        assert!(
            q.claim_idle(key("late"), "l1", 1000),
            "nothing is left waiting"
        );
    }

    #[test]
    fn a_cancelled_retry_leaves_the_schedule() {
        let mut q = Queue::default();
        q.push(
            key("ada"),
            Entry {
                id: "a1".into(),
                status: Status::Retrying,
                due_at: Some(100),
            },
        );
        q.remove("a1");
        assert_eq!(q.next(200), Next::Wait(None));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn recovered_running_operations_run_again_first() {
        let mut q = Queue::default();
        q.push(key("ada"), entry("a1", Status::Running));
        q.push(key("ada"), entry("a2", Status::Queued));
        assert_eq!(q.next(0), Next::Run(key("ada"), "a1".into()));
    }
}
