//! SCIM filters (RFC 7644 §3.4.2.2): parsing into an AST and evaluating it
//! against any object that implements [`FilterSubject`]. Used by connectors
//! (through `provisio-sdk`) and by the host (protected-account filters).
//!
//! Filters reach a connector as strings (WIT has no recursive types). The
//! parser is [`scim_v2`]'s, which covers the whole grammar (`eq ne co sw ew
//! pr gt ge lt le`, `and or not`, grouping, value paths such as
//! `emails[type eq "work"]`, URN-qualified and dotted attribute paths) and
//! bounds nesting depth and term count, so a hostile filter cannot exhaust
//! the connector's stack or memory. Connectors that push filters down to the
//! target (LDAP, SQL, SCIM) walk the AST; connectors that hold objects in
//! memory (CSV), and the host, call [`matches`].
//!
//! ## Evaluation rules
//! - Attribute names match case-insensitively; a URN prefix is ignored; a
//!   sub-attribute path `name.familyName` names the flat attribute
//!   `name.familyName`.
//! - Operational attributes cannot be spelled in SCIM syntax (names start
//!   with a letter), so they are written without underscores: when an
//!   object has no attribute of that name, `uid` names its uid, `name` its
//!   name, and any other `x` the operational `__x__` (`enable eq false`
//!   tests `__enable__`). A real attribute of the same name wins.
//! - Text comparisons are case-insensitive (SCIM's default `caseExact:
//!   false`); `gt ge lt le` on text compare lexicographically after case
//!   folding; on integers, numerically.
//! - A multi-valued attribute matches when any value matches; `ne` is the
//!   negation of `eq`, so it also matches an absent attribute.
//! - `x eq null` matches an absent attribute, `x ne null` a present one.
//! - Inside a value path `emails[...]` each value is tested on its own and
//!   the sub-attribute `value` names it; values are flat in this contract,
//!   so other sub-attributes are absent.

use std::cmp::Ordering;
use std::fmt;

pub use scim_v2::filter::{
    AttrExp, AttrPath, CompValue, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_TERMS, Operands,
    ValFilter, ValuePath,
};

/// A filter that could not be parsed, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The filter as given.
    pub filter: String,
    /// Byte offset of the problem, when the parser knows it.
    pub offset: Option<usize>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid SCIM filter {:?}", self.filter)?;
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for FilterError {}

/// Parses a SCIM filter.
///
/// ```
/// use provisio_filter::{self as filter, AttrExp, CompareOp, Filter};
/// let f = filter::parse(r#"userName eq "bjensen""#).unwrap();
/// assert!(matches!(f, Filter::Attr(AttrExp::Comparison(_, CompareOp::Eq, _))));
/// assert!(filter::parse("userName eq").is_err());
/// ```
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    use scim_v2::filter::ParseError as P;
    input.parse::<Filter>().map_err(|error| {
        let (offset, reason) = match error {
            P::InvalidToken { location } => (Some(location), "unexpected character".to_owned()),
            P::UnrecognizedEof { location, expected } => (
                Some(location),
                format!(
                    "the filter ends early; expected {}",
                    describe_expected(&expected)
                ),
            ),
            P::UnrecognizedToken {
                token: (start, token, end),
                expected,
            } => (
                Some(start),
                match dangling_operator(input, token.trim(), end) {
                    Some(missing) => format!(
                        "the filter ends after `{}`; expected {missing}",
                        token.trim()
                    ),
                    None => format!(
                        "unexpected {:?}; expected {}",
                        token.trim(),
                        describe_expected(&expected)
                    ),
                },
            ),
            P::ExtraToken {
                token: (start, token, _),
            } => (
                Some(start),
                format!("unexpected {:?} after a complete filter", token.trim()),
            ),
            P::User { error } => (None, error.to_string()),
        };
        FilterError {
            filter: input.to_owned(),
            offset,
            reason,
        }
    })
}

/// The grammar's operator tokens carry their surrounding spaces, so an
/// operator at the very end (`userName eq`) reads as a stray name: say what
/// is missing instead.
fn dangling_operator(input: &str, token: &str, end: usize) -> Option<&'static str> {
    if end < input.trim_end().len() {
        return None;
    }
    match token.to_ascii_lowercase().as_str() {
        "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le" => Some("a value"),
        "and" | "or" | "not" => Some("a filter"),
        _ => None,
    }
}

