//! API tokens: a name, a role, and the sha256 of the token. The token
//! itself is never stored; `provisio token new` prints a fresh one and the
//! line to paste into the configuration.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submit operations and read operations, targets and the audit log.
    Provisioner,
    /// Everything a provisioner may do, and approve, reject, cancel and retry
    /// operations, test targets, lift quarantines and link accounts.
    Operator,
}

impl Role {
    pub fn may(&self, needed: Role) -> bool {
        matches!(
            (self, needed),
            (Role::Operator, _) | (Role::Provisioner, Role::Provisioner)
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Provisioner => "provisioner",
            Role::Operator => "operator",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who uses it; recorded as the actor in the audit log.
    pub name: String,
    pub role: Role,
    /// The token's sha256, in hex.
    pub sha256: String,
}

impl TokenConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "sha256 of token `{}` must be 64 hex digits (the token itself never goes in the file)",
                self.name
            ));
        }
        Ok(())
    }
}

/// The sha256 of a token, in lowercase hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
