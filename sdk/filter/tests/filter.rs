//! SCIM filters from RFC 7644 §3.4.2.2: what parses to which AST, what is
//! refused with which message, and how filters evaluate against objects.

use provisio_filter::{
    self as filter, AttrExp, AttrPath, CompValue, CompareOp, Filter, FilterSubject, ValFilter,
    ValuePath, ValueRef,
};

fn path(name: &str) -> AttrPath {
    match name.split_once('.') {
        Some((name, sub)) => AttrPath::with_sub_attr(name, sub),
        None => AttrPath::with_name(name),
    }
}

fn cmp(name: &str, op: CompareOp, value: CompValue) -> AttrExp {
    AttrExp::Comparison(path(name), op, value)
}

fn s(text: &str) -> CompValue {
    CompValue::Str(text.into())
}

fn attr(exp: AttrExp) -> Filter {
    Filter::Attr(exp)
}

fn work_emails() -> Filter {
    Filter::ValuePath(ValuePath {
        attr: path("emails"),
        filter: Box::new(ValFilter::and(
            ValFilter::Attr(cmp("type", CompareOp::Eq, s("work"))),
            ValFilter::Attr(cmp("value", CompareOp::Co, s("@example.com"))),
        )),
    })
}

#[test]
fn rfc_7644_examples_parse_to_the_expected_ast() {
    use CompareOp::*;
    let emails_or = Filter::or(
        attr(cmp("emails", Co, s("example.com"))),
        attr(cmp("emails.value", Co, s("example.org"))),
    );
    let cases: Vec<(&str, Filter)> = vec![
        (
            r#"userName Eq "john""#,
            attr(cmp("userName", Eq, s("john"))),
        ),
        (
            r#"userName eq "bjensen""#,
            attr(cmp("userName", Eq, s("bjensen"))),
        ),
        (
            r#"name.familyName co "O'Malley""#,
            attr(cmp("name.familyName", Co, s("O'Malley"))),
        ),
        (r#"userName sw "J""#, attr(cmp("userName", Sw, s("J")))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            attr(AttrExp::Comparison(
                AttrPath {
                    uri: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    name: "userName".into(),
                    sub_attr: None,
                },
                Sw,
                s("J"),
            )),
        ),
        ("title pr", attr(AttrExp::Present(path("title")))),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            attr(cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z"))),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            attr(cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z"))),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            attr(cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z"))),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            attr(cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z"))),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            Filter::and(
                attr(AttrExp::Present(path("title"))),
                attr(cmp("userType", Eq, s("Employee"))),
            ),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            Filter::or(
                attr(AttrExp::Present(path("title"))),
                attr(cmp("userType", Eq, s("Intern"))),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            Filter::and(attr(cmp("userType", Eq, s("Employee"))), emails_or.clone()),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            Filter::and(
                attr(cmp("userType", Ne, s("Employee"))),
                Filter::Not(Box::new(emails_or)),
            ),
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            Filter::and(attr(cmp("userType", Eq, s("Employee"))), work_emails()),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            Filter::or(
                work_emails(),
                Filter::ValuePath(ValuePath {
                    attr: path("ims"),
                    filter: Box::new(ValFilter::and(
                        ValFilter::Attr(cmp("type", Eq, s("xmpp"))),
                        ValFilter::Attr(cmp("value", Co, s("@foo.com"))),
                    )),
                }),
            ),
        ),
        ("active eq true", attr(cmp("active", Eq, CompValue::True))),
        ("manager eq null", attr(cmp("manager", Eq, CompValue::Null))),
        (
            "age ge 18",
            attr(cmp("age", Ge, CompValue::Number(18.into()))),
        ),
        (
            r#"a eq "1" or b eq "2" and c eq "3""#,
            Filter::or(
                attr(cmp("a", Eq, s("1"))),
                Filter::and(attr(cmp("b", Eq, s("2"))), attr(cmp("c", Eq, s("3")))),
            ),
        ),
        (
            r#"note eq "quote \" and \\ backslash""#,
            attr(cmp("note", Eq, s("quote \" and \\ backslash"))),
        ),
    ];
    for (text, expected) in cases {
        let parsed = filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed, expected, "{text}");
    }
}

