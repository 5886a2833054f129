//! Group names the target resolved to uids, remembered for a minute: a
//! membership change names its group (`everyone`), and asking the
//! connector which group that is — a `get` by uid, then a `search` by name
//! — took two round trips per add or remove. A group's uid outlives a
//! rename; a group deleted and created again under its name is found
//! again within a minute, its membership changes failing until then.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a resolved name is trusted.
const FRESH_FOR: Duration = Duration::from_secs(60);
/// Names held at most; past this the cache starts again empty.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct GroupNames {
    uids: HashMap<(String, String), (String, Instant)>,
}

impl GroupNames {
    /// The uid `name` of `class` resolved to within the last minute.
    pub fn get(&self, class: &str, name: &str) -> Option<String> {
        self.uids
            .get(&(class.to_owned(), name.to_owned()))
            .filter(|(_, at)| at.elapsed() < FRESH_FOR)
            .map(|(uid, _)| uid.clone())
    }

    pub fn put(&mut self, class: &str, name: &str, uid: &str) {
        if self.uids.len() >= CAPACITY {
            self.uids.clear();
        }
        self.uids.insert(
            (class.to_owned(), name.to_owned()),
            (uid.to_owned(), Instant::now()),
        );
    }

    /// Forgets a name whose uid the target no longer knows.
    pub fn forget(&mut self, class: &str, name: &str) {
        self.uids.remove(&(class.to_owned(), name.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_remembered_per_class_and_forgotten_on_request() {
        let mut names = GroupNames::default();
        assert_eq!(names.get("group", "everyone"), None);
        names.put("group", "everyone", "u-1");
        assert_eq!(names.get("group", "everyone").as_deref(), Some("u-1"));
        assert_eq!(names.get("role", "everyone"), None);
        names.forget("group", "everyone");
        assert_eq!(names.get("group", "everyone"), None);
    }
}
