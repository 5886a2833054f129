//! Group membership as directories hold it: a group entry lists its
//! members' DNs in one attribute (`member`), and an account's groups are
//! the groups that list it. A change to an account's `__groups__` becomes
//! modifications of the groups it joins and leaves.

use super::{Connection, LdapError, Modification, ModifyKind, codes};

/// A change to a set of references (uids), as an `AttributeChange` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Exactly these.
    Replace(Vec<String>),
    Add(Vec<String>),
    Remove(Vec<String>),
}

impl Membership {
    /// The membership an attribute change of `kind` with `uids` asks for.
    pub fn of(kind: ModifyKind, uids: Vec<String>) -> Self {
        match kind {
            ModifyKind::Replace => Membership::Replace(uids),
            ModifyKind::Add => Membership::Add(uids),
            ModifyKind::Delete => Membership::Remove(uids),
        }
    }

    /// The uids it names.
    pub fn uids(&self) -> &[String] {
        match self {
            Membership::Replace(u) | Membership::Add(u) | Membership::Remove(u) => u,
        }
    }
}

/// The groups to join and to leave (as DNs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChanges {
    pub join: Vec<String>,
    pub leave: Vec<String>,
    /// A DN left as the member of a group this change would empty, for
    /// classes that require one (`groupOfNames`); see [`Self::keeping`].
    pub placeholder: Option<String>,
}

impl GroupChanges {
    /// From `current` group DNs and the DNs of the groups `membership`
    /// names (`named`, in the same order as its uids). DNs compare
    /// ignoring case, as the directory does for the common case.
    pub fn plan(current: &[String], membership: &Membership, named: Vec<String>) -> Self {
        let same = |a: &String, b: &String| a.eq_ignore_ascii_case(b);
        match membership {
            Membership::Add(_) => GroupChanges {
                placeholder: None,
                join: named,
                leave: Vec::new(),
            },
            Membership::Remove(_) => GroupChanges {
                placeholder: None,
                join: Vec::new(),
                leave: named,
            },
            Membership::Replace(_) => GroupChanges {
                placeholder: None,
                join: named
                    .iter()
                    .filter(|g| !current.iter().any(|c| same(c, g)))
                    .cloned()
                    .collect(),
                leave: current
                    .iter()
                    .filter(|c| !named.iter().any(|g| same(c, g)))
                    .cloned()
                    .collect(),
            },
        }
    }

    /// Leaving a group whose class requires a member, and which `member_dn`
    /// is the last of, fails (`objectClassViolation`); with a placeholder
    /// the leave is retried adding it in the same modify, so the group
    /// keeps a member and the account still leaves.
    pub fn keeping(mut self, placeholder: Option<String>) -> Self {
        self.placeholder = placeholder;
        self
    }

    /// Adds `member_dn` to the groups to join and removes it from those to
    /// leave, through `attribute` (`member`). A member already there, or
    /// already gone, is the goal reached, not an error: result codes in
    /// `already_member` / `not_member` are taken as such (directories
    /// differ: OpenLDAP says attributeOrValueExists / noSuchAttribute,
    /// Active Directory also entryAlreadyExists / unwillingToPerform).
    pub fn apply(
        &self,
        conn: &Connection,
        member_dn: &str,
        attribute: &str,
        already_member: &[u32],
        not_member: &[u32],
    ) -> Result<(), LdapError> {
        let member = vec![member_dn.as_bytes().to_vec()];
        for group in &self.join {
            match conn.modify(group, &[Modification::add(attribute, member.clone())]) {
                Err(LdapError::Server(r)) if already_member.contains(&r.code) => {}
                other => other?,
            }
        }
        for group in &self.leave {
            let leave = Modification::delete(attribute, member.clone());
            let left = match (
                conn.modify(group, std::slice::from_ref(&leave)),
                &self.placeholder,
            ) {
                (Err(LdapError::Server(r)), Some(placeholder))
                    if r.code == codes::OBJECT_CLASS_VIOLATION =>
                {
                    let keep = Modification::add(attribute, vec![placeholder.as_bytes().to_vec()]);
                    conn.modify(group, &[keep, leave])
                }
                (outcome, _) => outcome,
            };
            match left {
                Err(LdapError::Server(r)) if not_member.contains(&r.code) => {}
                other => other?,
            }
        }
        Ok(())
    }
}

/// What RFC 4511 servers answer when a member is already in a group.
pub const ALREADY_MEMBER: &[u32] = &[codes::ATTRIBUTE_OR_VALUE_EXISTS];
/// What RFC 4511 servers answer when a member is not in a group.
pub const NOT_MEMBER: &[u32] = &[codes::NO_SUCH_ATTRIBUTE];

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn replace_joins_what_is_missing_and_leaves_what_is_not_named() {
        let current = dns(&["cn=a,dc=x", "CN=B,dc=x"]);
        let wanted = Membership::Replace(dns(&["b", "c"]));
        let plan = GroupChanges::plan(&current, &wanted, dns(&["cn=b,dc=x", "cn=c,dc=x"]));
        assert_eq!(plan.join, dns(&["cn=c,dc=x"]));
        assert_eq!(plan.leave, dns(&["cn=a,dc=x"]));
    }

    #[test]
    fn add_and_remove_touch_only_the_named_groups() {
        let current = dns(&["cn=a,dc=x"]);
        let add = GroupChanges::plan(&current, &Membership::Add(dns(&["c"])), dns(&["cn=c"]));
        assert_eq!((add.join, add.leave), (dns(&["cn=c"]), vec![]));
        let remove = GroupChanges::plan(
            &current,
            &Membership::Remove(dns(&["a"])),
            dns(&["cn=a,dc=x"]),
        );
        assert_eq!((remove.join, remove.leave), (vec![], dns(&["cn=a,dc=x"])));
    }

    #[test]
    fn replacing_with_nothing_leaves_every_group() {
        let current = dns(&["cn=a", "cn=b"]);
        let plan = GroupChanges::plan(&current, &Membership::Replace(vec![]), vec![]);
        assert!(plan.join.is_empty());
        assert_eq!(plan.leave, current);
    }

    #[test]
    fn a_change_kind_becomes_a_membership() {
        let uids = dns(&["u"]);
        assert_eq!(
            Membership::of(ModifyKind::Delete, uids.clone()),
            Membership::Remove(uids.clone())
        );
        assert_eq!(
            Membership::of(ModifyKind::Replace, uids.clone()).uids(),
            &uids[..]
        );
    }
}
