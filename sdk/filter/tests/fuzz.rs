//! Property tests: a filter is untrusted text (a SCIM client's `?filter=`,
//! an operator's protected-account rule). Whatever it is, parsing answers
//! a filter or an error that says where, never a panic or a stack
//! overflow; what parses prints back to the same filter; and evaluation
//! obeys the boolean laws.

use proptest::prelude::*;
use provisio_filter::{self as filter, Filter, FilterSubject, MAX_FILTER_DEPTH, ValueRef};

/// An object with a few attributes for evaluation.
#[derive(Debug, Clone)]
struct Subject {
    uid: String,
    name: String,
    attributes: Vec<(String, Vec<Value>)>,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

impl FilterSubject for Subject {
    fn uid(&self) -> &str {
        &self.uid
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn values(&self, name: &str) -> Option<Vec<ValueRef<'_>>> {
        let (_, values) = self
            .attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(
            values
                .iter()
                .map(|v| match v {
                    Value::Text(t) => ValueRef::Text(t),
                    Value::Integer(i) => ValueRef::Integer(*i),
                    Value::Boolean(b) => ValueRef::Boolean(*b),
                })
                .collect(),
        )
    }
}

const NAMES: [&str; 6] = [
    "userName",
    "emails",
    "age",
    "active",
    "title",
    "name.familyName",
];

fn subjects() -> impl Strategy<Value = Subject> {
    let value = prop_oneof![
        "[a-zA-Z@. ]{0,8}".prop_map(Value::Text),
        (-5i64..5).prop_map(Value::Integer),
        any::<bool>().prop_map(Value::Boolean),
    ];
    let attribute = (
        prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned),
        prop::collection::vec(value, 0..3),
    );
    (
        "[a-z0-9]{1,6}",
        "[a-z]{0,6}",
        prop::collection::vec(attribute, 0..5),
    )
        .prop_map(|(uid, name, attributes)| Subject {
            uid,
            name,
            attributes,
        })
}

/// Text built from the grammar's own tokens, mostly almost-filters.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "userName",
        "emails",
        "age",
        "active",
        "title",
        "name.familyName",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "value",
        "type",
        " eq ",
        " ne ",
        " co ",
        " sw ",
        " ew ",
        " gt ",
        " ge ",
        " lt ",
        " le ",
        " pr",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        "\"a\"",
        "\"\\\"\"",
        "\"\"",
        "1",
        "-2.5e3",
        "true",
        "false",
        "null",
        " ",
        "\"work\"",
        "\"unterminated",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// Valid filters, as text, from a small grammar.
fn filters() -> impl Strategy<Value = String> {
    let comparison = (
        prop::sample::select(NAMES.to_vec()),
        prop::sample::select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
        prop_oneof![
            "[a-zA-Z@. ]{0,8}".prop_map(|s| format!("{s:?}")),
            (-5i64..5).prop_map(|n| n.to_string()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
        ],
    )
        .prop_map(|(name, op, value)| format!("{name} {op} {value}"));
    let leaf = prop_oneof![
        comparison.clone(),
        prop::sample::select(NAMES.to_vec()).prop_map(|n| format!("{n} pr")),
        comparison.prop_map(|c| format!(
            "emails[{}]",
            c.replacen(c.split(' ').next().unwrap(), "value", 1)
        )),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn parse_or_explain(input: &str) -> Result<Filter, filter::FilterError> {
    let result = filter::parse(input);
    if let Err(error) = &result {
        assert!(
            error.offset.is_none_or(|at| at <= input.len()),
            "offset {:?} past the end of {input:?}",
            error.offset
        );
        assert!(!error.reason.is_empty(), "no reason for {input:?}");
        assert!(error.to_string().starts_with("invalid SCIM filter"));
    }
    result
}

/// Cases per property: bounded so the test command stays quick; set
/// `PROVISIO_FUZZ_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("PROVISIO_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1024)))]

    #[test]
    fn any_text_parses_or_says_where_it_is_wrong(input in "\\PC{0,200}") {
        let _ = parse_or_explain(&input);
    }

    #[test]
    fn token_soup_parses_or_says_where_it_is_wrong(input in token_soup(), subject in subjects()) {
        if let Ok(parsed) = parse_or_explain(&input) {
            let _ = filter::matches(&parsed, &subject);
        }
    }

    #[test]
    fn a_valid_filter_prints_back_to_itself(input in filters()) {
        let parsed = filter::parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let printed = parsed.to_string();
        prop_assert_eq!(filter::parse(&printed).unwrap(), parsed, "printed as {}", printed);
    }

    #[test]
    fn evaluation_obeys_the_boolean_laws(a in filters(), b in filters(), subject in subjects()) {
        let eval = |text: &str| filter::matches(&filter::parse(text).unwrap(), &subject);
        let (x, y) = (eval(&a), eval(&b));
        prop_assert_eq!(eval(&format!("not ({a})")), !x);
        prop_assert_eq!(eval(&format!("({a}) and ({b})")), x && y);
        prop_assert_eq!(eval(&format!("({a}) or ({b})")), x || y);
    }
}

#[test]
fn hostile_nesting_and_length_are_refused_without_exhausting_the_stack() {
    // Each shape 100,000 levels deep: a recursive parser would overflow the
    // test thread's stack long before the end.
    let depth = 100_000;
    for hostile in [
        format!("{}a eq 1{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}a eq 1{}", "not (".repeat(depth), ")".repeat(depth)),
        format!("{}v eq 1{}", "a[".repeat(depth), "]".repeat(depth)),
        (0..100_000)
            .map(|i| format!("a eq {i}"))
            .collect::<Vec<_>>()
            .join(" or "),
    ] {
        let error = filter::parse(&hostile).unwrap_err();
        assert!(!error.reason.is_empty());
    }
    let at_limit = format!(
        "{}a eq 1{}",
        "(".repeat(MAX_FILTER_DEPTH - 1),
        ")".repeat(MAX_FILTER_DEPTH - 1)
    );
    assert!(filter::parse(&at_limit).is_ok());
}
