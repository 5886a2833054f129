//! Which directory attribute holds which Provisio attribute, as operators
//! configure it (`account.attribute.mail = "mailPrimaryAddress"`). Names
//! not mapped are the same on both sides; both directions ignore case, as
//! LDAP attribute descriptions do (RFC 4512 §2.5).

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeMap {
    /// Provisio name → directory name.
    names: BTreeMap<String, String>,
}

impl AttributeMap {
    pub fn new(names: BTreeMap<String, String>) -> Self {
        AttributeMap { names }
    }

    /// The directory attribute behind a Provisio attribute.
    pub fn ldap_name<'a>(&'a self, provisio: &'a str) -> &'a str {
        self.names
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(provisio))
            .map_or(provisio, |(_, v)| v.as_str())
    }

    /// The Provisio attribute behind a directory attribute.
    pub fn provisio_name<'a>(&'a self, ldap: &'a str) -> &'a str {
        self.names
            .iter()
            .find(|(_, v)| v.eq_ignore_ascii_case(ldap))
            .map_or(ldap, |(k, _)| k.as_str())
    }

    /// Whether a directory attribute is unreachable under its own name
    /// because the operator gave that name to another directory attribute
    /// (`account.attribute.displayName = "cn"` shadows `displayName`): it
    /// is neither listed nor read, or one Provisio name would stand for
    /// two directory attributes.
    pub fn shadowed(&self, ldap: &str) -> bool {
        !self
            .ldap_name(self.provisio_name(ldap))
            .eq_ignore_ascii_case(ldap)
    }

    /// Whether the operator mapped the Provisio attribute `provisio`.
    pub fn maps(&self, provisio: &str) -> bool {
        self.names.keys().any(|k| k.eq_ignore_ascii_case(provisio))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_ignoring_case() {
        let map = AttributeMap::new(BTreeMap::from([("email".into(), "mail".into())]));
        assert_eq!(map.ldap_name("Email"), "mail");
        assert_eq!(map.provisio_name("MAIL"), "email");
        assert_eq!(map.ldap_name("sn"), "sn", "unmapped names are the same");
        assert_eq!(map.provisio_name("sn"), "sn");
        assert!(!map.shadowed("MAIL"));
        assert!(!map.shadowed("sn"));
        assert!(map.maps("EMAIL") && !map.maps("mail"));
    }

    #[test]
    fn a_name_given_to_another_attribute_shadows_its_own() {
        let map = AttributeMap::new(BTreeMap::from([("displayName".into(), "cn".into())]));
        assert!(map.shadowed("displayname"), "displayName now means cn");
        assert!(!map.shadowed("cn"));
        assert!(!map.shadowed("sn"));
    }
}
