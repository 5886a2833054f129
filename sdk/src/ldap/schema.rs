//! A directory's schema, read from its subschema entry (RFC 4512 §4.2):
//! the attributes a set of object classes allows are their MUST and MAY,
//! their superclasses', and those of DIT content rules (where Active
//! Directory lists the attributes of auxiliary classes), typed by syntax.

use super::{Connection, Scope, SearchRequest};
use crate::{Error, ValueType};
use std::collections::{BTreeMap, BTreeSet};

/// One definition's parts: `( OID NAME 'x' SUP y MUST ( a $ b ) ... )`.
#[derive(Debug, Default, Clone)]
pub struct Definition {
    pub names: Vec<String>,
    pub sup: Vec<String>,
    pub must: Vec<String>,
    pub may: Vec<String>,
    /// A content rule's auxiliary classes (`AUX`).
    pub aux: Vec<String>,
    pub syntax: Option<String>,
    /// An attribute type's ORDERING matching rule: without one (inherited
    /// or its own) a directory evaluates `>=` and `<=` as undefined, so
    /// they match nothing (RFC 4511 §4.5.1.7).
    pub ordering: Option<String>,
    pub single: bool,
    pub no_user_modification: bool,
}

/// Splits a definition into tokens: words, quoted strings, parentheses.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '$' => {
                chars.next();
            }
            '(' | ')' => {
                out.push(c.to_string());
                chars.next();
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    s.push(c);
                }
                out.push(s);
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(c, ' ' | '\t' | '\n' | '(' | ')' | '$' | '\'') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    out
}

/// Parses one RFC 4512 definition (object class, attribute type or
/// DIT content rule).
pub fn parse(text: &str) -> Definition {
    let tokens = tokens(text);
    let mut d = Definition::default();
    let mut i = 0;
    // A keyword's value: one token, or a parenthesised list.
    let list = |i: &mut usize| -> Vec<String> {
        *i += 1;
        let mut values = Vec::new();
        if tokens.get(*i).map(String::as_str) == Some("(") {
            *i += 1;
            while let Some(t) = tokens.get(*i) {
                if t == ")" {
                    break;
                }
                values.push(t.clone());
                *i += 1;
            }
        } else if let Some(t) = tokens.get(*i) {
            values.push(t.clone());
        }
        values
    };
    while i < tokens.len() {
        match tokens[i].as_str() {
            "NAME" => d.names = list(&mut i),
            "SUP" => d.sup = list(&mut i),
            "MUST" => d.must = list(&mut i),
            "MAY" => d.may = list(&mut i),
            "AUX" => d.aux = list(&mut i),
            "SYNTAX" => {
                d.syntax = list(&mut i)
                    .into_iter()
                    .next()
                    .map(|s| s.split('{').next().unwrap_or("").to_owned());
            }
            "ORDERING" => d.ordering = list(&mut i).into_iter().next(),
            "SINGLE-VALUE" => d.single = true,
            "NO-USER-MODIFICATION" => d.no_user_modification = true,
            _ => {}
        }
        i += 1;
    }
    d
}

/// The value type of an attribute of `syntax` (an OID).
pub fn value_type(syntax: Option<&str>) -> ValueType {
    match syntax.unwrap_or("") {
        "1.3.6.1.4.1.1466.115.121.1.27" => ValueType::Integer,
        "1.3.6.1.4.1.1466.115.121.1.7" => ValueType::Boolean,
        // Octet String, JPEG, Certificate, Binary, Audio.
        "1.3.6.1.4.1.1466.115.121.1.40"
        | "1.3.6.1.4.1.1466.115.121.1.28"
        | "1.3.6.1.4.1.1466.115.121.1.8"
        | "1.3.6.1.4.1.1466.115.121.1.5"
        | "1.3.6.1.4.1.1466.115.121.1.4" => ValueType::Binary,
        _ => ValueType::Text,
    }
}

/// A directory's subschema: its object classes, attribute types and DIT
/// content rules, by lowercase name.
#[derive(Debug, Default)]
pub struct Subschema {
    classes: BTreeMap<String, Definition>,
    attributes: BTreeMap<String, Definition>,
    content_rules: BTreeMap<String, Definition>,
}

