//! What a SQLite grant reaches: its one database file, and nothing else.
//! Every connection of a granted SQLite database is guarded when it opens:
//!
//! - an authorizer refuses `ATTACH` and `DETACH` (so also `VACUUM`, which
//!   attaches a database of its own, and `VACUUM INTO` a file), pragmas
//!   other than read-only introspection (`table_info` and its kin), writes
//!   to the schema table, and functions that reach files or load code
//!   (`load_extension`, `readfile`, `writefile`, `edit`);
//! - `SQLITE_LIMIT_ATTACHED` is 0, should anything slip past;
//! - `SQLITE_DBCONFIG_DEFENSIVE` is on (no `writable_schema`, no shadow
//!   table writes), extension loading off, and the schema untrusted (no
//!   functions with side effects from triggers and views).
//!
//! A refused statement fails with SQLite's `SQLITE_AUTH`, which the
//! capability answers as `not-granted`, naming the rule.

#![allow(unsafe_code)]

use libsqlite3_sys as ffi;
use std::ffi::{CStr, c_char, c_int, c_void};

/// Pragmas a connector may run: they read the schema and change nothing.
const READ_ONLY_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "collation_list",
];

/// Functions that reach the file system or load code.
const REFUSED_FUNCTIONS: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

/// What the capability says when SQLite refuses a statement.
pub const REFUSAL: &str = "the host refused this statement: a SQLite grant reaches its one database file and nothing else (no ATTACH or DETACH, no VACUUM, no load_extension or file functions, no schema writes, no pragmas but table_info and its kin)";

/// Guards one new connection.
pub async fn guard(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut locked = conn.lock_handle().await?;
    let db = locked.as_raw_handle().as_ptr();
    let mut failed = Vec::new();
    // SAFETY: `locked` holds the connection's worker off the handle, so no
    // other thread uses `db` while these run; each call takes the handle
    // and plain integers; the authorizer takes no user data (null) and is
    // a plain function, so it outlives the connection trivially.
    unsafe {
        ffi::sqlite3_limit(db, ffi::SQLITE_LIMIT_ATTACHED, 0);
        let options: [(c_int, c_int); 3] = [
            (ffi::SQLITE_DBCONFIG_DEFENSIVE, 1),
            (ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0),
            (ffi::SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0),
        ];
        for (option, on) in options {
            if ffi::sqlite3_db_config(db, option, on, std::ptr::null_mut::<c_int>())
                != ffi::SQLITE_OK
            {
                failed.push(option);
            }
        }
        if ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut()) != ffi::SQLITE_OK
        {
            failed.push(-1);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(sqlx::Error::Configuration(
            format!("cannot guard the SQLite connection (options {failed:?})").into(),
        ))
    }
}

/// SQLite's authorizer callback: decides every action of every statement
/// as it is compiled.
extern "C" fn authorize(
    _user: *mut c_void,
    action: c_int,
    first: *const c_char,
    second: *const c_char,
    _database: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    // SAFETY: SQLite passes NUL-terminated strings or null, valid for the
    // call.
    let text = |p: *const c_char| unsafe { (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes()) };
    let refused = match action {
        ffi::SQLITE_ATTACH | ffi::SQLITE_DETACH => true,
        ffi::SQLITE_PRAGMA => !text(first).is_some_and(|name| {
            READ_ONLY_PRAGMAS
                .iter()
                .any(|allowed| name.eq_ignore_ascii_case(allowed.as_bytes()))
        }),
        ffi::SQLITE_FUNCTION => text(second).is_some_and(|name| {
            REFUSED_FUNCTIONS
                .iter()
                .any(|refused| name.eq_ignore_ascii_case(refused.as_bytes()))
        }),
        ffi::SQLITE_INSERT | ffi::SQLITE_UPDATE | ffi::SQLITE_DELETE => {
            text(first).is_some_and(|table| {
                [
                    b"sqlite_master".as_slice(),
                    b"sqlite_schema",
                    b"sqlite_temp_master",
                    b"sqlite_temp_schema",
                ]
                .iter()
                .any(|t| table.eq_ignore_ascii_case(t))
            })
        }
        _ => false,
    };
    if refused {
        ffi::SQLITE_DENY
    } else {
        ffi::SQLITE_OK
    }
}
