//! Objects the suite writes, built from the class's schema: disabled where
//! the class can be, every required attribute a value of its type (or the
//! one the operator fixed with `--value`), one optional text attribute
//! (single- and multi-valued, when the schema has them) is what updates
//! and filters work on.

use super::{Verdict, fail};
use crate::model::names::{ENABLE, GROUPS, NAME, PASSWORD};
use crate::model::{Attribute, AttributeInfo, ClassInfo, Value, ValueType};

fn operational(name: &str) -> bool {
    name.starts_with("__") && name.ends_with("__")
}

fn writable_text(a: &AttributeInfo) -> bool {
    a.value_type == ValueType::Text
        && a.creatable
        && a.updatable
        && a.readable
        && a.returned_by_default
        && !operational(&a.name)
}

fn is_fixed(fixed: &[Attribute], name: &str) -> bool {
    fixed.iter().any(|f| f.name.eq_ignore_ascii_case(name))
}

/// An optional single-valued text attribute the suite may set, change and
/// clear (not one the operator fixed).
pub fn single_text<'a>(class: &'a ClassInfo, fixed: &[Attribute]) -> Option<&'a AttributeInfo> {
    class
        .attributes
        .iter()
        .find(|a| writable_text(a) && !a.multi_valued && !a.required && !is_fixed(fixed, &a.name))
}

/// A multi-valued text attribute the suite may add values to and remove
/// them from (not one the operator fixed).
pub fn multi_text<'a>(class: &'a ClassInfo, fixed: &[Attribute]) -> Option<&'a AttributeInfo> {
    class
        .attributes
        .iter()
        .find(|a| writable_text(a) && a.multi_valued && !a.required && !is_fixed(fixed, &a.name))
}

/// The operator's `--value NAME=VALUE` pairs as attributes of `class`,
/// typed by its schema; pairs naming an attribute the class does not list
/// are not for this class. A value that does not read as its attribute's
/// type, or an attribute that cannot be written on create, is refused,
/// naming it.
pub fn fixed(class: &ClassInfo, values: &[(String, String)]) -> Result<Vec<Attribute>, Verdict> {
    let mut fixed = Vec::new();
    for (name, text) in values {
        if operational(name) {
            return Err(fail(
                format!(
                    "--value {name}: an attribute of the target (the suite sets operational attributes itself)"
                ),
                format!("{name} is operational"),
            ));
        }
        let Some(info) = class
            .attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        else {
            continue;
        };
        if is_fixed(&fixed, &info.name) {
            return Err(fail(
                format!("--value {name}: one value for {}", info.name),
                format!("{} given more than once", info.name),
            ));
        }
        if !info.creatable {
            return Err(fail(
                format!(
                    "--value {name}: an attribute of class {} that a create may set",
                    class.name
                ),
                format!("{} is not creatable", info.name),
            ));
        }
        let value = match info.value_type {
            ValueType::Text => Value::Text(text.clone()),
            ValueType::Reference => Value::Reference(text.clone()),
            ValueType::Binary => Value::Binary(text.clone().into_bytes()),
            ValueType::Integer => Value::Integer(text.parse().map_err(|_| {
                fail(
                    format!(
                        "--value {name}: an integer, as the schema types {}",
                        info.name
                    ),
                    format!("{text:?}"),
                )
            })?),
            ValueType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => {
                    return Err(fail(
                        format!(
                            "--value {name}: true or false, as the schema types {}",
                            info.name
                        ),
                        format!("{text:?}"),
                    ));
                }
            },
        };
        fixed.push(Attribute::single(info.name.clone(), value));
    }
    Ok(fixed)
}

/// The required attributes the suite makes values up for: what to give
/// with `--value` when the target refuses them.
pub fn invented(class: &ClassInfo, fixed: &[Attribute]) -> Vec<String> {
    class
        .attributes
        .iter()
        .filter(|a| a.required && a.creatable && !operational(&a.name))
        .filter(|a| !is_fixed(fixed, &a.name))
        .map(|a| a.name.clone())
        .collect()
}

pub fn accepts_password(class: &ClassInfo) -> bool {
    class
        .attributes
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(PASSWORD) && a.creatable)
}