impl Subschema {
    /// Reads the subschema entry the root DSE names (RFC 4512 §4.2).
    pub fn read(conn: &Connection) -> Result<Subschema, Error> {
        let root = conn.root_dse().map_err(Error::from)?;
        let subschema = root
            .text("subschemaSubentry")
            .unwrap_or_else(|| "cn=Subschema".to_owned());
        let request = SearchRequest::new(&subschema, Scope::Base, "(objectClass=subschema)")
            .attributes(&["objectClasses", "attributeTypes", "dITContentRules"]);
        let entry = conn
            .search_page(&request, &[])
            .map_err(Error::from)?
            .entries
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::failed(format!("the subschema entry {subschema} cannot be read"))
            })?;
        Ok(Subschema::from_definitions(
            entry.texts("objectClasses"),
            entry.texts("attributeTypes"),
            entry.texts("dITContentRules"),
        ))
    }

    pub fn from_definitions(
        object_classes: Vec<String>,
        attribute_types: Vec<String>,
        content_rules: Vec<String>,
    ) -> Subschema {
        let index = |texts: Vec<String>| {
            let mut map = BTreeMap::new();
            for text in texts {
                let d = parse(&text);
                for name in &d.names {
                    map.insert(name.to_ascii_lowercase(), d.clone());
                }
            }
            map
        };
        Subschema {
            classes: index(object_classes),
            attributes: index(attribute_types),
            content_rules: index(content_rules),
        }
    }

    pub fn class(&self, name: &str) -> Option<&Definition> {
        self.classes.get(&name.to_ascii_lowercase())
    }

    pub fn attribute(&self, name: &str) -> Option<&Definition> {
        self.attributes.get(&name.to_ascii_lowercase())
    }

    /// (MUST, MAY) of `classes`, every superclass, and the auxiliary
    /// classes and extra attributes a DIT content rule allows the named
    /// classes (Active Directory lists the attributes of `user`'s
    /// auxiliary classes, `sAMAccountName` among them, only there).
    pub fn must_may(&self, classes: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut must = BTreeSet::new();
        let mut may = BTreeSet::new();
        let mut todo: Vec<String> = classes.to_vec();
        let mut seen = BTreeSet::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.to_ascii_lowercase()) {
                continue;
            }
            if let Some(d) = self.class(&name) {
                must.extend(d.must.iter().cloned());
                may.extend(d.may.iter().cloned());
                todo.extend(d.sup.iter().cloned());
            }
            if let Some(rule) = self.content_rules.get(&name.to_ascii_lowercase()) {
                must.extend(rule.must.iter().cloned());
                may.extend(rule.may.iter().cloned());
                todo.extend(rule.aux.iter().cloned());
            }
        }
        may.retain(|a| !must.contains(a));
        (must, may)
    }

    /// An attribute's ORDERING rule, inherited through SUP.
    pub fn ordering(&self, name: &str) -> Option<&str> {
        let mut current = self.attribute(name)?;
        for _ in 0..8 {
            if let Some(rule) = &current.ordering {
                return Some(rule);
            }
            current = self.attribute(current.sup.first()?)?;
        }
        None
    }

    /// An attribute's syntax, inherited through SUP.
    pub fn syntax(&self, name: &str) -> Option<&str> {
        let mut current = self.attribute(name)?;
        for _ in 0..8 {
            if let Some(s) = &current.syntax {
                return Some(s);
            }
            current = self.attribute(current.sup.first()?)?;
        }
        None
    }
}

