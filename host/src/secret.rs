//! Secrets and where they come from. A leaf module: configuration,
//! capabilities and the engine all hold secrets, and none of them should
//! have to depend on another to do so.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value: printed as `***` by `Debug` and `Display`, so it cannot
/// leak into a log line or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret's source. Secrets are never written in the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the host process.
    Env(String),
    /// A file (relative to the config file); one trailing newline is dropped.
    File(PathBuf),
}

/// Written by hand so that a secret pasted into the file by mistake is
/// refused without being repeated in the error.
impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        const EXPECTED: &str =
            "{ env = \"VAR\" } or { file = \"path\" } (a secret itself never goes in the file)";
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(format!(
                    "a literal value is not accepted; write {EXPECTED}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let (Some(kind), value) = (map.next_key::<String>()?, map.next_value::<String>())
                else {
                    return Err(A::Error::custom(format!("expected {EXPECTED}")));
                };
                let value = value?;
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(format!("expected only one of {EXPECTED}")));
                }
                match kind.as_str() {
                    "env" => Ok(SecretRef::Env(value)),
                    "file" => Ok(SecretRef::File(value.into())),
                    _ => Err(A::Error::custom(format!(
                        "unknown source `{kind}`; expected {EXPECTED}"
                    ))),
                }
            }
        }
        d.deserialize_any(RefVisitor)
    }
}

impl SecretRef {
    /// Reads the secret; the error names the source, never the value.
    /// A relative file is relative to `base` (the configuration's directory).
    pub fn resolve(&self, base: &Path) -> Result<Secret, String> {
        match self {
            SecretRef::Env(var) => std::env::var(var)
                .map(Secret)
                .map_err(|_| format!("environment variable {var} is not set")),
            SecretRef::File(path) => {
                let path = crate::setting::resolve_path(base, path);
                let mut text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                Ok(Secret(text))
            }
        }
    }
}
