//! Values and query results as the host hands them to a connector.

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Whether a query's result describes its columns (`query`) or carries
/// only the values (`query-values`, for a connector that knows what it
/// selected: two strings per column fewer to copy into the guest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowShape {
    Described,
    ValuesOnly,
}

/// A column as the connector sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// Rows of a result, in the order of `columns`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<SqlValue>>,
}