/// Turns the parser's terminal names (quoted literals and token classes)
/// into words an operator can read.
fn describe_expected(expected: &[String]) -> String {
    let mut words: Vec<String> = expected
        .iter()
        .map(|t| {
            let t = t.trim_matches('"');
            match t {
                "AttrNameTok" | "AttrPathTok" => "an attribute name".to_owned(),
                "StringLit" => "a quoted string".to_owned(),
                "NumberLit" => "a number".to_owned(),
                other => format!("`{}`", other.trim_matches('\\').trim_matches('"')),
            }
        })
        .collect();
    words.sort();
    words.dedup();
    match words.len() {
        0 => "nothing more".to_owned(),
        1 => words.remove(0),
        _ => format!("one of {}", words.join(", ")),
    }
}

/// One value of an attribute, borrowed from the object being tested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Text(&'a str),
    Integer(i64),
    Boolean(bool),
    Binary(&'a [u8]),
    /// The uid of another object; compared as text.
    Reference(&'a str),
}

/// What a filter is evaluated against: an object with a uid, a name and
/// named attributes.
pub trait FilterSubject {
    fn uid(&self) -> &str;
    fn name(&self) -> &str;
    /// The values of the attribute called `name` (case-insensitively), or
    /// `None` when the object has no such attribute.
    fn values(&self, name: &str) -> Option<Vec<ValueRef<'_>>>;
}

/// True when `object` satisfies `filter` (see the crate's rules).
pub fn matches<O: FilterSubject + ?Sized>(filter: &Filter, object: &O) -> bool {
    match filter {
        Filter::Attr(exp) => attr_matches(exp, &values_of(object, exp_path(exp))),
        Filter::ValuePath(vp) => values_of(object, &vp.attr)
            .iter()
            .any(|v| val_filter_matches(&vp.filter, *v)),
        Filter::Not(inner) => !matches(inner, object),
        Filter::And(items) => items.as_slice().iter().all(|f| matches(f, object)),
        Filter::Or(items) => items.as_slice().iter().any(|f| matches(f, object)),
    }
}

/// The part of `filter` that makes `object` match it, as filter text: the
/// first matching branch of an `or`, every operand of an `and`, a
/// comparison as written. `None` when `object` does not match. For
/// telling an operator *why* an account is protected.
///
/// ```
/// use provisio_filter as filter;
/// # struct O;
/// # impl filter::FilterSubject for O {
/// #     fn uid(&self) -> &str { "1" }
/// #     fn name(&self) -> &str { "root" }
/// #     fn values(&self, _: &str) -> Option<Vec<filter::ValueRef<'_>>> { None }
/// # }
/// let f = filter::parse(r#"name eq "admin" or name eq "root""#).unwrap();
/// assert_eq!(filter::matched_part(&f, &O).as_deref(), Some(r#"name eq "root""#));
/// ```
pub fn matched_part<O: FilterSubject + ?Sized>(filter: &Filter, object: &O) -> Option<String> {
    if !matches(filter, object) {
        return None;
    }
    match filter {
        Filter::Or(items) => items
            .as_slice()
            .iter()
            .find_map(|f| matched_part(f, object)),
        Filter::And(items) => {
            let parts: Vec<String> = items
                .as_slice()
                .iter()
                .filter_map(|f| matched_part(f, object))
                .map(|part| {
                    if part.contains(" or ") {
                        format!("({part})")
                    } else {
                        part
                    }
                })
                .collect();
            Some(parts.join(" and "))
        }
        other => Some(other.to_string()),
    }
}

/// Every attribute name `filter` tests, as written (`name.familyName` for
/// a sub-attribute; a value path's own attribute, not its `value`).
pub fn attribute_names(filter: &Filter) -> Vec<String> {
    fn path_name(path: &AttrPath) -> String {
        match &path.sub_attr {
            Some(sub) => format!("{}.{}", path.name, sub),
            None => path.name.clone(),
        }
    }
    fn walk(filter: &Filter, out: &mut Vec<String>) {
        match filter {
            Filter::Attr(exp) => out.push(path_name(exp_path(exp))),
            Filter::ValuePath(vp) => out.push(path_name(&vp.attr)),
            Filter::Not(inner) => walk(inner, out),
            Filter::And(items) | Filter::Or(items) => {
                items.as_slice().iter().for_each(|f| walk(f, out))
            }
        }
    }
    let mut names = Vec::new();
    walk(filter, &mut names);
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.to_ascii_lowercase()));
    names
}

fn exp_path(exp: &AttrExp) -> &AttrPath {
    match exp {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    }
}