/// For an add or modify the directory refused with undefinedAttributeType
/// (17) or, as Samba and AD answer an add, noSuchAttribute (16): `invalid`
/// naming the attribute as the caller wrote it (`written`: LDAP name,
/// Provisio name), when the subschema shows one of them is not defined.
/// Directories' messages do not name it in a form to rely on, so the
/// subschema is read, on these errors only. `None`: the error is another.
pub fn undefined_attribute(
    conn: &Connection,
    error: &super::LdapError,
    written: &[(&str, &str)],
) -> Option<Error> {
    let super::LdapError::Server(result) = error else {
        return None;
    };
    if ![
        super::codes::UNDEFINED_ATTRIBUTE_TYPE,
        super::codes::NO_SUCH_ATTRIBUTE,
    ]
    .contains(&result.code)
    {
        return None;
    }
    let schema = Subschema::read(conn).ok()?;
    let (ldap, provisio) = written
        .iter()
        .find(|(ldap, _)| schema.attribute(ldap).is_none())?;
    Some(Error::invalid_attribute(
        *provisio,
        format!("the directory's schema has no attribute type {ldap}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_4512_definitions() {
        let d = parse(
            "( 2.5.6.6 NAME 'person' DESC 'RFC2256: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )",
        );
        assert_eq!(d.names, ["person"]);
        assert_eq!(d.sup, ["top"]);
        assert_eq!(d.must, ["sn", "cn"]);
        assert_eq!(d.may.len(), 4);
        let a = parse(
            "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )",
        );
        assert_eq!(a.names, ["uid", "userid"]);
        assert_eq!(a.syntax.as_deref(), Some("1.3.6.1.4.1.1466.115.121.1.15"));
        assert!(a.single);
    }

    #[test]
    fn ordering_rules_are_inherited_through_sup() {
        let schema = Subschema::from_definitions(
            vec![],
            vec![
                "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )".into(),
                "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )".into(),
                "( 1.3.6.1.1.16.4 NAME 'entryUUID' EQUALITY UUIDMatch ORDERING UUIDOrderingMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )".into(),
                "( 9 NAME 'rank' SUP entryUUID )".into(),
            ],
            vec![],
        );
        assert_eq!(schema.ordering("cn"), None, "cn compares for equality only");
        assert_eq!(schema.ordering("entryUUID"), Some("UUIDOrderingMatch"));
        assert_eq!(schema.ordering("rank"), Some("UUIDOrderingMatch"));
        assert_eq!(schema.ordering("unknown"), None);
    }

    /// What a hostile or broken directory may publish: unbalanced
    /// parentheses, an unterminated quote, classes that are their own
    /// superclass or each other's auxiliary; parsing and resolving end,
    /// with what could be read.
    #[test]
    fn malformed_and_cyclic_definitions_end() {
        let broken = parse("( 1 NAME 'x MUST ( a $ b ");
        assert_eq!(broken.names, ["x MUST ( a $ b "]);
        let open = parse("( 1 NAME 'y' MUST ( a $ b ");
        assert_eq!(open.must, ["a", "b"]);
        assert!(parse("").names.is_empty());
        let schema = Subschema::from_definitions(
            vec![
                "( 1 NAME 'a' SUP b MUST x )".into(),
                "( 2 NAME 'b' SUP a MAY y )".into(),
            ],
            vec!["( 3 NAME 'x' SUP z )".into(), "( 4 NAME 'z' SUP x )".into()],
            vec!["( 1 NAME 'a' AUX ( a $ b ) MAY w )".into()],
        );
        let (must, may) = schema.must_may(&["a".into()]);
        assert_eq!(must.into_iter().collect::<Vec<_>>(), ["x"]);
        assert_eq!(may.into_iter().collect::<Vec<_>>(), ["w", "y"]);
        assert_eq!(schema.syntax("x"), None, "a SUP cycle has no syntax");
    }

    #[test]
    fn content_rules_add_the_attributes_of_auxiliary_classes() {
        let schema = Subschema::from_definitions(
            vec![
                "( 1 NAME 'top' ABSTRACT MUST objectClass )".into(),
                "( 2 NAME 'user' SUP top STRUCTURAL MAY ( mail $ department ) )".into(),
                "( 3 NAME 'securityPrincipal' SUP top AUXILIARY MUST ( sAMAccountName $ objectSid ) MAY sIDHistory )".into(),
            ],
            vec![],
            vec!["( 2 NAME 'user' AUX ( securityPrincipal ) MUST ( cn ) MAY ( uid ) )".into()],
        );
        let (must, may) = schema.must_may(&["user".into()]);
        assert_eq!(
            must.into_iter().collect::<Vec<_>>(),
            ["cn", "objectClass", "objectSid", "sAMAccountName"]
        );
        assert_eq!(
            may.into_iter().collect::<Vec<_>>(),
            ["department", "mail", "sIDHistory", "uid"]
        );
    }
}
