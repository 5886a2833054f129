//! SCIM filters as LDAP filters (RFC 4515). Every value is escaped, so no
//! request value can change the filter's meaning.

use crate::Error;
use provisio_filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};

/// `value` escaped for an LDAP filter: `*`, `(`, `)`, `\` and NUL as
/// `\2a`, `\28`, `\29`, `\5c` and `\00`, and every non-ASCII byte as
/// `\xx` too, so the filter is plain ASCII.
pub fn escape_filter_value(value: &str) -> String {
    escape_bytes(value.as_bytes())
}

/// Binary `value` escaped for an LDAP filter (e.g. an objectGUID).
pub fn escape_filter_bytes(value: &[u8]) -> String {
    value.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// `value` escaped as [`escape_filter_value`] does, for bytes that may not
/// be UTF-8.
pub(crate) fn escape_bytes(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 | 0x80..=0xff => {
                out.push_str(&format!("\\{b:02x}"));
            }
            _ => out.push(b as char),
        }
    }
    out
}

/// Translates a SCIM filter into an LDAP one. `attribute` names the LDAP
/// attribute for a SCIM attribute path, or refuses it (for example an
/// attribute the connector does not map).
pub fn scim_to_ldap(
    filter: &Filter,
    attribute: &dyn Fn(&AttrPath) -> Result<String, Error>,
) -> Result<String, Error> {
    match filter {
        Filter::Attr(expression) => attr(expression, attribute),
        Filter::ValuePath(path) => {
            // Values are flat: `emails[value eq "x"]` is `emails eq "x"`.
            let ValFilter::Attr(expression) = path.filter.as_ref() else {
                return Err(Error::invalid(format!(
                    "filter: only a single comparison on `value` is supported inside {}[…]",
                    path.attr.name
                )));
            };
            let (inner, rest) = match expression {
                AttrExp::Present(p) => (p, None),
                AttrExp::Comparison(p, op, v) => (p, Some((op, v))),
            };
            if !inner.name.eq_ignore_ascii_case("value") {
                return Err(Error::invalid(format!(
                    "filter: {}[{}…]: LDAP values have no sub-attribute {}",
                    path.attr.name, inner.name, inner.name
                )));
            }
            let flat = match rest {
                None => AttrExp::Present(path.attr.clone()),
                Some((op, v)) => AttrExp::Comparison(path.attr.clone(), op.clone(), v.clone()),
            };
            attr(&flat, attribute)
        }
        Filter::Not(inner) => Ok(format!("(!{})", scim_to_ldap(inner, attribute)?)),
        Filter::And(operands) | Filter::Or(operands) => {
            let op = if matches!(filter, Filter::And(_)) {
                '&'
            } else {
                '|'
            };
            let mut out = format!("({op}");
            for operand in operands.iter() {
                out.push_str(&scim_to_ldap(operand, attribute)?);
            }
            out.push(')');
            Ok(out)
        }
    }
}

/// The attributes `filter` compares with `gt`, `ge`, `lt` or `le`
/// (inside value paths too): a directory answers those only for attribute
/// types with an ORDERING rule, so a connector checks them first.
pub fn ordered_attributes(filter: &Filter) -> Vec<&AttrPath> {
    fn ordered(op: &CompareOp) -> bool {
        matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
    let mut out = Vec::new();
    let mut todo = vec![filter];
    while let Some(filter) = todo.pop() {
        match filter {
            Filter::Attr(AttrExp::Comparison(path, op, _)) if ordered(op) => out.push(path),
            Filter::Attr(_) => {}
            Filter::ValuePath(path) => {
                if let ValFilter::Attr(AttrExp::Comparison(_, op, _)) = path.filter.as_ref()
                    && ordered(op)
                {
                    out.push(&path.attr);
                }
            }
            Filter::Not(inner) => todo.push(inner),
            Filter::And(operands) | Filter::Or(operands) => todo.extend(operands.iter()),
        }
    }
    out
}

fn value_text(name: &str, value: &CompValue) -> Result<String, Error> {
    Ok(match value {
        CompValue::Str(s) => escape_filter_value(s),
        CompValue::True => "TRUE".into(),
        CompValue::False => "FALSE".into(),
        CompValue::Number(n) => n.to_string(),
        CompValue::Null => {
            return Err(Error::invalid(format!(
                "filter: {name}: null only compares with eq and ne"
            )));
        }
    })
}

fn attr(
    expression: &AttrExp,
    attribute: &dyn Fn(&AttrPath) -> Result<String, Error>,
) -> Result<String, Error> {
    let (path, op, value) = match expression {
        AttrExp::Present(path) => return Ok(format!("({}=*)", attribute(path)?)),
        AttrExp::Comparison(path, op, value) => (path, op, value),
    };
    let name = attribute(path)?;
    if matches!(value, CompValue::Null) {
        return match op {
            CompareOp::Eq => Ok(format!("(!({name}=*))")),
            CompareOp::Ne => Ok(format!("({name}=*)")),
            _ => Err(Error::invalid(format!(
                "filter: {name}: null only compares with eq and ne"
            ))),
        };
    }
    let v = value_text(&name, value)?;
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) && v.is_empty() {
        return Ok(format!("({name}=*)"));
    }
    Ok(match op {
        CompareOp::Eq => format!("({name}={v})"),
        CompareOp::Ne => format!("(!({name}={v}))"),
        CompareOp::Co => format!("({name}=*{v}*)"),
        CompareOp::Sw => format!("({name}={v}*)"),
        CompareOp::Ew => format!("({name}=*{v})"),
        CompareOp::Ge => format!("({name}>={v})"),
        CompareOp::Le => format!("({name}<={v})"),
        CompareOp::Gt => format!("(&({name}>={v})(!({name}={v})))"),
        CompareOp::Lt => format!("(&({name}<={v})(!({name}={v})))"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_attributes_compared_for_order() {
        let filter = provisio_filter::parse(
            r#"a eq "1" and (b gt "2" or not (c le "3")) and emails[value ge "x"] and d sw "y""#,
        )
        .unwrap();
        let mut names: Vec<&str> = ordered_attributes(&filter)
            .into_iter()
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["b", "c", "emails"]);
    }

    fn translate(scim: &str) -> String {
        let filter = provisio_filter::parse(scim).unwrap();
        scim_to_ldap(&filter, &|p: &AttrPath| Ok(p.name.clone())).unwrap()
    }

    #[test]
    fn values_cannot_escape_their_comparison() {
        assert_eq!(translate(r#"cn eq "*)(uid=*""#), r"(cn=\2a\29\28uid=\2a)");
        assert_eq!(translate(r#"cn eq "a\\b""#), r"(cn=a\5cb)");
        assert_eq!(translate(r#"cn eq "a\u0000b""#), r"(cn=a\00b)");
        assert_eq!(translate(r#"cn eq "José""#), r"(cn=Jos\c3\a9)");
    }

    #[test]
    fn operators_and_logic() {
        assert_eq!(
            translate(r#"sn sw "Sm" and not (mail pr) or uid ne "x""#),
            "(|(&(sn=Sm*)(!(mail=*)))(!(uid=x)))"
        );
        assert_eq!(translate(r#"cn co "a""#), "(cn=*a*)");
        assert_eq!(translate("n gt 5"), "(&(n>=5)(!(n=5)))");
        assert_eq!(translate("mail eq null"), "(!(mail=*))");
        assert_eq!(translate(r#"mail[value ew "@x.org"]"#), "(mail=*@x.org)");
    }
}
