//! The well-known attribute names every connector shares (as ConnId's
//! operational attributes): the host and callers use them whatever the
//! target calls the thing. Compare with [`Attribute::is`](crate::Attribute::is),
//! which ignores case.

/// The naming attribute (DN value, sAMAccountName, userName, key column).
pub const NAME: &str = "__name__";
/// Boolean: false when the account is disabled.
pub const ENABLE: &str = "__enable__";
/// Write-only password: never returned, never logged.
pub const PASSWORD: &str = "__password__";
/// References (uids) to the groups an account belongs to.
pub const GROUPS: &str = "__groups__";

/// Every well-known name.
pub const ALL: [&str; 4] = [NAME, ENABLE, PASSWORD, GROUPS];

/// Whether `name` is one of the well-known names (ignoring case).
pub fn is_well_known(name: &str) -> bool {
    ALL.iter().any(|w| w.eq_ignore_ascii_case(name))
}
