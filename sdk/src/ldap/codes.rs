//! LDAP result codes (RFC 4511 §4.1.9 and appendix A) by name, so that a
//! connector says `NO_SUCH_OBJECT`, not `32`.

pub const SUCCESS: u32 = 0;
pub const OPERATIONS_ERROR: u32 = 1;
pub const PROTOCOL_ERROR: u32 = 2;
pub const TIME_LIMIT_EXCEEDED: u32 = 3;
pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
pub const AUTH_METHOD_NOT_SUPPORTED: u32 = 7;
pub const STRONGER_AUTH_REQUIRED: u32 = 8;
pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
pub const CONFIDENTIALITY_REQUIRED: u32 = 13;
pub const NO_SUCH_ATTRIBUTE: u32 = 16;
pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
pub const INAPPROPRIATE_MATCHING: u32 = 18;
pub const CONSTRAINT_VIOLATION: u32 = 19;
pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
pub const NO_SUCH_OBJECT: u32 = 32;
pub const INVALID_DN_SYNTAX: u32 = 34;
pub const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
pub const INVALID_CREDENTIALS: u32 = 49;
pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
pub const BUSY: u32 = 51;
pub const UNAVAILABLE: u32 = 52;
pub const UNWILLING_TO_PERFORM: u32 = 53;
pub const NAMING_VIOLATION: u32 = 64;
pub const OBJECT_CLASS_VIOLATION: u32 = 65;
pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
pub const NOT_ALLOWED_ON_RDN: u32 = 67;
pub const ENTRY_ALREADY_EXISTS: u32 = 68;
pub const OBJECT_CLASS_MODS_PROHIBITED: u32 = 69;

const NAMES: &[(u32, &str)] = &[
    (SUCCESS, "success"),
    (OPERATIONS_ERROR, "operationsError"),
    (PROTOCOL_ERROR, "protocolError"),
    (TIME_LIMIT_EXCEEDED, "timeLimitExceeded"),
    (SIZE_LIMIT_EXCEEDED, "sizeLimitExceeded"),
    (AUTH_METHOD_NOT_SUPPORTED, "authMethodNotSupported"),
    (STRONGER_AUTH_REQUIRED, "strongerAuthRequired"),
    (ADMIN_LIMIT_EXCEEDED, "adminLimitExceeded"),
    (
        UNAVAILABLE_CRITICAL_EXTENSION,
        "unavailableCriticalExtension",
    ),
    (CONFIDENTIALITY_REQUIRED, "confidentialityRequired"),
    (NO_SUCH_ATTRIBUTE, "noSuchAttribute"),
    (UNDEFINED_ATTRIBUTE_TYPE, "undefinedAttributeType"),
    (INAPPROPRIATE_MATCHING, "inappropriateMatching"),
    (CONSTRAINT_VIOLATION, "constraintViolation"),
    (ATTRIBUTE_OR_VALUE_EXISTS, "attributeOrValueExists"),
    (INVALID_ATTRIBUTE_SYNTAX, "invalidAttributeSyntax"),
    (NO_SUCH_OBJECT, "noSuchObject"),
    (INVALID_DN_SYNTAX, "invalidDNSyntax"),
    (INAPPROPRIATE_AUTHENTICATION, "inappropriateAuthentication"),
    (INVALID_CREDENTIALS, "invalidCredentials"),
    (INSUFFICIENT_ACCESS_RIGHTS, "insufficientAccessRights"),
    (BUSY, "busy"),
    (UNAVAILABLE, "unavailable"),
    (UNWILLING_TO_PERFORM, "unwillingToPerform"),
    (NAMING_VIOLATION, "namingViolation"),
    (OBJECT_CLASS_VIOLATION, "objectClassViolation"),
    (NOT_ALLOWED_ON_NON_LEAF, "notAllowedOnNonLeaf"),
    (NOT_ALLOWED_ON_RDN, "notAllowedOnRDN"),
    (ENTRY_ALREADY_EXISTS, "entryAlreadyExists"),
    (OBJECT_CLASS_MODS_PROHIBITED, "objectClassModsProhibited"),
];

/// The RFC 4511 name of a result code, `other` for codes not listed.
pub fn name(code: u32) -> &'static str {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("other", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_codes_as_the_rfc_does() {
        assert_eq!(super::name(super::NO_SUCH_OBJECT), "noSuchObject");
        assert_eq!(super::name(68), "entryAlreadyExists");
        assert_eq!(super::name(999), "other");
    }
}
