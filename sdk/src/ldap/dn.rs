//! Distinguished names (RFC 4514): escaping a value into an RDN, and the
//! few parts of a DN a connector needs.

/// `value` escaped for an attribute value in a DN: `, + " \ < > ; =` with
/// a backslash, a leading space or `#` and a trailing space too, NUL as
/// `\00`. `cn=` + `escape_dn_value("Smith, John")` is `cn=Smith\, John`.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// The index just past the first RDN of `dn` (its first unescaped comma),
/// or None for a one-RDN DN.
fn first_separator(dn: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Everything after the first RDN: `ou=people,dc=example,dc=com` for
/// `uid=ada,ou=people,dc=example,dc=com`.
pub fn parent_dn(dn: &str) -> &str {
    first_separator(dn).map_or("", |i| dn[i + 1..].trim_start())
}

/// The first RDN's value, unescaped: `Smith, John` for
/// `cn=Smith\, John,ou=people`.
pub fn rdn_value(dn: &str) -> String {
    let rdn = first_separator(dn).map_or(dn, |i| &dn[..i]);
    let value = rdn.split_once('=').map_or("", |(_, v)| v);
    let mut out = Vec::with_capacity(value.len());
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let hex = value
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(bytes[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_unescapes_round_trip() {
        for value in ["Smith, John", " lead", "trail ", "#hash", "a+b=c;d<e>\"f\\"] {
            let dn = format!("cn={},ou=people,dc=example", escape_dn_value(value));
            assert_eq!(rdn_value(&dn), value, "{dn}");
            assert_eq!(parent_dn(&dn), "ou=people,dc=example");
        }
        assert_eq!(escape_dn_value("Smith, John"), "Smith\\, John");
        assert_eq!(rdn_value("cn=caf\\c3\\a9,o=x"), "café");
    }
}
