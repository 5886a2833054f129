//! A target's protected filter: the accounts Provisio never changes or
//! deletes. A filter that names an attribute the target does not have (or
//! cannot read) would protect nothing, silently; so it is checked against
//! the target's schema before it is trusted, and until then the target's
//! changes wait (fail closed). When it matches, it says which part did.

use super::sync::lock;
use crate::model::{ObjectSchema, names};
use provisio_filter::{Filter, FilterSubject};
use std::sync::Mutex;

pub struct Protection {
    filter: Filter,
    state: Mutex<Check>,
    /// The attributes the filter tests, as the schema spells them: what
    /// to read of an account to evaluate it.
    attributes: Mutex<Vec<String>>,
}

/// What is known of the filter against the target's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The schema has not been read yet.
    Unverified,
    Verified,
    /// The schema was read and the filter names what it lacks.
    Invalid(String),
}

impl Protection {
    pub fn new(text: &str) -> Self {
        Protection {
            filter: provisio_filter::parse(text).expect("the configuration checked the filter"),
            state: Mutex::new(Check::Unverified),
            attributes: Mutex::new(Vec::new()),
        }
    }

    /// What to read of an account to evaluate the filter.
    pub fn attributes(&self) -> Vec<String> {
        lock(&self.attributes).clone()
    }

    /// Checks the filter against `schema`, for accounts of `class`, and
    /// keeps the result.
    pub fn verify(&self, schema: &ObjectSchema, class: &str) -> Check {
        let check = match check(&self.filter, schema, class) {
            Ok(attributes) => {
                *lock(&self.attributes) = attributes;
                Check::Verified
            }
            Err(reason) => Check::Invalid(reason),
        };
        *lock(&self.state) = check.clone();
        check
    }

    pub fn check(&self) -> Check {
        lock(&self.state).clone()
    }

    /// Why the target's changes wait, while they must.
    pub fn hold_reason(&self) -> Option<String> {
        match self.check() {
            Check::Verified => None,
            Check::Unverified => Some(
                "the protected filter cannot be checked until the target's schema is read".into(),
            ),
            Check::Invalid(reason) => Some(format!("the protected filter {reason}")),
        }
    }

    /// The part of the filter `account` matches, when it is protected.
    pub fn matched_part<O: FilterSubject + ?Sized>(&self, account: &O) -> Option<String> {
        provisio_filter::matched_part(&self.filter, account)
    }
}

/// Every attribute `filter` names must be a readable attribute of `class`
/// (or the operational `uid` and `name`, or `x` for `__x__`). Answers
/// them as the schema spells them.
pub fn check(filter: &Filter, schema: &ObjectSchema, class: &str) -> Result<Vec<String>, String> {
    let mut attributes = Vec::new();
    let Some(info) = schema
        .classes
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(class))
    else {
        return Err(format!(
            "cannot be checked: the target's schema has no class {class}"
        ));
    };
    for name in provisio_filter::attribute_names(filter) {
        if name.eq_ignore_ascii_case("uid") || name.eq_ignore_ascii_case("name") {
            continue;
        }
        let operational = format!("__{name}__");
        let found = info.attributes.iter().find(|a| {
            a.name.eq_ignore_ascii_case(&name) || a.name.eq_ignore_ascii_case(&operational)
        });
        match found {
            Some(attribute) if !attribute.readable => {
                return Err(format!(
                    "names `{name}`, which the connector cannot read on class {class}"
                ));
            }
            Some(attribute) => attributes.push(attribute.name.clone()),
            None if operational.eq_ignore_ascii_case(names::NAME) => {}
            None => {
                let known: Vec<&str> = info.attributes.iter().map(|a| a.name.as_str()).collect();
                return Err(format!(
                    "names `{name}`, which class {class} of the target does not have (it has: {}; \
                     `name` tests an account's name, `__name__`, and `uid` its uid)",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttributeInfo, ClassInfo, ValueType};

    fn attribute(name: &str, readable: bool) -> AttributeInfo {
        AttributeInfo {
            name: name.into(),
            value_type: ValueType::Text,
            multi_valued: false,
            required: false,
            readable,
            creatable: true,
            updatable: true,
            returned_by_default: true,
            description: None,
        }
    }

    fn schema() -> ObjectSchema {
        ObjectSchema {
            classes: vec![ClassInfo {
                name: "account".into(),
                attributes: vec![
                    attribute("uid", true),
                    attribute("departmentNumber", true),
                    attribute("__enable__", true),
                    attribute("userPassword", false),
                ],
                description: None,
            }],
        }
    }

    fn checked(filter: &str) -> Result<Vec<String>, String> {
        check(
            &provisio_filter::parse(filter).unwrap(),
            &schema(),
            "account",
        )
    }

    #[test]
    fn a_filter_must_name_what_the_target_has_and_can_read() {
        assert_eq!(
            checked(r#"uid eq "admin" or departmentnumber eq "0""#).unwrap(),
            ["departmentNumber"],
            "read as the schema spells it"
        );
        assert!(checked(r#"enable eq false and name sw "svc""#).is_ok());
        let unknown = checked(r#"userName eq "admin""#).unwrap_err();
        assert!(
            unknown.contains("`userName`") && unknown.contains("uid, departmentNumber"),
            "{unknown}"
        );
        let unreadable = checked(r#"userPassword pr"#).unwrap_err();
        assert!(unreadable.contains("cannot read"), "{unreadable}");
        let protection = Protection::new(r#"userName eq "admin""#);
        assert!(protection.hold_reason().unwrap().contains("schema is read"));
        protection.verify(&schema(), "account");
        assert!(protection.hold_reason().unwrap().contains("`userName`"));
        let fine = Protection::new(r#"uid eq "admin" or enable eq false"#);
        assert_eq!(fine.verify(&schema(), "ACCOUNT"), Check::Verified);
        assert_eq!(fine.hold_reason(), None);
        assert_eq!(fine.attributes(), ["__enable__"]);
    }
}
