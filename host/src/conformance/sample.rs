//! Objects the suite writes, built from the class's schema: disabled where
//! the class can be, every required attribute a value of its type, one
//! optional text
//! attribute (single- and multi-valued, when the schema has them) is what
//! updates and filters work on.

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

/// An optional single-valued text attribute the suite may set, change and
/// clear.
pub fn single_text(class: &ClassInfo) -> Option<&AttributeInfo> {
    class
        .attributes
        .iter()
        .find(|a| writable_text(a) && !a.multi_valued && !a.required)
}

/// A multi-valued text attribute the suite may add values to and remove
/// them from.
pub fn multi_text(class: &ClassInfo) -> Option<&AttributeInfo> {
    class
        .attributes
        .iter()
        .find(|a| writable_text(a) && a.multi_valued && !a.required)
}

pub fn accepts_password(class: &ClassInfo) -> bool {
    class
        .attributes
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(PASSWORD) && a.creatable)
}

/// The attributes of a new object named `name`; `extra` is the optional
/// text attribute's value, when there is one.
pub fn object(class: &ClassInfo, name: &str, extra: Option<&str>) -> Vec<Attribute> {
    let mut attributes = vec![Attribute::single(NAME, Value::Text(name.to_owned()))];
    for a in &class.attributes {
        if !a.required || !a.creatable || operational(&a.name) {
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
    if let (Some(attribute), Some(extra)) = (single_text(class), extra) {
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
