use super::*;
use serde_json::json;

fn tables() -> Tables {
    let mut departments = BTreeMap::new();
    departments.insert("Sales".to_owned(), "ou=sales".to_owned());
    departments.insert("Research".to_owned(), "ou=research".to_owned());
    BTreeMap::from([("departments".to_owned(), departments)])
}

fn render(text: &str, context: Json) -> Result<Json, ExprError> {
    let expressions = Expressions::new(&tables(), [(Form::Template, text)]).map_err(|(_, e)| e)?;
    expressions.evaluate(Form::Template, text, &context)
}

fn eval(text: &str, context: Json) -> Result<Json, ExprError> {
    let expressions =
        Expressions::new(&tables(), [(Form::Expression, text)]).map_err(|(_, e)| e)?;
    expressions.evaluate(Form::Expression, text, &context)
}

#[test]
fn templates_use_the_library() {
    let person = json!({"first": "Zoë", "last": "Ødegård-Smith", "department": "Sales"});
    assert_eq!(
        render(
            "{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}",
            person.clone()
        )
        .unwrap(),
        json!("zoe.odegard-smith")
    );
    assert_eq!(
        render(
            "{{ last[:4] | lower }}{{ first[0] | lower }}",
            person.clone()
        )
        .unwrap(),
        json!("ødegz")
    );
    assert_eq!(
        render("{{ department | lookup('departments') }}", person.clone()).unwrap(),
        json!("ou=sales")
    );
    assert_eq!(
        render(
            "{{ last | mid(2, 3) }}|{{ last | left(2) }}|{{ last | right(5) }}",
            person.clone()
        )
        .unwrap(),
        json!("deg|Ød|Smith")
    );
    assert_eq!(
        render("{{ ' a b  c ' | strip_spaces }}", person.clone()).unwrap(),
        json!("abc")
    );
    assert_eq!(
        render("{{ last | regex_replace('[^A-Za-z]', '') }}", person).unwrap(),
        json!("degrdSmith")
    );
}

#[test]
fn expressions_give_values() {
    let person = json!({"first": "Ada", "nickname": "", "roles": ["staff", "sales"], "department": "Research"});
    assert_eq!(
        eval("coalesce(nickname, first)", person.clone()).unwrap(),
        json!("Ada")
    );
    assert_eq!(
        eval(
            "is_present(nickname) or is_present(missing)",
            person.clone()
        )
        .unwrap(),
        json!(false)
    );
    assert_eq!(
        eval("'sales' in roles", person.clone()).unwrap(),
        json!(true)
    );
    assert_eq!(
        eval(
            "switch(department, 'ou=other', 'Sales', 'ou=s', 'Research', 'ou=r')",
            person.clone()
        )
        .unwrap(),
        json!("ou=r")
    );
    assert_eq!(
        eval(
            "lookup('departments', 'Marketing', 'ou=default')",
            person.clone()
        )
        .unwrap(),
        json!("ou=default")
    );
    assert_eq!(eval("missing.deeper", person).unwrap(), Json::Null);
}

#[test]
fn dates_are_canonical_and_compare_as_text() {
    let context =
        json!({"now": "2026-12-02T10:00:00Z", "end": "2026-11-30", "hired": "02/01/2026"});
    assert_eq!(
        eval("date_parse(end)", context.clone()).unwrap(),
        json!("2026-11-30T00:00:00Z")
    );
    assert_eq!(
        eval("date_parse(end) < now", context.clone()).unwrap(),
        json!(true)
    );
    assert_eq!(
        eval("now | date_add('30d')", context.clone()).unwrap(),
        json!("2027-01-01T10:00:00Z")
    );
    assert_eq!(
        eval("now | date_add('-2h')", context.clone()).unwrap(),
        json!("2026-12-02T08:00:00Z")
    );
    assert_eq!(
        eval(
            "hired | date_parse('[day]/[month]/[year]')",
            context.clone()
        )
        .unwrap(),
        json!("2026-01-02T00:00:00Z")
    );
    assert_eq!(
        eval(
            "now | date_format('[year][month][day][hour][minute][second].0Z')",
            context.clone()
        )
        .unwrap(),
        json!("20261202100000.0Z")
    );
    let error = eval("date_parse('yesterday')", context).unwrap_err();
    assert!(error.message.contains("is not a date"), "{error}");
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let error = Expressions::new(
        &tables(),
        [
            (Form::Template, "{{ first }}"),
            (Form::Template, "{{ first }}\n{{ last | lower( }}"),
        ],
    )
    .unwrap_err();
    assert_eq!(error.0, 1, "the second source is the bad one");
    assert_eq!(error.1.line, Some(2), "{}", error.1);
    assert!(error.1.column.is_some(), "{}", error.1);
    assert!(error.1.message.contains("line 2"), "{}", error.1);
    let error = Expressions::new(&tables(), [(Form::Expression, "department ==")]).unwrap_err();
    assert!(error.1.message.contains("syntax error"), "{}", error.1);
}

