//! How operators name a version: its sha256 (or a unique prefix of at least
//! 8 hex digits), or its semver (optionally as `name@version`).

use super::RegistryError;
use crate::store::ConnectorVersion;

/// A reference to a registered version, as an operator writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef(String);

/// Hex digits a sha256 prefix needs at least.
const MIN_PREFIX: usize = 8;

impl VersionRef {
    pub fn new(text: impl Into<String>) -> Self {
        VersionRef(text.into().trim().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A sha256 or a prefix of one, long enough to be read as such.
    fn is_sha_prefix(&self) -> bool {
        self.0.len() >= MIN_PREFIX && self.0.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// Whether it names a version without a connector name for context:
    /// a sha256 (prefix) or `name@version`, not a bare semver.
    pub fn is_qualified(&self) -> bool {
        self.is_sha_prefix() || self.0.contains('@')
    }

    /// The sha256 this reference names among `versions` of connector `name`.
    pub fn resolve(
        &self,
        versions: &[ConnectorVersion],
        name: &str,
    ) -> Result<String, RegistryError> {
        let text = self.0.as_str();
        let matches: Vec<&ConnectorVersion> = if self.is_sha_prefix() {
            let prefix = text.to_ascii_lowercase();
            versions
                .iter()
                .filter(|v| v.sha256.starts_with(&prefix))
                .collect()
        } else {
            let (wanted_name, semver) = match text.split_once('@') {
                Some((n, v)) => (n, v),
                None => (name, text),
            };
            // The newest registration of a label wins (bundled builds of
            // one label may differ between host builds).
            versions
                .iter()
                .rev()
                .filter(|v| v.name == wanted_name && v.version == semver)
                .take(1)
                .collect()
        };
        match matches.as_slice() {
            [] => Err(RegistryError::Unknown(text.to_owned())),
            [one] => Ok(one.sha256.clone()),
            many => Err(RegistryError::Ambiguous {
                reference: text.to_owned(),
                matches: many
                    .iter()
                    .map(|v| format!("{} {}", v.label(), &v.sha256[..12]))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(sha: &str, name: &str, semver: &str) -> ConnectorVersion {
        ConnectorVersion {
            sha256: sha.repeat(64 / sha.len()),
            name: name.into(),
            version: semver.into(),
            contract: "0.1.0".into(),
            size: 1,
            source: "upload".into(),
            added_by: "t".into(),
            added_at: 0,
        }
    }

    #[test]
    fn resolves_by_prefix_label_or_semver() {
        let versions = [
            version("ab", "csv", "0.1.0"),
            version("ac", "csv", "0.2.0"),
            version("ad", "ldap", "0.2.0"),
        ];
        let sha = |s: &str| VersionRef::new(s).resolve(&versions, "csv");
        assert_eq!(sha("abababab").unwrap(), versions[0].sha256);
        assert_eq!(sha("0.2.0").unwrap(), versions[1].sha256);
        assert_eq!(sha("ldap@0.2.0").unwrap(), versions[2].sha256);
        assert!(matches!(sha("0.3.0"), Err(RegistryError::Unknown(_))));
        // Too short to be a prefix: read as a semver, which it is not.
        assert!(matches!(sha("abab"), Err(RegistryError::Unknown(_))));
        let twins = [version("ab", "csv", "0.1.0"), {
            let mut v = version("ab", "csv", "0.1.1");
            v.sha256.replace_range(63.., "f");
            v
        }];
        assert!(matches!(
            VersionRef::new("abababab").resolve(&twins, "csv"),
            Err(RegistryError::Ambiguous { .. })
        ));
    }
}
