//! Provisio values as LDAP values and back.

use provisio_sdk::{Attribute, Error, Value};

/// The bytes LDAP stores for a value: text as UTF-8, integers in decimal,
/// booleans as `TRUE`/`FALSE` (RFC 4517 Boolean syntax), binary as is.
pub fn to_ldap(value: &Value) -> Vec<u8> {
    match value {
        Value::Text(s) | Value::Reference(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Boolean(b) => {
            if *b {
                b"TRUE".to_vec()
            } else {
                b"FALSE".to_vec()
            }
        }
        Value::Binary(b) => b.clone(),
    }
}

/// A value read from the directory: text when it is UTF-8, else binary.
pub fn from_ldap(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::Text(text.to_owned()),
        Err(_) => Value::Binary(bytes.to_vec()),
    }
}

/// The single text value of `attribute`, or why there is none.
pub fn single_text(attribute: &Attribute) -> Result<String, Error> {
    match attribute.values.as_slice() {
        [value] => value
            .as_text()
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid_attribute(&attribute.name, "must be text")),
        [] => Err(Error::invalid_attribute(&attribute.name, "has no value")),
        _ => Err(Error::invalid_attribute(&attribute.name, "takes one value")),
    }
}

/// The single boolean value of `attribute`.
pub fn single_bool(attribute: &Attribute) -> Result<bool, Error> {
    match attribute.values.as_slice() {
        [Value::Boolean(b)] => Ok(*b),
        _ => Err(Error::invalid_attribute(
            &attribute.name,
            "takes one boolean value",
        )),
    }
}

/// Reference or text values, as uids.
pub fn uids(attribute: &Attribute) -> Result<Vec<String>, Error> {
    attribute
        .values
        .iter()
        .map(|v| {
            v.as_text().map(str::to_owned).ok_or_else(|| {
                Error::invalid_attribute(&attribute.name, "holds uids: text or reference values")
            })
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