#[test]
fn invalid_filters_are_refused_with_a_reason() {
    let cases: &[(&str, &str)] = &[
        (
            "userName eq",
            "the filter ends after `eq`; expected a value",
        ),
        (
            r#"userName eq "a" and"#,
            "the filter ends after `and`; expected a filter",
        ),
        (r#"userName xx "a""#, "unexpected"),
        (r#"userName eq "unterminated"#, "offset"),
        (
            r#"(userName eq "a""#,
            "the filter ends early; expected one of `)`",
        ),
        (r#"userName eq "a")"#, "unexpected \")\""),
        (r#"eq "a""#, "unexpected"),
        (r#"emails[type eq "work""#, "expected"),
        ("userName eq 'single'", "unexpected character"),
        ("", "the filter ends early"),
        (r#"1abc eq "x""#, "unexpected"),
        (r#"a.b.c eq "x""#, "more than one sub-attribute"),
    ];
    for (text, reason) in cases {
        let error = filter::parse(text).expect_err(text);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("invalid SCIM filter {text:?}")),
            "{message}"
        );
        assert!(message.contains(reason), "{text}: {message}");
    }
}

#[test]
fn hostile_nesting_is_bounded() {
    let deep = format!("{}a pr{}", "not (".repeat(200), ")".repeat(200));
    let error = filter::parse(&deep).unwrap_err();
    assert!(
        error.to_string().contains("nesting depth exceeds"),
        "{error}"
    );
    let wide = vec![r#"a eq "x""#; 2000].join(" or ");
    let error = filter::parse(&wide).unwrap_err();
    assert!(error.to_string().contains("too many terms"), "{error}");
}

/// A flat object, as connectors and the host hold them.
struct Person {
    attributes: Vec<(&'static str, Vec<ValueRef<'static>>)>,
}

impl FilterSubject for Person {
    fn uid(&self) -> &str {
        "u1"
    }
    fn name(&self) -> &str {
        "bjensen"
    }
    fn values(&self, name: &str) -> Option<Vec<ValueRef<'_>>> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

fn person() -> Person {
    Person {
        attributes: vec![
            ("userName", vec![ValueRef::Text("bjensen")]),
            ("name.familyName", vec![ValueRef::Text("Jensen")]),
            (
                "emails",
                vec![
                    ValueRef::Text("bjensen@example.com"),
                    ValueRef::Text("babs@jensen.org"),
                ],
            ),
            ("age", vec![ValueRef::Integer(42)]),
            ("__enable__", vec![ValueRef::Boolean(true)]),
        ],
    }
}

#[test]
fn filters_evaluate_against_objects() {
    let object = person();
    let cases: &[(&str, bool)] = &[
        (r#"userName eq "BJENSEN""#, true),
        (r#"userName ne "bjensen""#, false),
        (r#"name.familyName sw "jen""#, true),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#,
            true,
        ),
        (r#"emails co "jensen.org""#, true),
        (r#"emails[value ew ".org"]"#, true),
        (r#"emails[type eq "work"]"#, false),
        ("age gt 40 and age le 42", true),
        ("age lt 42", false),
        (r#"age eq "42""#, true),
        ("enable eq true", true),
        ("title pr", false),
        ("title eq null", true),
        (r#"title ne "x""#, true),
        (r#"not (userName eq "bjensen")"#, false),
        (r#"uid eq "u1" and name eq "bjensen""#, true),
    ];
    for (text, expected) in cases {
        let f = filter::parse(text).unwrap();
        assert_eq!(filter::matches(&f, &object), *expected, "{text}");
    }
}
