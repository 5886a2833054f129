//! Database errors, sorted into what a connector can act on. Messages are
//! the database's own; connection URLs and credentials never appear.

/// What a constraint refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    NotNull,
    Check,
    Other,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlError {
    #[error("not granted: {0}")]
    NotGranted(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("constraint {}refused the change: {message}", name.as_deref().map(|n| format!("{n} ")).unwrap_or_default())]
    Constraint {
        kind: ConstraintKind,
        name: Option<String>,
        message: String,
    },
    #[error("invalid statement: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Failed(String),
}

impl From<sqlx::Error> for SqlError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Database(db) => from_database(db.as_ref()),
            E::Io(e) => SqlError::Unavailable(format!("cannot reach the database: {e}")),
            E::Tls(e) => SqlError::Unavailable(format!("TLS with the database failed: {e}")),
            E::PoolTimedOut => {
                SqlError::Unavailable("no database connection became free in time".into())
            }
            E::PoolClosed => SqlError::Unavailable("the database pool is closed".into()),
            E::WorkerCrashed => SqlError::Unavailable("the database connection failed".into()),
            E::Protocol(m) => SqlError::Unavailable(format!("database protocol error: {m}")),
            E::ColumnIndexOutOfBounds { .. }
            | E::ColumnNotFound(_)
            | E::ColumnDecode { .. }
            | E::Encode(_)
            | E::Decode(_)
            | E::TypeNotFound { .. } => SqlError::Invalid(e.to_string()),
            // Configuration errors name the URL's parts, so they are not repeated.
            E::Configuration(_) => {
                SqlError::Failed("the database's configuration is invalid".into())
            }
            other => SqlError::Failed(other.to_string()),
        }
    }
}

fn from_database(db: &dyn sqlx::error::DatabaseError) -> SqlError {
    use sqlx::error::ErrorKind;
    let message = db.message().to_owned();
    let constraint = |kind| SqlError::Constraint {
        kind,
        name: db.constraint().map(str::to_owned),
        message: message.clone(),
    };
    match db.kind() {
        ErrorKind::UniqueViolation => return constraint(ConstraintKind::Unique),
        ErrorKind::ForeignKeyViolation => return constraint(ConstraintKind::ForeignKey),
        ErrorKind::NotNullViolation => return constraint(ConstraintKind::NotNull),
        ErrorKind::CheckViolation => return constraint(ConstraintKind::Check),
        _ => {}
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    // SQLite's SQLITE_AUTH (a bare 23, where PostgreSQL's codes are five
    // characters), or its "not authorized to use function …": the guard
    // refused the statement.
    if code == "23" || (code.len() < 5 && message.starts_with("not authorized")) {
        return SqlError::NotGranted(format!("{} ({message})", super::sqlite_guard::REFUSAL));
    }
    match code.as_str() {
        // PostgreSQL SQLSTATE classes.
        c if c.starts_with("23") => constraint(ConstraintKind::Other),
        c if c.starts_with("42") || c.starts_with("22") => SqlError::Invalid(message),
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
            SqlError::Unavailable(message)
        }
        // Serialization failure and deadlock: the same statement may succeed.
        "40001" | "40P01" => SqlError::Unavailable(message),
        // SQLite's SQLITE_INTERRUPT: the statement ran past its deadline.
        "9" => SqlError::Unavailable(format!(
            "the statement ran past its deadline and was stopped ({message})"
        )),
        // SQLite result codes: BUSY, LOCKED (and their extended forms).
        c if c == "5"
            || c == "6"
            || c.parse::<u32>()
                .is_ok_and(|n| n & 0xff == 5 || n & 0xff == 6) =>
        {
            SqlError::Unavailable(message)
        }
        // SQLite: SQLITE_ERROR covers syntax and unknown names; MISMATCH, RANGE.
        "1" | "20" | "25" => SqlError::Invalid(message),
        _ => SqlError::Failed(message),
    }
}