/// The attributes of a new object named `name`: the `fixed` ones as
/// given, values of their type for other required ones; `extra` is the
/// optional text attribute's value, when there is one.
pub fn object(
    class: &ClassInfo,
    fixed: &[Attribute],
    name: &str,
    extra: Option<&str>,
) -> Vec<Attribute> {
    let mut attributes = vec![Attribute::single(NAME, Value::Text(name.to_owned()))];
    attributes.extend(fixed.iter().cloned());
    for a in &class.attributes {
        if !a.required || !a.creatable || operational(&a.name) || is_fixed(fixed, &a.name) {
            continue;
        }
        let value = match a.value_type {
            // The naming and key columns are often required text: the
            // name makes them unique and consistent with `__name__`.
            ValueType::Text => Value::Text(name.to_owned()),
            ValueType::Integer => Value::Integer(i64::from(fnv(name) % 1_000_000)),
            ValueType::Boolean => Value::Boolean(true),
            ValueType::Binary => Value::Binary(name.as_bytes().to_vec()),
            // Nothing to point at that the suite knows exists.
            ValueType::Reference => continue,
        };
        attributes.push(Attribute::single(a.name.clone(), value));
    }
    // Disabled: on a shared target, the suite's objects must not be
    // accounts anyone can sign in to (and AD enables only with a password).
    if class
        .attributes
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(ENABLE) && a.creatable)
    {
        attributes.push(Attribute::single(ENABLE, Value::Boolean(false)));
    }
    if let (Some(attribute), Some(extra)) = (single_text(class, fixed), extra) {
        attributes.push(Attribute::single(
            attribute.name.clone(),
            Value::Text(extra.to_owned()),
        ));
    }
    attributes
}

/// The attributes a read must give back as written: everything but the
/// name (connectors may normalise or qualify it) and write-only ones.
pub fn readable_written<'a>(
    class: &ClassInfo,
    written: &'a [Attribute],
) -> impl Iterator<Item = &'a Attribute> {
    let readable: Vec<String> = class
        .attributes
        .iter()
        .filter(|a| a.readable && a.returned_by_default)
        .map(|a| a.name.to_ascii_lowercase())
        .collect();
    written.iter().filter(move |a| {
        ![NAME, PASSWORD, ENABLE, GROUPS]
            .iter()
            .any(|n| a.name.eq_ignore_ascii_case(n))
            && readable.contains(&a.name.to_ascii_lowercase())
    })
}

fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(name: &str, value_type: ValueType, creatable: bool) -> AttributeInfo {
        AttributeInfo {
            name: name.into(),
            value_type,
            multi_valued: false,
            required: true,
            readable: true,
            creatable,
            updatable: true,
            returned_by_default: true,
            description: None,
        }
    }

    fn class() -> ClassInfo {
        ClassInfo {
            name: "account".into(),
            attributes: vec![
                attribute("kind", ValueType::Text, true),
                attribute("grade", ValueType::Integer, true),
                attribute("active", ValueType::Boolean, true),
                attribute("createdAt", ValueType::Text, false),
            ],
            description: None,
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Result<Vec<Attribute>, String> {
        let values: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        fixed(&class(), &values).map_err(|verdict| match verdict {
            Verdict::Fail { expected, observed } => format!("{expected} / {observed}"),
            Verdict::Skip(reason) => reason,
        })
    }

    /// What an operator types is read against the schema: any case, the
    /// schema's name kept, typed; a name the class lacks is not for it;
    /// twice the same attribute, a value of the wrong type, an operational
    /// or a read-only attribute is refused, naming it.
    #[test]
    fn given_values_are_read_against_the_schema() {
        let read = given(&[
            ("KIND", "staff"),
            ("grade", "7"),
            ("Active", "TRUE"),
            ("other", "x"),
        ])
        .unwrap();
        assert_eq!(
            read,
            [
                Attribute::single("kind", Value::Text("staff".into())),
                Attribute::single("grade", Value::Integer(7)),
                Attribute::single("active", Value::Boolean(true)),
            ]
        );
        for (pairs, named) in [
            (
                &[("kind", "a"), ("Kind", "b")][..],
                "kind given more than once",
            ),
            (&[("grade", "seven")][..], "--value grade"),
            (&[("grade", "99999999999999999999")][..], "--value grade"),
            (&[("active", "yes")][..], "--value active"),
            (&[("__name__", "x")][..], "operational"),
            (&[("createdAt", "now")][..], "not creatable"),
        ] {
            let refused = given(pairs).unwrap_err();
            assert!(refused.contains(named), "{pairs:?}: {refused}");
        }
        let object = object(&class(), &read, "pvct-1", None);
        assert_eq!(
            object.iter().filter(|a| a.name == "kind").count(),
            1,
            "a given value replaces the one the suite would make up"
        );
        assert_eq!(invented(&class(), &read), Vec::<String>::new());
    }
}