/// The values `path` names on `object`.
fn values_of<'a, O: FilterSubject + ?Sized>(object: &'a O, path: &AttrPath) -> Vec<ValueRef<'a>> {
    let name = match &path.sub_attr {
        Some(sub) => format!("{}.{}", path.name, sub),
        None => path.name.clone(),
    };
    if let Some(values) = object.values(&name) {
        return values;
    }
    if name.eq_ignore_ascii_case("uid") {
        return vec![ValueRef::Text(object.uid())];
    }
    if name.eq_ignore_ascii_case("name") {
        return vec![ValueRef::Text(object.name())];
    }
    object.values(&format!("__{name}__")).unwrap_or_default()
}

fn val_filter_matches(filter: &ValFilter, value: ValueRef<'_>) -> bool {
    match filter {
        ValFilter::Attr(exp) => {
            let path = exp_path(exp);
            let own = path.sub_attr.is_none() && path.name.eq_ignore_ascii_case("value");
            let values: &[ValueRef<'_>] = if own {
                std::slice::from_ref(&value)
            } else {
                &[]
            };
            attr_matches(exp, values)
        }
        ValFilter::Not(inner) => !val_filter_matches(inner, value),
        ValFilter::And(items) => items
            .as_slice()
            .iter()
            .all(|f| val_filter_matches(f, value)),
        ValFilter::Or(items) => items
            .as_slice()
            .iter()
            .any(|f| val_filter_matches(f, value)),
    }
}

fn attr_matches(exp: &AttrExp, values: &[ValueRef<'_>]) -> bool {
    match exp {
        AttrExp::Present(_) => values.iter().any(|v| !is_empty(v)),
        AttrExp::Comparison(_, CompareOp::Eq, CompValue::Null) => values.is_empty(),
        AttrExp::Comparison(_, CompareOp::Ne, CompValue::Null) => !values.is_empty(),
        AttrExp::Comparison(_, CompareOp::Ne, expected) => {
            !values.iter().any(|v| compare(v, &CompareOp::Eq, expected))
        }
        AttrExp::Comparison(_, op, expected) => values.iter().any(|v| compare(v, op, expected)),
    }
}

fn is_empty(value: &ValueRef<'_>) -> bool {
    match value {
        ValueRef::Text(s) | ValueRef::Reference(s) => s.is_empty(),
        ValueRef::Binary(b) => b.is_empty(),
        ValueRef::Integer(_) | ValueRef::Boolean(_) => false,
    }
}

fn compare(value: &ValueRef<'_>, op: &CompareOp, expected: &CompValue) -> bool {
    match (value, expected) {
        (_, CompValue::Null) => false,
        (ValueRef::Boolean(b), CompValue::True | CompValue::False) => {
            let e = matches!(expected, CompValue::True);
            matches!(op, CompareOp::Eq) && *b == e
        }
        (ValueRef::Text(s), CompValue::True | CompValue::False) => {
            let e = matches!(expected, CompValue::True);
            matches!(op, CompareOp::Eq)
                && s.trim()
                    .eq_ignore_ascii_case(if e { "true" } else { "false" })
        }
        (ValueRef::Integer(i), CompValue::Number(n)) => match n.as_i64() {
            Some(n) => ordered(op, i.cmp(&n)),
            None => n
                .as_f64()
                .and_then(|n| (*i as f64).partial_cmp(&n))
                .is_some_and(|o| ordered(op, o)),
        },
        (ValueRef::Text(s), CompValue::Number(n)) => {
            let (Ok(l), Some(r)) = (s.trim().parse::<f64>(), n.as_f64()) else {
                return false;
            };
            l.partial_cmp(&r).is_some_and(|o| ordered(op, o))
        }
        (ValueRef::Integer(i), CompValue::Str(s)) => match s.trim().parse::<i64>() {
            Ok(n) => ordered(op, i.cmp(&n)),
            Err(_) => text_compare(&i.to_string(), op, s),
        },
        (ValueRef::Boolean(b), CompValue::Str(s)) => text_compare(&b.to_string(), op, s),
        (ValueRef::Text(t) | ValueRef::Reference(t), CompValue::Str(s)) => text_compare(t, op, s),
        _ => false,
    }
}

fn text_compare(actual: &str, op: &CompareOp, expected: &str) -> bool {
    let a = actual.to_lowercase();
    let e = expected.to_lowercase();
    match op {
        CompareOp::Eq => a == e,
        CompareOp::Ne => a != e,
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => ordered(op, a.cmp(&e)),
    }
}

fn ordered(op: &CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
