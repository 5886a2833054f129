//! The schema, read from the server's subschema entry (RFC 4512 §4.2):
//! each class's attributes are the MUST and MAY of its object classes and
//! their superclasses, typed by syntax.

use crate::MEMBERS;
use crate::directory::Directory;
use crate::settings::ClassSettings;
use provisio_sdk::ldap::{Scope, SearchRequest};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{AttributeInfo, ClassInfo, Error, ObjectSchema, ValueType};
use std::collections::{BTreeMap, BTreeSet};

/// One definition's parts: `( OID NAME 'x' SUP y MUST ( a $ b ) ... )`.
#[derive(Debug, Default)]
struct Definition {
    names: Vec<String>,
    sup: Vec<String>,
    must: Vec<String>,
    may: Vec<String>,
    syntax: Option<String>,
    single: bool,
    no_user_modification: bool,
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

fn parse(text: &str) -> Definition {
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
            "SYNTAX" => {
                d.syntax = list(&mut i)
                    .into_iter()
                    .next()
                    .map(|s| s.split('{').next().unwrap_or("").to_owned());
            }
            "SINGLE-VALUE" => d.single = true,
            "NO-USER-MODIFICATION" => d.no_user_modification = true,
            _ => {}
        }
        i += 1;
    }
    d
}

fn value_type(syntax: Option<&str>) -> ValueType {
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

struct Schema {
    classes: BTreeMap<String, Definition>,
    attributes: BTreeMap<String, Definition>,
}

impl Schema {
    fn class(&self, name: &str) -> Option<&Definition> {
        self.classes.get(&name.to_ascii_lowercase())
    }

    fn attribute(&self, name: &str) -> Option<&Definition> {
        self.attributes.get(&name.to_ascii_lowercase())
    }

    /// (MUST, MAY) of `classes` and every superclass.
    fn must_may(&self, classes: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
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
        }
        may.retain(|a| !must.contains(a));
        (must, may)
    }

    /// An attribute's syntax, inherited through SUP.
    fn syntax(&self, name: &str) -> Option<&str> {
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

pub fn read(dir: &Directory) -> Result<ObjectSchema, Error> {
    let root = dir.conn.root_dse()?;
    let subschema = root
        .text("subschemaSubentry")
        .unwrap_or_else(|| "cn=Subschema".to_owned());
    let request = SearchRequest::new(&subschema, Scope::Base, "(objectClass=subschema)")
        .attributes(&["objectClasses", "attributeTypes"]);
    let entry = dir
        .conn
        .search_page(&request, &[])?
        .entries
        .into_iter()
        .next()
        .ok_or_else(|| Error::failed(format!("the subschema entry {subschema} cannot be read")))?;
    let index = |texts: Vec<String>| {
        let mut map = BTreeMap::new();
        for text in texts {
            let d = parse(&text);
            for name in d.names.clone() {
                map.insert(name.to_ascii_lowercase(), parse(&text));
            }
        }
        map
    };
    let schema = Schema {
        classes: index(entry.texts("objectClasses")),
        attributes: index(entry.texts("attributeTypes")),
    };
    let settings = &dir.settings;
    let classes = [&settings.account, &settings.group]
        .into_iter()
        .map(|class| class_info(&schema, dir, class))
        .collect::<Result<_, _>>()?;
    Ok(ObjectSchema { classes })
}

fn class_info(schema: &Schema, dir: &Directory, class: &ClassSettings) -> Result<ClassInfo, Error> {
    for oc in &class.object_classes {
        if schema.class(oc).is_none() {
            return Err(Error::invalid_attribute(
                format!("{}.object_classes", class.name),
                format!("the directory's schema has no object class {oc}"),
            ));
        }
    }
    let settings = &dir.settings;
    let (must, may) = schema.must_may(&class.object_classes);
    let hidden = |a: &str| {
        a.eq_ignore_ascii_case("objectClass")
            || a.eq_ignore_ascii_case(&class.naming)
            || a.eq_ignore_ascii_case(&settings.password_attribute)
            || (class.name == "group" && a.eq_ignore_ascii_case(&settings.member_attribute))
    };
    let mut attributes = vec![AttributeInfo::new(NAME, ValueType::Text).required()];
    for (name, required) in must
        .iter()
        .map(|a| (a, true))
        .chain(may.iter().map(|a| (a, false)))
    {
        if hidden(name) {
            continue;
        }
        let definition = schema.attribute(name);
        let mut info =
            AttributeInfo::new(class.provisio_name(name), value_type(schema.syntax(name)));
        if !definition.is_some_and(|d| d.single) {
            info = info.multi_valued();
        }
        if required {
            info = info.required();
        }
        if definition.is_some_and(|d| d.no_user_modification) {
            info = info.read_only();
        }
        attributes.push(info);
    }
    if class.name == "account" {
        attributes.push(AttributeInfo::new(PASSWORD, ValueType::Text).write_only());
        attributes.push(AttributeInfo::new(ENABLE, ValueType::Boolean));
        attributes.push(AttributeInfo::new(GROUPS, ValueType::Reference).multi_valued());
    } else {
        attributes.push(AttributeInfo::new(MEMBERS, ValueType::Reference).multi_valued());
    }
    Ok(ClassInfo::new(class.name, attributes))
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
}
