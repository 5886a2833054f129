//! SCIM filters as SQL `WHERE` clauses. Every value becomes a parameter;
//! `LIKE` patterns escape `%`, `_` and `\`, so no value can change the
//! statement's meaning. Text compares case-insensitively, as SCIM's
//! default (`caseExact: false`) and the host's own evaluator do.

use crate::class_table::ClassTable;
use crate::table::{Column, Kind, Statement};
use provisio_sdk::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter};
use provisio_sdk::sql::Value as SqlValue;
use provisio_sdk::{Error, Value};

/// Appends the condition for `filter` to `statement`.
pub fn push_filter(
    statement: &mut Statement,
    class: &ClassTable,
    filter: &Filter,
) -> Result<(), Error> {
    match filter {
        Filter::Attr(expression) => push_attr(statement, class, expression),
        Filter::ValuePath(path) => Err(Error::invalid(format!(
            "filter: value paths such as {}[…] are not supported by the SQL connector: its attributes are single columns",
            path.attr.name
        ))),
        Filter::Not(inner) => {
            // NULL-safe: `not (x eq "a")` matches rows where x is NULL, as
            // the host's evaluator does.
            statement.push("NOT COALESCE((");
            push_filter(statement, class, inner)?;
            statement.push("), FALSE)");
            Ok(())
        }
        Filter::And(operands) | Filter::Or(operands) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            statement.push("(");
            for (i, operand) in operands.iter().enumerate() {
                if i > 0 {
                    statement.push(joiner);
                }
                push_filter(statement, class, operand)?;
            }
            statement.push(")");
            Ok(())
        }
    }
}

fn attribute_name(path: &AttrPath) -> String {
    match &path.sub_attr {
        Some(sub) => format!("{}.{sub}", path.name),
        None => path.name.clone(),
    }
}

fn push_attr(
    statement: &mut Statement,
    class: &ClassTable,
    expression: &AttrExp,
) -> Result<(), Error> {
    let (path, op, value) = match expression {
        AttrExp::Present(path) => {
            let column = class.filter_column(&attribute_name(path))?;
            let name = crate::table::ident(&column.name);
            if column.kind == Kind::Text {
                statement.push(&format!("({name} IS NOT NULL AND {name} <> '')"));
            } else {
                statement.push(&format!("{name} IS NOT NULL"));
            }
            return Ok(());
        }
        AttrExp::Comparison(path, op, value) => (path, op, value),
    };
    let attribute = attribute_name(path);
    let column = class.filter_column(&attribute)?;
    let name = crate::table::ident(&column.name);
    if matches!(value, CompValue::Null) {
        match op {
            CompareOp::Eq => statement.push(&format!("{name} IS NULL")),
            CompareOp::Ne => statement.push(&format!("{name} IS NOT NULL")),
            _ => {
                return Err(Error::invalid(format!(
                    "filter: {attribute}: null only compares with eq and ne"
                )));
            }
        };
        return Ok(());
    }
    match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let CompValue::Str(s) = value else {
                return Err(Error::invalid(format!(
                    "filter: {attribute}: co, sw and ew compare with a string"
                )));
            };
            let escaped = s
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = match op {
                CompareOp::Co => format!("%{escaped}%"),
                CompareOp::Sw => format!("{escaped}%"),
                _ => format!("%{escaped}"),
            };
            let p = statement.bind(SqlValue::Text(pattern), None);
            statement.push(&format!(
                "LOWER(CAST({name} AS TEXT)) LIKE LOWER({p}) ESCAPE '\\'"
            ));
        }
        _ => {
            let param = comparable(column, &attribute, value)?;
            let sql_op = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "<>",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Lt => "<",
                _ => "<=",
            };
            let (lhs, rhs) = if column.kind == Kind::Text {
                let p = statement.bind(param, Some(column));
                (format!("LOWER({name})"), format!("LOWER({p})"))
            } else {
                let p = statement.bind(param, Some(column));
                (name.clone(), p)
            };
            if *op == CompareOp::Ne {
                // `ne` also matches an absent value.
                statement.push(&format!("({lhs} IS NULL OR {lhs} {sql_op} {rhs})"));
            } else {
                statement.push(&format!("{lhs} {sql_op} {rhs}"));
            }
        }
    }
    Ok(())
}

/// A filter value as a parameter for `column`.
fn comparable(column: &Column, attribute: &str, value: &CompValue) -> Result<SqlValue, Error> {
    let value = match value {
        CompValue::Str(s) => Value::Text(s.clone()),
        CompValue::True => Value::Boolean(true),
        CompValue::False => Value::Boolean(false),
        CompValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Text(n.to_string()),
        },
        CompValue::Null => unreachable!("handled by the caller"),
    };
    column.to_sql(attribute, &value).map_err(|_| {
        Error::invalid(format!(
            "filter: {attribute} is {}; cannot compare it with {value:?}",
            column.type_name
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisio_sdk::sql::Dialect;

    fn translate(filter: &str) -> Result<Statement, Error> {
        let table = crate::class_table::tests::accounts();
        let filter = provisio_sdk::filter::parse(filter).unwrap();
        let mut statement = Statement::new(Dialect::Postgres, "");
        push_filter(&mut statement, &table, &filter)?;
        Ok(statement)
    }

    #[test]
    fn values_become_parameters_and_text_compares_ignoring_case() {
        let s = translate(r#"username eq "O'Brien" and not (department co "50%_")"#).unwrap();
        assert_eq!(
            s.text,
            r#"(LOWER("username") = LOWER($1) AND NOT COALESCE((LOWER(CAST("department" AS TEXT)) LIKE LOWER($2) ESCAPE '\'), FALSE))"#
        );
        assert_eq!(
            s.params,
            vec![
                SqlValue::Text("O'Brien".into()),
                SqlValue::Text(r"%50\%\_%".into())
            ]
        );
    }

    #[test]
    fn ne_matches_absent_values_and_pr_skips_empty_text() {
        let s = translate(r#"department ne "x" or department pr"#).unwrap();
        assert_eq!(
            s.text,
            r#"((LOWER("department") IS NULL OR LOWER("department") <> LOWER($1)) OR ("department" IS NOT NULL AND "department" <> ''))"#
        );
        assert_eq!(
            translate("department eq null").unwrap().text,
            r#""department" IS NULL"#
        );
    }

    #[test]
    fn refuses_what_a_column_cannot_answer() {
        let e = translate("department gt null").unwrap_err();
        assert!(
            format!("{e:?}").contains("null only compares with eq and ne"),
            "{e:?}"
        );
        let e = translate(r#"emails[type eq "work"]"#).unwrap_err();
        assert!(format!("{e:?}").contains("value paths"), "{e:?}");
        assert!(
            translate(r#"shoeSize eq "44""#).is_err(),
            "unknown attribute"
        );
    }
}
