//! What an LDAP call can fail with, as the connector sees it.

use ldap3::LdapError as Ldap3Error;

/// Result codes that say "not now" rather than "no" (RFC 4511 §4.1.9 and
/// appendix A): timeLimitExceeded (3), adminLimitExceeded (11), busy (51)
/// and unavailable (52). unwillingToPerform (53) is a refusal and other
/// (80) says nothing, so neither is retried.
const RETRYABLE_CODES: &[u32] = &[3, 11, 51, 52];

#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LdapError {
    #[error("{0}")]
    NotGranted(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("LDAP result {code} ({}): {message}", code_name(*.code))]
    Server {
        code: u32,
        matched_dn: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

impl LdapError {
    /// Whether the connection the error came from is no longer usable.
    pub fn breaks_connection(&self) -> bool {
        matches!(self, LdapError::Unavailable(_))
    }
}

impl From<Ldap3Error> for LdapError {
    fn from(e: Ldap3Error) -> Self {
        match e {
            Ldap3Error::LdapResult { result } => {
                if result.rc == 10 {
                    return LdapError::Failed(format!(
                        "the server answered with a referral to {}, and referrals are never followed",
                        result.refs.join(", ")
                    ));
                }
                if RETRYABLE_CODES.contains(&result.rc) {
                    return LdapError::Unavailable(format!(
                        "LDAP result {} ({}): {}",
                        result.rc,
                        code_name(result.rc),
                        result.text
                    ));
                }
                LdapError::Server {
                    code: result.rc,
                    matched_dn: result.matched,
                    message: result.text,
                }
            }
            Ldap3Error::FilterParsing => {
                LdapError::Invalid("the search filter is malformed".into())
            }
            Ldap3Error::AddNoValues => {
                LdapError::Invalid("an attribute to add has no values".into())
            }
            Ldap3Error::Timeout { .. } => {
                LdapError::Unavailable("the directory did not answer in time".into())
            }
            Ldap3Error::Io { source }
                if source
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
            {
                LdapError::Failed(format!(
                    "the TLS handshake with the directory failed: {source} (is grants.ldap.ca_file the CA that signed its certificate?)"
                ))
            }
            e @ (Ldap3Error::Io { .. }
            | Ldap3Error::OpSend { .. }
            | Ldap3Error::MiscSend { .. }
            | Ldap3Error::ResultRecv { .. }
            | Ldap3Error::IdScrubSend { .. }
            | Ldap3Error::EndOfStream
            | Ldap3Error::Rustls { .. }) => {
                LdapError::Unavailable(format!("the directory cannot be reached: {e}"))
            }
            other => LdapError::Failed(other.to_string()),
        }
    }
}

/// The RFC 4511 name of a result code, for messages.
pub fn code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        _ => "other",
    }
}