#[test]
fn an_evaluation_that_runs_too_long_runs_out_of_fuel() {
    let text = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}";
    let error = render(text, json!({})).unwrap_err();
    assert!(error.out_of_fuel, "{error}");
    assert!(error.message.contains("fuel"), "{error}");
}

#[test]
fn a_value_too_large_is_refused() {
    let error = render("{{ 'x' * 100000 }}", json!({})).unwrap_err();
    assert!(error.message.contains("bytes"), "{error}");
}

#[test]
fn errors_at_evaluation_name_what_is_wrong() {
    let error = render("{{ 'x' | lookup('nope') }}", json!({})).unwrap_err();
    assert!(error.message.contains("no table `nope`"), "{error}");
    let error = render("{{ 'x' | regex_replace('(', '') }}", json!({})).unwrap_err();
    assert!(error.message.contains("not valid"), "{error}");
    let error = render("{{ 'x' | mid(0, 1) }}", json!({})).unwrap_err();
    assert!(error.message.contains("counts from 1"), "{error}");
}

#[test]
fn inputs_name_what_a_source_reads() {
    let expressions = Expressions::new(&tables(), []).unwrap();
    assert_eq!(
        expressions.inputs(
            Form::Template,
            "{{ coalesce(profile.nickname, first) | lower }}.{{ last }}"
        ),
        vec!["first", "last", "profile.nickname"]
    );
}

/// Expressions are compiled once, at load, and evaluated from there: the
/// same values and errors as one compiled at each evaluation, and
/// a runtime error's position counts from the expression's own start.
#[test]
fn compiled_expressions_evaluate_as_written() {
    let context = json!({"first": "Ada", "roles": ["staff"]});
    for text in ["first | lower", "roles | length > 0", "missing", "none"] {
        let compiled = eval(text, context.clone()).unwrap();
        let uncompiled = Expressions::new(&tables(), [])
            .unwrap()
            .evaluate(Form::Expression, text, &context)
            .unwrap();
        assert_eq!(compiled, uncompiled, "{text}");
    }
    assert_eq!(eval("missing", json!({})).unwrap(), Json::Null);
    let error = eval("first | mid(0, 1)", context).unwrap_err();
    assert!(error.message.contains("counts from 1"), "{error}");
    assert_eq!(error.line, Some(1), "{error}");
    assert!(error.column.is_some_and(|c| c <= 18), "{error}");
    let expressions = Expressions::new(&tables(), [(Form::Expression, "first ~ last")]).unwrap();
    assert_eq!(
        expressions.inputs(Form::Expression, "first ~ last"),
        ["first", "last"]
    );
}

/// An expression is compiled alone before it is wrapped in the template
/// that evaluates it: text that would close the wrapper's tag and run
/// template code of its own is not one expression and is refused at load;
/// `%}` inside a string stays a string.
#[test]
fn an_expression_cannot_break_out_of_its_template() {
    for hostile in [
        "1) %}{{ 7 * 7 }}{% set other = (1",
        "first %}{% for i in range(99) %}x{% endfor %}",
        "1 {# note #}",
    ] {
        let refused = Expressions::new(&tables(), [(Form::Expression, hostile)]);
        assert!(refused.is_err(), "{hostile} was taken");
    }
    assert_eq!(
        eval(r#"first ~ " %} {{ " ~ "{% x""#, json!({"first": "a"})).unwrap(),
        json!("a %} {{ {% x")
    );
}
