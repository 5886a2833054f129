//! What the domain's refusals mean, and the one value AD encodes its own
//! way.

use provisio_sdk::Error;
use provisio_sdk::ldap::{self, codes};
use provisio_sdk::names::PASSWORD;

/// `unicodePwd`'s value: the password in double quotes, UTF-16LE.
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// An AD refusal, quoting the server and saying what it means when AD's
/// code is one operators meet often.
pub fn ad_error(e: ldap::LdapError) -> Error {
    if let ldap::LdapError::Server(r) = &e {
        let m = &r.message;
        let constraint = r.code == codes::CONSTRAINT_VIOLATION;
        if m.contains("0000052D") || (constraint && m.to_ascii_lowercase().contains("password")) {
            return Error::invalid_attribute(
                PASSWORD,
                format!("the domain's password policy refused the password: {m}"),
            );
        }
        let duplicate_name = constraint && m.to_ascii_lowercase().contains("samaccountname");
        if r.code == codes::ENTRY_ALREADY_EXISTS || duplicate_name {
            return Error::already_exists(format!("the domain refused: {m}"));
        }
    }
    e.into()
}

/// What AD answers when a member is already in a group.
pub const ALREADY_MEMBER: &[u32] = &[
    codes::ATTRIBUTE_OR_VALUE_EXISTS,
    codes::ENTRY_ALREADY_EXISTS,
];
/// What AD answers when a member is not in a group.
pub const NOT_MEMBER: &[u32] = &[codes::NO_SUCH_ATTRIBUTE, codes::UNWILLING_TO_PERFORM];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_the_quoted_password_in_utf16le() {
        assert_eq!(
            unicode_pwd("Aé1"),
            [b'"', 0, b'A', 0, 0xe9, 0, b'1', 0, b'"', 0]
        );
    }
}
