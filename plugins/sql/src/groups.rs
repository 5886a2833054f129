//! Group memberships in a join table (`membership.table`): reading an
//! account's groups and changing them.

use crate::settings::MembershipTable;
use crate::table::{Queries, Statement, ident};
use crate::{SqlConnector, class_table};
use provisio_sdk::Error;
use provisio_sdk::sql::{Dialect, Transaction, Value as SqlValue};

impl SqlConnector {
    /// `<head> <membership table> WHERE <account> = uid`, ids compared as
    /// text whatever the columns' types.
    pub(crate) fn memberships_of(&self, m: &MembershipTable, head: &str, uid: &str) -> Statement {
        let mut statement = Statement::new(
            self.dialect,
            format!(
                "{head} {} WHERE CAST({} AS TEXT) = ",
                ident(&m.table),
                ident(&m.account)
            ),
        );
        statement.push_bind(SqlValue::Text(uid.to_owned()), None);
        statement
    }

    pub(crate) fn groups_of(&self, q: &impl Queries, uid: &str) -> Result<Vec<String>, Error> {
        let m = self
            .settings
            .membership
            .as_ref()
            .expect("checked by has_groups");
        let head = format!("SELECT CAST({} AS TEXT) FROM", ident(&m.group));
        let mut statement = self.memberships_of(m, &head, uid);
        statement.push(" ORDER BY 1");
        Ok(statement
            .rows(q)?
            .iter()
            .map(|r| class_table::text_of(&r[0]))
            .collect())
    }

    pub(crate) fn change_groups(
        &self,
        tx: &Transaction,
        uid: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Error> {
        let m = self
            .settings
            .membership
            .as_ref()
            .expect("checked by target()");
        for group in remove {
            let mut s = self.memberships_of(m, "DELETE FROM", uid);
            s.push(&format!(" AND CAST({} AS TEXT) = ", ident(&m.group)));
            s.push_bind(SqlValue::Text(group.clone()), None);
            s.run(tx)?;
        }
        let current = self.groups_of(tx, uid)?;
        for group in add {
            if current.contains(group) {
                continue;
            }
            // The ids go in as text and the database converts them to the
            // membership table's column types.
            let mut s = Statement::new(
                self.dialect,
                format!(
                    "INSERT INTO {} ({}, {}) VALUES (",
                    ident(&m.table),
                    ident(&m.account),
                    ident(&m.group)
                ),
            );
            let (a, g) = (
                SqlValue::Text(uid.to_owned()),
                SqlValue::Text(group.clone()),
            );
            match self.dialect {
                Dialect::Postgres => {
                    let pa = s.bind(a, None);
                    let pg = s.bind(g, None);
                    // Let PostgreSQL cast text to whatever the columns are.
                    s.push(&format!(
                        "({pa})::text::{}, ({pg})::text::{})",
                        self.member_type(tx, &m.account)?,
                        self.member_type(tx, &m.group)?
                    ));
                }
                Dialect::Sqlite => {
                    s.push_bind(a, None).push(", ").push_bind(g, None).push(")");
                }
            }
            s.run(tx)?;
        }
        Ok(())
    }

    /// The PostgreSQL type of a membership column.
    pub(crate) fn member_type(&self, q: &impl Queries, column: &str) -> Result<String, Error> {
        let m = self
            .settings
            .membership
            .as_ref()
            .expect("membership is configured");
        let mut s = Statement::new(
            self.dialect,
            "SELECT udt_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ",
        );
        s.push_bind(SqlValue::Text(m.table.clone()), None);
        s.push(" AND column_name = ");
        s.push_bind(SqlValue::Text(column.to_owned()), None);
        let rows = s.rows(q)?;
        rows.first()
            .and_then(|r| r[0].as_text().map(ident))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "membership table {} has no column {column}",
                    m.table
                ))
            })
    }
}
