//! Connectors shipped inside the `provisio` binary, built from `plugins/`
//! by `build.rs`. Refer to one as `bundled:<name>` wherever a connector
//! file is expected.

/// The CSV connector (`plugins/csv`).
pub const CSV: &[u8] = include_bytes!(env!("PROVISIO_BUNDLED_CSV"));

/// Every bundled connector by name.
pub const ALL: &[(&str, &[u8])] = &[("csv", CSV)];

/// The prefix that names a bundled connector instead of a file.
pub const PREFIX: &str = "bundled:";

/// The bytes of the bundled connector `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    ALL.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The names of the bundled connectors.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|(n, _)| *n).collect()
}
